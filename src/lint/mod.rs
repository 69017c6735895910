//! `pyship lint`: a Dockerfile and container-workflow linter that understands Python
//! packaging (uv, poetry, pip), with rustc-style, JSON, SARIF and GitHub output and
//! mechanical fixes.

pub mod config;
pub mod discover;
pub mod finding;
pub mod fix;
pub mod orchestration;
pub mod output;
pub mod project;
pub mod rule;
pub mod rules;
pub mod severity;
pub mod shell;
pub mod suppress;
pub mod workflow;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use rayon::prelude::*;

use crate::dockerfile::{Dockerfile, LineIndex};
use config::Config;
use discover::{FileKind, Target};
use finding::{Draft, Finding};
use output::{Format, Report};
use project::Project;
use severity::FailLevel;

/// Lint Dockerfiles and container CI workflows for Python services.
///
/// Finds `Dockerfile`, `*.Dockerfile` and `Dockerfile.*` files and GitHub workflows
/// (`.github/workflows/*.yml`) under PATHS, and reads the project around each Dockerfile
/// (`.python-version`, `.dockerignore`, lockfiles). Exits 0 when clean, 1 when a finding
/// reaches --fail-level, 2 on usage or read errors.
///
/// Configure in pyproject.toml under `[tool.pyship.lint]` (or `[lint]` in `.pyship.toml`):
/// `ignore = ["PS309"]`, `fail-level = "error"`, and `[tool.pyship.lint.severity]` with
/// `PS103 = "warning"`. Silence one instruction with `# pyship: ignore=PS204` on the line
/// above it; `# hadolint ignore=DL3042` works for rules with a hadolint twin.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Files or directories to lint.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// How to print findings.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// The lowest severity that makes the command exit 1 [default: warning, or the config's `fail-level`].
    #[arg(long, value_enum)]
    pub fail_level: Option<FailLevel>,

    /// Rewrite the mechanical findings in place (exec-form CMD, `--no-cache-dir`,
    /// `--no-install-recommends`, `--locked`, `PYTHONUNBUFFERED`) and report the rest.
    #[arg(long)]
    pub fix: bool,

    /// Skip these rules in addition to the configured ones (comma-separated IDs).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub ignore: Vec<String>,

    /// Read configuration from this file instead of searching for `.pyship.toml` or
    /// `pyproject.toml` upwards from the current directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print what a rule checks, why it matters and how to fix it, then exit.
    #[arg(long, value_name = "ID", conflicts_with_all = ["fix", "list_rules"])]
    pub explain: Option<String>,

    /// List every rule with its ID, severity and summary, then exit.
    #[arg(long)]
    pub list_rules: bool,
}

