#!/usr/bin/env bash
# Build-time benchmark for a service pinned by hashed requirements files (an
# include, marker lines, a pyproject.toml without [project]): pyship vs
# bench/requirements.Dockerfile (pip install --require-hashes into a venv in a
# builder stage, copied to a slim runtime), both on
# tests/fixtures/build/requirements-flask, both ending with the image pushed to the
# loopback registry. Two hyperfine runs, each with the two tools side by side:
#   cold  - empty caches (fresh PYSHIP_CACHE_DIR; `docker builder prune -af`)
#   edit  - one line appended to app.py before every run, warm caches
# Then prints each image's size, compressed (registry) and uncompressed (engine).
#
# Needs: cargo build --release; bash .ci/services.sh; bash tests/support/base-images.sh
# BENCH_TOOLS="docker" runs only the Dockerfile half (default: "pyship docker").
# Results: /tmp/pyship-bench/requirements-{cold,edit}.md
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
check_bench_machine
bench_builds requirements tests/fixtures/build/requirements-flask app.py bench/requirements.Dockerfile
