#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) src/render/patch/meta.rs, the patch merge keys and
# resource scopes kustomize reads from the Kubernetes v1.21.2 OpenAPI it embeds
# (xtask/upstream/kubernetes-openapi-v1.21.2.pb.gz; see the README there).
#
#   scripts/gen-patch-meta.sh           # write the file
#   scripts/gen-patch-meta.sh --check   # exit 1 if the committed file is out of date (CI)
#
# Needs no Kubernetes version feature, so it does not build k8s-openapi.
# Honours CARGO_TARGET_DIR if set.
set -euo pipefail

mode=()
case "${1-}" in
    "") ;;
    --check) mode=(--check) ;;
    -h | --help)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo run --locked --quiet -p xtask -- patch-meta "${mode[@]}"
