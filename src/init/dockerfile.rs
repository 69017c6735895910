//! The Dockerfile: a builder stage that installs the lockfile with uv (or Poetry) into
//! `/app/.venv`, dependencies before source, and a runtime stage from the same base
//! that holds only the venv and the code, run by a numeric non-root user.

use std::fmt::Write as _;

use super::lockfile::Lockfile;
use super::service::{POETRY_VERSION, Service};
use crate::contract::{APP_DIR, APP_UID, VENV_DIR};

/// The private-index credentials mount: present only while installing, never in a layer.
const NETRC: &str = "--mount=type=secret,id=netrc,target=/root/.netrc";
const UV_CACHE: &str = "--mount=type=cache,target=/root/.cache/uv";

pub fn render(service: &Service) -> String {
    let mut out = String::new();
    header(&mut out, service);
    builder(&mut out, service);
    project(&mut out, service);
    runtime(&mut out, service);
    out
}

fn header(out: &mut String, service: &Service) {
    let _ = write!(
        out,
        "\
# {name}: production image. Written by `pyship init`; rerun it to update.
#   docker build --build-arg VCS_REF=\"$(git rev-parse HEAD)\" -t {image} .
# A private package index reads its credentials from a BuildKit secret:
#   docker build --secret id=netrc,src=\"$HOME/.netrc\" ...

# The Python {lockfile} was resolved for; uv refuses a base that has another.
ARG PYTHON_VERSION={python}

",
        name = service.name,
        image = service.image_name,
        lockfile = service.lockfile.describe(),
        python = service.python_xy,
    );
    out.push_str("# uv only builds the environment; it never reaches the runtime stage.\n");
    out.push_str(&service.uv.pin_note("#"));
    let _ = writeln!(out, "FROM {} AS uv\n", service.uv.reference());
}

fn builder(out: &mut String, service: &Service) {
    out.push_str(&service.base.pin_note("#"));
    let _ = write!(
        out,
        "\
FROM {base} AS builder
COPY --from=uv /uv /uvx /bin/
ARG PYTHON_VERSION
# Compile bytecode once here; copy out of the cache mount rather than link into it; use
# only the base's own Python, so the venv's interpreter exists in the runtime stage too.
ENV UV_COMPILE_BYTECODE=1 \\
    UV_LINK_MODE=copy \\
    UV_PYTHON_DOWNLOADS=never \\
    UV_PYTHON_PREFERENCE=only-system \\
    UV_PYTHON=${{PYTHON_VERSION}} \\
",
        base = service.base.reference(),
    );
    match service.lockfile {
        Lockfile::Uv => {
            let _ = writeln!(out, "    UV_PROJECT_ENVIRONMENT={VENV_DIR}");
        }
        Lockfile::Poetry => {
            let _ = writeln!(
                out,
                "    VIRTUAL_ENV={VENV_DIR} \\\n    POETRY_VIRTUALENVS_IN_PROJECT=true \\\n    POETRY_NO_INTERACTION=1"
            );
        }
        Lockfile::Requirements { .. } => {
            let _ = writeln!(out, "    VIRTUAL_ENV={VENV_DIR}");
        }
    }
    let _ = writeln!(out, "WORKDIR {APP_DIR}");
    out.push_str(
        "# Dependencies first, from the lockfile alone: editing the source keeps this layer.\n",
    );
    let install = Install::of(service);
    let mut caches = vec![UV_CACHE.to_owned()];
    if service.lockfile == Lockfile::Poetry {
        caches.push("--mount=type=cache,target=/root/.cache/pypoetry".to_owned());
    }
    let inputs = install
        .inputs
        .iter()
        .map(|file| format!("--mount=type=bind,source={file},target={file}"));
    let mounts: Vec<String> = caches
        .iter()
        .cloned()
        .chain(inputs)
        .chain([NETRC.to_owned()])
        .collect();
    run(out, &mounts, &install.dependencies);
    out.push('\n');
}

/// The project on top of the installed dependencies, in a stage of its own: a source
/// edit rebuilds only this stage, and what it adds (the source and its bytecode, and the
/// files its install put into the venv) is collected into `/out` so the runtime image
/// gets it as one small layer above an unchanged dependency layer.
fn project(out: &mut String, service: &Service) {
    out.push_str(
        "# The project itself: its source, and what installing it adds to the venv. The\n\
         # installers compile only the venv; the source gets pycs that check its hash, so\n\
         # they stay right when the code is edited or mounted over in development.\n\
         FROM builder AS project\nCOPY . .\n",
    );
    let install = Install::of(service);
    let mut mounts = vec![UV_CACHE.to_owned()];
    if service.lockfile == Lockfile::Poetry {
        mounts.push("--mount=type=cache,target=/root/.cache/pypoetry".to_owned());
    }
    mounts.push(NETRC.to_owned());
    let mut commands = vec![format!(
        "find {VENV_DIR} -fprint /tmp/deps.list && sort -o /tmp/deps.list /tmp/deps.list"
    )];
    commands.extend(install.project.unwrap_or_default());
    commands.push(format!(
        "{VENV_DIR}/bin/python -m compileall -q --invalidation-mode checked-hash -x '/[.]venv/' {APP_DIR}"
    ));
    commands.extend([
        format!("find {VENV_DIR} -fprint /tmp/all.list && sort -o /tmp/all.list /tmp/all.list"),
        "comm -13 /tmp/deps.list /tmp/all.list > /tmp/project.list".to_owned(),
        format!("find {APP_DIR} -path {VENV_DIR} -prune -o -print >> /tmp/project.list"),
        "mkdir /out && tar -cf /tmp/project.tar --no-recursion -T /tmp/project.list".to_owned(),
        "tar -xf /tmp/project.tar -C /out".to_owned(),
    ]);
    run(out, &mounts, &commands);
    out.push('\n');
}

