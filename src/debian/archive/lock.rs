//! `pyship-base.lock`: the packages a Debian base was resolved to, per architecture,
//! so the next build takes exactly these `.deb`s and needs no index at all. TOML,
//! sorted, and written atomically; other architectures' entries are kept.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::packages::Origin;
use crate::debian::DebPackage;

pub const FILE_NAME: &str = "pyship-base.lock";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseLock {
    pub version: u32,
    pub suite: String,
    pub codename: String,
    /// The extra packages the lock was made for, sorted.
    pub extra: Vec<String>,
    /// `3.11`.
    pub python: String,
    /// Debian architecture → what was resolved for it.
    pub architectures: BTreeMap<String, LockedArchitecture>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedArchitecture {
    pub release: String,
    pub date: String,
    pub interpreter: String,
    pub omitted: Vec<String>,
    #[serde(rename = "package")]
    pub packages: Vec<LockedPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    #[serde(flatten)]
    pub package: DebPackage,
    /// Set for packages that come from the security mirror.
    #[serde(default, skip_serializing_if = "is_main")]
    pub origin: LockedOrigin,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockedOrigin {
    #[default]
    Main,
    Security,
}

fn is_main(origin: &LockedOrigin) -> bool {
    *origin == LockedOrigin::Main
}

impl From<Origin> for LockedOrigin {
    fn from(origin: Origin) -> Self {
        match origin {
            Origin::Main => LockedOrigin::Main,
            Origin::Security => LockedOrigin::Security,
        }
    }
}

impl From<LockedOrigin> for Origin {
    fn from(origin: LockedOrigin) -> Self {
        match origin {
            LockedOrigin::Main => Origin::Main,
            LockedOrigin::Security => Origin::Security,
        }
    }
}

impl BaseLock {
    /// Reads the lock at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<BaseLock>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let lock = BaseLock::parse(&text).with_context(|| {
            format!(
                "{} is not a valid base lock: delete it and run pyship build --lock-base",
                path.display()
            )
        })?;
        Ok(Some(lock))
    }

    pub fn parse(text: &str) -> Result<BaseLock> {
        let lock: BaseLock =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        if lock.version != FORMAT {
            bail!("lock format {} is not {FORMAT}", lock.version);
        }
        for arch in lock.architectures.values() {
            for locked in &arch.packages {
                locked
                    .package
                    .digest()
                    .with_context(|| format!("{} has an invalid sha256", locked.package.name))?;
            }
        }
        Ok(lock)
    }

    /// The text written to disk: a header, then TOML with every list sorted.
    pub fn render(&self) -> Result<String> {
        let mut sorted = self.clone();
        sorted.extra.sort();
        for arch in sorted.architectures.values_mut() {
            arch.omitted.sort();
            arch.packages.sort_by(|a, b| a.package.cmp(&b.package));
        }
        let body = toml::to_string(&sorted).context("cannot write the base lock")?;
        Ok(format!(
            "# The Debian packages of this service's base image, pinned by pyship build --lock-base.\n# Builds use exactly these; run that command again to update them.\n{body}"
        ))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text = self.render()?;
        crate::store::atomic::write_file(path, |out| Ok(out.write_all(text.as_bytes())?))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The base spec a lock was made for, as the user writes it: `deb:bookworm+libpq5`.
    pub fn spec(&self) -> String {
        spec_text(&self.suite, &self.extra)
    }
}

pub fn spec_text(suite: &str, extra: &[String]) -> String {
    let mut text = format!("deb:{suite}");
    for name in extra {
        text.push('+');
        text.push_str(name);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, architecture: &str) -> LockedPackage {
        LockedPackage {
            package: DebPackage {
                name: name.into(),
                version: "1:1.0-1".into(),
                architecture: architecture.into(),
                source: (name == "libc6").then(|| "glibc".into()),
                filename: format!("pool/main/{name}.deb"),
                size: 42,
                sha256: "ab".repeat(32),
            },
            origin: if name == "libssl3" {
                LockedOrigin::Security
            } else {
                LockedOrigin::Main
            },
        }
    }

    #[test]
    fn round_trips_sorted_and_deterministic() {
        let arch = LockedArchitecture {
            release: "12.8".into(),
            date: "Sat, 09 Nov 2024 10:18:52 UTC".into(),
            interpreter: "/usr/bin/python3.11".into(),
            omitted: vec!["perl-base".into(), "debconf".into()],
            packages: vec![
                package("zlib1g", "amd64"),
                package("libssl3", "amd64"),
                package("libc6", "amd64"),
            ],
        };
        let lock = BaseLock {
            version: 1,
            suite: "bookworm".into(),
            codename: "bookworm".into(),
            extra: vec!["libpq5".into()],
            python: "3.11".into(),
            architectures: BTreeMap::from([("amd64".into(), arch)]),
        };
        let text = lock.render().unwrap();
        assert!(text.find("name = \"libc6\"").unwrap() < text.find("name = \"zlib1g\"").unwrap());
        assert!(text.contains("origin = \"security\""), "{text}");
        assert_eq!(text.matches("origin").count(), 1);
        let back = BaseLock::parse(&text).unwrap();
        assert_eq!(back.render().unwrap(), text);
        assert_eq!(back.spec(), "deb:bookworm+libpq5");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(BaseLock::read(&path).unwrap(), None);
        lock.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn rejects_bad_hashes_and_unknown_formats() {
        let text = "version = 1\nsuite = \"bookworm\"\ncodename = \"bookworm\"\nextra = []\npython = \"3.11\"\n[architectures.amd64]\nrelease = \"12\"\ndate = \"d\"\ninterpreter = \"/usr/bin/python3.11\"\nomitted = []\n[[architectures.amd64.package]]\nname = \"a\"\nversion = \"1\"\narchitecture = \"all\"\nfilename = \"pool/a.deb\"\nsize = 1\nsha256 = \"zz\"\n";
        assert!(
            format!("{:#}", BaseLock::parse(text).unwrap_err()).contains("a has an invalid sha256")
        );
        assert!(BaseLock::parse(&text.replace("version = 1", "version = 2")).is_err());
        assert!(
            BaseLock::parse(&text.replace("\"zz\"", &format!("\"{}\"", "0".repeat(64)))).is_ok()
        );
    }
}
