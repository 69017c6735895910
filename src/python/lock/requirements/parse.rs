//! pip's requirements file format, read as pip reads it: `\` continuations, `#`
//! comments, `${VAR}` from the environment, `-r`/`-c` includes relative to the file
//! that names them, index options, and per-requirement `--hash` options.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, bail};
use uv_pep508::{Requirement, VerbatimUrl, VersionOrUrl};

use crate::python::lock::IndexUrl;
use crate::store::http;

/// Where a line is: the file (relative to the project when inside it) and line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One requirement line.
#[derive(Debug, Clone)]
pub struct Entry {
    pub requirement: Requirement<VerbatimUrl>,
    /// The requirement as written, without its options.
    pub text: String,
    /// sha256 digests from `--hash` options, lowercase hex.
    pub hashes: Vec<String>,
    pub at: Location,
    /// Read from a `-c` file: it pins a version but adds no package.
    pub constraint: bool,
}

/// Everything a set of requirements files says.
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    /// Every file read, in the order first read, relative to the project root.
    pub files: Vec<PathBuf>,
    /// The last `--index-url` (it replaces PyPI).
    pub index_url: Option<IndexUrl>,
    pub extra_index_urls: Vec<IndexUrl>,
    /// Where `--require-hashes` turned hash checking on.
    pub require_hashes: Option<Location>,
    /// Lines that install the project itself (`-e .`, `.`), as pip-compile writes them
    /// for a project that has a build system.
    pub project_lines: Vec<Location>,
}

/// Reads `files` (relative to `root`) and everything they include.
pub fn parse(root: &Path, files: &[PathBuf]) -> Result<Parsed> {
    let mut reader = Reader {
        root,
        parsed: Parsed::default(),
        stack: Vec::new(),
    };
    for file in files {
        let path = root.join(file);
        if !path.is_file() {
            bail!(
                "{} does not exist: create it, or name the files that pin the service in [tool.pyship] requirements",
                path.display()
            );
        }
        reader.read(&path, false)?;
    }
    Ok(reader.parsed)
}

struct Reader<'a> {
    root: &'a Path,
    parsed: Parsed,
    /// The files being read, outermost first, to refuse an include cycle.
    stack: Vec<PathBuf>,
}

