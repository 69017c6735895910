//! Runtime rules: the user the image runs as, how its command is started, what it logs,
//! the port it exposes, and the metadata and health checks around it.

use super::Input;
use crate::dockerfile::expand::expand;
use crate::dockerfile::{Command, ImageRef, Instruction, Kind, Stage};
use crate::lint::finding::{Draft, Fix};
use crate::lint::rule::RuleId;
use crate::lint::shell::Script;

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    for instruction in input.df.instructions.iter() {
        if let Kind::Cmd(command) | Kind::Entrypoint(command) = &instruction.kind {
            signal_forwarding(input, instruction, command, out);
        }
    }
    for stage in input.shipped() {
        shipped_stage(input, stage, out);
    }
}

/// The rules about the image a shipped stage makes.
fn shipped_stage(input: &Input<'_>, last: &Stage, out: &mut Vec<Draft>) {
    let runtime = input.instructions_of(last);
    user(input, last, &runtime, out);
    let entry = effective(&runtime, |k| matches!(k, Kind::Entrypoint(_)));
    let cmd = effective(&runtime, |k| matches!(k, Kind::Cmd(_)));
    let words = command_words(&[entry, cmd]);
    let command_at = cmd.or(entry);
    if let Some(at) = command_at {
        dev_server(input, at, &words, out);
    }
    let scope = input.df.stage_scope(last);
    if is_python_image(input, &runtime, &words)
        && scope.get("PYTHONUNBUFFERED").is_none_or(|v| v.is_empty())
    {
        let from = &input.df.instructions[last.from];
        out.push(
            Draft::new(
                RuleId::PS306,
                input.first_line(from),
                "stdout is block-buffered: logs arrive late and are lost on a crash",
            )
            .with_fix(Fix::insert(
                from.span.end,
                "\nENV PYTHONUNBUFFERED=1",
                "added `ENV PYTHONUNBUFFERED=1` to the final stage",
            )),
        );
    }
    expose(input, &runtime, &words, &scope, out);
    writable_code(input, last, out);
    labels(input, last, &runtime, out);
    healthcheck(input, last, &runtime, out);
}

/// The last instruction of a kind in the runtime lineage: the one that takes effect.
fn effective<'a>(
    runtime: &[(usize, &'a Instruction)],
    kind: impl Fn(&Kind) -> bool,
) -> Option<&'a Instruction> {
    runtime
        .iter()
        .rev()
        .map(|(_, i)| *i)
        .find(|i| kind(&i.kind))
}

/// The words the container starts with (ENTRYPOINT then CMD), unwrapping `sh -c "…"`.
fn command_words(parts: &[Option<&Instruction>]) -> Vec<String> {
    let mut words = Vec::new();
    for instruction in parts.iter().flatten() {
        let (Kind::Cmd(command) | Kind::Entrypoint(command)) = &instruction.kind else {
            continue;
        };
        match command {
            Command::Shell { script, .. } => words.extend(script_words(script)),
            Command::Exec { args, .. } => {
                let values: Vec<&str> = args.iter().map(|a| a.value.as_str()).collect();
                match values.as_slice() {
                    [shell, "-c", script, ..] if is_shell(shell) => {
                        words.extend(script_words(script))
                    }
                    _ => words.extend(values.iter().map(|v| v.to_string())),
                }
            }
        }
    }
    words
}

fn script_words(script: &str) -> Vec<String> {
    Script::parse(script)
        .commands
        .into_iter()
        .flat_map(|c| c.words)
        .collect()
}

fn is_shell(program: &str) -> bool {
    matches!(
        program.rsplit('/').next(),
        Some("sh" | "bash" | "dash" | "ash" | "zsh")
    )
}

/// Shell form, or exec form that hands the server to `sh -c` without `exec`.
fn signal_forwarding(
    input: &Input<'_>,
    instruction: &Instruction,
    command: &Command,
    out: &mut Vec<Draft>,
) {
    let name = instruction.name();
    match command {
        Command::Shell { span, script } => {
            let mut draft = Draft::new(
                RuleId::PS303,
                input.first_line(instruction),
                format!("shell-form {name} runs under `/bin/sh`, which does not pass SIGTERM on"),
            );
            if let Some(exec) = exec_form(script) {
                draft = draft.with_fix(Fix::replace(
                    span.clone(),
                    exec,
                    format!("rewrote {name} in exec form"),
                ));
            }
            out.push(draft);
        }
        Command::Exec { args, .. } => {
            if let [shell, flag, script, ..] = args.as_slice()
                && is_shell(&shell.value)
                && flag.value == "-c"
                && !script.value.trim_start().starts_with("exec ")
            {
                out.push(Draft::new(
                    RuleId::PS303,
                    input.first_line(instruction),
                    format!("{name} runs the server under `{} -c` without `exec`, so SIGTERM stops at the shell", shell.value),
                ));
            }
        }
    }
}

