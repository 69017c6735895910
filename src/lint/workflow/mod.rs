//! GitHub Actions workflows that build or push container images: how they log in to the
//! registry, what the token may do, how images are tagged and cached, and how actions are
//! pinned. YAML is read with saphyr for its source positions.

mod yaml;

pub use yaml::{Node, Text, parse};

use super::finding::Draft;
use super::rule::RuleId;

pub fn check(text: &str) -> Vec<Draft> {
    let root = match parse(text) {
        Ok(root) => root,
        Err(draft) => return vec![draft],
    };
    let mut out = Vec::new();
    let jobs = root.get("jobs").map(Node::entries).unwrap_or_default();
    if !jobs.iter().any(|(_, job)| builds_images(job)) {
        return out;
    }
    let top_permissions = root.entry("permissions");
    if let Some((key, value)) = top_permissions {
        over_broad(key, value, &mut out);
    }
    for (name, job) in jobs {
        let steps = job.get("steps").map(Node::items).unwrap_or_default();
        if builds_images(job) {
            match job.entry("permissions") {
                Some((key, value)) => over_broad(key, value, &mut out),
                None if top_permissions.is_none() && pushes(job) => out.push(Draft::new(
                    RuleId::PS603,
                    name.span.clone(),
                    format!(
                        "job `{}` pushes images with the repository's default token permissions",
                        name.text
                    ),
                )),
                None => {}
            }
        }
        for step in steps {
            login(step, &mut out);
            inline_run_credentials(text, step, &mut out);
            build_push(step, steps, &mut out);
            docker_cli(text, step, &mut out);
            moving_action(step, &mut out);
        }
    }
    out
}

fn uses(step: &Node) -> Option<&str> {
    step.get("uses").and_then(Node::str)
}

fn uses_action(step: &Node, action: &str) -> bool {
    uses(step).is_some_and(|u| u.split('@').next() == Some(action))
}

fn run_text(step: &Node) -> &str {
    step.get("run").and_then(Node::str).unwrap_or("")
}

fn builds_images(job: &Node) -> bool {
    job.get("steps")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .any(|s| {
            [
                "docker/build-push-action",
                "docker/login-action",
                "docker/metadata-action",
                "redhat-actions/buildah-build",
            ]
            .iter()
            .any(|a| uses_action(s, a))
                || [
                    "docker build",
                    "docker push",
                    "docker buildx",
                    "podman build",
                    "podman push",
                ]
                .iter()
                .any(|c| run_text(s).contains(c))
        })
}

fn pushes(job: &Node) -> bool {
    job.get("steps")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .any(|s| {
            uses_action(s, "docker/login-action")
                || uses_action(s, "docker/build-push-action")
                    && with(s, "push").is_some_and(|p| p.text == "true" || p.text.contains("${{"))
                || run_text(s).contains("docker push")
                || run_text(s).contains("podman push")
        })
}

fn with<'a>(step: &'a Node, input: &str) -> Option<&'a Text> {
    step.get("with")?.get(input)?.scalar()
}

fn over_broad(key: &Text, value: &Node, out: &mut Vec<Draft>) {
    if value.str() == Some("write-all") {
        out.push(Draft::new(
            RuleId::PS603,
            key.span.clone(),
            "`permissions: write-all` gives every step write access to everything",
        ));
    }
}

/// The secret a `${{ secrets.NAME }}` expression names.
fn secret_name(expression: &str) -> Option<&str> {
    let start = expression.find("secrets.")? + "secrets.".len();
    let rest = &expression[start..];
    Some(
        &rest[..rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())],
    )
}

fn login(step: &Node, out: &mut Vec<Draft>) {
    if !uses_action(step, "docker/login-action") {
        return;
    }
    let registry = with(step, "registry")
        .map(|r| r.text.as_str())
        .unwrap_or("");
    if let Some(password) = with(step, "password") {
        if !password.text.contains("${{") && !password.text.is_empty() {
            out.push(Draft::new(
                RuleId::PS602,
                password.span.clone(),
                "the registry password is written in the workflow",
            ));
        } else if registry.contains("ghcr.io")
            && let Some(name) = secret_name(&password.text)
            && name != "GITHUB_TOKEN"
        {
            out.push(Draft::new(
                RuleId::PS601,
                password.span.clone(),
                format!("logs in to GHCR with `secrets.{name}`, a long-lived token"),
            ));
        }
    }
}