/// Runs `pyship lint`.
pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    if args.list_rules {
        write!(stdout, "{}", list_rules())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(id) = &args.explain {
        write!(stdout, "{}", explain(id)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = match &args.config {
        Some(path) => Config::read(path)?,
        None => {
            Config::discover(
                &std::env::current_dir().context("cannot read the current directory")?,
            )?
            .0
        }
    };
    for id in &args.ignore {
        if rule::find(id).is_none() {
            bail!("--ignore {id}: unknown rule; `pyship lint --list-rules` lists the valid IDs");
        }
        config.ignore.push(id.clone());
    }
    let fail_level = args
        .fail_level
        .or(config.fail_level)
        .unwrap_or(FailLevel::Warning);
    let targets = discover::targets(&args.paths)?;
    if targets.is_empty() {
        let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "no Dockerfile or workflow found under {}; name the files to lint",
            paths.join(", ")
        );
    }
    let outcomes: Vec<anyhow::Result<Outcome>> = targets
        .par_iter()
        .map(|t| lint_target(t, &config, args.fix))
        .collect();
    let mut findings = Vec::new();
    let mut sources = HashMap::new();
    let mut fixes = Vec::new();
    for outcome in outcomes {
        let outcome = outcome?;
        findings.extend(outcome.findings);
        fixes.extend(outcome.fixes);
        sources.insert(outcome.path, outcome.text);
    }
    let report = Report {
        findings: &findings,
        sources: &sources,
        fixes: &fixes,
        files: targets.len(),
    };
    let color = args.format == Format::Human
        && stdout.is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    stdout.write_all(output::render(args.format, &report, color).as_bytes())?;
    let failed = findings.iter().any(|f| fail_level.fails_on(f.severity));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One file's findings, its final text, and the fixes written to it.
struct Outcome {
    path: PathBuf,
    text: String,
    findings: Vec<Finding>,
    fixes: Vec<fix::Applied>,
}

fn lint_target(target: &Target, config: &Config, apply_fixes: bool) -> anyhow::Result<Outcome> {
    let mut text = std::fs::read_to_string(&target.path).with_context(|| {
        format!(
            "cannot read {}; check it exists and is UTF-8 text",
            target.path.display()
        )
    })?;
    let project = match target.kind {
        FileKind::Dockerfile => Project::discover(&target.path, &target.root),
        FileKind::Workflow => Project::default(),
    };
    let mut findings = lint_text(&target.path, &text, target.kind, &project, config);
    let mut fixes = Vec::new();
    // Fixes can overlap; a few passes let each land on a text that still matches.
    for _ in 0..4 {
        if !apply_fixes || !findings.iter().any(|f| f.fix.is_some()) {
            break;
        }
        let (fixed, applied) = fix::apply(&text, &findings);
        if applied.is_empty() || fixed == text {
            break;
        }
        fix::write(&target.path, &fixed)?;
        fixes.extend(applied);
        text = fixed;
        findings = lint_text(&target.path, &text, target.kind, &project, config);
    }
    Ok(Outcome {
        path: target.path.clone(),
        text,
        findings,
        fixes,
    })
}

/// Lints one file's text: rules, then suppressions and configured severities.
pub fn lint_text(
    path: &Path,
    text: &str,
    kind: FileKind,
    project: &Project,
    config: &Config,
) -> Vec<Finding> {
    let (drafts, anchors) = match kind {
        FileKind::Dockerfile => {
            let df = Dockerfile::parse(text);
            let drafts = rules::check(&df, project);
            // Suppression comments sit above the instruction a finding belongs to.
            let anchors: Vec<usize> = drafts
                .iter()
                .map(|d| {
                    df.instructions
                        .iter()
                        .find(|i| i.span.start <= d.span.start && d.span.start <= i.span.end)
                        .map_or(d.span.start, |i| i.span.start)
                })
                .collect();
            (drafts, anchors)
        }
        FileKind::Workflow => {
            let drafts = workflow::check(text);
            let anchors = drafts.iter().map(|d| d.span.start).collect();
            (drafts, anchors)
        }
    };
    let lines = LineIndex::new(text);
    let mut findings: Vec<Finding> = drafts
        .into_iter()
        .zip(anchors)
        .filter(|(draft, anchor)| {
            !config.ignores(draft.rule.id)
                && !suppress::suppressed(text, lines.position(text, *anchor).line, draft.rule)
        })
        .map(|(draft, _)| place(path, text, &lines, draft, config))
        .collect();
    findings.sort_by_key(|f| (f.start, f.rule.id));
    findings.dedup_by(|a, b| a.rule.id == b.rule.id && a.span == b.span && a.message == b.message);
    findings
}

fn place(path: &Path, text: &str, lines: &LineIndex, draft: Draft, config: &Config) -> Finding {
    Finding {
        severity: config.severity_of(draft.rule),
        rule: draft.rule,
        path: path.to_path_buf(),
        start: lines.position(text, draft.span.start),
        end: lines.position(text, draft.span.end),
        span: draft.span,
        message: draft.message,
        fix: draft.fix,
    }
}

fn list_rules() -> String {
    let mut out = String::new();
    for r in rule::RULES {
        let fix = if r.fixable { " [fix]" } else { "" };
        out.push_str(&format!(
            "{}  {:<8} {:<26} {}{fix}\n",
            r.id,
            r.severity.as_str(),
            r.name,
            r.summary
        ));
    }
    out
}

fn explain(id: &str) -> anyhow::Result<String> {
    let Some(r) = rule::find(id) else {
        bail!("unknown rule `{id}`; `pyship lint --list-rules` lists the valid IDs");
    };
    let hadolint = if r.hadolint.is_empty() {
        "none".to_string()
    } else {
        r.hadolint.join(", ")
    };
    let mut page = format!(
        "{} {}: {}\ncategory: {}; default severity: {}; --fix: {}; hadolint twin: {}\n\n{}\n\nFix: {}.\n",
        r.id,
        r.name,
        r.summary,
        r.category.as_str(),
        r.severity,
        if r.fixable { "rewrites it" } else { "no" },
        hadolint,
        wrap(r.explain, 80),
        r.hint
    );
    page.push_str(&format!(
        "Silence it on one instruction with `# pyship: ignore={}` on the line above",
        r.id
    ));
    if !r.hadolint.is_empty() {
        page.push_str(&format!(
            " (`# hadolint ignore={}` works too)",
            r.hadolint.join(",")
        ));
    }
    page.push_str(".\n");
    Ok(page)
}

/// Wraps prose at `width` columns on word boundaries.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}
