//! Secrets and build context: secret-looking build arguments and environment, credential
//! files copied in, unfiltered contexts, and `ADD` used where `COPY` or a checksum belongs.

use super::Input;
use crate::dockerfile::{Instruction, Kind};
use crate::lint::finding::Draft;
use crate::lint::rule::RuleId;
use crate::secrets::credential_file;

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    let mut context_checked = false;
    // Only the shipped stages' own `ARG`s and `ENV`s land in the image's config and
    // history; a builder's stay in the builder, even when its files are copied on.
    let runtime: Vec<usize> = input.runtime_stages().iter().map(|s| s.index).collect();
    let stage_of = |index: usize| input.df.stages.iter().find(|s| s.body.contains(&index));
    for (index, instruction) in input.df.instructions.iter().enumerate() {
        match &instruction.kind {
            Kind::Arg(pairs) | Kind::Env(pairs) => {
                // Global `ARG`s reach no stage by themselves; a stage must declare them.
                let ships = stage_of(index).is_some_and(|s| runtime.contains(&s.index));
                for pair in pairs {
                    if let Some(why) = secret_evidence(&pair.key, pair.value.as_deref(), ships) {
                        out.push(Draft::new(
                            RuleId::PS401,
                            pair.span.clone(),
                            format!("{} `{}` {why}", instruction.name(), pair.key),
                        ));
                    }
                }
            }
            Kind::Copy(copy) | Kind::Add(copy) if instruction.flag("from").is_none() => {
                for source in copy.sources.iter().filter(|s| !is_remote(&s.value)) {
                    if let Some(kind) = credential_file(&source.value)
                        && holds_credential(input, &source.value)
                    {
                        out.push(Draft::new(
                            RuleId::PS402,
                            source.span.clone(),
                            format!("`{}` looks like {kind}", source.value),
                        ));
                    }
                }
                if !context_checked && copies_whole_context(copy) {
                    context_checked = true;
                    context(input, instruction, out);
                }
                if let Kind::Add(copy) = &instruction.kind {
                    add(input, instruction, copy, out);
                }
            }
            _ => {}
        }
    }
}

/// Why an `ARG` or `ENV` holds a secret, on evidence: a credential-shaped value anywhere;
/// a literal value under a secret's name; a bare secret-named `ARG` only in a stage that
/// ships, since only there its build-time value lands in the image's history. Booleans,
/// empty values and references to other variables are no evidence.
fn secret_evidence(key: &str, value: Option<&str>, ships: bool) -> Option<&'static str> {
    let why = crate::secrets::secret_variable(key, value)?;
    let shaped = value.is_some_and(|v| crate::secrets::secret_variable("VALUE", Some(v)).is_some())
        || value.and_then(crate::secrets::token_in).is_some();
    if shaped {
        return Some("holds a credential; it is readable in the image and the Dockerfile");
    }
    if !ships {
        return None;
    }
    match value.map(str::trim) {
        None => Some(
            "is a build argument named like a secret; its value is recorded in the image history",
        ),
        Some(v) if v.is_empty() || is_boolean(v) || v.starts_with('$') => None,
        Some(_) => Some(if why.starts_with("is named") {
            "sets a secret to a literal value; it is readable in the image"
        } else {
            why
        }),
    }
}

fn is_boolean(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "0" | "1" | "true" | "false" | "yes" | "no" | "on" | "off"
    )
}

/// Whether a copied credential file holds a login: its text is read from the build
/// context; a file that is not there cannot be judged and is not reported, except the
/// kinds that are credentials by name alone (`.env`, keys).
fn holds_credential(input: &Input<'_>, source: &str) -> bool {
    let text = input
        .project
        .context
        .as_ref()
        .and_then(|c| std::fs::read_to_string(c.join(source)).ok());
    match text {
        Some(text) => crate::secrets::holds_credential(source, &text),
        None => crate::secrets::holds_credential(source, ""),
    }
}

