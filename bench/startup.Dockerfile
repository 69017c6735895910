# The seed-004-style peer for start-up time: bench/hello.Dockerfile with bytecode
# compiled at build time (UV_COMPILE_BYTECODE=1), as that seed recommends; otherwise
# the same multi-stage uv build (deps before source, --locked, no dev deps, non-root).
# Build: DOCKER_BUILDKIT=1 /usr/bin/docker build --network host -f bench/startup.Dockerfile examples/hello-fastapi
ARG BASE=127.0.0.1:5000/pyship-test/python:3.11-slim
ARG UV_IMAGE=127.0.0.1:5000/pyship-test/uv:latest

# COPY --from cannot take a build arg, so name the uv image as a stage.
FROM ${UV_IMAGE} AS uv

FROM ${BASE} AS builder
COPY --from=uv /uv /uvx /usr/local/bin/
# SSL_CERT_FILE: uv trusts only its own roots otherwise, not the system bundle.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /app
# Dependencies only: this layer survives source edits.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=.python-version,target=.python-version \
    uv sync --locked --no-dev --no-install-project
COPY pyproject.toml uv.lock .python-version README.md ./
COPY app ./app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev

FROM ${BASE}
# The venv's interpreter links to the base's /usr/bin/python3, present here too.
WORKDIR /app
COPY --from=builder /app /app
ENV PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
USER 1001:1001
EXPOSE 8000
CMD ["/app/.venv/bin/uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
