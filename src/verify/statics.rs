//! Checks that need only the image's config and layers: no engine, no running.

use std::collections::BTreeSet;

use crate::contract::APP_UID;
use crate::secrets::{secret_variable, token_in, url_with_password};
use crate::transport::ResolvedImage;
use crate::verify::check::Check;
use crate::verify::contents::{Contents, installed_names};

/// Tools that belong to development, reported when no lock says what is dev-only.
const COMMON_DEV_TOOLS: &[&str] = &[
    "pytest",
    "ruff",
    "mypy",
    "black",
    "ipython",
    "flake8",
    "pylint",
    "isort",
    "coverage",
    "tox",
    "nox",
    "pre-commit",
    "debugpy",
    "ipdb",
    "pytest-cov",
    "hypothesis",
    "bandit",
    "pyright",
];

pub fn checks(
    image: &ResolvedImage,
    contents: &Contents,
    dev_only: Option<&BTreeSet<String>>,
) -> Vec<Check> {
    vec![
        user(image, contents),
        secrets(image, contents),
        dev_dependencies(contents, dev_only),
        tooling(contents),
        command(image),
        metadata(image).advisory(),
    ]
}

fn runtime_config(image: &ResolvedImage) -> oci_spec::image::Config {
    image.config.config().clone().unwrap_or_default()
}

fn user(image: &ResolvedImage, contents: &Contents) -> Check {
    const ID: &str = "user";
    const TITLE: &str = "runs as a non-root user";
    let fix = &format!(
        "add a user with a fixed UID (e.g. {APP_UID}) and set USER {} (pyship build does this)",
        crate::contract::user_spec()
    );
    let user = runtime_config(image).user().clone().unwrap_or_default();
    let name = user.split(':').next().unwrap_or("").to_owned();
    if name.is_empty() || name == "root" || name == "0" {
        let shown = if user.is_empty() {
            "no USER (root)".to_owned()
        } else {
            format!("USER {user}")
        };
        return Check::fail(ID, TITLE, shown, fix);
    }
    if let Ok(uid) = name.parse::<u64>() {
        return Check::pass(ID, TITLE, format!("USER {user} (numeric UID {uid})"));
    }
    let uid = contents.passwd.as_deref().and_then(|passwd| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name.as_str()))
                .then(|| fields.get(2).and_then(|u| u.parse::<u64>().ok()))
                .flatten()
        })
    });
    match uid {
        Some(0) => Check::fail(
            ID,
            TITLE,
            format!("USER {user} has UID 0 in /etc/passwd"),
            fix,
        ),
        Some(uid) => Check::pass(
            ID,
            TITLE,
            format!(
                "USER {user} is UID {uid} in /etc/passwd; a numeric USER lets Kubernetes prove runAsNonRoot"
            ),
        ),
        None => Check::fail(
            ID,
            TITLE,
            format!("USER {user} is not in the image's /etc/passwd"),
            fix,
        ),
    }
}

fn secrets(image: &ResolvedImage, contents: &Contents) -> Check {
    const ID: &str = "secrets";
    const TITLE: &str = "no secrets in config, history or layers";
    let mut found = Vec::new();
    for entry in runtime_config(image).env().clone().unwrap_or_default() {
        let (name, value) = entry.split_once('=').unwrap_or((&entry, ""));
        // An empty value leaks nothing, whatever the name says.
        let named_secret = !value.is_empty() && secret_variable(name, Some(value)).is_some();
        if named_secret || token_in(value).is_some() {
            found.push(format!("ENV {name}"));
        }
    }
    for (index, step) in image
        .config
        .history()
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let created_by = step.created_by().as_deref().unwrap_or("");
        if let Some(kind) = token_in(created_by) {
            found.push(format!("a {kind} in history step {}", index + 1));
        } else if url_with_password(created_by) {
            found.push(format!(
                "a URL with a password in history step {}",
                index + 1
            ));
        }
    }
    let labels = runtime_config(image).labels().clone().unwrap_or_default();
    let metadata = labels
        .iter()
        .map(|(k, v)| ("label", k, v))
        .chain(image.annotations.iter().map(|(k, v)| ("annotation", k, v)));
    for (what, key, value) in metadata {
        if let Some(kind) = token_in(value) {
            found.push(format!("a {kind} in {what} {key}"));
        } else if url_with_password(value) {
            found.push(format!("a URL with a password in {what} {key}"));
        }
    }
    for secret in &contents.secrets {
        let deleted = if secret.deleted {
            ", deleted by a later layer but still in the image"
        } else {
            ""
        };
        found.push(format!(
            "{} at {} (layer {}{deleted})",
            secret.what,
            secret.path,
            secret.layer + 1
        ));
    }
    if found.is_empty() {
        return Check::pass(
            ID,
            TITLE,
            "none found in ENV, labels, annotations, history or files",
        );
    }
    Check::fail(
        ID,
        TITLE,
        found.join("; "),
        "rebuild without them: pass secrets at run time or through RUN --mount=type=secret, and rotate any that shipped",
    )
}