fn copies_whole_context(copy: &crate::dockerfile::instruction::Copy) -> bool {
    copy.sources
        .iter()
        .any(|s| matches!(s.value.trim_end_matches('/'), "." | "" | "*" | "./*"))
}

/// `COPY . .` needs a `.dockerignore` that keeps out the repository, the venv and `.env`.
fn context(input: &Input<'_>, instruction: &Instruction, out: &mut Vec<Draft>) {
    let span = input.first_line(instruction);
    let Some(ignore) = &input.project.dockerignore else {
        let message = match &input.project.stray_dockerignore {
            Some(stray) => format!(
                "copies the whole context, whose root has no `.dockerignore` (`{}` is not the context's, so the build ignores it)",
                stray.display()
            ),
            None => "copies the whole context and there is no `.dockerignore`: `.git`, `.venv` and `.env` go in".to_string(),
        };
        out.push(Draft::new(RuleId::PS403, span, message));
        return;
    };
    let leaks: Vec<&str> = [(".git", true), (".venv", true), (".env", false)]
        .into_iter()
        .filter(|(name, dir)| !ignore.excludes(name, *dir))
        .map(|(name, _)| name)
        .collect();
    if !leaks.is_empty() {
        out.push(Draft::new(
            RuleId::PS403,
            span,
            format!(
                "copies the whole context and `.dockerignore` lets `{}` in",
                leaks.join("`, `")
            ),
        ));
    }
}

fn is_remote(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://") || source.starts_with("git@")
}

fn is_archive(source: &str) -> bool {
    [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst",
    ]
    .iter()
    .any(|ext| source.to_ascii_lowercase().ends_with(ext))
}

fn add(
    input: &Input<'_>,
    instruction: &Instruction,
    copy: &crate::dockerfile::instruction::Copy,
    out: &mut Vec<Draft>,
) {
    let local: Vec<&str> = copy
        .sources
        .iter()
        .map(|s| s.value.as_str())
        .filter(|s| !is_remote(s) && !is_archive(s))
        .collect();
    if !local.is_empty() {
        out.push(Draft::new(
            RuleId::PS404,
            input.first_line(instruction),
            format!(
                "`ADD {}` copies local files; `COPY` says so plainly",
                local.join(" ")
            ),
        ));
    }
    let git = |s: &str| s.starts_with("git@") || s.ends_with(".git") || s.contains(".git#");
    for source in copy
        .sources
        .iter()
        .filter(|s| is_remote(&s.value) && !git(&s.value))
    {
        if instruction.flag("checksum").is_none() {
            out.push(Draft::new(
                RuleId::PS405,
                source.span.clone(),
                format!("`{}` is downloaded without `--checksum`", source.value),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_need_evidence() {
        assert!(secret_evidence("USE_TOKEN_AUTH", Some("false"), true).is_none());
        assert!(secret_evidence("OPENAI_API_KEY", Some(""), true).is_none());
        assert!(secret_evidence("API_TOKEN", Some("${API_TOKEN}"), true).is_none());
        assert!(secret_evidence("GITHUB_TOKEN", None, false).is_none());
        assert!(secret_evidence("GITHUB_TOKEN", None, true).is_some());
        assert!(secret_evidence("DJANGO_SECRET_KEY", Some("abc123"), true).is_some());
        assert!(secret_evidence("DJANGO_SECRET_KEY", Some("abc123"), false).is_none());
        let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
        assert!(secret_evidence("RELEASE", Some(token), false).is_some());
    }

    #[test]
    fn credential_files() {
        assert!(credential_file(".env").is_some());
        assert!(credential_file("config/.env.production").is_some());
        assert!(credential_file(".env.example").is_none());
        assert!(credential_file("certs/server.key").is_some());
        assert!(credential_file("deploy-key.pem").is_some());
        assert!(credential_file("ca.pem").is_none());
        assert!(credential_file("keys.py").is_none());
    }
}
