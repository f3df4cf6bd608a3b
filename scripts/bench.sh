#!/usr/bin/env bash
# Whole-process benchmark: times the release binary over ../shared/corpus (or a directory
# given as $1) and reports wall time (median of runs) and peak memory. Figures go in
# BENCHMARKS.md. Needs hyperfine (Debian: apt-get install hyperfine) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-../shared/corpus}"
runs="${RUNS:-10}"
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
echo "corpus: $corpus ($(find "$corpus" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) | wc -l) files, $(du -sh "$corpus" | cut -f1))"
echo "machine: $(nproc) cores"
cmds=(
  "$bin check -q -f json --no-config --no-schema --no-builtin-rules $corpus"
  "$bin check -q -f json --no-config --no-builtin-rules $corpus"
  "$bin check -q -f json --no-config $corpus"
  "$bin check -q -f json --no-config -j 1 --no-builtin-rules $corpus"
  "$bin check -q -f json --no-config -j 1 $corpus"
)
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 2 --runs "$runs" -i --export-markdown /tmp/kubegate-bench.md "${cmds[@]}" >/dev/null
  cat /tmp/kubegate-bench.md
else
  for c in "${cmds[@]}"; do
    echo "$c"
    # shellcheck disable=SC2086 # $c is a command line, split into words on purpose
    for _ in 1 2 3; do /usr/bin/time -f "  %e s wall, %U s user" $c >/dev/null || true; done
  done
fi

# A merge request that changes one file of a large repository: the corpus committed to a
# throwaway repository, one manifest edited on a branch.
repo="$(mktemp -d)"
trap 'rm -rf "$repo"' EXIT
cp -r "$corpus"/. "$repo"
(
  cd "$repo"
  git init -q -b main
  git -c user.name=bench -c user.email=bench@example.invalid add -A
  git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false commit -qm base
  git checkout -q -b change
  f="$(git ls-files '*.yaml' | sed -n 1p)"
  printf '# touched\n' >> "$f"
  git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false commit -qam change
)
mr_cmds=(
  "$bin check -q -f json --no-config ."
  "$bin check -q -f json --no-config --base main --changed-only ."
  "$bin check -q -f json --no-config --base main --new-only ."
)
if command -v hyperfine >/dev/null; then
  (cd "$repo" && hyperfine --warmup 2 --runs "$runs" -i --export-markdown /tmp/kubegate-bench-mr.md "${mr_cmds[@]}" >/dev/null)
  cat /tmp/kubegate-bench-mr.md
fi

echo
echo "peak memory (max RSS):"
for c in "${cmds[@]}"; do
  # shellcheck disable=SC2086 # $c is a command line, split into words on purpose
  /usr/bin/time -f "  %M KB  $c" $c >/dev/null 2>/tmp/kubegate-time.txt || true
  tail -1 /tmp/kubegate-time.txt
done