/// How one kind of lockfile is installed: the dependencies from the files in `inputs`
/// alone, then (when there is one to build) the project itself from the copied source.
struct Install {
    inputs: Vec<String>,
    dependencies: Vec<String>,
    project: Option<Vec<String>>,
}

impl Install {
    fn of(service: &Service) -> Install {
        let poetry =
            format!("uvx --from poetry=={POETRY_VERSION} poetry install --only main --compile");
        match &service.lockfile {
            Lockfile::Uv => Install {
                inputs: vec!["pyproject.toml".to_owned(), "uv.lock".to_owned()],
                dependencies: vec![
                    "uv sync --locked --no-dev --no-install-project --no-editable".to_owned(),
                ],
                // Even without a build backend: it checks the lock against the copied pyproject.toml.
                project: Some(vec!["uv sync --locked --no-dev --no-editable".to_owned()]),
            },
            Lockfile::Poetry => Install {
                inputs: vec!["pyproject.toml".to_owned(), "poetry.lock".to_owned()],
                dependencies: vec![format!("uv venv {VENV_DIR}"), format!("{poetry} --no-root")],
                project: service.packaged.then(|| vec![poetry.clone()]),
            },
            Lockfile::Requirements {
                files,
                inputs,
                hashed,
            } => Install {
                inputs: inputs.clone(),
                dependencies: vec![
                    format!("uv venv {VENV_DIR}"),
                    format!(
                        "uv pip sync {}{}",
                        if *hashed { "--require-hashes " } else { "" },
                        files.join(" ")
                    ),
                ],
                project: service
                    .packaged
                    .then(|| vec!["uv pip install --no-deps .".to_owned()]),
            },
        }
    }
}

fn run(out: &mut String, mounts: &[String], commands: &[String]) {
    out.push_str("RUN ");
    for mount in mounts {
        let _ = write!(out, "{mount} \\\n    ");
    }
    out.push_str(&commands.join(" \\\n && "));
    out.push('\n');
}

fn runtime(out: &mut String, service: &Service) {
    let _ = write!(
        out,
        "\
# The same base again, without uv, caches or build tools.
FROM {base} AS runtime
ARG UID={APP_UID}
ARG PORT={port}
# Set by CI so the image names the commit and repository it came from.
ARG BUILD_DATE=\"\"
ARG VCS_REF=\"\"
ARG VCS_URL=\"\"
",
        base = service.base.reference(),
        port = service.port,
    );
    labels(out, service);
    let _ = write!(
        out,
        "\
# A numeric non-root user. The code stays owned by root: the app cannot rewrite itself.
RUN groupadd --system --gid \"${{UID}}\" app \\
 && useradd --system --no-log-init --uid \"${{UID}}\" --gid \"${{UID}}\" \\
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin app
WORKDIR {APP_DIR}
# Dependencies, then the project: a source edit leaves the first layer as it was.
COPY --from=builder {VENV_DIR} {VENV_DIR}
COPY --from=project /out{APP_DIR} {APP_DIR}
# Logs reach `docker logs` at once; a read-only filesystem gets no .pyc writes.
ENV PATH=\"{VENV_DIR}/bin:$PATH\" \\
    VIRTUAL_ENV={VENV_DIR} \\
    PYTHONUNBUFFERED=1 \\
    PYTHONDONTWRITEBYTECODE=1 \\
"
    );
    if let Some(pythonpath) = &service.pythonpath {
        let _ = writeln!(out, "    PYTHONPATH={pythonpath} \\");
    }
    let _ = write!(
        out,
        "    PORT=${{PORT}}
USER ${{UID}}:${{UID}}
EXPOSE ${{PORT}}
"
    );
    if service.healthcheck {
        let _ = writeln!(
            out,
            "HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\\n    CMD {}",
            super::json_list(&super::health_probe(service))
        );
    }
    let _ = writeln!(out, "# Found by pyship: {}.", service.entrypoint.reason);
    if service
        .entrypoint
        .command
        .iter()
        .any(|arg| arg.contains("$PORT"))
    {
        let _ = writeln!(
            out,
            "# It listens on $PORT, read when the container starts: `docker run -e PORT=8080 …`."
        );
    }
    let _ = writeln!(out, "CMD {}", super::json_list(&service.entrypoint.command));
}

fn labels(out: &mut String, service: &Service) {
    let mut labels = vec![("title", quote(&service.name))];
    if let Some(version) = &service.version {
        labels.push(("version", quote(version)));
    }
    if let Some(description) = &service.description {
        labels.push(("description", quote(description)));
    }
    labels.extend([
        ("created", "\"${BUILD_DATE}\"".to_owned()),
        ("revision", "\"${VCS_REF}\"".to_owned()),
        ("source", "\"${VCS_URL}\"".to_owned()),
        ("base.name", quote(&service.base.named)),
    ]);
    if let Some(digest) = &service.base.digest {
        labels.push(("base.digest", quote(digest.as_str())));
    }
    out.push_str("LABEL ");
    let lines: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("org.opencontainers.image.{key}={value}"))
        .collect();
    out.push_str(&lines.join(" \\\n      "));
    out.push('\n');
}

/// A double-quoted Dockerfile word: `\`, `"` and `$` escaped, newlines folded.
fn quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' | '"' | '$' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' | '\r' => quoted.push(' '),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}
