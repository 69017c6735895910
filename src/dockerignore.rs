//! `.dockerignore`: which paths of a build context stay out of an image. Its patterns are
//! anchored at the context root, which is what a leading slash means in gitignore syntax,
//! so the gitignore matcher does the matching; `!` exceptions carry over unchanged.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

#[derive(Debug)]
pub struct DockerIgnore {
    pub path: PathBuf,
    matcher: Gitignore,
    /// Lines the matcher could not read, as written.
    invalid: Vec<String>,
}

impl DockerIgnore {
    pub fn read(path: &Path) -> Option<DockerIgnore> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(DockerIgnore::from_text(path, &text))
    }

    pub fn from_text(path: &Path, text: &str) -> DockerIgnore {
        let root = path.parent().unwrap_or(Path::new("."));
        let mut builder = GitignoreBuilder::new(root);
        let mut invalid = Vec::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (negate, pattern) = line.strip_prefix('!').map_or(("", line), |p| ("!", p));
            let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
            let anchored = format!("{negate}/{pattern}");
            // The matcher reports a bad glob only when built, and then drops every
            // pattern: try each line alone so one bad line costs only itself.
            let mut alone = GitignoreBuilder::new(root);
            if alone.add_line(None, &anchored).is_err() || alone.build().is_err() {
                invalid.push(line.to_owned());
                continue;
            }
            let _ = builder.add_line(None, &anchored);
        }
        let matcher = builder.build().unwrap_or_else(|_| Gitignore::empty());
        DockerIgnore {
            path: path.to_path_buf(),
            matcher,
            invalid,
        }
    }

    pub fn invalid_patterns(&self) -> &[String] {
        &self.invalid
    }

    /// Whether the context entry `name` (relative to the context root) is left out.
    pub fn excludes(&self, name: impl AsRef<Path>, is_dir: bool) -> bool {
        let root = self.path.parent().unwrap_or(Path::new("."));
        self.matcher
            .matched_path_or_any_parents(root.join(name.as_ref()), is_dir)
            .is_ignore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_patterns_and_exceptions() {
        let ignore = DockerIgnore::from_text(
            Path::new("/ctx/.dockerignore"),
            "notes\n*.csv\n!data/keep.csv\n**/*.pyc\n{a,b\n",
        );
        assert!(ignore.excludes("notes/a.txt", false));
        assert!(ignore.excludes("top.csv", false));
        assert!(
            !ignore.excludes("data/other.csv", false),
            "*.csv is anchored at the root"
        );
        assert!(!ignore.excludes("data/keep.csv", false));
        assert!(ignore.excludes("pkg/deep/x.pyc", false));
        assert_eq!(ignore.invalid_patterns(), ["{a,b"]);
    }
}
