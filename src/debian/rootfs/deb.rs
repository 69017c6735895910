//! One `.deb` read without running anything: an `ar` archive of `debian-binary`, a
//! control tarball (the package's paragraph and `md5sums`) and a data tarball (its
//! files). The data tarball is stored uncompressed in the cache, once per `.deb`, and
//! its members point into it, so a base's files cost memory for their names only.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::debian::DebPackage;
use crate::store::{Cache, Digest};

/// Bumped when what [`Unpacked`] records changes, so older records are not read.
pub const RECORD_KIND: &str = "deb-unpacked-v1";

/// What a `.deb` holds, as far as a base needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unpacked {
    pub control: Control,
    /// The uncompressed data tarball, a cache blob the members' offsets point into.
    pub data: Digest,
    /// The data tarball's members, in archive order.
    pub members: Vec<Member>,
}

/// The control tarball's files a base keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Control {
    /// `control`, without its trailing newlines.
    pub paragraph: String,
    /// `md5sums`, when the package ships one.
    pub md5sums: Option<String>,
}

/// One member of the data tarball.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// Relative to the root, without `./` or a trailing slash: `usr/bin/python3.11`.
    pub path: String,
    pub kind: Kind,
    /// Permission bits, setuid and setgid already dropped.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Dir,
    /// `size` bytes at `offset` of the data blob; a hard link is the file it names.
    File {
        offset: u64,
        size: u64,
    },
    Symlink(String),
}

impl Control {
    /// The value of a simple field of the paragraph.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.paragraph.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (!line.starts_with([' ', '\t']) && key.eq_ignore_ascii_case(name)).then(|| value.trim())
        })
    }
}

/// The package's `.deb` read from the cache, or what an earlier run recorded of it.
pub fn unpack(package: &DebPackage, cache: &Cache) -> Result<Unpacked> {
    let digest = package.digest()?;
    if let Some(known) = cache.record::<Unpacked>(RECORD_KIND, &package.sha256)
        && cache.has_blob(&known.data)
    {
        return Ok(known);
    }
    let deb = cache.open_blob(&digest)?;
    let unpacked = read(BufReader::new(deb), cache).with_context(|| {
        format!(
            "{} {} ({}) is not a usable Debian package",
            package.name, package.version, package.filename
        )
    })?;
    cache.put_record(RECORD_KIND, &package.sha256, &unpacked)?;
    Ok(unpacked)
}

/// Reads a `.deb`, storing its data tarball uncompressed in `cache`.
pub fn read(deb: impl Read, cache: &Cache) -> Result<Unpacked> {
    let mut archive = ar::Archive::new(deb);
    let mut seen_version = false;
    let mut control = None;
    let mut data = None;
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.context("its ar archive is damaged")?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        if name == "debian-binary" {
            let mut version = String::new();
            entry.read_to_string(&mut version)?;
            if !version.starts_with("2.") {
                bail!("its format is {:?}, only 2.x is known", version.trim());
            }
            seen_version = true;
        } else if let Some(compression) = name.strip_prefix("control.tar") {
            let mut bytes = Vec::new();
            decompress(compression, &mut entry)?.read_to_end(&mut bytes)?;
            control = Some(read_control(&bytes)?);
        } else if let Some(compression) = name.strip_prefix("data.tar") {
            data = Some(store_data(decompress(compression, &mut entry)?, cache)?);
        }
    }
    if !seen_version {
        bail!("it has no debian-binary member");
    }
    let control = control.context("it has no control.tar member")?;
    let (data, members) = data.context("it has no data.tar member")?;
    Ok(Unpacked {
        control,
        data,
        members,
    })
}

/// A reader of a member compressed as its name's suffix says.
fn decompress<'a>(suffix: &str, member: &'a mut dyn Read) -> Result<Box<dyn Read + 'a>> {
    Ok(match suffix {
        "" => Box::new(member),
        ".gz" => Box::new(flate2::read::MultiGzDecoder::new(member)),
        ".xz" => Box::new(liblzma::read::XzDecoder::new(member)),
        ".zst" => Box::new(
            ruzstd::decoding::StreamingDecoder::new(member)
                .map_err(|err| anyhow::anyhow!("its zstd member is damaged: {err}"))?,
        ),
        other => bail!("its tarball is compressed as {other:?}, which pyship cannot read"),
    })
}

