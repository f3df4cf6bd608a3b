#!/usr/bin/env bash
# Gatekeeper against the real thing: the whole Gatekeeper library (its ConstraintTemplates
# and sample Constraints, tests/fixtures/admission/gatekeeper/library) evaluated on every
# object of ../shared/corpus (or $1) by `gator test` and by kubegate, side by side, and
# their verdicts compared. Figures go in BENCHMARKS.md.
#
#   GATOR=/path/to/gator scripts/bench-gator.sh [CORPUS]
#
# gator stops at the first file it cannot read (a template with `{{ }}` keys), so the input
# is the corpus's files that gator reads alone, copied under target/bench-gator/. The
# policies are the library's templates and constraints only (its sample objects left out),
# one document a file. kubegate runs with --no-render (gator renders nothing) twice: the
# admission stage alone (--no-schema --no-builtin-rules, what gator does) and the whole
# default check with it.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$(cd "${1:-../shared/corpus}" && pwd)"
runs="${RUNS:-5}"
: "${GATOR:?set GATOR to a gator binary (gator test)}"
out="$PWD/target/bench-gator"
rm -rf "$out" && mkdir -p "$out/corpus" "$out/policies"
python3 - tests/fixtures/admission/gatekeeper/library "$out/policies" <<'PY'
import os, re, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for root, _, files in sorted(os.walk(src)):
    for f in sorted(files):
        if not f.endswith((".yaml", ".yml")):
            continue
        for doc in re.split(r"(?m)^---\s*$", open(os.path.join(root, f)).read()):
            if re.search(r"(?m)^kind:\s*ConstraintTemplate\s*$", doc) or re.search(
                r"(?m)^apiVersion:\s*constraints\.gatekeeper\.sh/", doc
            ):
                n += 1
                with open(f"{dst}/{n:03d}.yaml", "w") as o:
                    o.write(doc.strip("\n") + "\n")
print(f"{n} templates and constraints")
PY
# shellcheck disable=SC2016 # the inner sh expands its own arguments
(cd "$corpus" && find . -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 |
  xargs -0 -P"$(nproc)" -I{} sh -c '"$0" test -f "$1" >/dev/null 2>&1 && mkdir -p "$2/$(dirname "$1")" && cp "$1" "$2/$1"' "$GATOR" {} "$out/corpus" || true)
echo "input: $(find "$out/corpus" -type f | wc -l) files gator reads, machine: $(nproc) cores"
cargo build --release --locked --quiet
bin="$PWD/target/release/kubegate"
gator_cmd="$GATOR test -o json -f $out/corpus -f $out/policies"
admission_cmd="$bin check -q -f json --no-config --no-render --no-schema --no-builtin-rules --policy $out/policies $out/corpus"
default_cmd="$bin check -q -f json --no-config --no-render --policy $out/policies $out/corpus"
if command -v hyperfine >/dev/null; then
  KUBEGATE_NO_CACHE=1 hyperfine -N --warmup 1 --runs "$runs" -i --export-markdown /tmp/kubegate-bench-gator.md \
    "$gator_cmd" "$admission_cmd" "$default_cmd" >/dev/null
  cat /tmp/kubegate-bench-gator.md
fi
echo "peak memory (max RSS):"
for c in "$gator_cmd" "$admission_cmd" "$default_cmd"; do
  # shellcheck disable=SC2086 # $c is a command line, split into words on purpose
  /usr/bin/time -f "  %M KB  %e s" $c >/dev/null 2>/tmp/kubegate-time.txt || true
  echo "$(tail -1 /tmp/kubegate-time.txt)  ${c%% *} ${c#* }" | cut -c1-160
done
# shellcheck disable=SC2086
$gator_cmd > "$out/gator.json" 2>/dev/null || true
# shellcheck disable=SC2086
$admission_cmd > "$out/kubegate.json" || true
python3 - "$out/gator.json" "$out/kubegate.json" <<'PY'
import collections, json, sys
gator, kubegate = (json.load(open(p)) for p in sys.argv[1:3])
def key(rule, kind, ns, name, msg):
    return (rule, kind, ns or "", name, msg)
g = {key(r["constraint"]["kind"] + "/" + r["constraint"]["metadata"]["name"],
         r["violatingObject"].get("kind"), r["violatingObject"]["metadata"].get("namespace"),
         r["violatingObject"]["metadata"].get("name"), r["msg"]) for r in gator}
k = {key(f["rule"], f["object"]["kind"], f["object"]["namespace"], f["object"]["name"], f["message"])
     for f in kubegate["findings"]
     if f["object"] and "/" in f["rule"] and not f["rule"].startswith("ValidatingAdmissionPolicy/")}
print(f"verdicts (constraint, object, message): gator {len(g)}, kubegate {len(k)}, both {len(g & k)}")
for label, only in (("only gator", g - k), ("only kubegate", k - g)):
    counts = collections.Counter((x[0], "namespaced" if x[2] else "no namespace") for x in only)
    print(f"{label}: {len(only)}")
    for (rule, ns), n in counts.most_common():
        print(f"  {n:4}  {rule} ({ns})")
PY
