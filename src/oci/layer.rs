//! A filesystem tree and its deterministic tar layer.
//!
//! Reproducibility lives here: entries are written sorted by path, parents before
//! children, with fixed owners and modes, no user or group names, and mtimes
//! clamped to the build's epoch; gzip carries no name and no timestamp.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use flate2::{Compression, GzBuilder};

use super::gzip::ParallelGz;

use super::Descriptor;
use super::media_type::OCI_LAYER_GZIP;
use crate::store::digest::HashingWriter;
use crate::store::{Cache, Digest};

/// Where a file's bytes come from. Large contents stay where they are until the layer
/// is written, so a tree costs memory for its names, not for its bytes.
#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    /// A file on disk, read when the layer is written.
    Path(PathBuf),
    /// Member `index` of the zip file at `zip` (a wheel), inflated when the layer is
    /// written; `size` is what it inflated to when it was first read.
    ZipMember {
        zip: Arc<Path>,
        index: usize,
        size: u64,
    },
    /// `size` bytes at `offset` of the file at `file`: a member of an unpacked tar
    /// (a `.deb`'s data), read when the layer is written.
    Slice {
        file: Arc<Path>,
        offset: u64,
        size: u64,
    },
}

impl Content {
    /// Its size in bytes, as far as it is known before it is read.
    fn size(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Content::ZipMember { size, .. } | Content::Slice { size, .. } => *size,
        }
    }

    /// Opens the bytes of a `Slice`, positioned at its start.
    fn open_slice(file: &Path, offset: u64, size: u64) -> Result<io::Take<File>> {
        let mut f = File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        io::Seek::seek(&mut f, io::SeekFrom::Start(offset))
            .with_context(|| format!("cannot read {}", file.display()))?;
        Ok(f.take(size))
    }
}

#[derive(Debug, Clone)]
pub enum Node {
    Dir,
    File { content: Content, executable: bool },
    Symlink { target: String },
}

/// One entry of a tree: what it is, who owns it, when it was last changed.
#[derive(Debug, Clone)]
pub struct Entry {
    pub node: Node,
    pub uid: u64,
    pub gid: u64,
    /// Mode bits override; by default 0755 for dirs and executables, 0644 for files.
    pub mode: Option<u32>,
    pub mtime: u64,
}

/// A set of absolute paths and what they hold, to be written as one layer.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

/// A written layer: its compressed blob and the digest of its uncompressed tar.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Layer {
    pub digest: Digest,
    pub diff_id: Digest,
    pub size: u64,
}

impl Layer {
    /// How a manifest names this layer.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: OCI_LAYER_GZIP.to_owned(),
            digest: self.digest.clone(),
            size: self.size,
        }
    }
}

const SMALL_LAYER: u64 = 4 << 20;

impl Entry {
    pub fn file(content: Content, mtime: u64) -> Entry {
        Entry {
            node: Node::File {
                content,
                executable: false,
            },
            uid: 0,
            gid: 0,
            mode: None,
            mtime,
        }
    }

    pub fn executable(content: Content, mtime: u64) -> Entry {
        Entry {
            node: Node::File {
                content,
                executable: true,
            },
            uid: 0,
            gid: 0,
            mode: None,
            mtime,
        }
    }

    pub fn dir(mtime: u64) -> Entry {
        Entry {
            node: Node::Dir,
            uid: 0,
            gid: 0,
            mode: None,
            mtime,
        }
    }

    pub fn symlink(target: &str, mtime: u64) -> Entry {
        Entry {
            node: Node::Symlink {
                target: target.to_owned(),
            },
            uid: 0,
            gid: 0,
            mode: None,
            mtime,
        }
    }

