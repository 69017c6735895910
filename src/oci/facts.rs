//! What pyship needs to know from inside a base image: its Python interpreter, its C
//! library, and its user database. Found by reading the layers in order, honoring
//! whiteouts, and remembered in the cache by the base's config digest.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use anyhow::Result;
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use super::platform::Libc;
use super::walk::Walk;

/// A Python interpreter found in the base.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Interpreter {
    /// Absolute path, such as `/usr/local/bin/python3.12`.
    pub path: String,
    pub major: u8,
    pub minor: u8,
    /// The full version when the image or its package database says it.
    pub full: Option<String>,
}

impl Interpreter {
    /// Its full version, else X.Y.0 when neither the image nor its package database says.
    pub fn full_version(&self) -> String {
        self.full
            .clone()
            .unwrap_or_else(|| format!("{}.{}.0", self.major, self.minor))
    }
}

/// The facts about a base image that a build depends on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BaseFacts {
    pub interpreters: Vec<Interpreter>,
    pub libc: Option<Libc>,
    pub passwd: Option<String>,
    pub group: Option<String>,
    /// The file names of the shared libraries where the dynamic loader looks by
    /// default: what a wheel's compiled code may link without shipping.
    #[serde(default)]
    pub libraries: BTreeSet<String>,
}

/// A file of interest seen while walking the layers.
#[derive(Debug, Clone)]
enum Seen {
    File(Vec<u8>),
    Link(String),
    Exists,
}

/// How much of one file a fact is read from: a whole Debian's dpkg status is a few MB.
const FILE_LIMIT: u64 = 64 << 20;

/// Collects the files facts are made of while a [`Walk`] goes over the layers.
#[derive(Debug, Default)]
pub struct FactsScan {
    seen: BTreeMap<String, (usize, Seen)>,
}

impl FactsScan {
    /// Looks at one entry of layer `layer`; the walk has already applied whiteouts.
    pub fn visit<R: Read>(
        &mut self,
        path: &str,
        layer: usize,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        if !wanted(path) {
            return Ok(());
        }
        let found = match entry.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => Seen::Link(
                entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            // Libraries are only counted, never read (libc is read for its version).
            tar::EntryType::Regular
                if !path.contains("/bin/") && (is_libc(path) || library_name(path).is_none()) =>
            {
                // The files read are small text databases; a layer that inflates one
                // beyond the limit gets it cut, not all the memory it asks for.
                let mut bytes = Vec::new();
                entry.take(FILE_LIMIT).read_to_end(&mut bytes)?;
                Seen::File(bytes)
            }
            _ => Seen::Exists,
        };
        self.seen.insert(path.to_owned(), (layer, found));
        Ok(())
    }

    /// The facts of the merged filesystem `walk` ended with; `config` is the image's.
    pub fn finish(self, walk: &Walk, config: &ImageConfiguration) -> BaseFacts {
        let seen: BTreeMap<String, Seen> = self
            .seen
            .into_iter()
            .filter(|(path, (layer, _))| walk.survives(path, *layer))
            .map(|(path, (_, found))| (path, found))
            .collect();
        BaseFacts::from_seen(&seen, &env_python_version(config))
    }
}

