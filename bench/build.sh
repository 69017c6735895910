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
# Results: /tmp/pyship-bench/hello-{cold,edit}.md
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
check_bench_machine
bench_builds hello examples/hello-fastapi app/main.py bench/hello.Dockerfile
