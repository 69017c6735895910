//! Reading image layers back, the one way pyship does it: open a layer blob with the
//! right decompressor, then apply its entries in order over the layers below,
//! honouring OCI whiteouts (a deletion or an opaque directory in a later layer).

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Result, bail};
use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};

use super::Descriptor;
use crate::store::Cache;

/// Hands each of an image's layers, as a tar stream, in order, to the function it is
/// given: from the cache, a registry, or a tree not yet written out.
pub type ReadLayers<'a> = &'a dyn Fn(&mut dyn FnMut(Box<dyn Read>) -> Result<()>) -> Result<()>;

/// The layer's tar stream, decompressed, from the cache.
pub fn open(cache: &Cache, layer: &Descriptor) -> Result<Box<dyn Read>> {
    decompress(layer, cache.open_blob(&layer.digest)?)
}

/// The tar stream inside `blob`, the bytes of `layer` from wherever they come.
pub fn decompress(layer: &Descriptor, blob: impl Read + Send + 'static) -> Result<Box<dyn Read>> {
    let blob = std::io::BufReader::new(blob);
    if layer.media_type.ends_with("zstd") {
        bail!(
            "layer {} is zstd-compressed, which pyship cannot read yet: use an image with gzip layers",
            layer.digest
        );
    }
    Ok(if layer.media_type.ends_with("gzip") {
        Box::new(GzDecoder::new(blob))
    } else {
        Box::new(blob)
    })
}

/// The merged filesystem of the layers walked so far: each path that survives, and the
/// index of the layer its entry came from. A reader that keeps what it saw per path and
/// layer asks [`Walk::survives`] at the end, so deletions are handled here only.
#[derive(Debug, Default)]
pub struct Walk {
    present: BTreeMap<String, usize>,
    layers: usize,
    /// The whiteouts of the layer applied last.
    removed: Vec<Removal>,
}

impl Walk {
    /// How many layers have been applied.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Applies a layer read in an earlier walk without reading it again: what it
    /// removed from the layers below, then the paths it holds that the reader kept.
    /// Returns the layer's index.
    pub fn replay(
        &mut self,
        removed: &[Removal],
        paths: impl IntoIterator<Item = String>,
    ) -> usize {
        let index = self.layers;
        self.layers += 1;
        for removal in removed {
            self.apply(removal, index);
        }
        for path in paths {
            self.present.insert(path, index);
        }
        index
    }

    /// What the last layer applied removed from the layers below it.
    pub fn removed_by_last_layer(&self) -> &[Removal] {
        &self.removed
    }

    /// Applies the next layer's tar stream: whiteouts remove what lower layers left,
    /// and `visit` sees every other entry with its path in image form (no leading `/`
    /// or `./`, no trailing `/`) and the layer's index.
    pub fn layer<R: Read>(
        &mut self,
        stream: R,
        mut visit: impl FnMut(&str, usize, &mut tar::Entry<'_, R>) -> Result<()>,
    ) -> Result<()> {
        let index = self.layers;
        self.layers += 1;
        self.removed.clear();
        let mut archive = tar::Archive::new(stream);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry_path(&entry)?;
            match change(&path) {
                Some(removal) => {
                    self.apply(&removal, index);
                    self.removed.push(removal);
                }
                None => {
                    self.present.insert(path.clone(), index);
                    visit(&path, index, &mut entry)?;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, removal: &Removal, index: usize) {
        match removal {
            Removal::Below(dir) => self.remove_below(&format!("{dir}/"), index),
            Removal::Path(gone) => {
                self.remove(gone, index);
                self.remove_below(&format!("{gone}/"), index);
            }
        }
    }

    /// True when `path`, as layer `layer` wrote it, is in the merged filesystem: no
    /// later layer deleted or replaced it.
    pub fn survives(&self, path: &str, layer: usize) -> bool {
        self.present.get(path) == Some(&layer)
    }

    /// Every path of the merged filesystem, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.present.keys().map(String::as_str)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.present.contains_key(path)
    }

    /// Whiteouts apply to lower layers only: entries of the layer itself stay.
    fn remove(&mut self, path: &str, index: usize) {
        if self.present.get(path).is_some_and(|&l| l != index) {
            self.present.remove(path);
        }
    }

    fn remove_below(&mut self, prefix: &str, index: usize) {
        self.present
            .retain(|p, layer| *layer == index || !p.starts_with(prefix));
    }
}

/// What a whiteout entry of a layer hides in the layers below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Removal {
    /// `.wh.NAME`: the path, and everything below it, is deleted.
    Path(String),
    /// `.wh..wh..opq`: the directory's contents from lower layers are hidden.
    Below(String),
}

/// A tar entry's path in image form: no `/` or `./` before it, no trailing slash.
fn entry_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String> {
    Ok(entry
        .path()?
        .to_string_lossy()
        .trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned())
}

/// The removal a tar entry's path stands for, if it is a whiteout.
fn change(path: &str) -> Option<Removal> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name == ".wh..wh..opq" {
        return Some(Removal::Below(dir.to_owned()));
    }
    let deleted = name.strip_prefix(".wh.")?;
    Some(Removal::Path(if dir.is_empty() {
        deleted.to_owned()
    } else {
        format!("{dir}/{deleted}")
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An uncompressed layer holding `entries`, for tests of layer readers.
    pub(crate) fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o755);
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn walk(layers: &[&[(&str, &[u8])]]) -> Walk {
        let mut walk = Walk::default();
        for entries in layers {
            walk.layer(layer(entries).as_slice(), |_, _, _| Ok(()))
                .unwrap();
        }
        walk
    }

    #[test]
    fn classifies_whiteouts() {
        assert!(change("usr/bin/.wh.python3") == Some(Removal::Path("usr/bin/python3".into())));
        assert_eq!(change(".wh.app"), Some(Removal::Path("app".into())));
        assert_eq!(
            change("app/.wh..wh..opq"),
            Some(Removal::Below("app".into()))
        );
        assert_eq!(change("app/main.py"), None);
    }

    #[test]
    fn deletion_removes_the_path_and_below_but_not_siblings() {
        let walk = walk(&[
            &[("app/a", b"1"), ("apple", b"2"), ("app", b"")],
            &[(".wh.app", b"")],
        ]);
        assert_eq!(walk.paths().collect::<Vec<_>>(), ["apple"]);
    }

    #[test]
    fn opaque_directory_hides_lower_layers_only() {
        let walk = walk(&[
            &[("etc/a", b"1"), ("etc/b", b"1")],
            &[("etc/.wh..wh..opq", b""), ("etc/c", b"2")],
        ]);
        assert_eq!(walk.paths().collect::<Vec<_>>(), ["etc/c"]);
        assert!(walk.survives("etc/c", 1));
    }

    #[test]
    fn a_replaced_file_survives_only_as_its_last_layer_wrote_it() {
        let walk = walk(&[&[("etc/passwd", b"1")], &[("etc/passwd", b"2")]]);
        assert!(!walk.survives("etc/passwd", 0));
        assert!(walk.survives("etc/passwd", 1));
    }
}
