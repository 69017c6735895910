//! Asking git about a project's checkout: the one way pyship runs it.

use std::path::Path;
use std::process::{Command, Stdio};

/// What `git -C dir ARGS` prints, trimmed; none when git is missing, fails, or prints
/// nothing.
pub fn output(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}
