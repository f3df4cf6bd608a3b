#!/usr/bin/env bash
# Compiles the default built-in rules (every rule enabled) for the virtual machine and writes
# the program to policies/compiled.bin, which the binary embeds: a run with the default rules
# then compiles nothing. Run it after changing a policy under policies/ or Cargo.lock; the
# test that writes it (policy::tests::the_embedded_program_is_the_default_rules_compiled)
# fails until it has run.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBEGATE_BLESS=1 cargo test --locked --lib -- --exact \
  policy::tests::the_embedded_program_is_the_default_rules_compiled
# Built again with the new program in it, the test now checks it.
cargo test --locked --lib -- --exact policy::tests::the_embedded_program_is_the_default_rules_compiled
