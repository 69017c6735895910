//! A `Packages` index: one paragraph per binary package, read into the candidates the
//! resolver chooses from. Only the fields the closure and the download need are kept.

use anyhow::{Context, Result, bail};
use debversion::Version;

use super::deb822;
use super::relation::{Alternative, Relation, parse_provides, parse_relations};
use crate::debian::DebPackage;

/// Which archive a package's `Filename` is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// `PYSHIP_DEBIAN_MIRROR`: SUITE and SUITE-updates.
    Main,
    /// `PYSHIP_DEBIAN_SECURITY_MIRROR`: SUITE-security.
    Security,
}

/// One binary package an index offers.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub package: DebPackage,
    pub version: Version,
    /// `Pre-Depends` then `Depends`.
    pub depends: Vec<Relation>,
    pub provides: Vec<Alternative>,
    pub origin: Origin,
}

/// Reads an index's text. Paragraphs for other architectures than `architecture` and
/// `all` are skipped; a paragraph missing a field the download needs is an error.
pub fn read_index(text: &str, architecture: &str, origin: Origin) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for paragraph in deb822::Paragraphs::new(text) {
        let paragraph = paragraph?;
        let candidate = read_paragraph(&paragraph, architecture, origin)
            .with_context(|| format!("the paragraph at line {} is not valid", paragraph.line))?;
        out.extend(candidate);
    }
    Ok(out)
}

fn read_paragraph(
    p: &deb822::Paragraph,
    architecture: &str,
    origin: Origin,
) -> Result<Option<Candidate>> {
    let field = |name: &str| p.get(name).with_context(|| format!("no {name} field"));
    let arch = field("Architecture")?;
    if arch != architecture && arch != "all" {
        return Ok(None);
    }
    let name = field("Package")?;
    let version_text = field("Version")?;
    let version = version_text
        .parse::<Version>()
        .map_err(|_| anyhow::anyhow!("{name}: invalid version {version_text:?}"))?;
    let filename = field("Filename")?;
    if filename.starts_with('/')
        || filename
            .split('/')
            .any(|part| part == ".." || part.is_empty())
        || !filename.ends_with(".deb")
    {
        bail!("{name}: invalid Filename {filename:?}");
    }
    let size = field("Size")?
        .parse::<u64>()
        .with_context(|| format!("{name}: invalid Size"))?;
    let sha256 = field("SHA256")?.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{name}: invalid SHA256 {sha256:?}");
    }
    // `Source: name (version)` when the source's version differs; the name is enough.
    let source = p
        .get("Source")
        .and_then(|s| s.split_whitespace().next())
        .filter(|s| *s != name)
        .map(str::to_owned);
    let mut depends = Vec::new();
    for key in ["Pre-Depends", "Depends"] {
        if let Some(text) = p.get(key) {
            depends.extend(parse_relations(text).with_context(|| format!("{name}: {key}"))?);
        }
    }
    let provides = match p.get("Provides") {
        Some(text) => parse_provides(text).with_context(|| format!("{name}: Provides"))?,
        None => Vec::new(),
    };
    Ok(Some(Candidate {
        package: DebPackage {
            name: name.to_owned(),
            version: version_text.to_owned(),
            architecture: arch.to_owned(),
            source,
            filename: filename.to_owned(),
            size,
            sha256,
        },
        version,
        depends,
        provides,
        origin,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SAMPLE: &str = "\
Package: libc6
Source: glibc
Version: 2.36-9+deb12u9
Architecture: amd64
Multi-Arch: same
Pre-Depends: libgcc-s1
Depends: libc-bin (= 2.36-9+deb12u9)
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u9_amd64.deb
Size: 2758360
SHA256: ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789
Description: GNU C Library
 Contains the standard libraries.

Package: libc6
Version: 2.36-9+deb12u9
Architecture: arm64
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u9_arm64.deb
Size: 1
SHA256: 0000000000000000000000000000000000000000000000000000000000000000

Package: mawk
Version: 1.3.4.20200120-3.1
Architecture: all
Provides: awk
Filename: pool/main/m/mawk/mawk_1.3.4.20200120-3.1_all.deb
Size: 10
SHA256: 1111111111111111111111111111111111111111111111111111111111111111
";

    #[test]
    fn reads_candidates_for_one_architecture() {
        let cs = read_index(SAMPLE, "amd64", Origin::Main).unwrap();
        assert_eq!(cs.len(), 2);
        let libc = &cs[0].package;
        assert_eq!(libc.source.as_deref(), Some("glibc"));
        assert_eq!(
            libc.sha256,
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
        );
        assert_eq!(cs[0].depends.len(), 2);
        assert_eq!(cs[0].depends[0].to_string(), "libgcc-s1");
        assert_eq!(cs[1].provides[0].name, "awk");
        assert_eq!(cs[1].package.source, None);
    }

    #[test]
    fn rejects_paragraphs_that_cannot_be_downloaded_safely() {
        let bad = SAMPLE.replace("pool/main/m/mawk/", "pool/../../etc/");
        let err = read_index(&bad, "amd64", Origin::Main).unwrap_err();
        assert!(format!("{err:#}").contains("invalid Filename"), "{err:#}");
        let bad = SAMPLE.replace("Size: 10", "Size: ten");
        assert!(read_index(&bad, "amd64", Origin::Main).is_err());
        let bad = SAMPLE.replace("SHA256: 1111", "SHA256: 11");
        assert!(read_index(&bad, "amd64", Origin::Main).is_err());
    }
}
