//! A filesystem tree and its deterministic tar layer.
//!
//! Reproducibility lives here: entries are written sorted by path, parents before
//! children, with fixed owners and modes, no user or group names, and mtimes
//! clamped to the build's epoch; gzip carries no name and no timestamp.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use flate2::{Compression, GzBuilder};

use super::Descriptor;
use super::media_type::OCI_LAYER_GZIP;
use crate::store::digest::HashingWriter;
use crate::store::{Cache, Digest};

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    /// A file on disk, read when the layer is written.
    Path(PathBuf),
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

    /// The paths in the tree, in tar form (no leading slash).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The bytes of in-memory file contents (files on disk are counted by their size).
    fn content_size(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.node {
                Node::File {
                    content: Content::Bytes(b),
                    ..
                } => b.len() as u64,
                Node::File {
                    content: Content::Path(p),
                    ..
                } => std::fs::metadata(p).map_or(0, |m| m.len()),
                _ => 0,
            })
            .sum()
    }

    /// Directory entries for every parent that has none, owned by root, at `mtime`.
    fn with_parents(&self, mtime: u64) -> BTreeMap<String, Entry> {
        let mut all = self.entries.clone();
        for path in self.entries.keys() {
            let mut parent = path.as_str();
            while let Some(idx) = parent.rfind('/') {
                parent = &parent[..idx];
                all.entry(parent.to_owned())
                    .or_insert_with(|| Entry::dir(mtime));
            }
        }
        all
    }

    /// Writes the tree as a gzip layer into the cache, with every mtime clamped to `epoch`.
    pub fn write_layer(&self, cache: &Cache, epoch: u64) -> Result<Layer> {
        // Small layers get the best compression for free; large ones the default level,
        // which is where gzip's time/size trade-off flattens.
        let level = if self.content_size() < SMALL_LAYER {
            9
        } else {
            6
        };
        let mut diff_id = None;
        let (digest, size) = cache.write_blob(None, |out| {
            let gz = GzBuilder::new()
                .mtime(0)
                .write(out, Compression::new(level));
            let mut tar_out = HashingWriter::new(gz);
            self.write_tar(&mut tar_out, epoch)?;
            let (gz, tar_digest, _) = tar_out.finish();
            gz.finish()?;
            diff_id = Some(tar_digest);
            Ok(())
        })?;
        Ok(Layer {
            digest,
            diff_id: diff_id.expect("set by the writer"),
            size,
        })
    }

    /// Writes the tree as an uncompressed tar.
    pub fn write_tar(&self, out: &mut dyn Write, epoch: u64) -> Result<()> {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        for (path, entry) in self.with_parents(epoch) {
            append(&mut builder, &path, &entry, epoch)
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
                    let file = crate::store::sized::SizedFile::open(source)
                        .with_context(|| format!("cannot read {}", source.display()))?;
                    header.set_size(file.size());
                    builder.append_data(&mut header, path, file)?;
                }
            }
        }
    }
    Ok(())
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
    fn refuses_escaping_paths() {
        let mut tree = Tree::new();
        assert!(tree.insert("/app/../etc/passwd", Entry::dir(0)).is_err());
        assert!(tree.insert("/", Entry::dir(0)).is_err());
    }
}