    pub fn owned_by(mut self, uid: u64, gid: u64) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }

    fn mode(&self) -> u32 {
        self.mode.unwrap_or(match &self.node {
            Node::Dir => 0o755,
            Node::File {
                executable: true, ..
            } => 0o755,
            Node::File { .. } => 0o644,
            Node::Symlink { .. } => 0o777,
        })
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds `entry` at the absolute `path`. A later insert at the same path replaces the earlier.
    pub fn insert(&mut self, path: &str, entry: Entry) -> Result<()> {
        let key = clean(path)?;
        self.entries.insert(key, entry);
        Ok(())
    }

    #[cfg(test)]
    pub fn contains(&self, path: &str) -> bool {
        clean(path).is_ok_and(|key| self.entries.contains_key(&key))
    }

    /// Keeps only the entries whose tar path (no leading slash) `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.entries.retain(|path, _| keep(path));
    }

    /// The paths in the tree, in tar form (no leading slash).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// How many bytes of file contents the tree holds in memory.
    #[cfg(test)]
    pub fn bytes_held(&self) -> usize {
        self.entries
            .values()
            .map(|e| match &e.node {
                Node::File {
                    content: Content::Bytes(b),
                    ..
                } => b.len(),
                _ => 0,
            })
            .sum()
    }

    /// The bytes of in-memory file contents (files on disk are counted by their size).
    fn content_size(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.node {
                Node::File { content, .. } => content.size(),
                _ => 0,
            })
            .sum()
    }

    /// The path and bytes of every regular file that `wanted` accepts by its tar path
    /// and size, in path order; each wheel is opened once for all its members read.
    pub fn read_files(&self, wanted: impl Fn(&str, u64) -> bool) -> Result<Vec<(String, Vec<u8>)>> {
        let mut zips = OpenZips::default();
        let mut files = Vec::new();
        for (path, entry) in &self.entries {
            let Node::File { content, .. } = &entry.node else {
                continue;
            };
            if !wanted(path, content.size()) {
                continue;
            }
            let mut bytes = Vec::new();
            match content {
                Content::Bytes(b) => bytes.extend_from_slice(b),
                Content::Path(source) => {
                    File::open(source)
                        .and_then(|mut f| f.read_to_end(&mut bytes))
                        .with_context(|| format!("cannot read {}", source.display()))?;
                }
                Content::ZipMember { zip, index, .. } => {
                    zips.open(zip)?
                        .by_index(*index)?
                        .read_to_end(&mut bytes)
                        .with_context(|| {
                            format!("cannot read member {index} of {}", zip.display())
                        })?;
                }
                Content::Slice { file, offset, size } => {
                    Content::open_slice(file, *offset, *size)?
                        .read_to_end(&mut bytes)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                }
            }
            files.push((path.clone(), bytes));
        }
        Ok(files)
    }

    /// Directory entries for every parent that has none, owned by root, at `mtime`.
    fn missing_parents(&self, mtime: u64) -> BTreeMap<String, Entry> {
        let mut parents = BTreeMap::new();
        for path in self.entries.keys() {
            let mut parent = path.as_str();
            while let Some(idx) = parent.rfind('/') {
                parent = &parent[..idx];
                if !self.entries.contains_key(parent) {
                    parents
                        .entry(parent.to_owned())
                        .or_insert_with(|| Entry::dir(mtime));
                }
            }
        }
        parents
    }

    /// Writes the tree as a gzip layer into the cache, with every mtime clamped to `epoch`.
    pub fn write_layer(&self, cache: &Cache, epoch: u64) -> Result<Layer> {
        // Small layers get the best compression for free; large ones the default level,
        // which is where gzip's time/size trade-off flattens, on every core.
        let small = self.content_size() < SMALL_LAYER;
        let mut diff_id = None;
        let (digest, size) = cache.write_blob(None, |out| {
            diff_id = Some(if small {
                let gz = GzBuilder::new().mtime(0).write(out, Compression::best());
                let (gz, tar) = self.hashed_tar(gz, epoch)?;
                gz.finish()?;
                tar
            } else {
                let (gz, tar) =
                    self.hashed_tar(ParallelGz::new(out, Compression::default()), epoch)?;
                gz.finish()?;
                tar
            });
            Ok(())
        })?;
        Ok(Layer {
            digest,
            diff_id: diff_id.expect("set by the writer"),
            size,
        })
    }

    /// Writes the tree's tar into `out`; returns `out` and the tar's digest (the diff ID).
    fn hashed_tar<W: Write>(&self, out: W, epoch: u64) -> Result<(W, Digest)> {
        let mut tar_out = HashingWriter::new(out);
        self.write_tar(&mut tar_out, epoch)?;
        let (out, digest, _) = tar_out.finish();
        Ok((out, digest))
    }

    /// Writes the tree as an uncompressed tar.
    pub fn write_tar(&self, out: &mut dyn Write, epoch: u64) -> Result<()> {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        // The entries themselves are borrowed, never cloned: their contents may be large.
        let parents = self.missing_parents(epoch);
        let mut all: BTreeMap<&str, &Entry> =
            parents.iter().map(|(p, e)| (p.as_str(), e)).collect();
        all.extend(self.entries.iter().map(|(p, e)| (p.as_str(), e)));
        let mut zips = OpenZips::default();
        for (path, entry) in all {
            append(&mut builder, path, entry, epoch, &mut zips)
                .with_context(|| format!("cannot write /{path} into a layer"))?;
        }
        builder.into_inner()?.flush()?;
        Ok(())
    }
}

