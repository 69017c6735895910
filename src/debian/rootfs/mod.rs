//! A base's filesystem made from Debian packages without running any of them: every
//! `.deb` unpacked into one tree (merged `/usr`, documentation left out, two packages
//! shipping different bytes at one path refused), then what their maintainer scripts
//! would have made. The same packages give the same tree on any machine: packages are
//! placed in name order and the layer writer sorts and clamps the rest.

mod deb;
mod layout;
mod made;
#[cfg(test)]
mod tests;

/// The records naming each `.deb` the cache holds and its unpacked data (`cache info` reads them).
pub use deb::RECORD_KIND as UNPACKED_RECORD;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use self::deb::{Kind, Member, Unpacked};
use self::made::Installed;
use super::DebPackage;
use crate::contract::{APP_HOME, APP_UID};
use crate::oci::layer::{Content, Entry, Tree};
use crate::store::Cache;

/// What the base is, beyond its packages.
pub struct BaseInfo<'a> {
    /// The suite's codename: `bookworm`.
    pub codename: &'a str,
    /// Debian's name of the CPU: `amd64`, `arm64`.
    pub architecture: &'a str,
    /// (file name, PEM) of CA certificates added to the bundle after Debian's own.
    pub extra_ca_certificates: &'a [(String, Vec<u8>)],
}

/// The base's filesystem: every package unpacked, then what their maintainer scripts
/// would have made.
pub fn assemble(
    packages: &[DebPackage],
    info: &BaseInfo,
    cache: &Cache,
    epoch: u64,
) -> Result<Tree> {
    for (name, pem) in info.extra_ca_certificates {
        made::check_extra_certificate(name, pem)?;
    }
    let mut sorted: Vec<&DebPackage> = packages.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    // Unpacking is decompression: every core helps.
    let unpacked: Vec<Unpacked> = sorted
        .par_iter()
        .map(|package| deb::unpack(package, cache))
        .collect::<Result<_>>()?;
    for (package, contents) in sorted.iter().zip(&unpacked) {
        let arch = contents.control.field("Architecture").unwrap_or_default();
        if arch != info.architecture && arch != "all" {
            bail!(
                "{} {} is built for {arch}, not {}: the base's packages must all be for one architecture",
                package.name,
                package.version,
                info.architecture
            );
        }
    }
    let mut files = Files::default();
    for (package, contents) in sorted.iter().zip(&unpacked) {
        let data: Arc<Path> = cache.blob_path(&contents.data).into();
        for member in &contents.members {
            if let Kind::Symlink(target) = &member.kind
                && layout::is_merged_link(&member.path, target)
            {
                continue;
            }
            if let Some(path) = layout::place(&member.path) {
                files.add(path, member, &data, &package.name)?;
            }
        }
    }
    let mut tree = files.to_tree(epoch)?;
    made_files(&mut tree, &files, &unpacked, info, epoch)?;
    Ok(tree)
}

/// Adds what the maintainer scripts would have made, and what a service's image needs
/// of a system: users, writable scratch directories, the time zone.
fn made_files(
    tree: &mut Tree,
    files: &Files,
    unpacked: &[Unpacked],
    info: &BaseInfo,
    epoch: u64,
) -> Result<()> {
    let text = |text: String| Entry::file(Content::Bytes(text.into_bytes()), epoch);
    ca_certificates(tree, files, info, epoch)?;
    dpkg_database(tree, unpacked, epoch)?;
    tree.insert("/etc/passwd", text(made::passwd()))?;
    tree.insert("/etc/group", text(made::group()))?;
    tree.insert("/etc/nsswitch.conf", text(made::NSSWITCH.to_owned()))?;
    let dir = |mode: u32| Entry {
        mode: Some(mode),
        ..Entry::dir(epoch)
    };
    tree.insert("/tmp", dir(0o1777))?;
    tree.insert("/var/tmp", dir(0o1777))?;
    tree.insert("/root", dir(0o700))?;
    let app = u64::from(APP_UID);
    tree.insert(APP_HOME, dir(0o755).owned_by(app, app))?;
    let zone = format!("usr/share/zoneinfo/{}", made::TIMEZONE);
    if files.0.contains_key(&zone) {
        tree.insert("/etc/localtime", Entry::symlink(&format!("/{zone}"), epoch))?;
        tree.insert("/etc/timezone", text(format!("{}\n", made::TIMEZONE)))?;
    }
    if !files.0.contains_key("etc/os-release") {
        if !files.0.contains_key("usr/lib/os-release") {
            bail!(
                "none of the {} base's packages ships /usr/lib/os-release: base-files belongs in every base",
                info.codename
            );
        }
        tree.insert(
            "/etc/os-release",
            Entry::symlink("../usr/lib/os-release", epoch),
        )?;
    }
    Ok(())
}