/// The JSON exec form of a shell-form command, when the conversion cannot change its
/// meaning: plain words only, no variables, globs, redirections or operators.
pub fn exec_form(script: &str) -> Option<String> {
    let special = |c: char| "$`|&;<>(){}*?[]~\\\"'#\n".contains(c);
    if script.trim().is_empty() || script.chars().any(special) {
        return None;
    }
    let words: Vec<String> = script
        .split_whitespace()
        .map(|w| serde_json::to_string(w).unwrap_or_default())
        .collect();
    Some(format!("[{}]", words.join(", ")))
}

fn user(input: &Input<'_>, last: &Stage, runtime: &[(usize, &Instruction)], out: &mut Vec<Draft>) {
    let Some((index, instruction)) = runtime
        .iter()
        .rev()
        .find(|(_, i)| matches!(i.kind, Kind::User(_)))
    else {
        let root = input.df.lineage(last).first().copied().unwrap_or(last);
        if runs_as_non_root(&ImageRef::parse(&root.base.text)) {
            return;
        }
        let from = &input.df.instructions[last.from];
        out.push(Draft::new(
            RuleId::PS301,
            input.first_line(from),
            "no `USER` in the final stage: the app runs as root",
        ));
        return;
    };
    let Kind::User(word) = &instruction.kind else {
        return;
    };
    let scope = input.scope_at(last, (*index).max(last.body.start));
    let expanded = expand(&word.value, &scope, input.df.escape());
    if expanded.unresolved {
        return;
    }
    let name = expanded.text.split(':').next().unwrap_or("").to_string();
    if name.is_empty() {
        // `USER $UID:$GID` with the IDs passed at build time: nothing to judge.
        return;
    }
    if name == "root" || name == "0" {
        out.push(Draft::new(
            RuleId::PS301,
            word.span.clone(),
            format!("`USER {}` runs the app as root", word.value),
        ));
    } else if !name.chars().all(|c| c.is_ascii_digit()) || name.is_empty() {
        out.push(Draft::new(
            RuleId::PS302,
            word.span.clone(),
            format!("`USER {name}` is a name; Kubernetes `runAsNonRoot` cannot verify it"),
        ));
    }
}

/// `python app.py` (or `CMD ["app.py"]` after a `python` entrypoint) where the script in
/// the build context calls Flask's `app.run()`.
fn flask_app_run(input: &Input<'_>, words: &[String]) -> bool {
    let Some(context) = &input.project.context else {
        return false;
    };
    let python = words.iter().position(|w| {
        w.rsplit('/')
            .next()
            .is_some_and(|p| p.starts_with("python"))
    });
    let script = match python {
        Some(i) => words.get(i + 1),
        None => words.first(),
    };
    let Some(script) = script.filter(|s| s.ends_with(".py")) else {
        return false;
    };
    let name = script.rsplit('/').next().unwrap_or(script);
    [context.join(script), context.join(name)]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .is_some_and(|text| text.contains("Flask(") && text.contains(".run("))
}

/// Bases whose default user is not root: distroless `:nonroot` tags and Chainguard's
/// images (their `-dev` variants run as root).
fn runs_as_non_root(image: &ImageRef) -> bool {
    let tag = image.tag.as_deref().unwrap_or("");
    tag.split(['-', '_']).any(|w| w == "nonroot")
        || image.repository.starts_with("cgr.dev/chainguard/") && !tag.ends_with("-dev")
}

