#!/usr/bin/env bash
# Build-time benchmark: pyship vs a hand-written multi-stage uv Dockerfile
# (bench/hello.Dockerfile), both on examples/hello-fastapi, both ending with
# the image pushed to the loopback registry. Two hyperfine runs, each with the
# two tools side by side:
#   cold  - empty caches (fresh PYSHIP_CACHE_DIR; `docker builder prune -af`)
#   edit  - one line appended to app/main.py before every run, warm caches
# Then prints each image's size, compressed (registry) and uncompressed (engine).
#
# Needs: cargo build --release; bash .ci/services.sh; bash tests/support/base-images.sh
# BENCH_TOOLS="docker" runs only the Dockerfile half (default: "pyship docker").
# Results: /tmp/pyship-bench/{cold,edit}.md
set -euo pipefail
cd "$(dirname "$0")/.."

REG=127.0.0.1:5000
BASE=$REG/pyship-test/python:3.11-slim
DOCKER=/usr/bin/docker
TOOLS=${BENCH_TOOLS:-pyship docker}
OUT=/tmp/pyship-bench
export DOCKER_BUILDKIT=1 # Debian's 20.10 client needs it for RUN --mount

has() { [[ " $TOOLS " == *" $1 "* ]]; }
die() { echo "bench: $*" >&2; exit 1; }

if has pyship && [[ ! -x target/release/pyship ]]; then
  die "target/release/pyship is missing: run 'cargo build --release' first (or BENCH_TOOLS=docker)"
fi
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
"$DOCKER" info >/dev/null 2>&1 || die "Docker engine not reachable; run: bash .ci/services.sh"
skopeo inspect --tls-verify=false --raw "docker://$BASE" >/dev/null 2>&1 ||
  die "$BASE not in the registry; run: bash tests/support/base-images.sh"

# Work on a copy so the edit runs never touch the repository.
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/hello-fastapi "$work/src"
rm -rf "$work/src/.venv"
src=$work/src
pyship=$PWD/target/release/pyship

pyship_build="$pyship build $src --base $BASE --push $REG/bench/hello:pyship"
docker_build="$DOCKER build -q --network host -f $PWD/bench/hello.Dockerfile -t $REG/bench/hello:docker $src && $DOCKER push -q $REG/bench/hello:docker"

# Arguments for one hyperfine run: per tool a --prepare and a named command
# (hyperfine pairs the Nth --prepare with the Nth command).
cold=() edit=()
if has pyship; then
  cold+=(--prepare "rm -rf $work/pyship-cold && mkdir $work/pyship-cold"
    -n "pyship (cold)" "PYSHIP_CACHE_DIR=$work/pyship-cold $pyship_build")
  edit+=(--prepare "echo '# edit '\$(date +%s%N) >> $src/app/main.py"
    -n "pyship (source edit)" "PYSHIP_CACHE_DIR=$work/pyship-warm $pyship_build")
fi
if has docker; then
  cold+=(--prepare "$DOCKER builder prune -af >/dev/null"
    -n "docker build (cold)" "$docker_build")
  edit+=(--prepare "echo '# edit '\$(date +%s%N) >> $src/app/main.py"
    -n "docker build (source edit)" "$docker_build")
fi

hyperfine --runs 3 --export-markdown "$OUT/cold.md" "${cold[@]}"
# --warmup fills the warm caches (and the edit runs start from them).
hyperfine --runs 5 --warmup 1 --export-markdown "$OUT/edit.md" "${edit[@]}"

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
  ref=$REG/bench/hello:$tool
  "$DOCKER" pull -q "$ref" >/dev/null
  printf '%-34s %12s %14s\n' "$ref" "$(compressed "$ref")" "$("$DOCKER" image ls --format '{{.Size}}' "$ref")"
done
echo "results: $OUT/cold.md $OUT/edit.md"
