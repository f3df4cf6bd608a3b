#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) schemas/kubernetes/v1.<minor>.json for every supported
# Kubernetes version. k8s-openapi builds one version per compilation, hence one cargo run each.
#
#   scripts/gen-schemas.sh           # write the files
#   scripts/gen-schemas.sh --check   # exit 1 if any committed file is out of date (CI)
#
# Honours CARGO_TARGET_DIR if set (e.g. CARGO_TARGET_DIR=/work/target-xtask).
set -euo pipefail

versions=(33 34 35 36 37)

mode=()
case "${1-}" in
    "") ;;
    --check) mode=(--check) ;;
    -h | --help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()
for minor in "${versions[@]}"; do
    if ! cargo run --locked --quiet -p xtask --features "v1_${minor}" -- schemas "${mode[@]}"; then
        failed+=("1.${minor}")
    fi
done

if ((${#failed[@]} > 0)); then
    echo "error: schema generation/check failed for Kubernetes ${failed[*]}" >&2
    exit 1
fi
