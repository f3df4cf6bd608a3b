#!/usr/bin/env bash
# Builds kubegate's release archive for one target:
#
#   scripts/release-build.sh TARGET VERSION OUT_DIR
#
# writes OUT_DIR/kubegate-v<VERSION>-<TARGET>.tar.gz holding the executable (`kubegate`, or
# `kubegate.exe` on Windows) at its root: the name and layout action.yml and the GitLab
# component download. VERSION must be the crate's version (a tag v1.2.3 releases 1.2.3).
# .github/workflows/release.yml runs it on each runner; tests/packaging.rs runs it for the
# host with KUBEGATE_BUILD_PROFILE=dev. Linux targets are musl (static); Windows links the
# C runtime statically.
set -euo pipefail
if [ "$#" -ne 3 ]; then
  echo "usage: $0 TARGET VERSION OUT_DIR" >&2
  exit 2
fi
target=$1 version=$2 out=$3
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."

crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ "$version" != "$crate_version" ]; then
  echo "$0: version $version is not the crate's version $crate_version (Cargo.toml)" >&2
  exit 1
fi

profile=${KUBEGATE_BUILD_PROFILE:-release}
profile_dir=$profile
if [ "$profile" = dev ]; then profile_dir=debug; fi
exe=""
case "$target" in *-windows-*) exe=.exe ;; esac
case "$target" in *-windows-msvc) export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" ;; esac

host=$(rustc -vV | sed -n 's/^host: //p')
if [ "$target" = "$host" ]; then
  cargo build --locked --profile "$profile" --bin kubegate
  built="target/$profile_dir/kubegate$exe"
else
  rustup target add "$target"
  cargo build --locked --profile "$profile" --bin kubegate --target "$target"
  built="target/$target/$profile_dir/kubegate$exe"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$built" "$stage/kubegate$exe"
if [ "$target" = "$host" ]; then
  # The archive's executable says the version it was released as.
  "$stage/kubegate$exe" --version | grep -qF "kubegate $version" || {
    echo "$0: $built does not say it is kubegate $version" >&2
    exit 1
  }
fi
asset="kubegate-v$version-$target.tar.gz"
tar -czf "$out/$asset" -C "$stage" "kubegate$exe"
echo "$out/$asset"