fn append(
    builder: &mut tar::Builder<&mut dyn Write>,
    path: &str,
    entry: &Entry,
    epoch: u64,
    zips: &mut OpenZips,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mode(entry.mode());
    header.set_mtime(entry.mtime.min(epoch));
    match &entry.node {
        Node::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, format!("{path}/"), std::io::empty())?;
        }
        Node::Symlink { target } => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, path, target)?;
        }
        Node::File { content, .. } => {
            header.set_entry_type(tar::EntryType::Regular);
            match content {
                Content::Bytes(bytes) => {
                    header.set_size(bytes.len() as u64);
                    builder.append_data(&mut header, path, bytes.as_slice())?;
                }
                Content::Path(source) => {
                    let file = File::open(source)
                        .with_context(|| format!("cannot read {}", source.display()))?;
                    let size = file.metadata()?.len();
                    header.set_size(size);
                    let what = || source.display().to_string();
                    builder.append_data(&mut header, path, Exact::new(file, size, what))?;
                }
                Content::ZipMember { zip, index, size } => {
                    let member = zips
                        .open(zip)?
                        .by_index(*index)
                        .with_context(|| format!("cannot read {}", zip.display()))?;
                    header.set_size(*size);
                    let what = || format!("member {index} of {}", zip.display());
                    builder.append_data(&mut header, path, Exact::new(member, *size, what))?;
                }
                Content::Slice { file, offset, size } => {
                    let slice = Content::open_slice(file, *offset, *size)?;
                    header.set_size(*size);
                    let what = || format!("{size} bytes at {offset} of {}", file.display());
                    builder.append_data(&mut header, path, Exact::new(slice, *size, what))?;
                }
            }
        }
    }
    Ok(())
}

/// A reader of exactly the `size` bytes a tar header promised: a source that ends early
/// or goes on longer (a file that changed while the layer was written) is an error,
/// where copying until EOF would write a tar whose entries no longer line up.
struct Exact<R, W> {
    inner: R,
    left: u64,
    size: u64,
    what: W,
}

impl<R: Read, W: Fn() -> String> Exact<R, W> {
    fn new(inner: R, size: u64, what: W) -> Exact<R, W> {
        Exact {
            inner,
            left: size,
            size,
            what,
        }
    }

    fn changed(&self, how: &str) -> io::Error {
        io::Error::other(format!(
            "{} {how} while the layer was written (it had {} bytes): build again",
            (self.what)(),
            self.size
        ))
    }
}