/// The CA bundle update-ca-certificates would have written, with the extra
/// certificates, and OpenSSL's links to it.
fn ca_certificates(tree: &mut Tree, files: &Files, info: &BaseInfo, epoch: u64) -> Result<()> {
    let mut shipped = Vec::new();
    for path in files.0.keys() {
        if let Some(name) = path.strip_prefix(made::SHIPPED_CERTS)
            && name.ends_with(".crt")
            && let Some(bytes) = files.read(path)?
        {
            shipped.push((name.to_owned(), bytes));
        }
    }
    if shipped.is_empty() && info.extra_ca_certificates.is_empty() {
        return Ok(());
    }
    for (name, pem) in info.extra_ca_certificates {
        let path = format!("{}/{name}", made::LOCAL_CERTS);
        tree.insert(&path, Entry::file(Content::Bytes(pem.clone()), epoch))?;
    }
    let bundle = made::ca_bundle(shipped, info.extra_ca_certificates);
    tree.insert(made::CA_BUNDLE, Entry::file(Content::Bytes(bundle), epoch))?;
    for (link, target) in made::OPENSSL_LINKS {
        tree.insert(link, Entry::symlink(target, epoch))?;
    }
    Ok(())
}

/// dpkg's database: the status file and each package's file list and checksums.
fn dpkg_database(tree: &mut Tree, unpacked: &[Unpacked], epoch: u64) -> Result<()> {
    let mut installed = Vec::with_capacity(unpacked.len());
    for contents in unpacked {
        let paths: Vec<&str> = contents
            .members
            .iter()
            .map(|m| m.path.as_str())
            .filter(|p| layout::place(p).is_some())
            .collect();
        let md5sums = contents
            .control
            .md5sums
            .as_deref()
            .map(|sums| made::kept_md5sums(sums, |p| layout::place(p).is_some()))
            .transpose()?;
        installed.push(Installed {
            control: &contents.control,
            paths,
            md5sums,
        });
    }
    let text = |text: String| Entry::file(Content::Bytes(text.into_bytes()), epoch);
    tree.insert("/var/lib/dpkg/status", text(made::dpkg_status(&installed)))?;
    for package in &installed {
        let info = format!("/var/lib/dpkg/info/{}", package.info_name());
        tree.insert(&format!("{info}.list"), text(package.list()))?;
        if let Some(sums) = &package.md5sums {
            tree.insert(&format!("{info}.md5sums"), text(sums.clone()))?;
        }
    }
    Ok(())
}

/// One placed path and the package it came from.
struct Placed {
    member: Member,
    data: Arc<Path>,
    package: String,
}

/// The packages' members by where they land, checked against each other.
#[derive(Default)]
struct Files(BTreeMap<String, Placed>);

impl Files {
    fn add(
        &mut self,
        path: String,
        member: &Member,
        data: &Arc<Path>,
        package: &str,
    ) -> Result<()> {
        let placed = Placed {
            member: member.clone(),
            data: data.clone(),
            package: package.to_owned(),
        };
        let Some(earlier) = self.0.get(&path) else {
            self.0.insert(path, placed);
            return Ok(());
        };
        let same = match (&earlier.member.kind, &member.kind) {
            // Directories are shared; the first one's owner and mode stay, as dpkg keeps
            // those of a directory that already exists.
            (Kind::Dir, Kind::Dir) => return Ok(()),
            (Kind::Symlink(a), Kind::Symlink(b)) => a == b,
            (Kind::File { .. }, Kind::File { .. }) => same_bytes(earlier, &placed)?,
            _ => false,
        };
        if !same {
            bail!(
                "/{path} is shipped by both {} and {} with different contents: Debian allows that only \
                 when one Replaces the other; leave one of them out of the base",
                earlier.package,
                package
            );
        }
        self.0.insert(path, placed);
        Ok(())
    }

    /// The bytes of a placed file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.0.get(path).map(Placed::bytes).transpose()
    }

    fn to_tree(&self, epoch: u64) -> Result<Tree> {
        let mut tree = Tree::new();
        for top in layout::MERGED {
            let under_usr = format!("usr/{top}");
            let inside = format!("{under_usr}/");
            let shipped = self
                .0
                .keys()
                .any(|p| *p == under_usr || p.starts_with(&inside));
            if layout::ALWAYS_MERGED.contains(&top) || shipped {
                tree.insert(top, Entry::symlink(&under_usr, epoch))?;
                // The link's target exists even when no package ships into it.
                tree.insert(&under_usr, Entry::dir(epoch))?;
            }
        }
        for (path, placed) in &self.0 {
            let m = &placed.member;
            let entry = match &m.kind {
                Kind::Dir => Entry::dir(m.mtime),
                Kind::Symlink(target) => Entry::symlink(target, m.mtime),
                Kind::File { offset, size } => Entry::file(
                    Content::Slice {
                        file: placed.data.clone(),
                        offset: *offset,
                        size: *size,
                    },
                    m.mtime,
                ),
            };
            let mut entry = entry.owned_by(m.uid, m.gid);
            if !matches!(m.kind, Kind::Symlink(_)) {
                entry.mode = Some(m.mode);
            }
            tree.insert(path, entry)?;
        }
        Ok(tree)
    }
}

impl Placed {
    fn bytes(&self) -> Result<Vec<u8>> {
        let Kind::File { offset, size } = self.member.kind else {
            bail!("/{} is not a regular file", self.member.path);
        };
        let mut file = File::open(&self.data)
            .with_context(|| format!("cannot read {}", self.data.display()))?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(size).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

fn same_bytes(a: &Placed, b: &Placed) -> Result<bool> {
    let (Kind::File { size: sa, .. }, Kind::File { size: sb, .. }) =
        (&a.member.kind, &b.member.kind)
    else {
        return Ok(false);
    };
    Ok(sa == sb && a.bytes()? == b.bytes()?)
}
