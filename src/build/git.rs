//! What the project's git repository says about a build: when its last commit was
//! made (the clamp for every file's mtime), which commit it is, and where it lives.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// SOURCE_DATE_EPOCH, else the project's last commit time, else 0.
pub fn source_date_epoch(root: &Path) -> Result<u64> {
    if let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") {
        return value
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds"));
    }
    Ok(git(root, &["log", "-1", "--format=%ct"])
        .and_then(|t| t.parse().ok())
        .unwrap_or(0))
}

/// The commit checked out, for the `revision` label.
pub fn revision(root: &Path) -> Option<String> {
    git(root, &["rev-parse", "HEAD"])
}

/// The `origin` remote's URL, for the `source` label, without its user info: CI
/// systems clone with a token in the URL (`https://ci-bot:TOKEN@host/…`), and a label
/// is public to everyone who can pull the image.
pub fn origin(root: &Path) -> Option<String> {
    git(root, &["remote", "get-url", "origin"]).map(|url| crate::secrets::redact_url(&url))
}

/// Runs git in `root`; its trimmed output when it succeeds and says something.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}
