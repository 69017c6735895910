#!/usr/bin/env bash
# Start-up benchmark: from `docker run` to the first 200 from /health, for pyship's
# image of examples/hello-fastapi and for the seed-004-style Dockerfile image
# (bench/startup.Dockerfile: multi-stage uv, UV_COMPILE_BYTECODE=1). Both run with the
# contract's hardened flags (read-only root, no capabilities, no-new-privileges, tmpfs
# /tmp), alternately, RUNS times each; pyship's with -e PORT=8080, the Dockerfile's on the
# port it hard-codes. Prints mean ± standard deviation and the ratio.
#
# Needs: cargo build --release (or PYSHIP=path/to/pyship); bash .ci/services.sh;
# bash tests/support/base-images.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REG=127.0.0.1:5000
BASE=$REG/pyship-test/python:3.11-slim
DOCKER=/usr/bin/docker
RUNS=${RUNS:-10}
PYSHIP=${PYSHIP:-target/release/pyship}
HARDENED=(--read-only --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp)
export DOCKER_BUILDKIT=1

die() { echo "bench: $*" >&2; exit 1; }
[[ -x $PYSHIP ]] || die "$PYSHIP is missing: run 'cargo build --release' first, or set PYSHIP"
"$DOCKER" info >/dev/null 2>&1 || die "Docker engine not reachable; run: bash .ci/services.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/hello-fastapi "$work/src"
# BENCH_PYSHIP_BASE=deb:bookworm builds pyship's image on a base from Debian's packages.
"$PYSHIP" build "$work/src" --base "${BENCH_PYSHIP_BASE:-$BASE}" --load -t pyship-bench/startup:pyship -q >/dev/null
"$DOCKER" build -q --network host -f bench/startup.Dockerfile -t pyship-bench/startup:docker "$work/src" >/dev/null

# One start: milliseconds from `docker run` to the first 200 on the host port.
ready_ms() {
  local image=$1 port=$2; shift 2
  local start id host deadline
  start=$(date +%s%N)
  id=$("$DOCKER" run -d "${HARDENED[@]}" "$@" -p "127.0.0.1::$port" "$image")
  host=$("$DOCKER" port "$id" "$port/tcp" | head -n1 | sed 's/.*://')
  deadline=$((start + 60000000000))
  until curl -fs -o /dev/null "http://127.0.0.1:$host/health"; do
    (($(date +%s%N) < deadline)) || { "$DOCKER" rm -f "$id" >/dev/null; die "$image never answered"; }
    sleep 0.01
  done
  echo $((($(date +%s%N) - start) / 1000000))
  "$DOCKER" rm -f "$id" >/dev/null
}

pyship_ms=() docker_ms=()
for ((i = 0; i < RUNS; i++)); do
  pyship_ms+=("$(ready_ms pyship-bench/startup:pyship 8080 -e PORT=8080)")
  docker_ms+=("$(ready_ms pyship-bench/startup:docker 8000)")
done

stats() { printf '%s\n' "$@" | awk '{s+=$1; q+=$1*$1} END {m=s/NR; printf "%.0f ms ± %.0f", m, sqrt(q/NR-m*m)}'; }
mean() { printf '%s\n' "$@" | awk '{s+=$1} END {print s/NR}'; }
echo "start to ready, $RUNS runs each (hardened):"
echo "  pyship image (PORT=8080):        $(stats "${pyship_ms[@]}")"
echo "  Dockerfile image (bytecode):     $(stats "${docker_ms[@]}")"
awk -v p="$(mean "${pyship_ms[@]}")" -v d="$(mean "${docker_ms[@]}")" \
  'BEGIN {printf "  ratio pyship/Dockerfile:        %.2f (target: at most 0.90)\n", p/d}'
"$DOCKER" rmi -f pyship-bench/startup:pyship pyship-bench/startup:docker >/dev/null
