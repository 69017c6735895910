//! The project's own files that go into the image: everything under the project root
//! except what `.dockerignore` and `.gitignore` exclude, and never version-control
//! data, virtual environments, caches, `.env` files or private keys.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::dockerignore::DockerIgnore;
use crate::secrets::credential_file;

/// Paths never shipped, whatever the ignore files say.
pub const ALWAYS_EXCLUDED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    ".DS_Store",
    ".dockerignore",
    "Dockerfile",
    ".idea",
    ".vscode",
];

/// Files a build reads but the image need not carry: the venv already holds what the
/// lockfiles pin, and its .dist-info records say so to scanners. Unlike the list above,
/// these belong in a Docker build context.
const BUILD_INPUTS: &[&str] = &["uv.lock", "poetry.lock", "pdm.lock"];

/// The selected files, as paths relative to the project root, sorted.
#[derive(Debug, Clone)]
pub struct SourceFiles {
    root: PathBuf,
    files: Vec<String>,
    /// `src` for a src-layout project, else empty.
    import_root: String,
}

impl SourceFiles {
    pub fn collect(root: &Path) -> Result<SourceFiles> {
        let dockerignore = dockerignore(root)?;
        let mut walker = ignore::WalkBuilder::new(root);
        walker
            .hidden(false)
            .git_ignore(true)
            .git_global(false)
            .git_exclude(false)
            .require_git(false)
            .parents(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b));
        let mut always = ignore::overrides::OverrideBuilder::new(root);
        for pattern in ALWAYS_EXCLUDED.iter().chain(BUILD_INPUTS) {
            always.add(&format!("!{pattern}"))?;
        }
        walker.overrides(always.build()?);
        let mut files = Vec::new();
        for entry in walker.build() {
            let entry =
                entry.with_context(|| format!("cannot list the files of {}", root.display()))?;
            let Some(kind) = entry.file_type() else {
                continue;
            };
            if !(kind.is_file() || kind.is_symlink()) {
                continue;
            }
            let relative = entry
                .path()
                .strip_prefix(root)
                .expect("walk stays under root");
            if dockerignore
                .as_ref()
                .is_some_and(|d| d.excludes(relative, false))
                || is_credential(relative)
            {
                continue;
            }
            let Some(text) = relative.to_str() else {
                anyhow::bail!(
                    "{} has a name that is not UTF-8: rename it or add it to .dockerignore",
                    entry.path().display()
                );
            };
            files.push(text.replace('\\', "/"));
        }
        files.sort();
        let import_root = if files
            .iter()
            .any(|f| f.starts_with("src/") && f.ends_with("/__init__.py"))
        {
            "src"
        } else {
            ""
        };
        Ok(SourceFiles {
            root: root.to_path_buf(),
            files,
            import_root: import_root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    pub fn contains(&self, path: &str) -> bool {
        self.files
            .binary_search_by(|f| f.as_str().cmp(path))
            .is_ok()
    }

    pub fn python_files(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .map(String::as_str)
            .filter(|f| f.ends_with(".py"))
    }

    /// The directory under `/app` that must be on `sys.path`: `/app` or `/app/src`.
    pub fn import_dir(&self, app_dir: &str) -> String {
        if self.import_root.is_empty() {
            app_dir.to_owned()
        } else {
            format!("{app_dir}/{}", self.import_root)
        }
    }

    /// The dotted module name of a Python file, or None if it is outside the import root.
    pub fn module_of(&self, path: &str) -> Option<String> {
        let inside = if self.import_root.is_empty() {
            path
        } else {
            path.strip_prefix(&format!("{}/", self.import_root))?
        };
        let stem = inside.strip_suffix(".py")?;
        let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
        let module = stem.replace('/', ".");
        module
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .then_some(module)
    }
}

/// True when the file, or a directory it is in, is where a tool keeps a login: such
/// files never ship, whatever the ignore files say.
fn is_credential(relative: &Path) -> bool {
    relative
        .ancestors()
        .filter_map(Path::to_str)
        .any(|path| !path.is_empty() && credential_file(path).is_some())
}

/// The project's `.dockerignore`; a pattern it cannot read is an error, since ignoring it
/// could ship a file the user meant to keep out.
fn dockerignore(root: &Path) -> Result<Option<DockerIgnore>> {
    let Some(ignore) = DockerIgnore::read(&root.join(".dockerignore")) else {
        return Ok(None);
    };
    if let Some(bad) = ignore.invalid_patterns().first() {
        anyhow::bail!(
            "{}: invalid pattern {bad:?}: fix or remove it",
            ignore.path.display()
        );
    }
    Ok(Some(ignore))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_secrets_vcs_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "pyproject.toml",
            "uv.lock",
            "src/pkg/__init__.py",
            "src/pkg/api.py",
            ".env",
            ".env.local",
            ".git/config",
            ".venv/bin/python",
            "pkg/__pycache__/x.pyc",
            "deploy/key.pem",
            "notes/todo.txt",
            "data/keep.csv",
            "build/out.txt",
            ".npmrc",
            "config/.pypirc",
            ".netrc",
            ".git-credentials",
            ".aws/credentials",
            ".docker/config.json",
            "credentials.json",
            ".envrc",
            "certs/client.p12",
            "certs/client.pfx",
            ".ssh/known_hosts",
        ] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), "x").unwrap();
        }
        std::fs::write(root.join(".dockerignore"), "notes\n*.csv\n!data/keep.csv\n").unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
        let files = SourceFiles::collect(root).unwrap();
        assert_eq!(
            files.files(),
            [
                ".gitignore",
                "data/keep.csv",
                "pyproject.toml",
                "src/pkg/__init__.py",
                "src/pkg/api.py"
            ]
        );
        assert_eq!(files.import_dir("/app"), "/app/src");
        assert_eq!(
            files.module_of("src/pkg/api.py").as_deref(),
            Some("pkg.api")
        );
        assert_eq!(
            files.module_of("src/pkg/__init__.py").as_deref(),
            Some("pkg")
        );
    }
}
