#!/usr/bin/env bash
# What the built-in rules cost where large CRDs and RBAC dominate, as in an Argo CD or
# operator `install.yaml`: builds one such file from ../shared/corpus (its largest
# CustomResourceDefinitions and every ClusterRole and Role, concatenated) under
# target/bench-rules/, then times the release binary on it and on the whole corpus:
# schema only, schema and every built-in rule, and kubeconform -strict when $KUBECONFORM
# names one (with $KUBECONFORM_SCHEMAS as its -schema-location). Wall time is the median of
# $RUNS runs (hyperfine when installed); peak memory from GNU time. Figures go in BENCHMARKS.md.
# scripts/kubeconform-schemas.py makes the schemas kubeconform reads here.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$(cd "${CORPUS:-../shared/corpus}" && pwd)"
runs="${RUNS:-10}"
crds="${CRDS:-3}"
out="$PWD/target/bench-rules"
mkdir -p "$out"
python3 - "$corpus" "$crds" "$out/install.yaml" <<'PY'
import os, re, sys
corpus, count, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
crds, roles = [], []
for root, _, files in os.walk(corpus):
    for name in sorted(files):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(root, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for doc in re.split(r"(?m)^---[ \t]*$", text):
            kind = re.search(r"(?m)^kind:[ \t]*(\S+)", doc)
            if not kind or "{{" in doc:
                continue
            if kind.group(1) == "CustomResourceDefinition":
                crds.append((len(doc), path, doc))
            elif kind.group(1) in ("ClusterRole", "Role"):
                roles.append((path, doc))
# The largest CRDs, each once (several projects vendor the same CRD).
seen, picked = set(), []
for size, path, doc in sorted(crds, key=lambda c: (-c[0], c[1])):
    name = re.search(r"(?m)^  name:[ \t]*(\S+)", doc)
    key = name.group(1) if name else path
    if key in seen:
        continue
    seen.add(key)
    picked.append(doc)
    if len(picked) == count:
        break
docs = picked + [d for _, d in sorted(roles)]
with open(target, "w", encoding="utf-8") as f:
    for d in docs:
        f.write(d.strip("\n") + "\n---\n")
print(f"{target}: {len(picked)} CRDs, {len(roles)} roles, {os.path.getsize(target) // 1024} KiB")
PY
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
echo "machine: $(nproc) cores"
for input in "$out/install.yaml" "$corpus"; do
  echo
  echo "== $input"
  cmds=(
    "$bin check -q -f json --no-config --no-builtin-rules $input"
    "$bin check -q -f json --no-config $input"
  )
  if [ -n "${KUBECONFORM:-}" ]; then
    cmds+=("$KUBECONFORM -strict -summary -ignore-missing-schemas -schema-location ${KUBECONFORM_SCHEMAS:?} $input")
  fi
  if command -v hyperfine >/dev/null; then
    hyperfine --warmup 2 --runs "$runs" -i --export-markdown /tmp/kubegate-bench-rules.md "${cmds[@]}" >/dev/null
    cat /tmp/kubegate-bench-rules.md
  fi
  echo "peak memory (max RSS) and wall:"
  for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086 # $c is a command line, split into words on purpose
    /usr/bin/time -f "  %M KB  %e s  $c" $c >/dev/null 2>/tmp/kubegate-time.txt || true
    tail -1 /tmp/kubegate-time.txt
  done
done
