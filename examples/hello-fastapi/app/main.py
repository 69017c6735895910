"""hello-fastapi: a health endpoint and a greeting, logging to stdout."""

import logging
import os
import sys
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

logging.basicConfig(
    stream=sys.stdout,
    level=os.environ.get("LOG_LEVEL", "INFO").upper(),
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
)
log = logging.getLogger("hello")


@asynccontextmanager
async def lifespan(_app: FastAPI):
    log.info("starting hello-fastapi (pid %d)", os.getpid())
    yield
    log.info("shutting down")


app = FastAPI(title="hello-fastapi", lifespan=lifespan)


@app.middleware("http")
async def log_requests(request: Request, call_next):
    response = await call_next(request)
    log.info("%s %s -> %d", request.method, request.url.path, response.status_code)
    return response


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/")
def index(name: str = "world") -> dict[str, str]:
    return {"message": f"Hello, {name}!"}
