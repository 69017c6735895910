//! What the project's git repository says about a build: when its last commit was
//! made (the clamp for every file's mtime), which commit it is, where it lives, and
//! what a push is tagged from (branch, release tags, uncommitted changes).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::git::output as git;

/// The commit a push is tagged from, as the project's work tree has it checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The full commit SHA of HEAD.
    pub commit: String,
    /// The branch checked out; none on a detached HEAD (as CI checks out tags).
    pub branch: Option<String>,
    /// The tags that point at HEAD.
    pub tags: Vec<String>,
    /// True when tracked files under the project differ from the commit.
    pub dirty: bool,
}

impl Checkout {
    /// Reads the checkout around `root`; an error when there is no commit to tag from.
    pub fn read(root: &Path) -> Result<Checkout> {
        let Some(commit) = git(root, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]) else {
            bail!(
                "{} is not in a git repository with a commit, so there is no commit or branch to tag the image with: name the tag with --push REPO:TAG",
                root.display()
            );
        };
        let status = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["status", "--porcelain", "--untracked-files=no", "--", "."])
            .stderr(Stdio::null())
            .output()
            .with_context(|| format!("cannot run git status in {}", root.display()))?;
        if !status.status.success() {
            bail!(
                "git status failed in {}: fix the repository, or name the tag with --push REPO:TAG",
                root.display()
            );
        }
        let branch = git(root, &["symbolic-ref", "--quiet", "--short", "HEAD"])
            .or_else(|| ci_branch(&commit, |name| std::env::var(name).ok()));
        Ok(Checkout {
            commit,
            branch,
            tags: git(root, &["tag", "--points-at", "HEAD"])
                .map(|tags| tags.lines().map(str::to_owned).collect())
                .unwrap_or_default(),
            dirty: !status.stdout.is_empty(),
        })
    }
}

/// The branch a CI job says it built, for the detached HEAD that GitLab CI (and GitHub
/// Actions for some events) checks out; only when the job's commit is this HEAD, so a
/// variable left over from another checkout names nothing.
fn ci_branch(commit: &str, var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let github = var("GITHUB_REF")
        .and_then(|r| r.strip_prefix("refs/heads/").map(str::to_owned))
        .filter(|_| var("GITHUB_SHA").as_deref() == Some(commit));
    let gitlab =
        var("CI_COMMIT_BRANCH").filter(|_| var("CI_COMMIT_SHA").as_deref() == Some(commit));
    github.or(gitlab).filter(|b| !b.is_empty())
}

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
#[cfg(test)]
mod tests {
    use super::ci_branch;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_detached_ci_checkout_takes_the_branch_its_job_names_for_this_commit() {
        let github = [
            ("GITHUB_REF", "refs/heads/feature/x"),
            ("GITHUB_SHA", "abc"),
        ];
        assert_eq!(
            ci_branch("abc", vars(&github)).as_deref(),
            Some("feature/x")
        );
        assert_eq!(
            ci_branch("def", vars(&github)),
            None,
            "another commit's job"
        );
        let tag = [("GITHUB_REF", "refs/tags/v1.2.3"), ("GITHUB_SHA", "abc")];
        assert_eq!(
            ci_branch("abc", vars(&tag)),
            None,
            "a tag build has no branch"
        );
        let gitlab = [("CI_COMMIT_BRANCH", "main"), ("CI_COMMIT_SHA", "abc")];
        assert_eq!(ci_branch("abc", vars(&gitlab)).as_deref(), Some("main"));
        assert_eq!(ci_branch("abc", vars(&[])), None);
    }
}