impl BaseFacts {
    fn from_seen(seen: &BTreeMap<String, Seen>, env_version: &Option<String>) -> BaseFacts {
        let text = |path: &str| match seen.get(path) {
            Some(Seen::File(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        };
        let dpkg = text("var/lib/dpkg/status").unwrap_or_default();
        let mut interpreters: Vec<Interpreter> = seen
            .keys()
            .filter_map(|path| interpreter_at(path))
            .map(|mut interp| {
                interp.full = env_version
                    .clone()
                    .filter(|v| v.starts_with(&format!("{}.{}.", interp.major, interp.minor)))
                    .or_else(|| dpkg_python_version(&dpkg, interp.major, interp.minor));
                interp
            })
            .collect();
        // /usr/local/bin (a Python built for the image) before the distribution's.
        interpreters.sort_by_key(|i| {
            (
                !i.path.starts_with("/usr/local/"),
                std::cmp::Reverse((i.major, i.minor)),
            )
        });
        BaseFacts {
            interpreters,
            libc: libc_of(seen),
            passwd: text("etc/passwd"),
            group: text("etc/group"),
            libraries: seen
                .keys()
                .filter_map(|path| library_name(path))
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// The cache record that remembers a base's facts, keyed by its config digest.
pub const RECORD: &str = "base-facts-v2";

/// `PYTHON_VERSION=3.12.7` as the official Python images declare it.
pub fn env_python_version(config: &ImageConfiguration) -> Option<String> {
    config
        .config()
        .as_ref()?
        .env()
        .as_ref()?
        .iter()
        .find_map(|entry| entry.strip_prefix("PYTHON_VERSION=").map(str::to_owned))
}

fn interpreter_at(path: &str) -> Option<Interpreter> {
    let (dir, name) = path.rsplit_once('/')?;
    if !matches!(dir, "usr/local/bin" | "usr/bin" | "bin" | "opt/python/bin") {
        return None;
    }
    let (major, minor) = name.strip_prefix("python")?.split_once('.')?;
    Some(Interpreter {
        path: format!("/{path}"),
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        full: None,
    })
}

fn dpkg_python_version(status: &str, major: u8, minor: u8) -> Option<String> {
    let wanted = format!("Package: python{major}.{minor}-minimal\n");
    let stanza = &status[status.find(&wanted)?..];
    let stanza = &stanza[..stanza.find("\n\n").unwrap_or(stanza.len())];
    let version = stanza
        .lines()
        .find_map(|line| line.strip_prefix("Version: "))?;
    let upstream: String = version
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    Some(upstream.trim_end_matches('.').to_owned())
}

fn libc_of(seen: &BTreeMap<String, Seen>) -> Option<Libc> {
    if seen.keys().any(|p| p.starts_with("lib/ld-musl-")) {
        return Some(Libc::Musl { major: 1, minor: 2 });
    }
    seen.iter()
        .filter(|(path, _)| is_libc(path))
        .find_map(|(_, found)| match found {
            Seen::File(bytes) => glibc_version_in(bytes),
            Seen::Link(target) => {
                let version = target
                    .rsplit('/')
                    .next()?
                    .strip_prefix("libc-")?
                    .strip_suffix(".so")?;
                let (major, minor) = version.split_once('.')?;
                Some(Libc::Glibc {
                    major: major.parse().ok()?,
                    minor: minor.split('.').next()?.parse().ok()?,
                })
            }
            Seen::Exists => None,
        })
}

/// The highest `GLIBC_2.N` symbol version the library defines.
fn glibc_version_in(bytes: &[u8]) -> Option<Libc> {
    let needle = b"GLIBC_2.";
    let mut best: Option<u16> = None;
    for start in memchr_all(bytes, needle) {
        let digits: Vec<u8> = bytes[start + needle.len()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        if let Some(minor) = std::str::from_utf8(&digits)
            .ok()
            .and_then(|d| d.parse::<u16>().ok())
        {
            best = Some(best.map_or(minor, |b| b.max(minor)));
        }
    }
    best.map(|minor| Libc::Glibc { major: 2, minor })
}

fn memchr_all<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

fn is_libc(path: &str) -> bool {
    let Some((dir, name)) = path.rsplit_once('/') else {
        return false;
    };
    name == "libc.so.6"
        && matches!(dir.trim_start_matches("usr/"), d if d == "lib" || d == "lib64" || (d.starts_with("lib/") && d.ends_with("-linux-gnu")))
}

/// The file name of a shared library in a directory the dynamic loader searches by
/// default: `lib`, `lib64`, `lib/<triplet>`, under `/`, `/usr` or `/usr/local`.
fn library_name(path: &str) -> Option<&str> {
    let (dir, name) = path.rsplit_once('/')?;
    let dir = dir.trim_start_matches("usr/").trim_start_matches("local/");
    let searched = dir == "lib"
        || dir == "lib64"
        || dir
            .strip_prefix("lib/")
            .is_some_and(|triplet| !triplet.contains('/') && triplet.ends_with("-linux-gnu"));
    (searched && name.contains(".so")).then_some(name)
}

fn wanted(path: &str) -> bool {
    matches!(path, "etc/passwd" | "etc/group" | "var/lib/dpkg/status")
        || interpreter_at(path).is_some()
        || is_libc(path)
        || library_name(path).is_some()
        || path.starts_with("lib/ld-musl-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::walk::tests::layer;

    fn scan(layers: &[&[(&str, &[u8])]]) -> BaseFacts {
        let mut walk = Walk::default();
        let mut scan = FactsScan::default();
        for entries in layers {
            walk.layer(layer(entries).as_slice(), |path, index, entry| {
                scan.visit(path, index, entry)
            })
            .unwrap();
        }
        scan.finish(&walk, &ImageConfiguration::default())
    }

    #[test]
    fn finds_python_libc_and_users_across_whiteouts() {
        let facts = scan(&[
            &[
                ("usr/bin/python3.11", b"ELF"),
                ("usr/bin/python3.9", b"ELF"),
                ("usr/lib/x86_64-linux-gnu/libc.so.6", b"..GLIBC_2.17\0GLIBC_2.36\0GLIBC_2.4\0"),
                ("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
                ("var/lib/dpkg/status", b"Package: python3.11-minimal\nStatus: install ok\nVersion: 3.11.2-6+deb12u6\n\n"),
            ],
            &[("usr/bin/.wh.python3.9", b"")],
        ]);
        assert_eq!(facts.interpreters.len(), 1);
        assert_eq!(facts.interpreters[0].path, "/usr/bin/python3.11");
        assert_eq!(facts.interpreters[0].full.as_deref(), Some("3.11.2"));
        assert_eq!(
            facts.libc,
            Some(Libc::Glibc {
                major: 2,
                minor: 36
            })
        );
        assert!(facts.passwd.unwrap().starts_with("root:"));
    }

    #[test]
    fn counts_the_libraries_the_loader_finds_and_only_those() {
        let facts = scan(&[
            &[
                ("usr/lib/x86_64-linux-gnu/libpq.so.5", b"ELF"),
                ("usr/lib/x86_64-linux-gnu/libodbc.so.2", b"ELF"),
                ("usr/local/lib/libcustom.so.1", b"ELF"),
                ("lib/ld-musl-x86_64.so.1", b"ELF"),
                (
                    "usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
                    b"ELF",
                ),
                ("opt/app/libhidden.so", b"ELF"),
            ],
            &[("usr/lib/x86_64-linux-gnu/.wh.libodbc.so.2", b"")],
        ]);
        let names: Vec<&str> = facts.libraries.iter().map(String::as_str).collect();
        assert_eq!(
            names,
            ["ld-musl-x86_64.so.1", "libcustom.so.1", "libpq.so.5"]
        );
    }

    #[test]
    fn opaque_directory_hides_lower_layers() {
        let facts = scan(&[
            &[("usr/local/bin/python3.12", b"x")],
            &[("usr/local/bin/.wh..wh..opq", b"")],
        ]);
        assert!(facts.interpreters.is_empty());
    }

    #[test]
    fn a_later_passwd_replaces_the_earlier_one() {
        let facts = scan(&[
            &[("etc/passwd", b"root:x:0:0::/:/bin/sh\n")],
            &[(
                "etc/passwd",
                b"root:x:0:0::/:/bin/sh\napp:x:1001:1001::/:/bin/sh\n",
            )],
        ]);
        assert!(facts.passwd.unwrap().contains("app:x:1001"));
    }
}
