//! A `Procfile`'s `web:` line (Heroku, Dokku, Cloud Foundry), read as the command the
//! team already runs in production and converted to exec form. A shell would run it
//! there; pyship has none, so what only a shell can do is refused, naming the line.

use std::path::Path;

use anyhow::{Result, bail};

use super::launcher::PORT;

/// The `web:` command's words, with `${PORT}` and `${PORT:-N}` written as `$PORT`; none
/// when the project has no Procfile or it has no `web:` line.
pub fn web_command(root: &Path) -> Result<Option<Vec<String>>> {
    let Ok(text) = std::fs::read_to_string(root.join("Procfile")) else {
        return Ok(None);
    };
    let Some(line) = text.lines().find_map(|l| l.trim().strip_prefix("web:")) else {
        return Ok(None);
    };
    parse(line.trim()).map(Some)
}

fn parse(line: &str) -> Result<Vec<String>> {
    let Some(words) = shlex::split(line) else {
        bail!("the Procfile's web line `{line}` has an unclosed quote: fix the quoting");
    };
    let mut words: Vec<String> = words.into_iter().map(|w| port_placeholder(&w)).collect();
    if words.first().is_some_and(|w| w == "exec") {
        words.remove(0);
    }
    if words.is_empty() {
        bail!("the Procfile's web line is empty: give the command that starts the server");
    }
    for word in &words {
        if let Some(why) = shell_only(word) {
            bail!(
                "the Procfile's web line `{line}` uses {why}, which needs a shell: write the plain command there, or set [tool.pyship] command = [\"…\"] in pyproject.toml"
            );
        }
    }
    if words.iter().any(|w| w == "--reload") {
        bail!(
            "the Procfile's web line `{line}` runs with --reload, a development setting: remove it"
        );
    }
    Ok(words)
}

/// `${PORT}` and `${PORT:-8000}` as the launcher's `$PORT`.
fn port_placeholder(word: &str) -> String {
    let mut out = word.replace("${PORT}", PORT);
    while let Some(start) = out.find("${PORT:-") {
        let Some(end) = out[start..].find('}') else {
            break;
        };
        out.replace_range(start..start + end + 1, PORT);
    }
    out
}

/// What in a word only a shell would understand.
fn shell_only(word: &str) -> Option<String> {
    if matches!(
        word,
        "&&" | "||" | ";" | "|" | "&" | ">" | ">>" | "<" | "2>&1"
    ) {
        return Some(format!("`{word}`"));
    }
    if word.contains("$(") || word.contains('`') {
        return Some("command substitution".to_owned());
    }
    if word.ends_with(';') {
        return Some("`;`".to_owned());
    }
    let variable = word.replace(PORT, "");
    if let Some(at) = variable.find('$') {
        let name: String = variable[at + 1..]
            .chars()
            .skip_while(|c| *c == '{')
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        return Some(format!("${name} (only $PORT is filled in at run time)"));
    }
    if word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with('-')
            && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    }) {
        return Some(format!(
            "the variable assignment `{word}` (set it with ENV or -e)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_line_becomes_words_with_the_port_placeholder() {
        assert_eq!(
            parse("gunicorn app:app --bind 0.0.0.0:${PORT:-5000} --workers 2").unwrap(),
            [
                "gunicorn",
                "app:app",
                "--bind",
                "0.0.0.0:$PORT",
                "--workers",
                "2"
            ]
        );
        assert_eq!(
            parse("exec uvicorn 'svc.main:app' --port $PORT").unwrap(),
            ["uvicorn", "svc.main:app", "--port", "$PORT"]
        );
    }

    #[test]
    fn shell_constructs_are_refused_by_name() {
        for (line, says) in [
            ("python manage.py migrate && gunicorn app:app", "`&&`"),
            (
                "gunicorn app:app --workers $WEB_CONCURRENCY",
                "$WEB_CONCURRENCY",
            ),
            ("FOO=1 gunicorn app:app", "FOO=1"),
            ("gunicorn $(cat args)", "command substitution"),
            ("uvicorn app:app --reload", "--reload"),
            ("gunicorn 'app:app", "unclosed quote"),
        ] {
            let err = parse(line).unwrap_err().to_string();
            assert!(err.contains(says), "{line}: {err}");
        }
    }
}
