#!/usr/bin/env bash
# kustomize rendering against the real thing: the time kubegate takes to render AND check
# every kustomization root of ../shared/corpus (or $1), against the time `kubectl kustomize`
# takes to only render the same roots, one process each (what a CI job running
# `kustomize build | tool -` per overlay pays). Figures go in BENCHMARKS.md.
#
#   KUBECTL=/path/to/kubectl scripts/bench-render.sh [CORPUS]
#
# KUBECTL: kubectl v1.35 (kustomize v5.7), see scripts/record-kustomize.sh for where to get
# it. Needs jq. The roots are the ones kubegate renders (`summary.roots` of its JSON
# report): each is rendered by kubectl from the corpus directory, as kubegate does.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$(cd "${1:-../shared/corpus}" && pwd)"
runs="${RUNS:-5}"
: "${KUBECTL:?set KUBECTL to kubectl v1.35}"
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
roots="$(mktemp)"
trap 'rm -f "$roots"' EXIT
(cd "$corpus" && "$bin" check -q -f json --no-config . || true) | jq -r '.summary.roots[]' > "$roots"
echo "corpus: $corpus, $(wc -l < "$roots") roots rendered, machine: $(nproc) cores"

kubectl_all() {
  (cd "$corpus" && while read -r d; do "$KUBECTL" kustomize "$d" >/dev/null 2>&1 || true; done < "$roots")
}
kubegate_all() {
  (cd "$corpus" && "$bin" check -q -f json --no-config . >/dev/null || true)
}
kubegate_one_thread() {
  (cd "$corpus" && "$bin" check -q -f json --no-config -j 1 . >/dev/null || true)
}
for f in kubectl_all kubegate_all kubegate_one_thread; do
  best=""
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    "$f"
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    best=$(printf '%s\n%s\n' "$t" "$best" | grep . | sort -n | head -1)
  done
  echo "$f: best of $runs: ${best}s"
done