fn dev_server(input: &Input<'_>, at: &Instruction, words: &[String], out: &mut Vec<Draft>) {
    let has = |w: &str| words.iter().any(|x| x == w);
    let pair = |a: &str, b: &str| {
        words
            .windows(2)
            .any(|p| p[0].rsplit('/').next() == Some(a) && p[1] == b)
    };
    let span = input.first_line(at);
    let dev = if has("--reload") || words.iter().any(|w| w.starts_with("--reload=")) {
        Some("`--reload` watches files and restarts workers")
    } else if flask_app_run(input, words) {
        Some("the script starts Flask's `app.run()`, Werkzeug's development server")
    } else if pair("fastapi", "dev") {
        Some("`fastapi dev` is the development server")
    } else if pair("flask", "run")
        || words
            .windows(3)
            .any(|p| p[0] == "-m" && p[1] == "flask" && p[2] == "run")
    {
        Some("`flask run` is Werkzeug's development server")
    } else if has("runserver") {
        Some("`manage.py runserver` is Django's development server")
    } else {
        None
    };
    if let Some(message) = dev {
        out.push(Draft::new(RuleId::PS304, span.clone(), message));
    }
    let uwsgi = words
        .first()
        .is_some_and(|w| w.rsplit('/').next() == Some("uwsgi"));
    let configured = words
        .iter()
        .any(|w| w.contains("die-on-term") || w.ends_with(".ini") || w.starts_with("--ini"));
    if uwsgi && !configured {
        out.push(Draft::new(
            RuleId::PS303,
            span.clone(),
            "uWSGI as PID 1 reloads on SIGTERM instead of stopping unless given `--die-on-term`",
        ));
    }
    if pair("uv", "run") {
        out.push(Draft::new(
            RuleId::PS305,
            span,
            "`uv run` syncs the environment on every container start",
        ));
    } else if pair("poetry", "run") {
        out.push(Draft::new(
            RuleId::PS305,
            span,
            "`poetry run` keeps poetry in the image and resolves the environment on every start",
        ));
    }
}

/// Whether the final image runs Python: a Python base, a venv, an installer, or a
/// Python server in its command.
fn is_python_image(input: &Input<'_>, runtime: &[(usize, &Instruction)], words: &[String]) -> bool {
    let python_base = input.runtime_stages().iter().any(|s| {
        let image = ImageRef::parse(&s.base.text);
        image.is_python() || image.is_uv() || image.repository.contains("python")
    });
    let python_command = words.iter().any(|w| {
        let w = w.rsplit('/').next().unwrap_or(w);
        w.starts_with("python")
            || matches!(
                w,
                "uvicorn" | "gunicorn" | "granian" | "hypercorn" | "daphne" | "fastapi" | "flask"
            )
    });
    let venv = runtime.iter().any(|(_, i)| match &i.kind {
        Kind::Copy(c) => c
            .sources
            .iter()
            .any(|s| s.value.contains(".venv") || s.value.contains("site-packages")),
        _ => false,
    });
    python_base || python_command || venv
}

/// The port a server command binds: `--port 8000`, `--bind 0.0.0.0:8000`, `runserver 0.0.0.0:8000`.
fn bound_port(words: &[String]) -> Option<String> {
    let port_of = |v: &str| {
        v.rsplit(':')
            .next()
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    };
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        match word.as_str() {
            "--port" | "-p" => return next.map(str::to_string),
            "--bind" | "-b" => return next.and_then(port_of),
            "runserver" => return next.filter(|n| !n.starts_with('-')).and_then(port_of),
            w if w.starts_with("--port=") => return Some(w["--port=".len()..].to_string()),
            w if w.starts_with("--bind=") => return port_of(&w["--bind=".len()..]),
            _ => {}
        }
    }
    None
}

fn expose(
    input: &Input<'_>,
    runtime: &[(usize, &Instruction)],
    words: &[String],
    scope: &crate::dockerfile::Scope,
    out: &mut Vec<Draft>,
) {
    let Some(port) = bound_port(words) else {
        return;
    };
    let port = expand(&port, scope, input.df.escape());
    if port.unresolved || !port.text.chars().all(|c| c.is_ascii_digit()) {
        return;
    }
    let exposes: Vec<(&Instruction, String)> = runtime
        .iter()
        .filter_map(|(_, i)| match &i.kind {
            Kind::Expose(ports) => Some(ports.iter().map(move |p| (*i, p))),
            _ => None,
        })
        .flatten()
        .map(|(i, p)| (i, expand(&p.value, scope, input.df.escape()).text))
        .collect();
    let Some((last, _)) = exposes.last() else {
        return;
    };
    let numbers: Vec<String> = exposes
        .iter()
        .map(|(_, p)| p.split('/').next().unwrap_or(p).to_string())
        .collect();
    if !numbers.iter().any(|n| n == &port.text) {
        out.push(Draft::new(
            RuleId::PS307,
            input.first_line(last),
            format!(
                "exposes {} but the command listens on {}",
                numbers.join(", "),
                port.text
            ),
        ));
    }
}

