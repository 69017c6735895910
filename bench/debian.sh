#!/usr/bin/env bash
# Debian-package base benchmark: pyship building examples/hello-fastapi on deb:bookworm
# (the base assembled from Debian's packages: on a cold run, an empty cache, so the
# archive's index and every .deb are fetched and checked) against the seed-004-style
# Dockerfile (bench/startup.Dockerfile: multi-stage uv, bytecode compiled) built by
# `docker build` on the python:3.11-slim stand-in, both pushing to the loopback registry,
# side by side in one hyperfine run (cold, then source edits); then both images' sizes
# and pyship's as a fraction of the Dockerfile's.
#
# Needs: cargo build --release; bash .ci/services.sh; bash tests/support/base-images.sh;
# Debian's archive (or PYSHIP_DEBIAN_MIRROR) and PyPI reachable.
# Results: /tmp/pyship-bench/debian-{cold,edit}.md
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_PYSHIP_BASE=deb:bookworm
source bench/lib.sh
check_bench_machine
bench_builds debian examples/hello-fastapi app/main.py bench/startup.Dockerfile
