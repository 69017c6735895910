//! Versions from git, for local packages whose build backend asks git for theirs
//! (setuptools-scm, hatch-vcs, PDM's scm source, the Poetry and uv dynamic-versioning
//! plugins). pyship builds from a clean copy of the shipped files, which has no `.git`,
//! so it works the version out from the checkout itself and hands it to the backend
//! the way each of those tools takes an override. The same commit gives the same
//! version, so the wheel stays reproducible.

use std::path::Path;
use std::process::{Command, Stdio};

use uv_pep440::Version;

use crate::git::output as git;

/// The build requirements that mean "my version comes from git".
const VCS_BACKENDS: &[&str] = &[
    "setuptools-scm",
    "setuptools_scm",
    "hatch-vcs",
    "hatch_vcs",
    "poetry-dynamic-versioning",
    "uv-dynamic-versioning",
    "pdm-backend",
    "versioningit",
];

/// What a package's `pyproject.toml` says about where its version comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// Written in the project, or computed from its files: nothing to do.
    Files,
    /// Asked of git by the named build requirement.
    Vcs(String),
}

impl VersionSource {
    /// Reads `pyproject.toml`: a dynamic version built by a backend or plugin that
    /// asks git. PDM's backend asks git only with `[tool.pdm.version] source = "scm"`.
    pub fn of(pyproject: &toml::Value) -> VersionSource {
        let dynamic = pyproject
            .get("project")
            .and_then(|p| p.get("dynamic"))
            .and_then(|d| d.as_array())
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
        let poetry_plugin = pyproject
            .get("tool")
            .and_then(|t| t.get("poetry-dynamic-versioning"))
            .and_then(|p| p.get("enable"))
            .and_then(|e| e.as_bool())
            == Some(true);
        if !dynamic && !poetry_plugin {
            return VersionSource::Files;
        }
        let pdm_scm = pyproject
            .get("tool")
            .and_then(|t| t.get("pdm"))
            .and_then(|p| p.get("version"))
            .and_then(|v| v.get("source"))
            .and_then(|s| s.as_str())
            == Some("scm");
        let requires = pyproject
            .get("build-system")
            .and_then(|b| b.get("requires"))
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str());
        for requirement in requires {
            let name = requirement
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if VCS_BACKENDS.contains(&name.as_str()) && (name != "pdm-backend" || pdm_scm) {
                return VersionSource::Vcs(name);
            }
        }
        VersionSource::Files
    }
}

/// Where HEAD is relative to the newest tag that names a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The version the tag names (`v1.2.3` gives 1.2.3); none when no tag does.
    pub tag: Option<Version>,
    /// Commits since the tag (since the first commit, without one).
    pub distance: u64,
    /// HEAD's abbreviated commit.
    pub commit: String,
    /// Tracked files differ from HEAD.
    pub dirty: bool,
}

impl Described {
    /// Reads the git checkout around `dir`; none when it is not in one with a commit.
    pub fn read(dir: &Path) -> Option<Described> {
        let commit = git(
            dir,
            &["rev-parse", "--short=7", "--verify", "--quiet", "HEAD"],
        )?;
        let dirty = git_status_dirty(dir);
        let described = git(
            dir,
            &[
                "describe",
                "--tags",
                "--long",
                "--abbrev=7",
                "--match",
                "*[0-9]*",
            ],
        );
        let tagged = described.as_deref().and_then(parse_describe);
        let (tag, distance) = match tagged {
            Some((tag, distance)) => (Some(tag), distance),
            None => {
                let count = git(dir, &["rev-list", "--count", "HEAD"])?;
                (None, count.parse().ok()?)
            }
        };
        Some(Described {
            tag,
            distance,
            commit,
            dirty,
        })
    }

    /// The version, as setuptools-scm's default scheme would give it, made
    /// reproducible: the tag's own on a clean tagged commit, else the next release's
    /// development version with the commit as a local label (`1.2.4.dev3+g1a2b3c4`).
    /// Uncommitted changes add `.dirty` where setuptools-scm would add today's date.
    pub fn version(&self) -> String {
        let local = format!(
            "+g{}{}",
            self.commit,
            if self.dirty { ".dirty" } else { "" }
        );
        let Some(tag) = &self.tag else {
            return format!("0.1.dev{}{local}", self.distance);
        };
        if self.distance == 0 && !self.dirty {
            return tag.to_string();
        }
        let public = if tag.is_pre() || tag.is_post() || tag.is_dev() {
            format!("{}.post{}", tag.clone().without_local(), self.distance)
        } else {
            let mut release = tag.release().to_vec();
            if let Some(last) = release.last_mut() {
                *last += 1;
            }
            let release: Vec<String> = release.iter().map(u64::to_string).collect();
            let epoch = match tag.epoch() {
                0 => String::new(),
                epoch => format!("{epoch}!"),
            };
            format!("{epoch}{}.dev{}", release.join("."), self.distance)
        };
        format!("{public}{local}")
    }
}

/// The variables each tool reads its version override from, for the package `name`.
pub fn override_env(name: &str, version: &str) -> Vec<(String, String)> {
    let dist = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect::<String>();
    vec![
        // setuptools-scm, and hatch-vcs and versioningit through it.
        ("SETUPTOOLS_SCM_PRETEND_VERSION".into(), version.into()),
        (
            format!("SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{dist}"),
            version.into(),
        ),
        ("PDM_BUILD_SCM_VERSION".into(), version.into()),
        ("POETRY_DYNAMIC_VERSIONING_BYPASS".into(), version.into()),
        ("UV_DYNAMIC_VERSIONING_BYPASS".into(), version.into()),
    ]
}

