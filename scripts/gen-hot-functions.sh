#!/usr/bin/env bash
# Regenerates link/hot-functions.txt: the functions a check runs, which build.rs asks the
# linker to place side by side at the front of the binary's code.
#
#   scripts/gen-hot-functions.sh            # needs valgrind and ../shared/corpus (or $CORPUS)
#
# A run maps the binary's code 64 KiB around every function it calls, so code it never runs
# but that lies between functions it does costs resident memory: 14.5 of the 18 MB of code
# were resident on the corpus, for 5 MB of functions run. This builds the release binary,
# runs it under callgrind (which names every function that ran) as a gate runs it:
# `kubegate check` over the corpus, and `kubegate check --base main` in a merge request made
# of two of its projects (one commit changes a Deployment); then writes the functions'
# symbol names, sorted, without the hash that ends a Rust symbol (it changes with the
# compiler and the dependencies; build.rs matches any). A name
# that no longer exists costs nothing; a function missing from the list is placed with the
# rest, so the list goes stale slowly: regenerate it when the benchmarks' resident code
# grows, after a compiler or large dependency update. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
corpus="$(cd "${CORPUS:-../shared/corpus}" && pwd)"
command -v valgrind >/dev/null || {
  echo "$0: needs valgrind" >&2
  exit 2
}
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked --bin kubegate
bin="$(cd "$target/release" && pwd)/kubegate"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Runs kubegate with the arguments after $1 in the current directory under callgrind, into
# $out/$1.profile.
profile() {
  local name=$1
  shift
  # Exit status 1 (findings) is expected.
  KUBEGATE_NO_CACHE=1 valgrind --tool=callgrind --demangle=no --compress-strings=no \
    --compress-pos=no --dump-instr=no --callgrind-out-file="$out/$name.profile" "$bin" "$@" \
    >/dev/null 2>"$out/$name.log" || true
  grep -q "refs:" "$out/$name.log" || {
    cat "$out/$name.log" >&2
    exit 1
  }
}
# A check of every file of the corpus, each rendered and every built-in rule run.
(cd "$corpus" && profile corpus check .)
# A merge request: the base commit holds two of the corpus's projects, the change edits a
# Deployment of one of them.
mkdir "$out/mr"
cp -R "$corpus/stefanprodan__podinfo" "$corpus/kubernetes__examples" "$out/mr/"
(
  cd "$out/mr"
  g() { git -c user.name=kubegate -c user.email=kubegate@localhost -c commit.gpgsign=false "$@"; }
  g init -q -b main
  g add -A
  g commit -qm base
  g checkout -qb change
  deployment=kubernetes__examples/AI/model-serving-tensorflow/deployment.yaml
  sed -i 's/replicas: [0-9]*/replicas: 7/' "$deployment"
  g commit -qam change
  profile mr check --base main .
)
nm --defined-only "$bin" >"$out/symbols"
python3 - "$out/symbols" link/hot-functions.txt "$out/corpus.profile" "$out/mr.profile" <<'PY'
import re, sys
symbols, target, *profiles = sys.argv[1:]
code = {f[2] for f in map(str.split, open(symbols)) if len(f) == 3 and f[1] in "tT"}
# Every function that ran, whatever object callgrind says it is in (it names part of a
# binary with a `.text.hot` section `???`): the binary's own symbols are kept below.
ran = set()
for profile in profiles:
    for line in open(profile, errors="replace"):
        if line.startswith("fn="):
            # callgrind marks a recursive call's frames with 'N.
            ran.add(re.sub(r"'\d+$", "", line[3:].strip()))
# A local function ThinLTO exported carries `.llvm.<number>`, which changes with every
# build: cut too (build.rs matches any ending).
def stable(n):
    return re.sub(r"17h[0-9a-f]{16}E$", "17h", re.sub(r"\.llvm\.\d+$", "", n))
names = sorted({stable(n) for n in ran & code})
with open(target, "w") as f:
    f.write("# The functions `kubegate check` ran over ../shared/corpus and in a merge request,\n")
    f.write("# written by scripts/gen-hot-functions.sh; build.rs places them first in the code.\n")
    f.write("# A Rust symbol's trailing hash (after `17h`) and ThinLTO's `.llvm.` suffix are cut.\n")
    for n in names:
        f.write(n + "\n")
print(f"{len(names)} functions ({len(ran & code)} symbols) written to {target}")
PY
