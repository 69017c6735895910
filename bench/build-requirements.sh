#!/usr/bin/env bash
# Build-time benchmark for a service pinned by hashed requirements files (an
# include, marker lines, a pyproject.toml without [project]): pyship vs
# bench/requirements.Dockerfile (pip install --require-hashes into a venv in a
# builder stage, copied to a slim runtime), cold and after a source edit, side by
# side in one hyperfine run each. See bench/build.sh for what is measured.
# Results: /tmp/pyship-bench/requirements-{cold,edit}.md
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=requirements \
  BENCH_PROJECT=tests/fixtures/build/requirements-flask \
  BENCH_DOCKERFILE=bench/requirements.Dockerfile \
  BENCH_EDIT=app.py \
  exec bash bench/build.sh