fn writable_code(input: &Input<'_>, last: &Stage, out: &mut Vec<Draft>) {
    for step in input.runs(last) {
        for command in &step.script.commands {
            let args = command.args();
            let recursive = args
                .iter()
                .any(|a| a == "-R" || a == "--recursive" || a.starts_with("-R"));
            let message = match command.program() {
                Some("chmod")
                    if recursive
                        && args.iter().any(|a| {
                            a.ends_with("777") || a.contains("o+w") || a.contains("a+w")
                        }) =>
                {
                    "makes the code writable by every user"
                }
                Some("chown")
                    if recursive
                        && !args.iter().any(|a| {
                            a.contains("/tmp") || a.contains("/data") || a.contains("media")
                        }) =>
                {
                    "hands the code to the runtime user, who can then rewrite it"
                }
                _ => continue,
            };
            out.push(Draft::new(
                RuleId::PS308,
                input.command_or_line(&step, command),
                format!("`{}` {message}", command.words.join(" ")),
            ));
        }
    }
    for (_, instruction) in input.df.body(last) {
        if let (Kind::Copy(copy), Some(owner)) = (&instruction.kind, instruction.flag("chown")) {
            let what: Vec<&str> = copy.sources.iter().map(|s| s.value.as_str()).collect();
            out.push(Draft::new(
                RuleId::PS308,
                input.first_line(instruction),
                format!("`{}` becomes writable by `{owner}`", what.join(" ")),
            ));
        }
    }
}

fn labels(
    input: &Input<'_>,
    last: &Stage,
    runtime: &[(usize, &Instruction)],
    out: &mut Vec<Draft>,
) {
    let has_oci = runtime.iter().any(|(_, i)| match &i.kind {
        Kind::Label(pairs) => pairs
            .iter()
            .any(|p| p.key.starts_with("org.opencontainers.image.")),
        _ => false,
    });
    // A workflow that passes `docker/metadata-action` labels writes them at build time.
    let ci_labels = input.project.builds.iter().any(|b| b.ci_labels);
    if !has_oci && !ci_labels {
        out.push(Draft::new(
            RuleId::PS309,
            input.first_line(&input.df.instructions[last.from]),
            "the image does not say which source and commit it was built from",
        ));
    }
}

/// A compose service built from this Dockerfile is waited on with
/// `condition: service_healthy` but neither compose nor the image defines a health check:
/// the dependents never start.
fn healthcheck(
    input: &Input<'_>,
    last: &Stage,
    runtime: &[(usize, &Instruction)],
    out: &mut Vec<Draft>,
) {
    let image_check = effective(runtime, |k| matches!(k, Kind::Healthcheck(_)))
        .is_some_and(|i| matches!(i.kind, Kind::Healthcheck(Some(_))));
    let starved = input.project.builds.iter().any(|b| {
        b.awaited_healthy
            && !b.healthcheck
            && b.target
                .as_deref()
                .is_none_or(|t| last.name.as_deref() == Some(t))
    });
    if starved && !image_check {
        out.push(Draft::new(
            RuleId::PS310,
            input.first_line(&input.df.instructions[last.from]),
            "compose waits for this service with `service_healthy`, but neither compose nor the image defines a health check",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_form_only_for_plain_words() {
        assert_eq!(
            exec_form("uvicorn app:app --port 8000").as_deref(),
            Some(r#"["uvicorn", "app:app", "--port", "8000"]"#)
        );
        assert_eq!(exec_form("uvicorn app:app --port $PORT"), None);
        assert_eq!(exec_form("a && b"), None);
    }

    #[test]
    fn bound_ports() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            bound_port(&w("gunicorn -b 0.0.0.0:8080 app:app")).as_deref(),
            Some("8080")
        );
        assert_eq!(
            bound_port(&w("uvicorn app:app --port=9000")).as_deref(),
            Some("9000")
        );
        assert_eq!(
            bound_port(&w("python manage.py runserver 0.0.0.0:8000")).as_deref(),
            Some("8000")
        );
        assert_eq!(bound_port(&w("uvicorn app:app")), None);
    }
}