fn dev_dependencies(contents: &Contents, dev_only: Option<&BTreeSet<String>>) -> Check {
    const ID: &str = "dev-dependencies";
    const TITLE: &str = "no development dependencies";
    let installed = installed_names(contents);
    let (dev, source): (Vec<String>, &str) = match dev_only {
        Some(dev_only) => (
            installed
                .iter()
                .filter(|n| dev_only.contains(*n))
                .cloned()
                .collect(),
            "the lock's dev-only packages",
        ),
        None => (
            installed
                .iter()
                .filter(|n| COMMON_DEV_TOOLS.contains(&n.as_str()))
                .cloned()
                .collect(),
            "common development tools",
        ),
    };
    if dev.is_empty() {
        return Check::pass(
            ID,
            TITLE,
            format!(
                "{} distributions installed, none of {source}",
                installed.len()
            ),
        );
    }
    Check::fail(
        ID,
        TITLE,
        format!("installed: {}", dev.join(", ")),
        "install without dev groups: `uv sync --no-dev` (or `poetry install --only main`)",
    )
}

fn tooling(contents: &Contents) -> Check {
    const ID: &str = "build-tooling";
    const TITLE: &str = "no build tools or caches";
    if contents.tooling.is_empty() {
        return Check::pass(ID, TITLE, "no uv, compilers, package caches or .git");
    }
    let found: Vec<String> = contents
        .tooling
        .iter()
        .map(|(path, what)| format!("{what} at {path}"))
        .collect();
    Check::fail(
        ID,
        TITLE,
        found.join("; "),
        "build in a separate stage and copy only the venv and code into the runtime image",
    )
}

fn command(image: &ResolvedImage) -> Check {
    const ID: &str = "command";
    const TITLE: &str = "exec-form command, no dev server";
    let config = runtime_config(image);
    let argv: Vec<String> = config
        .entrypoint()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(config.cmd().clone().unwrap_or_default())
        .collect();
    if argv.is_empty() {
        return Check::fail(
            ID,
            TITLE,
            "no ENTRYPOINT or CMD",
            "set an exec-form CMD that starts the server",
        );
    }
    let shown = argv.join(" ");
    let program = argv[0].rsplit('/').next().unwrap_or("");
    if matches!(program, "sh" | "bash" | "dash" | "ash") && argv.get(1).is_some_and(|a| a == "-c") {
        return Check::fail(
            ID,
            TITLE,
            format!("shell form: {shown}"),
            "write CMD as a JSON array so the app is PID 1 and receives SIGTERM",
        );
    }
    let words: Vec<&str> = argv.iter().flat_map(|a| a.split_whitespace()).collect();
    let has = |pair: &[&str]| {
        words.windows(pair.len()).any(|w| {
            w.iter()
                .zip(pair)
                .all(|(a, b)| a.rsplit('/').next() == Some(b))
        })
    };
    let dev_mode = [
        (&["--reload"][..], "--reload"),
        (&["uv", "run"][..], "uv run"),
        (&["fastapi", "dev"][..], "fastapi dev"),
        (&["flask", "run"][..], "flask run"),
        (&["manage.py", "runserver"][..], "manage.py runserver"),
    ];
    if let Some((_, what)) = dev_mode.iter().find(|(pair, _)| has(pair)) {
        return Check::fail(
            ID,
            TITLE,
            format!("{what} in: {shown}"),
            "run the production server directly from the venv (e.g. uvicorn/gunicorn without --reload, no uv run)",
        );
    }
    Check::pass(ID, TITLE, shown)
}

fn metadata(image: &ResolvedImage) -> Check {
    const ID: &str = "metadata";
    const TITLE: &str = "OCI labels, base annotations, exposed port";
    let config = runtime_config(image);
    let labels = config.labels().clone().unwrap_or_default();
    let mut missing = Vec::new();
    for key in ["created", "revision", "source"] {
        if !labels.contains_key(&format!("org.opencontainers.image.{key}")) {
            missing.push(format!("label org.opencontainers.image.{key}"));
        }
    }
    for key in ["base.name", "base.digest"] {
        let full = format!("org.opencontainers.image.{key}");
        if !image.annotations.contains_key(&full) && !labels.contains_key(&full) {
            missing.push(format!("annotation {full}"));
        }
    }
    if config.exposed_ports().as_ref().is_none_or(|p| p.is_empty()) {
        missing.push("EXPOSE".into());
    }
    if missing.is_empty() {
        return Check::pass(
            ID,
            TITLE,
            "created, revision, source, base name and digest, exposed port",
        );
    }
    Check::fail(
        ID,
        TITLE,
        format!("missing {}", missing.join(", ")),
        "set the OCI labels from CI (BUILD_DATE, VCS_REF, VCS_URL) and EXPOSE the port; pyship build records them all",
    )
}
