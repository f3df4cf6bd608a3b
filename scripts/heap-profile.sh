#!/usr/bin/env bash
# The live heap of a run, by stage (src/heap.rs): builds kubegate with the `heap-profile`
# feature (the system allocator behind a counter) in target/heap-profile, runs it with the
# arguments given (default: `check .` in ../shared/corpus) and prints its report, which goes
# to standard error at exit. KUBEGATE_HEAP_AT=<ms> reports that moment instead of the peak.
#
#   scripts/heap-profile.sh
#   scripts/heap-profile.sh check --no-render .
#   KUBEGATE_HEAP_AT=700 scripts/heap-profile.sh check /path/to/repo
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --locked --features heap-profile --manifest-path "$root/Cargo.toml" \
  --target-dir "$root/target/heap-profile" >&2
bin=$root/target/heap-profile/release/kubegate
if [ $# -eq 0 ]; then
  cd "$root/../shared/corpus"
  set -- check .
fi
# Its findings are not what is measured; exit 1 (findings) is the usual outcome.
KUBEGATE_NO_CACHE=1 "$bin" "$@" >/dev/null || [ $? -eq 1 ]
