//! The rule catalogue: every rule's stable ID, default severity, summary, fix hint and the
//! page `pyship lint --explain ID` prints. Rule logic lives in `rules/`; this is its text.

use std::fmt;

use super::severity::Severity;

/// Declares the rule IDs once: the enum, and each ID's text taken from its variant name, so
/// the two cannot drift apart.
macro_rules! rule_ids {
    ($($id:ident),+ $(,)?) => {
        /// A rule's stable identifier, never reused: `PS` and three digits. Rule modules name
        /// rules by it, so a misspelt ID fails to compile. Variants are declared in ascending
        /// order, so comparing IDs sorts findings as comparing their text would.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RuleId {
            $($id),+
        }

        impl RuleId {
            /// How many rules exist: the length of the catalogue.
            pub const COUNT: usize = [$(RuleId::$id),+].len();

            /// The form users write and reports print, e.g. `PS101`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$id => stringify!($id)),+
                }
            }
        }
    };
}

rule_ids! {
    PS100,
    PS101, PS102, PS103, PS104, PS105, PS106,
    PS201, PS202, PS203, PS204, PS205, PS206, PS207, PS208, PS209,
    PS301, PS302, PS303, PS304, PS305, PS306, PS307, PS308, PS309, PS310,
    PS401, PS402, PS403, PS404, PS405,
    PS501, PS502, PS503, PS504,
    PS601, PS602, PS603, PS604, PS605, PS606,
}

impl RuleId {
    /// The catalogue entry. Cannot fail: `RULES` holds one entry per ID in declaration
    /// order, which is checked at compile time below.
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule is about, for grouping in `--explain` and SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Parse,
    Base,
    Dependencies,
    Runtime,
    Secrets,
    Shell,
    Workflow,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Parse => "parse",
            Category::Base => "base image",
            Category::Dependencies => "dependencies",
            Category::Runtime => "runtime",
            Category::Secrets => "secrets and context",
            Category::Shell => "shell hygiene",
            Category::Workflow => "container workflow",
        }
    }
}

/// A rule's identity and documentation.
#[derive(Debug)]
pub struct Rule {
    pub id: RuleId,
    /// Short kebab-case name, shown by code-scanning tools.
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One line: what is wrong.
    pub summary: &'static str,
    /// One line: what to do instead.
    pub hint: &'static str,
    /// The page for `--explain`: why it matters, and what good looks like.
    pub explain: &'static str,
    /// hadolint rules covering the same ground; their ignore pragmas apply here too.
    pub hadolint: &'static [&'static str],
    /// Whether `--fix` can rewrite it.
    pub fixable: bool,
}

/// Looks up a rule ID a user wrote (`--explain`, pragmas, config), case-insensitively;
/// `None` when no rule has it.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.id.as_str().eq_ignore_ascii_case(id))
}

use Category::*;
use Severity::{Error, Info, Warning};

// `RuleId::rule` indexes the catalogue by ID; a missing or misplaced entry must stop the
// build rather than return the wrong rule's text.
const _: () = {
    assert!(
        RULES.len() == RuleId::COUNT,
        "RULES must hold one entry per RuleId"
    );
    let mut i = 0;
    while i < RULES.len() {
        assert!(
            RULES[i].id as usize == i,
            "RULES must list the rules in RuleId order"
        );
        i += 1;
    }
};

