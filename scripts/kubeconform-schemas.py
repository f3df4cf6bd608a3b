#!/usr/bin/env python3
"""Kubernetes JSON schemas for kubeconform, shaped as the ones it downloads by default.

kubeconform's default registry (yannh/kubernetes-json-schema, `*-standalone-strict`) holds
one self-contained file a kind, every `$ref` written out in place. That registry cannot be
reached from the machines kubegate is benchmarked on; the `kubernetes-validate` PyPI
package carries the same OpenAPI definitions as `v1.35.0-local-strict`, one file a kind
whose `$ref`s point into a shared `_definitions.json`, which kubeconform cannot follow. This
writes each kind standalone: every reference inlined where it is used, the recursive ones
(JSONSchemaProps) kept under the file's own `$defs`.

    pip download kubernetes-validate==1.37.0 --no-deps -d /tmp/kv && unzip -q /tmp/kv/*.whl -d /tmp/kv
    python3 scripts/kubeconform-schemas.py \\
        /tmp/kv/kubernetes_validate/kubernetes-json-schema/v1.35.0-local-strict /tmp/schemas
    KUBECONFORM=... KUBECONFORM_SCHEMAS='/tmp/schemas/{{.ResourceKind}}{{.KindSuffix}}.json' \\
        bash scripts/bench-rules.sh
"""

import json
import os
import sys

PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def name_of(ref):
    for prefix in PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return None


def inline(node, defs, stack, recursive):
    """`node` with every definition it references written out, but those already being
    written out above it (recursion), which stay references and are noted in `recursive`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        name = name_of(ref) if isinstance(ref, str) else None
        if name is not None:
            # The siblings of a `$ref` here are annotations (description, patch strategy).
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if name in stack:
                recursive.add(name)
                return {"$ref": "#/$defs/" + name, **rest}
            return {**inline(defs[name], defs, stack | {name}, recursive), **rest}
        return {k: inline(v, defs, stack, recursive) for k, v in node.items()}
    if isinstance(node, list):
        return [inline(v, defs, stack, recursive) for v in node]
    return node


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    defs = json.load(open(os.path.join(src, "_definitions.json")))["$defs"]
    os.makedirs(dst, exist_ok=True)
    count = 0
    for file in sorted(os.listdir(src)):
        if file.startswith("_") or file == "all.json" or not file.endswith(".json"):
            continue
        schema = json.load(open(os.path.join(src, file)))
        recursive = set()
        schema = inline(schema, defs, frozenset(), recursive)
        written, own = set(), {}
        while recursive - written:
            name = sorted(recursive - written)[0]
            written.add(name)
            own[name] = inline(defs[name], defs, frozenset({name}), recursive)
        if own:
            schema["$defs"] = own
        with open(os.path.join(dst, file), "w") as out:
            json.dump(schema, out)
        count += 1
    print(f"{count} schemas written to {dst}")


if __name__ == "__main__":
    main()
