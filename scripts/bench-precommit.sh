#!/usr/bin/env bash
# What a pre-commit hook costs on every commit: the release binary on one small manifest
# (fixtures/precommit/good.yaml), as the hook runs it. Three runs side by side: schema only,
# every built-in rule with the compiled rules cached (every commit after the first), and
# every built-in rule compiled (KUBEGATE_NO_CACHE=1, as in CI). Needs hyperfine; figures
# go in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-30}"
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
file=fixtures/precommit/good.yaml
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
echo "machine: $(nproc) cores"
hyperfine -N --warmup 3 --runs "$runs" -i --export-markdown /tmp/kubegate-bench-precommit.md \
  -n "schema only" "$bin check -q --no-config --no-builtin-rules $file" \
  -n "built-in rules, cached" "env KUBEGATE_CACHE_DIR=$cache $bin check -q --no-config $file" \
  -n "built-in rules, compiled" "env KUBEGATE_NO_CACHE=1 $bin check -q --no-config $file" >/dev/null
cat /tmp/kubegate-bench-precommit.md
