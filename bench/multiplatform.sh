#!/usr/bin/env bash
# Multi-platform benchmark: examples/hello-fastapi built by pyship for linux/amd64
# alone and for linux/amd64,linux/arm64 (one image per platform and an image index),
# both pushed to the loopback registry with a warm cache, side by side in one hyperfine
# run. The goal: the two-platform build costs at most 1.3x the one-platform build.
# No emulation is involved: pyship compiles the bytecode once with the amd64 base's
# interpreter and reads the arm64 base without running it.
#
# Needs: cargo build --release (or PYSHIP=path/to/pyship); bash .ci/services.sh;
# bash tests/support/base-images.sh (which makes the two-platform test base)
# BENCH_BASE=deb:bookworm measures bases assembled from Debian's packages instead.
# Results: /tmp/pyship-bench/multiplatform.md
set -euo pipefail
cd "$(dirname "$0")/.."

REG=127.0.0.1:5000
BASE=${BENCH_BASE:-$REG/pyship-test/python:3.11-slim}
PYSHIP=$(realpath -m "${PYSHIP:-${CARGO_TARGET_DIR:-target}/release/pyship}")
OUT=/tmp/pyship-bench
RUNS=${RUNS:-20}

die() { echo "bench: $*" >&2; exit 1; }
[[ -x $PYSHIP ]] || die "$PYSHIP is missing: run 'cargo build --release' first, or set PYSHIP"
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
[[ $BASE == deb:* ]] ||
  [[ $(skopeo inspect --tls-verify=false --raw "docker://$BASE" | jq -r '.manifests | length') == 2 ]] ||
  die "$BASE is not a two-platform index; run: bash tests/support/base-images.sh"
mkdir -p "$OUT"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/hello-fastapi "$work/src"
rm -rf "$work/src/.venv"
export PYSHIP_CACHE_DIR=$work/cache
one="$PYSHIP build -q $work/src --base $BASE --platform linux/amd64 --push $REG/bench/multiplatform:one"
two="$PYSHIP build -q $work/src --base $BASE --platform linux/amd64,linux/arm64 --push $REG/bench/multiplatform:two"
# Warm the cache for both (wheels of each CPU, both bases, the layers).
$one >/dev/null
$two >/dev/null

hyperfine --warmup 2 --runs "$RUNS" --export-markdown "$OUT/multiplatform.md" \
  -n "linux/amd64" "$one" \
  -n "linux/amd64,linux/arm64" "$two"
