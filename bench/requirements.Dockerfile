# The hand-written peer for a service pinned by hashed requirements files
# (tests/fixtures/build/requirements-flask), following common practice: pip installs
# the hashed set into a venv in a builder stage, before the source is copied; the
# runtime stage gets the venv and the source as separate layers, no pip cache,
# non-root, exec form.
# Build: DOCKER_BUILDKIT=1 /usr/bin/docker build --network host -f bench/requirements.Dockerfile tests/fixtures/build/requirements-flask
ARG BASE=127.0.0.1:5000/pyship-test/python:3.11-slim

FROM ${BASE} AS builder
# PIP_CERT: Debian's bundled pip trusts only its own roots, not the system bundle.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /app/.venv
WORKDIR /app
# Dependencies only: this layer survives source edits.
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    --mount=type=bind,source=base.txt,target=base.txt \
    /app/.venv/bin/pip install --require-hashes --no-deps -r requirements.txt

FROM ${BASE}
# The venv's interpreter links to the base's /usr/bin/python3, present here too.
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY app.py ./
ENV PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
USER 1001:1001
EXPOSE 8000
CMD ["/app/.venv/bin/gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
