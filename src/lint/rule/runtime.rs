//! Catalogue text for the runtime rules (PS3xx), checked in `rules/runtime.rs`.

use super::Category::Runtime;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::{Error, Info, Warning};

pub(super) const PS301: Rule = Rule {
    id: RuleId::PS301,
    name: "runs-as-root",
    category: Runtime,
    severity: Warning,
    summary: "the image runs as root",
    hint: "create a user with a fixed UID and end with `USER 10001`",
    explain: "Without a `USER`, or with `USER root`/`USER 0`, the application runs as root \
inside the container. A remote code execution bug then has root in the container, which \
makes escaping it and tampering with mounted volumes far easier. Create an unprivileged \
user and switch to it in the final stage.",
    hadolint: &["DL3002"],
    fixable: false,
};

pub(super) const PS302: Rule = Rule {
    id: RuleId::PS302,
    name: "user-not-numeric",
    category: Runtime,
    severity: Warning,
    summary: "`USER` names a user instead of a numeric UID",
    hint: "use the numeric UID, e.g. `USER 10001:10001`",
    explain: "Kubernetes' `runAsNonRoot` can only verify a numeric UID: for `USER appuser` \
the kubelet cannot tell whether the name maps to 0 and refuses to start the pod. A numeric \
`USER 10001` is also unambiguous across images and hosts.",
    hadolint: &["DL3066"],
    fixable: false,
};

pub(super) const PS303: Rule = Rule {
    id: RuleId::PS303,
    name: "shell-form-command",
    category: Runtime,
    severity: Warning,
    summary: "command runs under a shell that swallows signals",
    hint: "use exec form: `CMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\"]`",
    explain: "Shell-form `CMD`/`ENTRYPOINT` (and exec form wrapping `sh -c` without `exec`) \
runs `/bin/sh` as PID 1 with the server as its child. `docker stop` and Kubernetes send \
SIGTERM to PID 1; the shell does not forward it, so the server never shuts down gracefully \
and is killed after the grace period, dropping in-flight requests. Exec form makes the \
server PID 1.",
    hadolint: &["DL3025"],
    fixable: true,
};

pub(super) const PS304: Rule = Rule {
    id: RuleId::PS304,
    name: "dev-server",
    category: Runtime,
    severity: Error,
    summary: "the container starts a development server",
    hint: "run a production server: `uvicorn app:app` (no `--reload`), `gunicorn`",
    explain: "`--reload`, `fastapi dev`, `flask run` and `manage.py runserver` are for a \
laptop: they watch files, restart workers, run single-threaded or with debug pages, and are \
documented as unsafe for production. Start the app with a production server (uvicorn \
without `--reload`, gunicorn, granian).",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS305: Rule = Rule {
    id: RuleId::PS305,
    name: "uv-run-command",
    category: Runtime,
    severity: Warning,
    summary: "the container starts through `uv run` or `poetry run`",
    hint: "put `/app/.venv/bin` on `PATH` and run the server directly",
    explain: "`uv run` checks the lockfile and syncs the environment on every start: it can \
reach the package index (at least DNS), needs uv and a writable venv at runtime, and adds \
start-up latency. `poetry run` likewise needs poetry in the image and locates the \
environment on every start. The venv is already built; put its `bin` on `PATH` and exec \
the server.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS306: Rule = Rule {
    id: RuleId::PS306,
    name: "python-buffered-output",
    category: Runtime,
    severity: Warning,
    summary: "`PYTHONUNBUFFERED` is not set",
    hint: "add `ENV PYTHONUNBUFFERED=1`",
    explain: "When stdout is not a terminal, Python buffers it in blocks. Container logs then \
arrive late, in chunks, and the last lines before a crash are lost. `PYTHONUNBUFFERED=1` \
makes every line reach `docker logs`/`kubectl logs` immediately.",
    hadolint: &[],
    fixable: true,
};

pub(super) const PS307: Rule = Rule {
    id: RuleId::PS307,
    name: "expose-mismatch",
    category: Runtime,
    severity: Warning,
    summary: "`EXPOSE` does not match the port the command listens on",
    hint: "expose the port the server binds (or bind the exposed one)",
    explain: "`EXPOSE` documents the port and is used by tools that publish ports \
automatically. When it disagrees with `--port`/`--bind` in the command, those tools route \
to a port nobody listens on.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS308: Rule = Rule {
    id: RuleId::PS308,
    name: "code-writable",
    category: Runtime,
    severity: Info,
    summary: "application code is owned by the runtime user",
    hint: "copy code as root (no `--chown`), give the user only the paths it writes",
    explain: "`COPY --chown=app …` makes the code writable by the user the server runs as. An \
attacker with code execution can then persist by rewriting the application. Keep code \
owned by root and read-only to the runtime user; chown only data directories.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS309: Rule = Rule {
    id: RuleId::PS309,
    name: "oci-labels-missing",
    category: Runtime,
    severity: Info,
    summary: "no OCI `org.opencontainers.image.*` labels",
    hint: "add `LABEL org.opencontainers.image.source=… org.opencontainers.image.revision=…`",
    explain: "OCI labels tie an image to its source repository, commit and version. \
Registries and scanners display them, and incident responders use them to find the code \
that was running.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS310: Rule = Rule {
    id: RuleId::PS310,
    name: "healthcheck-orchestrator",
    category: Runtime,
    severity: Info,
    summary: "compose waits for a healthy service that has no health check",
    hint: "add `healthcheck:` to the compose service, or a `HEALTHCHECK` to the image",
    explain: "`depends_on: condition: service_healthy` starts a service only once the one it \
depends on reports healthy. When the service built from this Dockerfile defines no \
`healthcheck:` in compose and the image has no `HEALTHCHECK`, it never becomes healthy and \
its dependents never start. The rule looks only at compose services built from this \
Dockerfile: a health check defined in compose, or services that are only databases, are \
fine.",
    hadolint: &[],
    fixable: false,
};
