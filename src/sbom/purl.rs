//! Package URLs (purl) for what an inventory lists: `pkg:pypi`, `pkg:deb` with the
//! architecture and distribution, and `pkg:oci` for images. The `packageurl` crate
//! does the percent-encoding the spec asks for (`2.36-9+deb12u10` is `2.36-9%2Bdeb12u10`).

use anyhow::Result;
use packageurl::PackageUrl;

use super::dpkg::DebPackage;
use super::inventory::OsRelease;
use crate::store::Digest;

/// `pkg:pypi/NAME@VERSION`, the name lowercased with `_` as `-` as the spec has it.
pub fn pypi(name: &str, version: &str) -> Result<String> {
    let name = name.to_lowercase().replace('_', "-");
    let mut purl = PackageUrl::new("pypi", name.as_str())?;
    if !version.is_empty() {
        purl.with_version(version)?;
    }
    Ok(purl.to_string())
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12`; without an os-release
/// the namespace is `debian` and there is no distro qualifier.
pub fn deb(package: &DebPackage, os: Option<&OsRelease>) -> Result<String> {
    let namespace = os.map_or("debian", |os| os.id.as_str());
    let mut purl = PackageUrl::new("deb", package.name.as_str())?;
    purl.with_namespace(namespace)?
        .with_version(package.version.as_str())?
        .add_qualifier("arch", package.architecture.as_str())?;
    if let Some(distro) = os.and_then(distro) {
        purl.add_qualifier("distro", distro)?;
    }
    if let Some(source) = &package.source {
        purl.add_qualifier("upstream", source.as_str())?;
    }
    Ok(purl.to_string())
}

/// `debian-12`, or `debian-trixie` for a release without a version number yet.
pub fn distro(os: &OsRelease) -> Option<String> {
    let release = os.version_id.as_ref().or(os.codename.as_ref())?;
    Some(format!("{}-{release}", os.id))
}

/// `pkg:oci/NAME@sha256:…?repository_url=REGISTRY%2FREPOSITORY` for an image named
/// `registry/repository` (the last path part is the purl's name).
pub fn oci(repository: &str, digest: &Digest) -> Result<String> {
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let mut purl = PackageUrl::new("oci", name)?;
    purl.with_version(digest.as_str())?;
    if repository.contains('/') {
        purl.add_qualifier("repository_url", repository)?;
    }
    Ok(purl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_follow_the_spec() {
        assert_eq!(
            pypi("Typing_Extensions", "4.12.2").unwrap(),
            "pkg:pypi/typing-extensions@4.12.2"
        );
        let os = OsRelease {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            pretty_name: None,
        };
        let libc = DebPackage {
            name: "libc6".into(),
            version: "2.36-9+deb12u10".into(),
            architecture: "amd64".into(),
            source: Some("glibc".into()),
        };
        assert_eq!(
            deb(&libc, Some(&os)).unwrap(),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12&upstream=glibc"
        );
        let epoch = DebPackage {
            name: "perl-base".into(),
            version: "1:5.36.0-7".into(),
            architecture: "amd64".into(),
            source: None,
        };
        assert_eq!(
            deb(&epoch, None).unwrap(),
            "pkg:deb/debian/perl-base@1:5.36.0-7?arch=amd64"
        );
        let digest = Digest::of(b"x");
        assert_eq!(
            oci("127.0.0.1:5000/team/app", &digest).unwrap(),
            format!(
                "pkg:oci/app@sha256:{}?repository_url=127.0.0.1:5000%2Fteam%2Fapp",
                digest.hex()
            )
        );
    }
}