/// `docker login -p literal` or `echo literal | docker login --password-stdin` in a `run:`.
fn inline_run_credentials(text: &str, step: &Node, out: &mut Vec<Draft>) {
    let Some(run) = step.get("run").and_then(Node::scalar) else {
        return;
    };
    for line in run
        .text
        .lines()
        .filter(|l| l.contains("docker login") || l.contains("podman login"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let literal = words.windows(2).find_map(|w| {
            let value = match (w[0], w[1]) {
                ("-p" | "--password", v) => Some(v),
                (flag, _) => flag.strip_prefix("--password="),
            }?;
            (!value.starts_with('$') && !value.starts_with("\"$")).then_some(value)
        });
        if literal.is_some() {
            out.push(Draft::new(
                RuleId::PS602,
                script_line(text, run, line),
                "`docker login` is given a literal password",
            ));
        }
        if line.contains("ghcr.io")
            && let Some(name) = secret_name(line)
            && name != "GITHUB_TOKEN"
        {
            out.push(Draft::new(
                RuleId::PS601,
                script_line(text, run, line),
                format!("logs in to GHCR with `secrets.{name}`, a long-lived token"),
            ));
        }
    }
}

fn build_push(step: &Node, steps: &[Node], out: &mut Vec<Draft>) {
    let Some(action) = step.get("uses").and_then(Node::scalar) else {
        return;
    };
    if !uses_action(step, "docker/build-push-action") {
        return;
    }
    let pushing = with(step, "push").is_some_and(|p| p.text == "true" || p.text.contains("${{"));
    if pushing {
        let tags = with(step, "tags");
        let immutable = match tags {
            Some(tags) if tags.text.contains("steps.") && tags.text.contains("outputs.tags") => {
                metadata_tags(steps, &tags.text).is_none_or(|t| {
                    t.contains("type=sha") || t.contains("github.sha") || t.contains("{{sha}}")
                })
            }
            Some(tags) => tags.text.contains("sha"),
            None => false,
        };
        if !immutable {
            let span = tags.map_or(action.span.clone(), |t| t.span.clone());
            out.push(Draft::new(
                RuleId::PS604,
                span,
                "pushed tags move with every build; none names the commit",
            ));
        }
    }
    if with(step, "cache-from").is_none() {
        out.push(Draft::new(
            RuleId::PS605,
            action.span.clone(),
            "no `cache-from`: every CI build starts without layers",
        ));
    }
}

/// `docker build`/`docker push` in a `run:` script: the same tagging and cache advice as
/// for the build-push action.
fn docker_cli(text: &str, step: &Node, out: &mut Vec<Draft>) {
    let Some(run) = step.get("run").and_then(Node::scalar) else {
        return;
    };
    let lines: Vec<&str> = run.text.lines().map(str::trim).collect();
    let push_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("docker push ") || l.starts_with("podman push "))
        .collect();
    let pushed: Vec<&str> = push_lines
        .iter()
        .map(|l| l[l.find(" push ").unwrap_or(0) + 6..].trim())
        .collect();
    let names_commit = |s: &str| s.to_ascii_lowercase().contains("sha");
    if !pushed.is_empty() && !pushed.iter().any(|p| names_commit(p)) {
        out.push(Draft::new(
            RuleId::PS604,
            script_line(text, run, push_lines[0]),
            format!(
                "pushes `{}`, which moves with every build; none names the commit",
                pushed.join("`, `")
            ),
        ));
    }
    let build_without_cache = lines.iter().find(|l| {
        (l.starts_with("docker build ") || l.starts_with("docker buildx build "))
            && !l.contains("--cache-from")
    });
    if let Some(build) = build_without_cache {
        out.push(Draft::new(
            RuleId::PS605,
            script_line(text, run, build),
            "`docker build` without `--cache-from` starts from no layers",
        ));
    }
}

/// Where one line of a `run:` script sits in the file, so the caret lands on that line
/// rather than under the whole script.
fn script_line(text: &str, run: &Text, line: &str) -> std::ops::Range<usize> {
    let needle = line.trim();
    text.get(run.span.start..)
        .and_then(|rest| rest.find(needle))
        .filter(|_| !needle.is_empty())
        .map_or(run.span.clone(), |i| {
            run.span.start + i..run.span.start + i + needle.len()
        })
}

/// The `tags` input of the metadata-action step whose outputs a `tags:` expression uses.
/// `Some("")` when that step sets no tags (its defaults have no SHA tag).
fn metadata_tags<'a>(steps: &'a [Node], expression: &str) -> Option<&'a str> {
    let id = expression.split("steps.").nth(1)?.split('.').next()?;
    let step = steps
        .iter()
        .find(|s| s.get("id").and_then(Node::str) == Some(id))?;
    if !uses_action(step, "docker/metadata-action") {
        return None;
    }
    Some(with(step, "tags").map_or("", |t| t.text.as_str()))
}

fn moving_action(step: &Node, out: &mut Vec<Draft>) {
    let Some(action) = step.get("uses").and_then(Node::scalar) else {
        return;
    };
    if action.text.starts_with("./") || action.text.starts_with("docker://") {
        return;
    }
    let reference = action.text.split_once('@').map_or("", |(_, r)| r);
    let sha = reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit());
    if !sha {
        out.push(Draft::new(
            RuleId::PS606,
            action.span.clone(),
            format!(
                "`{}` follows a tag or branch that can be moved",
                action.text
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values() {
        let text = "jobs:\n  build:\n    steps:\n      - uses: docker/login-action@v3\n";
        let root = parse(text).unwrap();
        let uses = root
            .get("jobs")
            .unwrap()
            .get("build")
            .unwrap()
            .get("steps")
            .unwrap()
            .items()[0]
            .get("uses")
            .unwrap()
            .scalar()
            .unwrap()
            .clone();
        assert_eq!(&text[uses.span], "docker/login-action@v3");
    }

    #[test]
    fn long_scalar_lines_are_not_nesting() {
        let banner = format!(
            "jobs:\n  b:\n    steps:\n      - run: echo '{}' a:b:c - - -\n",
            "-".repeat(2000)
        );
        assert!(parse(&banner).is_ok());
        let flow = format!("x: {}{}\n", "[".repeat(600), "]".repeat(600));
        assert!(parse(&flow).is_err());
    }

    #[test]
    fn invalid_yaml_is_a_finding() {
        let drafts = check("jobs: [unclosed\n");
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].rule.id, RuleId::PS100);
    }

    #[test]
    fn hostile_nesting_is_refused_not_overflowed() {
        let dashes = format!("{}x\n", "- ".repeat(20_000));
        let drafts = check(&dashes);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].rule.id, RuleId::PS100);
    }

    #[test]
    fn secret_names() {
        assert_eq!(secret_name("${{ secrets.CR_PAT }}"), Some("CR_PAT"));
        assert_eq!(secret_name("x"), None);
    }
}
