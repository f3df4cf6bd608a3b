#!/usr/bin/env bash
# The change rules' cost: a merge request that changes one file of ../shared/corpus (or $1),
# checked with `--base` and the change rules, against the same run with every change rule
# disabled (`rules.disable: [change]`), and against a run without a base. Figures go in
# BENCHMARKS.md (the issue's goal: judged in under 2x the time without change rules).
#
#   scripts/bench-change.sh [CORPUS]
#
# The corpus is copied into a scratch Git repository (base commit), then one manifest of a
# kustomization base is changed (head commit: a Deployment scaled to 0),
# so the change reaches the overlays that render it.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$(cd "${1:-../shared/corpus}" && pwd)"
runs="${RUNS:-7}"
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$corpus" "$work/repo"
cd "$work/repo"
git init -q -b main
git -c user.name=bench -c user.email=bench@example.com add -A
git -c user.name=bench -c user.email=bench@example.com commit -q -m base
# The first file holding a Deployment with `replicas:` under a kustomization's directory.
target="$(git ls-files '*.yaml' | while read -r f; do
  d="$(dirname "$f")"
  if [ -f "$d/kustomization.yaml" ] && grep -q '^kind: Deployment' "$f" && grep -q '^  replicas:' "$f"; then
    echo "$f"; break
  fi
done || true)"
: "${target:?no Deployment with replicas next to a kustomization in the corpus}"
sed -i 's/^  replicas: .*/  replicas: 0/' "$target"
git -c user.name=bench -c user.email=bench@example.com commit -q -am head
printf 'rules:\n  disable: [change]\n' > "$work/no-change.yaml"
echo "corpus: $corpus, changed: $target, machine: $(nproc) cores"

with_change_rules() { "$bin" check -q -f json --no-config --base HEAD~ . >/dev/null || true; }
without_change_rules() { "$bin" check -q -f json --config "$work/no-change.yaml" --base HEAD~ . >/dev/null || true; }
without_base() { "$bin" check -q -f json --no-config . >/dev/null || true; }
"$bin" check -q -f concise --no-config --base HEAD~ . 2>/dev/null | grep -E '\[(KG7[0-9]+|rbac-rights-gained|change-[a-z-]+)\]' || true
for f in with_change_rules without_change_rules without_base; do
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
