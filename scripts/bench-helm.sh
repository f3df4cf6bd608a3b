#!/usr/bin/env bash
# Helm rendering against helm alone: the time `kubegate check` takes to render AND check N
# charts (default 20) with the real helm, against the time `helm template` takes to only
# render the same charts one after another (what a CI job running
# `helm template ... | tool -` per chart pays). Figures go in BENCHMARKS.md.
#
#   HELM=/path/to/helm scripts/bench-helm.sh [N]
#
# The charts are generated into a temporary directory: each a copy of
# tests/helm/bench/chart (a Deployment, a Service, a ConfigMap, an Ingress, a ServiceAccount,
# helpers, values-driven securityContext) under its own name, with a values-prod.yaml that
# a .kubegate.yaml rendering names; helm renders each the same way below.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
runs="${RUNS:-5}"
: "${HELM:?set HELM to a helm binary (see tests/helm/README.md)}"
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "helm:" > "$work/.kubegate.yaml"
for i in $(seq -w 1 "$n"); do
  cp -r tests/helm/bench/chart "$work/chart-$i"
  sed -i "s/^name: .*/name: chart-$i/" "$work/chart-$i/Chart.yaml"
  printf '  - {chart: chart-%s, release: prod-%s, values: [chart-%s/values-prod.yaml]}\n' \
    "$i" "$i" "$i" >> "$work/.kubegate.yaml"
done
echo "$n charts, machine: $(nproc) cores, $("$HELM" version --short)"

helm_all() {
  (cd "$work" && for d in chart-*; do
    "$HELM" template "prod-${d#chart-}" "$d" -f "$d/values-prod.yaml" >/dev/null
  done)
}
kubegate_all() {
  (cd "$work" && "$bin" check -q -f json --helm "$HELM" . >/dev/null || true)
}
kubegate_one_thread() {
  (cd "$work" && "$bin" check -q -f json --helm "$HELM" -j 1 . >/dev/null || true)
}
for f in helm_all kubegate_all kubegate_one_thread; do
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