/// Every rule, in `RuleId` order.
pub static RULES: &[Rule] = &[
    Rule {
        id: RuleId::PS100,
        name: "parse-error",
        category: Parse,
        severity: Error,
        summary: "syntax the file's reader would reject",
        hint: "fix the syntax; the rest of the file was still linted",
        explain: "BuildKit refuses to build a Dockerfile with a malformed instruction: an unknown \
keyword, a missing argument, an unterminated quote or here-document, invalid JSON in an \
exec-form array. pyship reports each such instruction and lints everything else, so one \
typo does not hide the other findings. In workflows, it marks YAML that does not parse.",
        hadolint: &["DL1000"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS101,
        name: "base-tag-moving",
        category: Base,
        severity: Warning,
        summary: "base image is `latest` or has no tag",
        hint: "name the version you test against, e.g. `python:3.12-slim-bookworm`",
        explain: "`FROM python` and `FROM python:latest` resolve to whatever was pushed last. A \
rebuild of an unchanged commit can silently move to a new Python minor version or a new \
Debian release, and wheels, the venv interpreter path and system libraries move with it. \
Pin a version tag at least (and a digest, see PS103) so a rebuild reproduces what was tested.",
        hadolint: &["DL3006", "DL3007"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS102,
        name: "base-alpine",
        category: Base,
        severity: Warning,
        summary: "Python on an Alpine (musl) base",
        hint: "use a Debian slim image such as `python:3.12-slim`",
        explain: "Most binary wheels on PyPI are built for glibc (manylinux). On Alpine, which \
uses musl, pip and uv often find no matching wheel and compile from source: builds need a \
compiler and headers, take much longer, and the image usually ends up larger than the slim \
Debian variant. Some packages also behave differently on musl (DNS, locale, threading \
stack size). Use `-slim` unless you have measured a reason not to.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS103,
        name: "base-no-digest",
        category: Base,
        severity: Info,
        summary: "base image is pinned by tag but not by digest",
        hint: "append `@sha256:…` (a bot such as Renovate can keep it current)",
        explain: "Tags are labels that move: `python:3.12-slim` is re-pushed for every patch \
release and security update. Only a digest names exact bytes. Pinning `image:tag@sha256:…` \
keeps the readable tag and makes the build reproducible; update the digest on purpose.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS104,
        name: "python-version-mismatch",
        category: Base,
        severity: Warning,
        summary: "base image Python differs from `.python-version`",
        hint: "use the base image tag that matches `.python-version` (or update the file)",
        explain: "The project pins its interpreter in `.python-version`; developers and CI test \
against it. An image built on another minor version runs code against a different \
standard library and may pick different wheels. uv reads `.python-version` too: with a \
mismatching system Python it may download its own interpreter into the builder, which the \
runtime stage does not have (see PS205).",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS105,
        name: "stage-python-mismatch",
        category: Base,
        severity: Error,
        summary: "builder and runtime stages use different Python versions",
        hint: "build from the same `python:X.Y` in every stage that shares the venv",
        explain: "A virtual environment is tied to the interpreter that created it: \
`.venv/bin/python` is a symlink to it and compiled extensions target its ABI. Copying a \
venv built on Python 3.11 into a 3.12 runtime leaves a dangling interpreter link and \
extensions that cannot load; the container fails at start.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS106,
        name: "stage-distro-mismatch",
        category: Base,
        severity: Warning,
        summary: "builder and runtime stages come from different distributions",
        hint: "use the same distribution release (e.g. bookworm) for builder and runtime",
        explain: "Compiled wheels and the venv copied out of the builder link against its C \
library and system libraries. A runtime on another distribution or release (musl vs glibc, \
bullseye vs bookworm) may lack those libraries or carry older ones, and imports fail at \
run time rather than at build time.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS201,
        name: "install-unlocked",
        category: Dependencies,
        severity: Warning,
        summary: "dependencies installed without holding to the lockfile",
        hint: "`uv sync --locked` (or `--frozen`), copy `poetry.lock`, pin `pkg==X.Y`",
        explain: "A lockfile is a contract: the image gets exactly the versions that were \
tested. `uv sync` without `--locked` or `--frozen` may re-resolve and rewrite the lock \
inside the build; `poetry install` without `poetry.lock` in the image resolves afresh; \
`pip install name` takes whatever is newest today. Each makes two builds of one commit \
differ. `--locked` fails when the lock is stale, `--frozen` uses it as is.",
        hadolint: &["DL3013"],
        fixable: true,
    },
    Rule {
        id: RuleId::PS202,
        name: "dev-dependencies",
        category: Dependencies,
        severity: Warning,
        summary: "development dependencies installed into the image",
        hint: "`uv sync --no-dev`, `poetry install --only main`, no `requirements-dev.txt`",
        explain: "uv and poetry install the dev group by default. Test runners, linters and type \
checkers then ship to production: a larger image, more packages for scanners to flag, and \
tools an attacker can use. Exclude them with `uv sync --no-dev` (or `UV_NO_DEV=1`), \
`poetry install --only main` (or `--without dev`), and do not install dev requirement \
files or `.[dev]` extras.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS203,
        name: "install-after-source",
        category: Dependencies,
        severity: Warning,
        summary: "dependencies installed after copying the whole source tree",
        hint: "copy only the manifest and lockfile, install, then copy the source",
        explain: "Docker reuses a layer only while every input before it is unchanged. After \
`COPY . .`, any edit to any file invalidates the install step, so every code change \
downloads and installs all dependencies again. Copy `pyproject.toml` and the lockfile (or \
bind-mount them), install dependencies (`uv sync --no-install-project`), and only then copy \
the code.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS204,
        name: "pip-cache-in-layer",
        category: Dependencies,
        severity: Warning,
        summary: "`pip install` keeps its download cache in the image",
        hint: "add `--no-cache-dir`, set `PIP_NO_CACHE_DIR=1`, or use a cache mount",
        explain: "pip caches every downloaded wheel under `~/.cache/pip`. In an image that cache \
is dead weight in a layer that can never be cleaned afterwards. Either tell pip not to \
cache (`--no-cache-dir`, `PIP_NO_CACHE_DIR=1`) or keep the cache outside the image with \
`RUN --mount=type=cache,target=/root/.cache/pip`, which also speeds up rebuilds.",
        hadolint: &["DL3042"],
        fixable: true,
    },
    Rule {
        id: RuleId::PS205,
        name: "uv-managed-python",
        category: Dependencies,
        severity: Warning,
        summary: "uv may download its own Python in a multi-stage build",
        hint: "set `ENV UV_PYTHON_DOWNLOADS=never` (or `UV_PYTHON_PREFERENCE=only-system`)",
        explain: "When the system Python does not satisfy the project (`.python-version`, \
`requires-python`), uv downloads a managed interpreter into `~/.local/share/uv/python` \
and links the venv to it. The runtime stage copies the venv but not that directory, so \
`.venv/bin/python` dangles and the container dies with `No such file or directory`. Force \
uv to use the base image's interpreter with `UV_PYTHON_DOWNLOADS=never` or \
`UV_PYTHON_PREFERENCE=only-system`; the build then fails loudly instead.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS206,
        name: "uv-in-runtime",
        category: Dependencies,
        severity: Warning,
        summary: "the runtime image carries uv",
        hint: "install with uv in a builder stage and copy only the venv and code",
        explain: "uv is a build tool. In the runtime image it adds size and lets anyone in the \
container install packages. Use a builder stage for `uv sync` and copy `/app/.venv` (and \
the code) into a runtime stage that never receives the uv binary.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS207,
        name: "build-tools-in-runtime",
        category: Dependencies,
        severity: Warning,
        summary: "compilers or build headers installed in the runtime stage",
        hint: "compile in a builder stage; install only runtime libraries in the final one",
        explain: "Packages such as `build-essential`, `gcc` or `libpq-dev` are needed to compile \
wheels, not to run them. Left in the final stage they add hundreds of megabytes and a \
compiler for an intruder. Build wheels or the venv in a builder stage and install only the \
shared libraries (e.g. `libpq5`) at runtime.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS208,
        name: "installer-cache-in-layer",
        category: Dependencies,
        severity: Warning,
        summary: "uv or poetry cache written into the runtime image",
        hint: "`RUN --mount=type=cache,target=/root/.cache/uv …` or `UV_NO_CACHE=1`",
        explain: "uv and poetry keep a download cache (`~/.cache/uv`, `~/.cache/pypoetry`). \
When they run in the final stage without a cache mount, the cache is stored in the layer \
and shipped. Mount it as a BuildKit cache (faster rebuilds too), or disable it with \
`--no-cache`/`UV_NO_CACHE=1`.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS209,
        name: "tool-unpinned",
        category: Dependencies,
        severity: Warning,
        summary: "build tool installed without a version",
        hint: "pin it: `pip install uv==0.5.11`, `COPY --from=ghcr.io/astral-sh/uv:0.5.11 …`",
        explain: "uv, poetry and pip change behaviour between releases (resolver output, lock \
format, default flags). Installing whatever is newest makes the build depend on the day it \
runs. Pin the tool as you pin the base image.",
        hadolint: &["DL3013"],
        fixable: false,
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
        id: RuleId::PS305,
        name: "uv-run-command",
        category: Runtime,
        severity: Warning,
        summary: "the container starts through `uv run`",
        hint: "put `/app/.venv/bin` on `PATH` and run the server directly",
        explain: "`uv run` checks the lockfile and syncs the environment on every start: it can \
reach the package index (at least DNS), needs uv and a writable venv at runtime, and adds \
start-up latency. The venv is already built; put its `bin` on `PATH` and exec the server.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
        id: RuleId::PS310,
        name: "healthcheck-orchestrator",
        category: Runtime,
        severity: Info,
        summary: "`HEALTHCHECK` use does not fit the orchestrator",
        hint: "Kubernetes: use probes, not HEALTHCHECK; compose: add a healthcheck",
        explain: "Kubernetes ignores the image `HEALTHCHECK` and uses liveness/readiness probes; \
an image check there only costs a process every interval. Docker and compose do use it, \
and `depends_on: condition: service_healthy` needs one. Keep it when the image runs under \
compose, drop it for Kubernetes.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS401,
        name: "secret-in-build-config",
        category: Secrets,
        severity: Error,
        summary: "secret-looking value in `ARG` or `ENV`",
        hint: "use `RUN --mount=type=secret,id=…` at build time and inject at run time",
        explain: "`ENV` values are stored in the image config and `ARG` values in its history: \
anyone who can pull the image can read them with `docker history` or `docker inspect`. \
Pass build-time secrets with BuildKit secret mounts and runtime secrets through the \
orchestrator's environment or secret store.",
        hadolint: &["DL3064"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS402,
        name: "secret-file-copied",
        category: Secrets,
        severity: Error,
        summary: "credentials file copied into the image",
        hint: "exclude it in `.dockerignore`; mount it with `--mount=type=secret` if a build step needs it",
        explain: "`.env` files, private keys, `.netrc`, `.pypirc` and cloud credential files \
copied into a layer stay in the image forever, even if a later step deletes them. Leave \
them out of the build context and mount secrets only for the step that uses them.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS403,
        name: "context-unfiltered",
        category: Secrets,
        severity: Warning,
        summary: "whole build context copied without a `.dockerignore` that excludes local state",
        hint: "add a `.dockerignore` listing `.git`, `.venv`, `.env`",
        explain: "`COPY . .` copies everything the build context holds. Without a `.dockerignore` \
that excludes them, the git history, the local virtualenv (built for another platform) and \
`.env` secrets end up in the image, and any change to them breaks the layer cache.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS404,
        name: "add-local-file",
        category: Secrets,
        severity: Warning,
        summary: "`ADD` used for local files",
        hint: "use `COPY`; keep `ADD` for archives you want unpacked",
        explain: "`ADD` unpacks archives and fetches URLs; for plain local files it behaves like \
`COPY` with surprises. `COPY` says what it does.",
        hadolint: &["DL3020"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS405,
        name: "add-remote-unverified",
        category: Secrets,
        severity: Warning,
        summary: "remote `ADD` without `--checksum`",
        hint: "add `--checksum=sha256:…`, or download and verify in a `RUN`",
        explain: "A URL can serve different bytes tomorrow, or to an attacker's benefit today. \
`ADD --checksum=sha256:…` makes BuildKit verify the download; without it the image trusts \
whatever the server returned.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS501,
        name: "apt-recommends",
        category: Shell,
        severity: Warning,
        summary: "`apt-get install` without `--no-install-recommends`",
        hint: "add `--no-install-recommends`",
        explain: "By default apt also installs recommended packages, which routinely doubles what \
lands in the image (documentation tools, extra libraries, sometimes a compiler). Install \
only what you asked for.",
        hadolint: &["DL3015"],
        fixable: true,
    },
    Rule {
        id: RuleId::PS502,
        name: "apt-lists-kept",
        category: Shell,
        severity: Warning,
        summary: "apt package lists left in the layer",
        hint: "end the same `RUN` with `rm -rf /var/lib/apt/lists/*`",
        explain: "`apt-get update` downloads package indexes (tens of megabytes) into \
`/var/lib/apt/lists`. Unless the same `RUN` deletes them, or they live on a cache mount, \
they are shipped in the layer.",
        hadolint: &["DL3009"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS503,
        name: "pipe-without-pipefail",
        category: Shell,
        severity: Warning,
        summary: "pipe in `RUN` without `pipefail`",
        hint: "`SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the `RUN`",
        explain: "`/bin/sh -c` reports only the exit status of the last command of a pipe: \
`curl … | sh` succeeds even when the download failed. With `pipefail` any failing part fails \
the build.",
        hadolint: &["DL4006"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS504,
        name: "workdir-relative",
        category: Shell,
        severity: Warning,
        summary: "`WORKDIR` is a relative path",
        hint: "use an absolute path such as `/app`",
        explain: "A relative `WORKDIR` is resolved against the previous one, which depends on \
the base image and earlier instructions. An absolute path says where files land.",
        hadolint: &["DL3000"],
        fixable: false,
    },
    Rule {
        id: RuleId::PS601,
        name: "ghcr-personal-token",
        category: Workflow,
        severity: Warning,
        summary: "GHCR login with a personal access token",
        hint: "use `secrets.GITHUB_TOKEN` with `permissions: packages: write`",
        explain: "A personal access token is long-lived, tied to a person and usually broader \
than one repository. For GitHub Container Registry the workflow's own `GITHUB_TOKEN` can \
push when the job grants `packages: write`; it expires with the run and needs no rotation.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS602,
        name: "inline-credentials",
        category: Workflow,
        severity: Error,
        summary: "registry credential written inline in the workflow",
        hint: "store it as an Actions secret and reference `${{ secrets.NAME }}`",
        explain: "Anything in the workflow file is readable by everyone who can read the \
repository, and stays in its history after removal. Passwords and tokens belong in \
encrypted secrets.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS603,
        name: "workflow-permissions",
        category: Workflow,
        severity: Warning,
        summary: "image workflow without least-privilege `permissions`",
        hint: "declare `permissions: { contents: read, packages: write }` on the job",
        explain: "Without a `permissions` block the `GITHUB_TOKEN` gets the repository default, \
often write access to everything; `write-all` grants it explicitly. A compromised action \
in the job can then push code or tamper with releases. Grant only what the job needs.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS604,
        name: "no-immutable-tag",
        category: Workflow,
        severity: Warning,
        summary: "image pushed without an immutable commit tag",
        hint: "add `type=sha` to docker/metadata-action tags, or tag with `${{ github.sha }}`",
        explain: "`latest` and branch tags move with every push. Without a tag naming the commit, \
a deployment cannot pin what it runs, rollbacks mean rebuilding, and an incident cannot \
name the build. Push a SHA tag and promote by retagging.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS605,
        name: "no-build-cache",
        category: Workflow,
        severity: Warning,
        summary: "image build without a layer cache",
        hint: "add `cache-from: type=gha` and `cache-to: type=gha,mode=max`",
        explain: "CI runners start empty, so without a cache source every build reinstalls all \
dependencies. `cache-from`/`cache-to` (the GitHub Actions cache or a registry) let an \
unchanged dependency layer be reused.",
        hadolint: &[],
        fixable: false,
    },
    Rule {
        id: RuleId::PS606,
        name: "action-moving-tag",
        category: Workflow,
        severity: Info,
        summary: "action pinned to a tag that can move",
        hint: "pin the full commit SHA and keep the tag in a comment",
        explain: "`uses: owner/action@v3` runs whatever the tag points to when the job starts; a \
compromised action repository can move it. A 40-character commit SHA cannot move.",
        hadolint: &[],
        fixable: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for rule in RULES {
            assert!(ids.insert(rule.id), "duplicate id {}", rule.id);
            assert!(names.insert(rule.name), "duplicate name {}", rule.name);
            assert!(
                rule.id.as_str().starts_with("PS") && rule.id.as_str().len() == 5,
                "{}",
                rule.id
            );
            assert!(!rule.summary.ends_with('.') && !rule.hint.is_empty());
        }
    }

    #[test]
    fn ids_sort_as_their_text() {
        // Findings at one place are ordered by ID; that order must stay the textual one.
        assert!(
            RULES
                .windows(2)
                .all(|w| w[0].id.as_str() < w[1].id.as_str())
        );
    }

    #[test]
    fn find_reads_user_input_without_panicking() {
        assert_eq!(find("ps204").map(|r| r.id), Some(RuleId::PS204));
        assert!(find("PS999").is_none());
        assert!(find("").is_none());
    }
}
