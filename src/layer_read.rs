//! Reading image layers back: opening a layer blob with the right decompressor, and
//! telling OCI whiteouts (deletions in a later layer) from ordinary entries.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Result, bail};
use flate2::read::GzDecoder;

use crate::base::BaseLayer;
use crate::cache::Cache;

/// The layer's tar stream, decompressed, from the cache.
pub fn open(cache: &Cache, layer: &BaseLayer) -> Result<Box<dyn Read>> {
    decompress(layer, cache.open_blob(&layer.digest)?)
}

/// The tar stream inside `blob`, the bytes of `layer` from wherever they come.
pub fn decompress(layer: &BaseLayer, blob: impl Read + Send + 'static) -> Result<Box<dyn Read>> {
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

/// What one tar entry of a layer means for the merged filesystem.
pub enum Change {
    /// `.wh..wh..opq`: the directory's contents from lower layers are hidden.
    Opaque(String),
    /// `.wh.NAME`: the path, and everything below it, is deleted.
    Delete(String),
    /// Anything else: the entry itself.
    Entry,
}

/// A tar entry's path in image form: no `./`, no trailing slash.
pub fn entry_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String> {
    Ok(entry
        .path()?
        .to_string_lossy()
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_owned())
}

pub fn change(path: &str) -> Change {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name == ".wh..wh..opq" {
        return Change::Opaque(dir.to_owned());
    }
    match name.strip_prefix(".wh.") {
        Some(deleted) if dir.is_empty() => Change::Delete(deleted.to_owned()),
        Some(deleted) => Change::Delete(format!("{dir}/{deleted}")),
        None => Change::Entry,
    }
}

/// Removes `path` and everything below it from a map keyed by path.
pub fn delete<V>(map: &mut BTreeMap<String, V>, path: &str) {
    let below = format!("{path}/");
    map.retain(|p, _| p != path && !p.starts_with(&below));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_whiteouts() {
        assert!(
            matches!(change("usr/bin/.wh.python3"), Change::Delete(p) if p == "usr/bin/python3")
        );
        assert!(matches!(change(".wh.app"), Change::Delete(p) if p == "app"));
        assert!(matches!(change("app/.wh..wh..opq"), Change::Opaque(d) if d == "app"));
        assert!(matches!(change("app/main.py"), Change::Entry));
        let mut map: BTreeMap<String, ()> = ["app", "app/a", "apple"]
            .iter()
            .map(|p| (p.to_string(), ()))
            .collect();
        delete(&mut map, "app");
        assert_eq!(map.keys().collect::<Vec<_>>(), ["apple"]);
    }
}