impl Reader<'_> {
    fn read(&mut self, path: &Path, constraint: bool) -> Result<()> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
        let shown = self.shown(path);
        if !self.parsed.files.contains(&PathBuf::from(&shown)) {
            self.parsed.files.push(PathBuf::from(&shown));
        }
        self.stack.push(canonical);
        for (line, content) in logical_lines(&text) {
            let at = Location {
                file: shown.clone(),
                line,
            };
            let content = expand_variables(&content);
            if content.starts_with('-') {
                self.option(&content, &at, path)?;
            } else if is_path(&content) {
                self.local_path(&content, &at, false)?;
            } else {
                let entry = requirement_line(&content, &at, constraint)?;
                self.parsed.entries.push(entry);
            }
        }
        self.stack.pop();
        Ok(())
    }

    /// A path as errors show it: relative to the project when inside it.
    fn shown(&self, path: &Path) -> String {
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.into());
        let full = path.canonicalize().unwrap_or_else(|_| path.into());
        full.strip_prefix(&root)
            .unwrap_or(&full)
            .display()
            .to_string()
    }

    fn option(&mut self, line: &str, at: &Location, file: &Path) -> Result<()> {
        let Some(words) = shlex::split(line) else {
            bail!("{at}: the line has an unclosed quote: close it");
        };
        let (name, inline) = split_option(&words[0]);
        let value = || -> Result<String> {
            match inline.clone().or_else(|| words.get(1).cloned()) {
                Some(value) => Ok(value),
                None => bail!("{at}: {name} needs a value"),
            }
        };
        match name.as_str() {
            "-r" | "--requirement" => self.include(&value()?, at, file, false),
            "-c" | "--constraint" => self.include(&value()?, at, file, true),
            "-i" | "--index-url" => {
                self.parsed.index_url = Some(index_url(&value()?, "--index-url", at)?);
                Ok(())
            }
            "--extra-index-url" => {
                let index = index_url(&value()?, "--extra-index-url", at)?;
                self.parsed.extra_index_urls.push(index);
                Ok(())
            }
            "--require-hashes" => {
                self.parsed.require_hashes.get_or_insert(at.clone());
                Ok(())
            }
            "--no-index" => bail!(
                "{at}: --no-index: pyship installs pinned files from a package index; remove the line and serve local wheels from an index (--extra-index-url)"
            ),
            "-f" | "--find-links" => bail!(
                "{at}: --find-links is not supported: serve the files from an index and name it with --extra-index-url"
            ),
            "-e" | "--editable" => self.local_path(&value()?, at, true),
            // They change how pip finds or builds files, not which pinned files a
            // hash-checked install accepts.
            "--trusted-host" | "--pre" | "--prefer-binary" | "--only-binary" | "--no-binary"
            | "--use-feature" => Ok(()),
            other => bail!(
                "{at}: {other} is not an option of pip's requirements format pyship knows: remove it"
            ),
        }
    }

    /// A line that installs a directory (`.`, `-e .`, `file:.`): the project itself is
    /// installed as the project always is (not editable, which an image has no use
    /// for); any other directory must come from an index.
    fn local_path(&mut self, text: &str, at: &Location, editable: bool) -> Result<()> {
        let path = text.strip_prefix("file:").unwrap_or(text);
        // `.[extra]` and `.#egg=name` still name the directory.
        let path = path.split(['[', '#']).next().unwrap_or(path).trim();
        let dir = self.root.join(path);
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same(&dir, self.root) {
            self.parsed.project_lines.push(at.clone());
            return Ok(());
        }
        let how = if editable { "-e " } else { "" };
        bail!(
            "{at}: {how}{text} installs the directory {path}, which is not the project: publish it to an index and pin its version, or make it a uv workspace member"
        )
    }

    fn include(&mut self, name: &str, at: &Location, file: &Path, constraint: bool) -> Result<()> {
        let flag = if constraint { "-c" } else { "-r" };
        if name.contains("://") {
            bail!(
                "{at}: {flag} {name} names a URL: pyship reads requirements files from the project; download it into the project"
            );
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        let path = dir.join(name);
        if !path.is_file() {
            bail!(
                "{at}: {flag} {name}: {} does not exist: fix the path (it is relative to {})",
                path.display(),
                at.file
            );
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if let Some(start) = self.stack.iter().position(|p| *p == canonical) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|p| self.shown(p))
                .chain([self.shown(&path)])
                .collect();
            bail!(
                "{at}: {flag} {name} includes a file that includes it ({}): remove one of the includes",
                chain.join(" → ")
            );
        }
        self.read(&path, constraint)
    }
}

/// True for a line pip reads as a path, not a requirement: `.`, `./x`, `../x`, `/x`,
/// `file:…`.
fn is_path(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or_default();
    first == "."
        || first.starts_with("./")
        || first.starts_with("..")
        || first.starts_with('/')
        || first.starts_with(".[")
        || first.starts_with("file:")
}

/// `--name=value`, `-rvalue` or `--name`, as (name, inline value).
fn split_option(word: &str) -> (String, Option<String>) {
    if let Some((name, value)) = word.split_once('=')
        && name.starts_with("--")
    {
        return (name.to_owned(), Some(value.to_owned()));
    }
    if !word.starts_with("--")
        && let Some((at, _)) = word.char_indices().nth(2)
    {
        return (word[..at].to_owned(), Some(word[at..].to_owned()));
    }
    (word.to_owned(), None)
}

fn index_url(url: &str, option: &str, at: &Location) -> Result<IndexUrl> {
    let shown = http::redact(url);
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(IndexUrl {
            url: url.to_owned(),
            declared: format!("{option} in {at}"),
        }),
        _ => bail!("{at}: {option} {shown} is not an http(s) URL: fix it"),
    }
}

/// A requirement and its options (`--hash`), split where pip splits them: at the first
/// word that starts with `-`.
fn requirement_line(line: &str, at: &Location, constraint: bool) -> Result<Entry> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let split = words
        .iter()
        .position(|w| w.starts_with('-'))
        .unwrap_or(words.len());
    let text = words[..split].join(" ");
    let hashes = hashes(&words[split..], at)?;
    let requirement = Requirement::<VerbatimUrl>::from_str(&text).map_err(|err| {
        let why = err.to_string();
        anyhow::anyhow!(
            "{at}: `{text}` is not a requirement pyship can install ({}): write it as name==version",
            why.lines().next().unwrap_or("invalid")
        )
    })?;
    if let Some(VersionOrUrl::Url(_)) = &requirement.version_or_url {
        bail!(
            "{at}: `{text}` installs from a URL: pyship installs pinned versions from a package index; publish it to one, or pin a released version"
        );
    }
    Ok(Entry {
        requirement,
        text,
        hashes,
        at: at.clone(),
        constraint,
    })
}

