//! Catalogue text for the dependency rules (PS2xx), checked in `rules/install.rs`,
//! `rules/interpreter.rs` and `rules/leftovers.rs`.

use super::Category::Dependencies;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::Warning;

pub(super) const PS201: Rule = Rule {
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
};

pub(super) const PS202: Rule = Rule {
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
};

pub(super) const PS203: Rule = Rule {
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
};

pub(super) const PS204: Rule = Rule {
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
};

pub(super) const PS205: Rule = Rule {
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
};

pub(super) const PS206: Rule = Rule {
    id: RuleId::PS206,
    name: "uv-in-runtime",
    category: Dependencies,
    severity: Warning,
    summary: "the runtime image carries uv or poetry",
    hint: "install with uv in a builder stage and copy only the venv and code",
    explain: "uv is a build tool. In the runtime image it adds size and lets anyone in the \
container install packages. Use a builder stage for `uv sync` and copy `/app/.venv` (and \
the code) into a runtime stage that never receives the uv binary. Poetry installed in the \
stage that ships is the same build tool left behind.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS207: Rule = Rule {
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
};

pub(super) const PS208: Rule = Rule {
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
};

pub(super) const PS209: Rule = Rule {
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
};