/// Where `tool` takes the version it gives when there is no git to ask.
pub fn fallback_setting(tool: &str) -> &'static str {
    match tool {
        "setuptools-scm" | "setuptools_scm" => {
            "fallback_version = \"0.0.0\" in [tool.setuptools_scm]"
        }
        "hatch-vcs" | "hatch_vcs" => "fallback-version = \"0.0.0\" in [tool.hatch.version]",
        "pdm-backend" => "fallback_version = \"0.0.0\" in [tool.pdm.version]",
        "uv-dynamic-versioning" => "fallback-version = \"0.0.0\" in [tool.uv-dynamic-versioning]",
        "versioningit" => "default-version = \"0.0.0\" in [tool.versioningit]",
        _ => "a fallback version in its settings",
    }
}

/// `TAG-DISTANCE-gHASH`, as `git describe --long` prints it, read into the tag's
/// version and the distance; none when the tag names no version.
fn parse_describe(text: &str) -> Option<(Version, u64)> {
    let (rest, _hash) = text.rsplit_once("-g")?;
    let (tag, distance) = rest.rsplit_once('-')?;
    let version = tag.trim_start_matches(['v', 'V']).parse::<Version>().ok()?;
    Some((version.without_local(), distance.parse().ok()?))
}

fn git_status_dirty(dir: &Path) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(tag: Option<&str>, distance: u64, dirty: bool) -> Described {
        Described {
            tag: tag.map(|t| t.parse().unwrap()),
            distance,
            commit: "1a2b3c4".into(),
            dirty,
        }
    }

    #[test]
    fn versions_follow_setuptools_scm_without_dates() {
        assert_eq!(described(Some("1.2.3"), 0, false).version(), "1.2.3");
        assert_eq!(
            described(Some("1.2.3"), 3, false).version(),
            "1.2.4.dev3+g1a2b3c4"
        );
        assert_eq!(
            described(Some("1.2.3"), 0, true).version(),
            "1.2.4.dev0+g1a2b3c4.dirty"
        );
        assert_eq!(
            described(Some("2.0rc1"), 2, false).version(),
            "2.0rc1.post2+g1a2b3c4"
        );
        assert_eq!(described(None, 5, false).version(), "0.1.dev5+g1a2b3c4");
        for case in [
            described(Some("1.2.3"), 3, true),
            described(Some("1!2.0"), 1, false),
            described(None, 1, true),
        ] {
            let text = case.version();
            assert!(text.parse::<Version>().is_ok(), "{text} is PEP 440");
        }
    }

    #[test]
    fn describe_output_is_read_with_or_without_a_v() {
        let (v, d) = parse_describe("v1.2.3-4-gabcdef1").unwrap();
        assert_eq!((v.to_string(), d), ("1.2.3".to_owned(), 4));
        let (v, d) =
            parse_describe("release-2-0-gabcdef1").map_or((None, 0), |(v, d)| (Some(v), d));
        assert_eq!((v, d), (None, 0), "a tag naming no version is none");
        assert!(parse_describe("1.0-0-gabc").is_some());
    }

    #[test]
    fn only_dynamic_versions_from_git_backends_count() {
        let read = |text: &str| VersionSource::of(&toml::from_str(text).unwrap());
        let scm = "[project]\nname='a'\ndynamic=['version']\n[build-system]\nrequires=['setuptools>=64', 'setuptools-scm[toml]>=8']\n";
        assert_eq!(read(scm), VersionSource::Vcs("setuptools-scm".into()));
        let vcs = "[project]\nname='a'\ndynamic=['version']\n[build-system]\nrequires=['hatchling', 'hatch-vcs']\n";
        assert_eq!(read(vcs), VersionSource::Vcs("hatch-vcs".into()));
        let fixed =
            "[project]\nname='a'\nversion='1.0'\n[build-system]\nrequires=['setuptools-scm']\n";
        assert_eq!(read(fixed), VersionSource::Files);
        let pdm_file = "[project]\nname='a'\ndynamic=['version']\n[build-system]\nrequires=['pdm-backend']\n[tool.pdm.version]\nsource='file'\npath='a.py'\n";
        assert_eq!(read(pdm_file), VersionSource::Files);
        let pdm_scm = pdm_file.replace("source='file'\npath='a.py'", "source='scm'");
        assert_eq!(read(&pdm_scm), VersionSource::Vcs("pdm-backend".into()));
        let poetry = "[tool.poetry]\nname='a'\nversion='0.0.0'\n[tool.poetry-dynamic-versioning]\nenable=true\n[build-system]\nrequires=['poetry-core', 'poetry-dynamic-versioning>=1']\n";
        assert_eq!(
            read(poetry),
            VersionSource::Vcs("poetry-dynamic-versioning".into())
        );
    }

    #[test]
    fn the_overrides_name_the_distribution_as_setuptools_scm_does() {
        let env = override_env("my-app.core", "1.0");
        assert!(env.contains(&(
            "SETUPTOOLS_SCM_PRETEND_VERSION_FOR_MY_APP_CORE".into(),
            "1.0".into()
        )));
    }
}
