# Shared by the build benchmarks (bench/build*.sh): the registry and base they use,
# the checks that the machine can run them, and the image size report. Sourced, with
# TOOLS set to the tools to measure ("pyship docker" by default).

REG=127.0.0.1:5000
BASE=$REG/pyship-test/python:3.11-slim
DOCKER=/usr/bin/docker
TOOLS=${BENCH_TOOLS:-pyship docker}
# The base pyship builds on: the Dockerfile's stand-in, or BENCH_PYSHIP_BASE (deb:bookworm).
PYSHIP_BASE=${BENCH_PYSHIP_BASE:-$BASE}
OUT=/tmp/pyship-bench
PYSHIP=$(realpath -m "${CARGO_TARGET_DIR:-target}/release/pyship")
export DOCKER_BUILDKIT=1 # Debian's 20.10 client needs it for RUN --mount

has() { [[ " $TOOLS " == *" $1 "* ]]; }
die() { echo "bench: $*" >&2; exit 1; }

# Fails with the command to run when the release binary, hyperfine, the engine or
# the test base is missing.
check_bench_machine() {
  if has pyship && [[ ! -x $PYSHIP ]]; then
    die "$PYSHIP is missing: run 'cargo build --release' first (or BENCH_TOOLS=docker)"
  fi
  command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
  "$DOCKER" info >/dev/null 2>&1 || die "Docker engine not reachable; run: bash .ci/services.sh"
  skopeo inspect --tls-verify=false --raw "docker://$BASE" >/dev/null 2>&1 ||
    die "$BASE not in the registry; run: bash tests/support/base-images.sh"
  mkdir -p "$OUT"
}

# Compressed size in bytes: sum of the layer sizes in the pushed manifest (an index is
# resolved to its linux/amd64 entry).
compressed_bytes() {
  local ref=$1 raw digest
  raw=$(skopeo inspect --tls-verify=false --raw "docker://$ref")
  digest=$(jq -r '.manifests[]? | select(.platform.architecture == "amd64") | .digest' <<<"$raw" | head -n1)
  [[ -z $digest ]] || raw=$(skopeo inspect --tls-verify=false --raw "docker://${ref%:*}@$digest")
  jq '[.layers[].size] | add' <<<"$raw"
}

# Prints the compressed and uncompressed size of REPOSITORY:TOOL for each tool (SI
# units, like `docker image ls`), then pyship's size as a fraction of the Dockerfile's.
print_sizes() {
  local repository=$1 tool ref
  local -A packed unpacked
  echo
  printf '%-34s %12s %14s\n' image compressed uncompressed
  for tool in pyship docker; do
    has "$tool" || continue
    ref=$repository:$tool
    "$DOCKER" pull -q "$ref" >/dev/null
    packed[$tool]=$(compressed_bytes "$ref")
    unpacked[$tool]=$("$DOCKER" image inspect --format '{{.Size}}' "$ref")
    printf '%-34s %12s %14s\n' "$ref" "$(numfmt --to=si --suffix=B "${packed[$tool]}")" \
      "$(numfmt --to=si --suffix=B "${unpacked[$tool]}")"
  done
  if has pyship && has docker; then
    printf 'pyship / docker: %.2fx compressed, %.2fx uncompressed\n' \
      "$(bc -l <<<"${packed[pyship]} / ${packed[docker]}")" \
      "$(bc -l <<<"${unpacked[pyship]} / ${unpacked[docker]}")"
  fi
}

# Measures cold and source-edit builds of the service in SOURCE_DIR by pyship and by
# `docker build -f DOCKERFILE`, side by side, each pushing REG/bench/NAME:TOOL.
# EDITED (relative to the service) gets a line appended before every edit run.
# Writes $OUT/NAME-cold.md and $OUT/NAME-edit.md, then prints the image sizes.
bench_builds() {
  local name=$1 source_dir=$2 edited=$3 dockerfile=$4
  local work src image pyship_build docker_build
  # Work on a copy so the edit runs never touch the repository.
  work=$(mktemp -d)
  trap "rm -rf '$work'" EXIT
  cp -r "$source_dir" "$work/src"
  rm -rf "$work/src/.venv"
  src=$work/src
  image=$REG/bench/$name

  pyship_build="$PYSHIP build $src --base $PYSHIP_BASE --push $image:pyship"
  docker_build="$DOCKER build -q --network host -f $PWD/$dockerfile -t $image:docker $src && $DOCKER push -q $image:docker"

  # Arguments for one hyperfine run: per tool a --prepare and a named command
  # (hyperfine pairs the Nth --prepare with the Nth command).
  local cold=() edit=()
  if has pyship; then
    cold+=(--prepare "rm -rf $work/pyship-cold && mkdir $work/pyship-cold"
      -n "pyship (cold)" "PYSHIP_CACHE_DIR=$work/pyship-cold $pyship_build")
    edit+=(--prepare "echo '# edit '\$(date +%s%N) >> $src/$edited"
      -n "pyship (source edit)" "PYSHIP_CACHE_DIR=$work/pyship-warm $pyship_build")
  fi
  if has docker; then
    cold+=(--prepare "$DOCKER builder prune -af >/dev/null"
      -n "docker build (cold)" "$docker_build")
    edit+=(--prepare "echo '# edit '\$(date +%s%N) >> $src/$edited"
      -n "docker build (source edit)" "$docker_build")
  fi

  hyperfine --runs 3 --export-markdown "$OUT/$name-cold.md" "${cold[@]}"
  # --warmup fills the warm caches (and the edit runs start from them).
  hyperfine --runs 5 --warmup 1 --export-markdown "$OUT/$name-edit.md" "${edit[@]}"

  print_sizes "$image"
  echo "results: $OUT/$name-cold.md $OUT/$name-edit.md"
}
