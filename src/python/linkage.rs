//! What the compiled code in wheels links: each extension module's `DT_NEEDED`
//! libraries, against what the wheels ship themselves (auditwheel's `.libs`) and what
//! the base has where the loader looks. A library neither has is an `ImportError` at
//! the service's first start; the build says so, with the fix, before anything ships.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::store::Cache;

/// The cache records of what each wheel links, by the wheel's sha256.
const RECORD: &str = "wheel-linkage-v1";

/// How much of a member is read to parse it: no library a wheel ships is bigger, and a
/// member that is cut short does not parse and counts as no code.
const MEMBER_LIMIT: u64 = 1 << 30;

/// One wheel's compiled code.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linkage {
    /// The file names and sonames of the shared objects it ships.
    pub provides: BTreeSet<String>,
    /// Each library a shared object of it needs, with the first member needing it.
    pub needs: BTreeMap<String, String>,
}

/// A library some wheel needs that neither the wheels nor the base have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub package: String,
    pub member: String,
    pub library: String,
}

impl Linkage {
    /// What the wheel at `path` (blob `sha256` of the cache) links, read once and
    /// remembered.
    pub fn of_wheel(path: &Path, sha256: &str, cache: &Cache) -> Result<Linkage> {
        if let Some(linkage) = cache.record::<Linkage>(RECORD, sha256) {
            return Ok(linkage);
        }
        let linkage = Self::read(path)
            .with_context(|| format!("cannot read the compiled code of {}", path.display()))?;
        cache.put_record(RECORD, sha256, &linkage)?;
        Ok(linkage)
    }

    fn read(path: &Path) -> Result<Linkage> {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
        let mut linkage = Linkage::default();
        for index in 0..zip.len() {
            let mut member = zip.by_index(index)?;
            let name = member.name().to_owned();
            let file = name.rsplit('/').next().unwrap_or(&name).to_owned();
            if !is_shared_object(&file) {
                continue;
            }
            let mut bytes = Vec::new();
            (&mut member).take(MEMBER_LIMIT).read_to_end(&mut bytes)?;
            linkage.add(&name, &file, &bytes);
        }
        Ok(linkage)
    }

    /// Adds the shared object `file` (member `name`) with contents `bytes`; a member
    /// that is no ELF file is not code the loader reads.
    fn add(&mut self, name: &str, file: &str, bytes: &[u8]) {
        let Ok(elf) = goblin::elf::Elf::parse(bytes) else {
            return;
        };
        self.provides.insert(file.to_owned());
        if let Some(soname) = elf.soname {
            self.provides.insert(soname.to_owned());
        }
        for library in elf.libraries {
            self.needs
                .entry(library.to_owned())
                .or_insert_with(|| name.to_owned());
        }
    }
}

/// `libfoo.so`, `libfoo.so.1.2`, `_ext.cpython-312-x86_64-linux-gnu.so`.
fn is_shared_object(file: &str) -> bool {
    file.ends_with(".so") || file.contains(".so.")
}

/// The libraries `wheels` (package, linkage) need that none of them ships and
/// `base_libraries` lacks, one per package and library.
pub fn missing(wheels: &[(String, Linkage)], base_libraries: &BTreeSet<String>) -> Vec<Missing> {
    let shipped: BTreeSet<&str> = wheels
        .iter()
        .flat_map(|(_, l)| l.provides.iter().map(String::as_str))
        .collect();
    let mut missing = Vec::new();
    for (package, linkage) in wheels {
        for (library, member) in &linkage.needs {
            if !shipped.contains(library.as_str()) && !base_libraries.contains(library) {
                missing.push(Missing {
                    package: package.clone(),
                    member: member.clone(),
                    library: library.clone(),
                });
            }
        }
    }
    missing
}

/// The Debian package that usually ships `soname`, by Debian's library packaging
/// policy (8.1): `libpq.so.5` is in `libpq5`, `libfoo2.so.1` in `libfoo2-1`.
pub fn debian_package_guess(soname: &str) -> Option<String> {
    let (name, version) = soname.split_once(".so.")?;
    let version = version.split('.').next()?;
    let name = name.to_ascii_lowercase().replace('_', "-");
    let joiner = if name.ends_with(|c: char| c.is_ascii_digit()) {
        "-"
    } else {
        ""
    };
    Some(format!("{name}{joiner}{version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_libraries_by_soname() {
        assert_eq!(
            debian_package_guess("libpq.so.5").as_deref(),
            Some("libpq5")
        );
        assert_eq!(
            debian_package_guess("libodbc.so.2").as_deref(),
            Some("libodbc2")
        );
        assert_eq!(
            debian_package_guess("libstdc++.so.6").as_deref(),
            Some("libstdc++6")
        );
        assert_eq!(
            debian_package_guess("libgdal2.so.32").as_deref(),
            Some("libgdal2-32")
        );
        assert_eq!(debian_package_guess("libfoo.so"), None);
    }

    #[test]
    fn what_a_wheel_or_the_base_has_is_not_missing() {
        let linkage = |provides: &[&str], needs: &[&str]| Linkage {
            provides: provides.iter().map(|s| (*s).to_owned()).collect(),
            needs: needs
                .iter()
                .map(|s| ((*s).to_owned(), "pkg/_ext.so".to_owned()))
                .collect(),
        };
        let wheels = vec![
            (
                "pyodbc".to_owned(),
                linkage(&["pyodbc.so"], &["libodbc.so.2", "libc.so.6"]),
            ),
            (
                "grpcio".to_owned(),
                linkage(&["cygrpc.so"], &["libssl-1a2b.so.3"]),
            ),
            ("vendored".to_owned(), linkage(&["libssl-1a2b.so.3"], &[])),
        ];
        let base: BTreeSet<String> = ["libc.so.6".to_owned()].into();
        let missing = missing(&wheels, &base);
        assert_eq!(
            missing,
            [Missing {
                package: "pyodbc".into(),
                member: "pkg/_ext.so".into(),
                library: "libodbc.so.2".into()
            }]
        );
    }

    #[test]
    fn reads_an_elf_files_needs_and_soname() {
        // This test binary is an ELF file that links the C library.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let mut linkage = Linkage::default();
        linkage.add("x/t.so", "t.so", &exe);
        assert!(
            linkage.needs.keys().any(|l| l.starts_with("libc.so")),
            "{linkage:?}"
        );
        assert!(linkage.provides.contains("t.so"));
        let mut none = Linkage::default();
        none.add("x/not.so", "not.so", b"not an elf");
        assert_eq!(none, Linkage::default());
    }
}
