#!/usr/bin/env bash
# Build-time benchmark: pyship vs a hand-written multi-stage Dockerfile, both
# on one service, both ending with the image pushed to the loopback registry.
# Two hyperfine runs, each with the two tools side by side:
#   cold  - empty caches (fresh PYSHIP_CACHE_DIR; `docker builder prune -af`)
#   edit  - one line appended to a source file before every run, warm caches
# Then prints each image's size, compressed (registry) and uncompressed (engine).
#
# The service (default: examples/hello-fastapi with bench/hello.Dockerfile):
#   BENCH_NAME        names the results and the pushed images (default hello)
#   BENCH_PROJECT     the service's directory
#   BENCH_DOCKERFILE  the hand-written Dockerfile it is compared with
#   BENCH_EDIT        the source file the edit runs append to, in the service
# bench/build-requirements.sh sets them for a requirements.txt service.
#
# Needs: cargo build --release; bash .ci/services.sh; bash tests/support/base-images.sh
# BENCH_TOOLS="docker" runs only the Dockerfile half (default: "pyship docker").
# Results: /tmp/pyship-bench/NAME-{cold,edit}.md
set -euo pipefail
cd "$(dirname "$0")/.."

REG=127.0.0.1:5000
BASE=$REG/pyship-test/python:3.11-slim
DOCKER=/usr/bin/docker
TOOLS=${BENCH_TOOLS:-pyship docker}
OUT=/tmp/pyship-bench
NAME=${BENCH_NAME:-hello}
PROJECT=${BENCH_PROJECT:-examples/hello-fastapi}
DOCKERFILE=${BENCH_DOCKERFILE:-bench/hello.Dockerfile}
EDIT=${BENCH_EDIT:-app/main.py}
export DOCKER_BUILDKIT=1 # Debian's 20.10 client needs it for RUN --mount

has() { [[ " $TOOLS " == *" $1 "* ]]; }
die() { echo "bench: $*" >&2; exit 1; }

# The release binary of this checkout (CARGO_TARGET_DIR is honoured, as cargo does).
pyship=${CARGO_TARGET_DIR:-$PWD/target}/release/pyship
if has pyship && [[ ! -x $pyship ]]; then
  die "$pyship is missing: run 'cargo build --release' first (or BENCH_TOOLS=docker)"
fi
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
"$DOCKER" info >/dev/null 2>&1 || die "Docker engine not reachable; run: bash .ci/services.sh"
skopeo inspect --tls-verify=false --raw "docker://$BASE" >/dev/null 2>&1 ||
  die "$BASE not in the registry; run: bash tests/support/base-images.sh"

# Work on a copy so the edit runs never touch the repository.
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$PROJECT" "$work/src"
rm -rf "$work/src/.venv"
src=$work/src

pyship_build="$pyship build $src --base $BASE --push $REG/bench/$NAME:pyship"
docker_build="$DOCKER build -q --network host -f $PWD/$DOCKERFILE -t $REG/bench/$NAME:docker $src && $DOCKER push -q $REG/bench/$NAME:docker"

# Arguments for one hyperfine run: per tool a --prepare and a named command
# (hyperfine pairs the Nth --prepare with the Nth command).
cold=() edit=()
if has pyship; then
  cold+=(--prepare "rm -rf $work/pyship-cold && mkdir $work/pyship-cold"
    -n "pyship (cold)" "PYSHIP_CACHE_DIR=$work/pyship-cold $pyship_build")
  edit+=(--prepare "echo '# edit '\$(date +%s%N) >> $src/$EDIT"
    -n "pyship (source edit)" "PYSHIP_CACHE_DIR=$work/pyship-warm $pyship_build")
fi
if has docker; then
  cold+=(--prepare "$DOCKER builder prune -af >/dev/null"
    -n "docker build (cold)" "$docker_build")
  edit+=(--prepare "echo '# edit '\$(date +%s%N) >> $src/$EDIT"
    -n "docker build (source edit)" "$docker_build")
fi

hyperfine --runs 3 --export-markdown "$OUT/$NAME-cold.md" "${cold[@]}"
# --warmup fills the warm caches (and the edit runs start from them).
hyperfine --runs 5 --warmup 1 --export-markdown "$OUT/$NAME-edit.md" "${edit[@]}"

# Compressed size: sum of the layer sizes in the pushed manifest (an index is
# resolved to its linux/amd64 entry), in SI units like `docker image ls`.
compressed() {
  local ref=$1 raw digest
  raw=$(skopeo inspect --tls-verify=false --raw "docker://$ref")
  digest=$(jq -r '.manifests[]? | select(.platform.architecture == "amd64") | .digest' <<<"$raw" | head -n1)
  [[ -z $digest ]] || raw=$(skopeo inspect --tls-verify=false --raw "docker://${ref%:*}@$digest")
  jq '[.layers[].size] | add' <<<"$raw" | numfmt --to=si --suffix=B
}

echo
printf '%-34s %12s %14s\n' image compressed uncompressed
for tool in pyship docker; do
  has "$tool" || continue
  ref=$REG/bench/$NAME:$tool
  "$DOCKER" pull -q "$ref" >/dev/null
  printf '%-34s %12s %14s\n' "$ref" "$(compressed "$ref")" "$("$DOCKER" image ls --format '{{.Size}}' "$ref")"
done
echo "results: $OUT/$NAME-cold.md $OUT/$NAME-edit.md"
