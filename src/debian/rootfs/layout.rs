//! Where a package's file lands in the base, if anywhere: merged `/usr`, and the
//! directories a service never reads left out.

/// Top-level directories that are symlinks into `/usr` on a merged-`/usr` system, as
/// every Debian installation is since bookworm. `lib64` and the rest exist only on the
/// architectures whose packages ship files there.
pub const MERGED: [&str; 6] = ["bin", "sbin", "lib", "lib64", "lib32", "libx32"];

/// Those of [`MERGED`] made even when no package ships into them.
pub const ALWAYS_MERGED: [&str; 3] = ["bin", "sbin", "lib"];

/// True for the link from a merged directory into `/usr` (`bin -> usr/bin`), which
/// base-files ships itself since trixie: the base makes those links on every suite.
pub fn is_merged_link(path: &str, target: &str) -> bool {
    MERGED.contains(&path) && target.trim_start_matches('/').strip_prefix("usr/") == Some(path)
}

/// Trees under `/usr/share` that no program reads at run time, so a service's image
/// has no use for them:
/// - `man`, `info`: manual pages and info documents, read only by `man` and `info`,
///   which a base does not carry;
/// - `locale`: message catalogues for translated output; a service logs in English
///   for its operators, and Python's `gettext` falls back to the original strings;
/// - `lintian`: overrides for Debian's package checker, read only when building packages;
/// - `bug`: hints for `reportbug`, which is not installed.
const DROPPED: [&str; 5] = [
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
];

/// Where a member at `path` (relative, as in the package) is placed: under `/usr` for
/// the merged directories, unchanged otherwise; `None` when the base leaves it out.
pub fn place(path: &str) -> Option<String> {
    let (top, _) = path.split_once('/').unwrap_or((path, ""));
    let placed = if MERGED.contains(&top) {
        format!("usr/{path}")
    } else {
        path.to_owned()
    };
    (!dropped(&placed)).then_some(placed)
}

/// True for the documentation a base leaves out: see [`DROPPED`], and everything under
/// `/usr/share/doc/PACKAGE/` except `copyright`, which carries the licences the
/// binaries are distributed under and must stay with them. The rest (changelogs,
/// READMEs, examples) is read by people on a workstation, never by a service.
fn dropped(path: &str) -> bool {
    let under = |dir: &str| {
        path.strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if DROPPED.iter().any(|dir| under(dir)) {
        return true;
    }
    match path.strip_prefix("usr/share/doc/") {
        // `usr/share/doc/PACKAGE` itself stays: it holds the copyright, or is a
        // symlink to the directory of the package that does.
        Some(rest) => rest
            .split_once('/')
            .is_some_and(|(_, file)| file != "copyright"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_directories_move_under_usr() {
        assert_eq!(place("bin/ls").as_deref(), Some("usr/bin/ls"));
        assert_eq!(place("lib").as_deref(), Some("usr/lib"));
        assert_eq!(
            place("lib64/ld-linux-x86-64.so.2").as_deref(),
            Some("usr/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(place("library/x").as_deref(), Some("library/x"));
        assert_eq!(place("etc/passwd").as_deref(), Some("etc/passwd"));
    }

    #[test]
    fn merged_links_are_recognised() {
        assert!(is_merged_link("bin", "usr/bin"));
        assert!(is_merged_link("lib64", "/usr/lib64"));
        assert!(!is_merged_link("bin", "usr/sbin"));
        assert!(!is_merged_link("usr/bin", "usr/bin"));
    }

    #[test]
    fn documentation_goes_but_copyright_stays() {
        assert_eq!(place("usr/share/man"), None);
        assert_eq!(place("usr/share/man/man1/python3.11.1.gz"), None);
        assert_eq!(place("usr/share/locale/de/LC_MESSAGES/x.mo"), None);
        assert_eq!(place("usr/share/info/dir"), None);
        assert_eq!(place("usr/share/lintian/overrides/libc6"), None);
        assert_eq!(place("usr/share/bug/libc6/control"), None);
        assert_eq!(place("usr/share/doc/libc6/changelog.gz"), None);
        assert_eq!(place("usr/share/doc/libc6/examples/a"), None);
        assert!(place("usr/share/doc/libc6/copyright").is_some());
        assert!(place("usr/share/doc/libc6").is_some());
        assert!(place("usr/share/doc").is_some());
        assert!(place("usr/share/manual/x").is_some());
    }
}
