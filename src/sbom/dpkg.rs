//! Debian's package database as an image carries it: `/var/lib/dpkg/status`, or one
//! file per package in `/var/lib/dpkg/status.d/` as distroless images write it. Each
//! is a list of RFC 822 stanzas; only packages whose status says they are installed
//! count.

/// One installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DebPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The source package, when it differs from the binary's name.
    pub source: Option<String>,
}

/// True for files of the package database (`status.d/*.md5sums` hold checksums, not
/// stanzas).
pub fn is_database(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path
            .strip_prefix("var/lib/dpkg/status.d/")
            .is_some_and(|name| {
                !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
            })
}

/// The installed packages a database file lists.
pub fn installed(text: &str) -> Vec<DebPackage> {
    text.split("\n\n")
        .filter_map(|stanza| {
            let field = |name: &str| field(stanza, name);
            // distroless writes no Status: a file in status.d is an installed package.
            let installed = field("Status").is_none_or(|s| s.ends_with(" installed"));
            if !installed {
                return None;
            }
            let name = field("Package")?;
            let source = field("Source")
                .map(|s| s.split_whitespace().next().unwrap_or_default().to_owned())
                .filter(|s| !s.is_empty() && *s != name);
            Some(DebPackage {
                version: field("Version")?,
                architecture: field("Architecture").unwrap_or_else(|| "all".to_owned()),
                source,
                name,
            })
        })
        .collect()
}

/// A field's value on its own line (continuation lines are not wanted here).
fn field(stanza: &str, name: &str) -> Option<String> {
    stanza.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.eq_ignore_ascii_case(name) && !line.starts_with([' ', '\t']))
            .then(|| value.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_installed_packages_only() {
        let status = "Package: libc6\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u10\nDescription: GNU C Library\n continued: not a field\n\n\
Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n\
Package: python3.11-minimal\nStatus: install ok installed\nArchitecture: amd64\nSource: python3.11 (3.11.2-6)\nVersion: 3.11.2-6+deb12u6\n";
        let packages = installed(status);
        assert_eq!(
            packages,
            vec![
                DebPackage {
                    name: "libc6".into(),
                    version: "2.36-9+deb12u10".into(),
                    architecture: "amd64".into(),
                    source: Some("glibc".into()),
                },
                DebPackage {
                    name: "python3.11-minimal".into(),
                    version: "3.11.2-6+deb12u6".into(),
                    architecture: "amd64".into(),
                    source: Some("python3.11".into()),
                },
            ]
        );
    }

    #[test]
    fn reads_distroless_status_files() {
        assert!(is_database("var/lib/dpkg/status.d/libssl3"));
        assert!(!is_database("var/lib/dpkg/status.d/libssl3.md5sums"));
        assert!(!is_database("var/lib/dpkg/status-old"));
        let packages = installed("Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n");
        assert_eq!(packages[0].name, "tzdata");
        assert_eq!(packages[0].architecture, "all");
    }
}