impl<R: Read, W: Fn() -> String> Read for Exact<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(self.changed("grew")),
            };
        }
        let room = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..room])?;
        if n == 0 && room > 0 {
            return Err(self.changed("shrank"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The zip files (wheels) open while a layer is written. A tree's sorted paths visit
/// one wheel's files mostly together, so a few open archives spare re-reading their
/// central directories without holding a descriptor per wheel.
#[derive(Default)]
struct OpenZips(Vec<(Arc<Path>, zip::ZipArchive<File>)>);

impl OpenZips {
    const KEEP: usize = 16;

    fn open(&mut self, path: &Arc<Path>) -> Result<&mut zip::ZipArchive<File>> {
        let at = match self.0.iter().position(|(p, _)| p == path) {
            Some(at) => at,
            None => {
                let file =
                    File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
                let archive = zip::ZipArchive::new(file)
                    .with_context(|| format!("{} is no longer a valid zip", path.display()))?;
                if self.0.len() == Self::KEEP {
                    self.0.remove(0);
                }
                self.0.push((path.clone(), archive));
                self.0.len() - 1
            }
        };
        Ok(&mut self.0[at].1)
    }
}

/// Normalizes an absolute image path to its tar form (no leading slash), refusing
/// anything that could escape the root.
fn clean(path: &str) -> Result<String> {
    let trimmed = path.trim_start_matches('/');
    let parts: Vec<&str> = trimmed
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        bail!("{path:?} is not a safe path inside the image");
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(order: &[&str]) -> Tree {
        let mut tree = Tree::new();
        for name in order {
            tree.insert(
                &format!("/app/{name}"),
                Entry::file(Content::Bytes(name.as_bytes().to_vec()), 2_000_000_000),
            )
            .unwrap();
        }
        tree
    }

    #[test]
    fn same_tree_in_any_insert_order_gives_same_layer() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let a = sample(&["b.py", "a/x.py", "c"])
            .write_layer(&cache, 1_000)
            .unwrap();
        let b = sample(&["c", "a/x.py", "b.py"])
            .write_layer(&cache, 1_000)
            .unwrap();
        assert_eq!(a.digest, b.digest);
        let later = sample(&["c", "a/x.py", "b.py"])
            .write_layer(&cache, 1_001)
            .unwrap();
        assert_ne!(a.diff_id, later.diff_id, "the epoch clamps mtimes");
    }

    #[test]
    fn tar_lists_parents_first_with_fixed_owners() {
        let mut out = Vec::new();
        sample(&["pkg/mod.py"]).write_tar(&mut out, 5).unwrap();
        let mut archive = tar::Archive::new(out.as_slice());
        let entries: Vec<(String, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().uid().unwrap(),
                    e.header().mtime().unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["app/", "app/pkg/", "app/pkg/mod.py"]);
        assert!(entries.iter().all(|e| e.1 == 0 && e.2 <= 5));
    }

    #[test]
    fn a_source_that_changed_size_is_an_error_not_a_misaligned_tar() {
        let read = |source: &[u8], size| {
            let mut out = Vec::new();
            std::io::copy(&mut Exact::new(source, size, || "f".into()), &mut out).map(|_| out)
        };
        assert_eq!(read(b"abc", 3).unwrap(), b"abc");
        assert!(read(b"abcd", 3).unwrap_err().to_string().contains("f grew"));
        assert!(read(b"ab", 3).unwrap_err().to_string().contains("f shrank"));
    }

    #[test]
    fn a_file_that_grows_fails_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("grows.py");
        std::fs::write(&file, b"x = 1\n").unwrap();
        let mut tree = Tree::new();
        tree.insert("/app/grows.py", Entry::file(Content::Path(file.clone()), 0))
            .unwrap();
        // Appends to the file while its header, with the size it had, is written
        // (after the header of the parent directory `app`).
        struct Appends(PathBuf, Vec<u8>);
        impl Write for Appends {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.1.len() == 512 {
                    let mut f = std::fs::OpenOptions::new().append(true).open(&self.0)?;
                    f.write_all(&[b'#'; 4096])?;
                }
                self.1.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = tree
            .write_tar(&mut Appends(file, Vec::new()), 0)
            .unwrap_err();
        assert!(format!("{err:#}").contains("grew"), "{err:#}");
    }

    #[test]
    fn zip_members_are_read_when_the_layer_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.zip");
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        zip.start_file("a", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"hello").unwrap();
        zip.finish().unwrap();
        let zip: Arc<Path> = Arc::from(path.as_path());
        let mut tree = Tree::new();
        let member = |size| Content::ZipMember {
            zip: zip.clone(),
            index: 0,
            size,
        };
        tree.insert("/a", Entry::file(member(5), 0)).unwrap();
        let mut out = Vec::new();
        tree.write_tar(&mut out, 0).unwrap();
        let mut archive = tar::Archive::new(out.as_slice());
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        // The wheel changed since it was installed: refused, not written misaligned.
        tree.insert("/a", Entry::file(member(4), 0)).unwrap();
        assert!(tree.write_tar(&mut Vec::new(), 0).is_err());
    }

    #[test]
    fn refuses_escaping_paths() {
        let mut tree = Tree::new();
        assert!(tree.insert("/app/../etc/passwd", Entry::dir(0)).is_err());
        assert!(tree.insert("/", Entry::dir(0)).is_err());
    }
}
