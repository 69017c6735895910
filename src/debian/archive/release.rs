//! A suite's `Release` file as its signed `InRelease` carries it: which suite and
//! codename it is, when it was made, and the sha256 and size of every index under it.

use anyhow::{Context, Result, bail};

use super::deb822;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub suite: Option<String>,
    pub codename: Option<String>,
    /// `12.8` for a stable point release; absent for testing and -updates.
    pub version: Option<String>,
    pub date: String,
    pub valid_until: Option<String>,
    pub files: Vec<IndexFile>,
}

/// One line of the `SHA256:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Release {
    /// Reads the verified text of an `InRelease`.
    pub fn parse(text: &str) -> Result<Release> {
        let paragraphs = deb822::paragraphs(text)?;
        let Some(p) = paragraphs.first() else {
            bail!("the release file is empty");
        };
        let owned = |name: &str| p.get(name).map(str::to_owned);
        let date = owned("Date").context("the release file has no Date")?;
        let section = p
            .get("SHA256")
            .context("the release file lists no SHA256 sums")?;
        let mut files = Vec::new();
        for line in section.lines().filter(|l| !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [sha256, size, path] = parts[..] else {
                bail!("the release file's SHA256 line {line:?} is not `hash size path`");
            };
            let sha256 = sha256.to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("the release file's SHA256 line {line:?} has no valid hash");
            }
            let size = size
                .parse()
                .with_context(|| format!("the release file's SHA256 line {line:?}"))?;
            files.push(IndexFile {
                path: path.to_owned(),
                size,
                sha256,
            });
        }
        Ok(Release {
            suite: owned("Suite"),
            codename: owned("Codename"),
            version: owned("Version"),
            date,
            valid_until: owned("Valid-Until"),
            files,
        })
    }

    /// True when the release calls itself `name` (a suite such as `stable` or a
    /// codename such as `bookworm`): a mirror must not answer one with another.
    pub fn is_named(&self, name: &str) -> bool {
        self.suite.as_deref() == Some(name) || self.codename.as_deref() == Some(name)
    }

    /// The `Packages` index of `component` for `architecture`: `.gz` if listed, else
    /// `.xz`. gzip inflates bookworm's 50 MB index in a fraction of xz's time, which
    /// outweighs its 3 MB more to download on any link faster than about 50 Mbit/s.
    pub fn packages_index(&self, component: &str, architecture: &str) -> Option<&IndexFile> {
        let base = format!("{component}/binary-{architecture}/Packages");
        [".gz", ".xz"]
            .iter()
            .find_map(|ext| self.files.iter().find(|f| f.path == format!("{base}{ext}")))
    }

    /// An error when `Valid-Until` has passed: an outdated release replayed by a mirror
    /// would hide security updates.
    pub fn check_fresh(&self, now: jiff::Timestamp) -> Result<()> {
        let Some(until) = &self.valid_until else {
            return Ok(());
        };
        let until = parse_date(until)?;
        if until < now {
            bail!("its Valid-Until ({until}) has passed: the mirror serves an outdated release");
        }
        Ok(())
    }
}

/// A release date (`Sat, 09 Nov 2024 10:18:52 UTC`, RFC 2822 with a zone name).
pub fn parse_date(text: &str) -> Result<jiff::Timestamp> {
    let normalized = text
        .trim()
        .replace(" UTC", " +0000")
        .replace(" GMT", " +0000");
    let zoned = jiff::fmt::rfc2822::parse(&normalized)
        .with_context(|| format!("invalid release date {text:?}"))?;
    Ok(zoned.timestamp())
}

/// The date as snapshot.debian.org names its archives: `20241109T101852Z`.
pub fn snapshot_stamp(date: &str) -> Option<String> {
    let ts = parse_date(date).ok()?;
    Some(ts.strftime("%Y%m%dT%H%M%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "\
Origin: Debian
Label: Debian
Suite: stable
Version: 12.8
Codename: bookworm
Date: Sat, 09 Nov 2024 10:18:52 UTC
Acquire-By-Hash: yes
Architectures: all amd64 arm64
Components: main contrib
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
SHA256:
 1111111111111111111111111111111111111111111111111111111111111111  8789 main/binary-amd64/Packages.gz
 2222222222222222222222222222222222222222222222222222222222222222  6789 main/binary-amd64/Packages.xz
 3333333333333333333333333333333333333333333333333333333333333333  99 main/binary-arm64/Packages.gz
";

    #[test]
    fn reads_names_dates_and_index_sums() {
        let r = Release::parse(RELEASE).unwrap();
        assert!(r.is_named("stable") && r.is_named("bookworm") && !r.is_named("trixie"));
        assert_eq!(r.version.as_deref(), Some("12.8"));
        assert_eq!(r.files.len(), 3);
        let gz = r.packages_index("main", "amd64").unwrap();
        assert_eq!(
            (gz.path.as_str(), gz.size),
            ("main/binary-amd64/Packages.gz", 8789)
        );
        let gz = r.packages_index("main", "arm64").unwrap();
        assert!(gz.path.ends_with(".gz"));
        assert!(r.packages_index("main", "riscv64").is_none());
        assert_eq!(snapshot_stamp(&r.date).as_deref(), Some("20241109T101852Z"));
    }

    #[test]
    fn refuses_expired_and_malformed_releases() {
        let r = Release::parse(&RELEASE.replace(
            "Acquire-By-Hash",
            "Valid-Until: Sat, 16 Nov 2024 10:18:52 UTC\nAcquire-By-Hash",
        ))
        .unwrap();
        let before: jiff::Timestamp = "2024-11-10T00:00:00Z".parse().unwrap();
        let after: jiff::Timestamp = "2024-12-01T00:00:00Z".parse().unwrap();
        assert!(r.check_fresh(before).is_ok());
        assert!(
            r.check_fresh(after)
                .unwrap_err()
                .to_string()
                .contains("Valid-Until")
        );
        assert!(Release::parse(&RELEASE.replace(" 8789 ", " x ")).is_err());
        assert!(Release::parse(&RELEASE.replace("Date: ", "X-Date: ")).is_err());
    }
}
