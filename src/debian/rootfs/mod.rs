//! A base's filesystem from `.deb`s, with nothing executed: every package's files
//! placed as a merged-`/usr` Debian places them, what no service reads left out, then
//! what the packages' maintainer scripts would have made, made by pyship (`made.rs`).

mod deb;
mod made;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use super::DebPackage;
use crate::oci::layer::{Content, Entry, Tree};
use crate::store::Cache;
use deb::{DataEntry, Deb, Kind};

/// What the base is for, beyond its packages.
pub struct BaseInfo<'a> {
    pub codename: &'a str,
    pub architecture: &'a str,
    /// Certificates (file name, PEM) added to the system bundle.
    pub extra_ca_certificates: &'a [(String, Vec<u8>)],
}

/// The directories merged into `/usr`: each is a symlink there, and what a package
/// ships below it lands below `/usr`, as in every Debian image since bookworm.
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Trees no service reads, left out of the image: manual pages, info manuals, message
/// translations, and the packages' documentation, except each `copyright` file, which
/// the licences ask to ship with the binaries. Bug-report and lintian hints are for
/// maintainers. Nothing at run time opens these; the dpkg database lists only what is kept.
const DROPPED: &[&str] = &[
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/lintian/",
    "usr/share/bug/",
    "usr/share/doc-base/",
];

/// The base's filesystem: every package unpacked, then what their maintainer scripts
/// would have made.
pub fn assemble(
    packages: &[DebPackage],
    info: &BaseInfo,
    cache: &Cache,
    epoch: u64,
) -> Result<Tree> {
    let mut tree = Tree::new();
    let mut owners: BTreeMap<String, Owned> = BTreeMap::new();
    let mut installed = Vec::new();
    for package in packages {
        let bytes = cache
            .read_blob(&package.digest()?)
            .with_context(|| format!("the .deb of {} is not in the cache", package.name))?;
        let deb = Deb::read(&bytes, &format!("{}_{}.deb", package.name, package.version))?;
        let kept = unpack(&deb, package, &mut tree, &mut owners)?;
        installed.push(made::Installed {
            package,
            control: deb.control,
            md5sums: deb.md5sums,
            files: kept,
        });
    }
    for dir in MERGED {
        tree.insert(dir, Entry::symlink(&format!("usr/{dir}"), epoch))?;
    }
    made::all(&mut tree, &installed, info, epoch)?;
    Ok(tree)
}

/// Who put a file where, and what it holds: two packages may ship the same path only
/// with the same contents.
struct Owned {
    package: String,
    content: Option<Vec<u8>>,
    link: Option<String>,
}

/// Places `deb`'s files in `tree`; returns the paths kept, as the package names them,
/// for its dpkg file list.
fn unpack(
    deb: &Deb,
    package: &DebPackage,
    tree: &mut Tree,
    owners: &mut BTreeMap<String, Owned>,
) -> Result<Vec<String>> {
    let mut kept = Vec::new();
    let by_path: BTreeMap<&str, &DataEntry> =
        deb.data.iter().map(|e| (e.path.as_str(), e)).collect();
    for entry in &deb.data {
        if dropped(&entry.path) {
            continue;
        }
        let Some(path) = placed(&entry.path) else {
            // One of the merged directories itself: it is a symlink into /usr.
            kept.push(entry.path.clone());
            continue;
        };
        let node = match &entry.kind {
            Kind::Dir => Entry::dir(entry.mtime),
            Kind::File(bytes) => file(bytes.clone(), entry),
            Kind::Symlink(target) => Entry::symlink(&link_target(&entry.path, &path, target), entry.mtime),
            Kind::HardLink(target) => match by_path.get(target.as_str()).map(|e| &e.kind) {
                Some(Kind::File(bytes)) => file(bytes.clone(), entry),
                _ => bail!(
                    "{}: hard link {} points at {target}, which is no file of the package",
                    package.name,
                    entry.path
                ),
            },
        };
        if !matches!(entry.kind, Kind::Dir) {
            claim(owners, &path, package, &entry.kind, by_path.get(entry.path.as_str()))?;
        }
        tree.insert(&path, owned_as(node, entry))?;
        kept.push(entry.path.clone());
    }
    Ok(kept)
}

fn file(bytes: Vec<u8>, entry: &DataEntry) -> Entry {
    // setuid and setgid bits are dropped: the service runs with no-new-privileges and
    // no capabilities, where they cannot work, and a base should not offer them.
    let mode = entry.mode & 0o777;
    let mut file = if mode & 0o111 != 0 {
        Entry::executable(Content::Bytes(bytes), entry.mtime)
    } else {
        Entry::file(Content::Bytes(bytes), entry.mtime)
    };
    file.mode = Some(mode);
    file
}

fn owned_as(node: Entry, entry: &DataEntry) -> Entry {
    node.owned_by(entry.uid, entry.gid)
}

/// Records that `package` ships `path`; refuses a second package shipping other bytes.
fn claim(
    owners: &mut BTreeMap<String, Owned>,
    path: &str,
    package: &DebPackage,
    kind: &Kind,
    _entry: Option<&&DataEntry>,
) -> Result<()> {
    let (content, link) = match kind {
        Kind::File(bytes) => (Some(bytes.clone()), None),
        Kind::Symlink(target) => (None, Some(target.clone())),
        _ => (None, None),
    };
    if let Some(earlier) = owners.get(path) {
        if earlier.package != package.name && (earlier.content != content || earlier.link != link) {
            bail!(
                "{} and {} both ship /{path} with different contents: Debian forbids it without Replaces; leave one of them out of the base",
                earlier.package,
                package.name
            );
        }
    }
    owners.insert(
        path.to_owned(),
        Owned {
            package: package.name.clone(),
            content,
            link,
        },
    );
    Ok(())
}

/// Whether a path of a package is left out of the image (see [`DROPPED`]).
fn dropped(path: &str) -> bool {
    let path = placed(path).unwrap_or_default();
    if DROPPED.iter().any(|d| path.starts_with(d)) {
        return true;
    }
    // /usr/share/doc/PKG/copyright stays (and the directories holding it).
    match path.strip_prefix("usr/share/doc/") {
        Some(rest) => rest.contains('/') && !rest.ends_with("/copyright"),
        None => false,
    }
}

/// Where a package's path lands: below `/usr` for the merged directories; `None` for
/// a merged directory itself.
fn placed(path: &str) -> Option<String> {
    let top = path.split('/').next().unwrap_or("");
    if !MERGED.contains(&top) {
        return Some(path.to_owned());
    }
    if top == path {
        return None;
    }
    Some(format!("usr/{path}"))
}

/// A symlink's target once its link moved from `original` to `placed`: a relative
/// target that climbs out of its directory is made absolute from where the package
/// put it, so moving the link into `/usr` does not change what it names.
fn link_target(original: &str, placed: &str, target: &str) -> String {
    if original == placed || target.starts_with('/') || !target.starts_with("..") {
        return target.to_owned();
    }
    let mut parts: Vec<&str> = original.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests;
