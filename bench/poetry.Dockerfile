# The hand-written peer for Poetry services: a multi-stage build of
# tests/fixtures/build/poetry2-fastapi following common practice (Poetry only in the
# builder, main group only into an in-project venv, dependencies before source, no
# Poetry, pip or caches in the runtime image, non-root, exec form).
# Build: DOCKER_BUILDKIT=1 /usr/bin/docker build --network host -f bench/poetry.Dockerfile tests/fixtures/build/poetry2-fastapi
ARG BASE=127.0.0.1:5000/pyship-test/python:3.11-slim

FROM ${BASE} AS builder
# SSL_CERT_FILE/REQUESTS_CA_BUNDLE: pip and Poetry trust the system bundle then.
ENV POETRY_VERSION=2.5.1 \
    POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=true \
    POETRY_CACHE_DIR=/root/.cache/pypoetry \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/poetry && /opt/poetry/bin/pip install "poetry==${POETRY_VERSION}"
WORKDIR /app
# Dependencies only: this layer survives source edits.
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/root/.cache/pypoetry \
    /opt/poetry/bin/poetry install --only main --no-root

FROM ${BASE}
# The venv's interpreter links to the base's /usr/bin/python3, present here too.
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY main.py ./
ENV PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
USER 1001:1001
EXPOSE 8000
CMD ["/app/.venv/bin/uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