/// The sha256 digests of `--hash=sha256:…` options; any other option is refused.
fn hashes(options: &[&str], at: &Location) -> Result<Vec<String>> {
    let mut hashes = Vec::new();
    let mut others = 0;
    let mut words = options.iter();
    while let Some(word) = words.next() {
        let value = match word.strip_prefix("--hash") {
            Some(rest) if rest.starts_with('=') => rest[1..].to_owned(),
            Some("") => words.next().map(|w| w.to_string()).unwrap_or_default(),
            _ => bail!(
                "{at}: {word} is not an option a requirement line may have here (only --hash): remove it"
            ),
        };
        match value.split_once(':') {
            Some(("sha256", hex))
                if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                hashes.push(hex.to_ascii_lowercase())
            }
            Some(("sha384" | "sha512", _)) => others += 1,
            _ => bail!("{at}: --hash {value:?} is not algorithm:hexdigest: regenerate the hashes"),
        }
    }
    if hashes.is_empty() && others > 0 {
        bail!(
            "{at}: only sha256 hashes can be checked against a package index: regenerate with `--generate-hashes`"
        );
    }
    Ok(hashes)
}

/// `${NAME}` replaced by the environment variable, as pip does (only that form, only
/// upper-case letters, digits and `_`); an unset variable is left as written.
fn expand_variables(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}');
        let name = end.map(|e| &after[..e]).filter(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        });
        match (name, end) {
            (Some(name), Some(end)) => {
                match std::env::var(name) {
                    Ok(value) => out.push_str(&value),
                    Err(_) => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Lines with `\` continuations joined and comments removed, numbered from 1 by where
/// they start. A `#` starts a comment at the line's start or after whitespace, so a
/// URL's `#sha256=` fragment stays.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let without_comment = match raw.find('#') {
            Some(0) => "",
            Some(at) if raw[..at].ends_with([' ', '\t']) => &raw[..at],
            _ => raw,
        };
        let (body, continues) = match without_comment.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (without_comment, false),
        };
        let entry = current.get_or_insert_with(|| (index + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(body.trim());
        if !continues {
            let (number, line) = current.take().expect("just inserted");
            let line = line.trim().to_owned();
            if !line.is_empty() {
                lines.push((number, line));
            }
        }
    }
    if let Some((number, line)) = current
        && !line.trim().is_empty()
    {
        lines.push((number, line.trim().to_owned()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_A: &str = "b4ce2265a7abece45e7cc896e98dbebe6cead56bcf805a3d23136d145f5445bf";

    fn parse_files(files: &[(&str, &str)]) -> Result<Parsed> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        parse(dir.path(), &[PathBuf::from(files[0].0)])
    }

    #[test]
    fn reads_continuations_comments_hashes_markers_and_extras() {
        let parsed = parse_files(&[(
            "requirements.txt",
            &format!(
                "# via uv pip compile\nFlask[async]==3.1.0 \\\n    --hash=sha256:{} \\\n    --hash sha256:{HASH_A}\n    # via -r requirements.in\ncolorama==0.4.6 ; sys_platform == 'win32' --hash=sha256:{HASH_A}\n",
                HASH_A.to_uppercase()
            ),
        )])
        .unwrap();
        let flask = &parsed.entries[0];
        assert_eq!(flask.requirement.name.as_ref(), "flask");
        assert_eq!(flask.requirement.extras.len(), 1);
        assert_eq!(flask.hashes, [HASH_A, HASH_A]);
        assert_eq!(flask.at.to_string(), "requirements.txt:2");
        let colorama = &parsed.entries[1];
        assert_eq!(colorama.at.line, 6);
        assert!(!colorama.requirement.marker.is_true());
    }

    #[test]
    fn follows_includes_relative_to_the_including_file() {
        let parsed = parse_files(&[
            (
                "requirements/main.txt",
                "-r base/common.txt\n--constraint=../constraints.txt\ngunicorn==23.0.0\n",
            ),
            ("requirements/base/common.txt", "flask==3.1.0\n"),
            ("constraints.txt", "werkzeug==3.1.3\n"),
        ])
        .unwrap();
        let names: Vec<(String, bool)> = parsed
            .entries
            .iter()
            .map(|e| (e.requirement.name.to_string(), e.constraint))
            .collect();
        assert_eq!(
            names,
            [
                ("flask".into(), false),
                ("werkzeug".into(), true),
                ("gunicorn".into(), false)
            ]
        );
        assert_eq!(
            parsed.files,
            [
                PathBuf::from("requirements/main.txt"),
                PathBuf::from("requirements/base/common.txt"),
                PathBuf::from("constraints.txt")
            ]
        );
    }

    #[test]
    fn index_options_are_kept_in_order_with_where_they_were_given() {
        let parsed = parse_files(&[(
            "requirements.txt",
            "-i https://mirror.example/simple\n--extra-index-url https://a.example/simple\n--extra-index-url=https://b.example/simple\n--trusted-host a.example\nflask==3.1.0\n",
        )])
        .unwrap();
        let primary = parsed.index_url.unwrap();
        assert_eq!(primary.url, "https://mirror.example/simple");
        assert_eq!(primary.declared, "--index-url in requirements.txt:1");
        let extras: Vec<&str> = parsed
            .extra_index_urls
            .iter()
            .map(|i| i.url.as_str())
            .collect();
        assert_eq!(
            extras,
            ["https://a.example/simple", "https://b.example/simple"]
        );
    }

    #[test]
    fn expands_only_set_upper_case_variables() {
        // SAFETY of the test: the name is unique to it.
        unsafe { std::env::set_var("PYSHIP_TEST_INDEX_TOKEN", "s3cret") };
        assert_eq!(
            expand_variables(
                "https://ci:${PYSHIP_TEST_INDEX_TOKEN}@x/${UNSET_PYSHIP_VAR}/${lower}/${"
            ),
            "https://ci:s3cret@x/${UNSET_PYSHIP_VAR}/${lower}/${"
        );
    }

    #[test]
    fn lines_that_install_the_project_itself_are_noted_not_refused() {
        let parsed = parse_files(&[
            (
                "requirements.txt",
                "flask==3.1.0\n-e .\n.\n-e file:.\n.[server]\n-r requirements/more.txt\n",
            ),
            ("requirements/more.txt", "-e .#egg=app\n"),
        ])
        .unwrap();
        assert_eq!(parsed.entries.len(), 1);
        let lines: Vec<String> = parsed.project_lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(
            lines,
            [
                "requirements.txt:2",
                "requirements.txt:3",
                "requirements.txt:4",
                "requirements.txt:5",
                "requirements/more.txt:1"
            ]
        );
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        for (files, expected) in [
            (
                vec![("requirements.txt", "flask==3\n-r missing.txt\n")],
                "requirements.txt:2: -r missing.txt:",
            ),
            (
                vec![
                    ("requirements.txt", "-r a.txt\n"),
                    ("a.txt", "-r requirements.txt\n"),
                ],
                "a.txt:1: -r requirements.txt includes a file that includes it (requirements.txt → a.txt → requirements.txt)",
            ),
            (
                vec![("requirements.txt", "flask==3\n-e ./libs/shared\n")],
                "requirements.txt:2: -e ./libs/shared installs the directory ./libs/shared, which is not the project",
            ),
            (
                vec![("requirements.txt", "../elsewhere\n")],
                "requirements.txt:1: ../elsewhere installs the directory ../elsewhere, which is not the project",
            ),
            (
                vec![("requirements.txt", "flask @ https://x.example/flask.whl\n")],
                "requirements.txt:1: `flask @ https://x.example/flask.whl` installs from a URL",
            ),
            (
                vec![("requirements.txt", "\nflask==3 --hash=md5:00\n")],
                "requirements.txt:2: --hash \"md5:00\"",
            ),
            (
                vec![("requirements.txt", "flask==3 --install-option=x\n")],
                "requirements.txt:1: --install-option=x is not an option",
            ),
            (
                vec![("requirements.txt", "--index-url ftp://x\n")],
                "requirements.txt:1: --index-url ftp://x is not an http(s) URL",
            ),
            (
                vec![("requirements.txt", "fl ask==3\n")],
                "requirements.txt:1: `fl ask==3` is not a requirement",
            ),
        ] {
            let err = parse_files(&files).unwrap_err().to_string();
            assert!(err.contains(expected), "{files:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