fn read_control(tar_bytes: &[u8]) -> Result<Control> {
    let mut paragraph = None;
    let mut md5sums = None;
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive
        .entries()
        .context("its control tarball is damaged")?
    {
        let mut entry = entry.context("its control tarball is damaged")?;
        let path = entry.path_bytes();
        let name = String::from_utf8_lossy(&path);
        let name = name.trim_start_matches("./").to_owned();
        let mut text = String::new();
        match name.as_str() {
            "control" | "md5sums" => {
                entry
                    .read_to_string(&mut text)
                    .with_context(|| format!("its control file {name} is not UTF-8"))?;
            }
            _ => continue,
        }
        if name == "control" {
            paragraph = Some(text.trim_end().to_owned());
        } else {
            md5sums = Some(text);
        }
    }
    let paragraph = paragraph.context("its control tarball has no control file")?;
    if !paragraph.starts_with("Package:") {
        bail!("its control file does not start with a Package field");
    }
    Ok(Control { paragraph, md5sums })
}

/// Stores the data tarball uncompressed and lists its members in the same pass.
fn store_data(tarball: Box<dyn Read + '_>, cache: &Cache) -> Result<(Digest, Vec<Member>)> {
    let mut members = Vec::new();
    let (digest, _) = cache.write_blob(None, |out| {
        let mut archive = tar::Archive::new(Tee {
            inner: tarball,
            out,
        });
        let mut files: HashMap<String, (u64, u64)> = HashMap::new();
        for entry in archive.entries().context("its data tarball is damaged")? {
            let entry = entry.context("its data tarball is damaged")?;
            if let Some(member) = member(&entry, &files)? {
                if let Kind::File { offset, size } = member.kind {
                    files.insert(member.path.clone(), (offset, size));
                }
                members.push(member);
            }
        }
        // The blob must hold everything the offsets were counted over, padding included.
        io::copy(&mut archive.into_inner(), &mut io::sink())?;
        Ok(())
    })?;
    Ok((digest, members))
}

/// A member as a base takes it; `None` for the root directory itself.
fn member<R: Read>(
    entry: &tar::Entry<R>,
    files: &HashMap<String, (u64, u64)>,
) -> Result<Option<Member>> {
    let raw = entry.path_bytes();
    let Some(path) = relative(&raw)? else {
        return Ok(None);
    };
    let header = entry.header();
    let kind = match header.entry_type() {
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File {
            offset: entry.raw_file_position(),
            size: entry.size(),
        },
        tar::EntryType::Symlink => {
            let target = entry.link_name_bytes().unwrap_or_default();
            let target = String::from_utf8(target.into_owned())
                .map_err(|_| anyhow::anyhow!("symlink /{path} has a target that is not UTF-8"))?;
            Kind::Symlink(target)
        }
        tar::EntryType::Link => {
            let target = entry.link_name_bytes().unwrap_or_default();
            let resolved = relative(&target)?.and_then(|t| files.get(&t).copied());
            let Some((offset, size)) = resolved else {
                bail!(
                    "hard link /{path} points outside the package's earlier files ({})",
                    String::from_utf8_lossy(&target)
                );
            };
            Kind::File { offset, size }
        }
        other => bail!("/{path} is a {other:?} (a device node or fifo), which a base cannot ship"),
    };
    Ok(Some(Member {
        path,
        kind,
        // setuid and setgid are dropped: the service runs as an unprivileged user with
        // no-new-privileges, and a setuid binary in its image is only a way up to root.
        mode: header.mode()? & 0o1777,
        uid: header.uid()?,
        gid: header.gid()?,
        mtime: header.mtime()?,
    }))
}

/// A member path relative to the root (`./usr/bin/x` → `usr/bin/x`); `None` for the
/// root itself. Absolute paths and `..` are refused: they would write outside the tree.
pub fn relative(raw: &[u8]) -> Result<Option<String>> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| anyhow::anyhow!("member {:?} is not UTF-8", String::from_utf8_lossy(raw)))?;
    let mut rest = text;
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    if rest.starts_with('/') {
        bail!("member {text:?} is an absolute path: a package may only write under its root");
    }
    let parts: Vec<&str> = rest
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        bail!("member {text:?} climbs out of the root with '..'");
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// A reader that copies what it reads to `out`.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut dyn Write,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}
