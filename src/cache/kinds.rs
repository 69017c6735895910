//! What each file in the cache is. The store keeps every blob under its digest with
//! nothing beside it saying what it is, so a blob is classified by what names it and,
//! failing that, by its own bytes:
//!
//! - an image manifest or index, or the config of an image pyship built (its history
//!   has pyship's entries): `images`;
//! - a layer a manifest names: `layers` when its history entry is pyship's (or a
//!   dependency-layer record names it), else `bases`; any other image config: `bases`;
//! - a zip with a `*.dist-info/WHEEL`: `wheels`; a zip or tar.gz holding one
//!   `name-version/PKG-INFO` tree: `sdists`;
//! - everything else, such as a base layer of a build that failed before it wrote its
//!   manifest: `other`. Records and scratch files are what their folder says.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// What a cache file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Wheels,
    Sdists,
    Bases,
    Layers,
    Images,
    Records,
    Scratch,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Wheels,
        Kind::Sdists,
        Kind::Bases,
        Kind::Layers,
        Kind::Images,
        Kind::Records,
        Kind::Scratch,
        Kind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Wheels => "wheels",
            Kind::Sdists => "sdists",
            Kind::Bases => "bases",
            Kind::Layers => "layers",
            Kind::Images => "images",
            Kind::Records => "records",
            Kind::Scratch => "scratch",
            Kind::Other => "other",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Wheels => "downloaded wheels",
            Kind::Sdists => "source distributions",
            Kind::Bases => {
                "layers and configs of base images, interpreters lifted from them, and Debian packages"
            }
            Kind::Layers => "layers pyship wrote",
            Kind::Images => "manifests, indexes and configs of built images",
            Kind::Records => "remembered facts and layer keys",
            Kind::Scratch => "downloads and writes in progress",
            Kind::Other => "named by nothing in the cache",
        }
    }
}

/// One file of the cache.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub size: u64,
    /// Its last use (mtime), which prune goes by.
    pub used: SystemTime,
    pub kind: Kind,
}

/// JSON blobs larger than this are not manifests or configs pyship reads.
const MAX_JSON: u64 = 4 * 1024 * 1024;

/// Every file under the cache's `blobs/`, `records/` and `tmp/`, classified.
pub fn entries(root: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    let blobs = files(&root.join("blobs/sha256"));
    let names = Names::read(root, &blobs);
    for (path, size, used) in blobs {
        let hex = file_name(&path);
        let kind = names.kind_of(&hex).unwrap_or_else(|| sniff(&path));
        entries.push(Entry {
            path,
            size,
            used,
            kind,
        });
    }
    for (dir, kind) in [("records", Kind::Records), ("tmp", Kind::Scratch)] {
        for (path, size, used) in files(&root.join(dir)) {
            entries.push(Entry {
                path,
                size,
                used,
                kind,
            });
        }
    }
    entries
}

/// Regular files under `dir`, at any depth, with size and mtime.
fn files(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in read.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            out.extend(files(&entry.path()));
        } else if meta.is_file() {
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((entry.path(), meta.len(), used));
        }
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What the cache's manifests, configs and layer records say its blobs are, by hex.
#[derive(Default)]
struct Names(HashMap<String, Kind>);

impl Names {
    fn read(root: &Path, blobs: &[(PathBuf, u64, SystemTime)]) -> Names {
        let mut manifests = Vec::new();
        let mut configs = HashMap::new();
        let mut indexes = Vec::new();
        for (path, size, _) in blobs {
            let Some(json) = small_json(path, *size) else {
                continue;
            };
            let hex = file_name(path);
            if json.get("manifests").is_some_and(|m| m.is_array()) {
                indexes.push(hex);
            } else if json.get("layers").is_some_and(|l| l.is_array()) {
                manifests.push((hex, json));
            } else if json.get("rootfs").is_some() {
                configs.insert(hex, pyship_layers(&json));
            }
        }
        let mut names = Names::default();
        for hex in indexes {
            names.0.insert(hex, Kind::Images);
        }
        for (hex, config_own) in &configs {
            let kind = if *config_own > 0 {
                Kind::Images
            } else {
                Kind::Bases
            };
            names.0.insert(hex.clone(), kind);
        }
        for (hex, manifest) in manifests {
            names.0.insert(hex, Kind::Images);
            let config = digest_hex(&manifest["config"]["digest"]);
            let layers: Vec<String> = manifest["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| digest_hex(&l["digest"]))
                .collect();
            // Without its config the manifest cannot say which layers are pyship's.
            let Some(own) = config.as_ref().and_then(|c| configs.get(c)) else {
                continue;
            };
            let first_own = layers.len().saturating_sub(*own);
            for (i, layer) in layers.into_iter().enumerate() {
                let kind = if i >= first_own {
                    Kind::Layers
                } else {
                    Kind::Bases
                };
                // A layer pyship wrote stays pyship's even where another image reuses it.
                if names.0.get(&layer) != Some(&Kind::Layers) {
                    names.0.insert(layer, kind);
                }
            }
        }
        for (path, size, _) in files(&root.join("records/layers")) {
            if let Some(json) = small_json(&path, size)
                && let Some(hex) = digest_hex(&json["digest"])
            {
                names.0.insert(hex, Kind::Layers);
            }
        }
        // An interpreter lifted out of a base to compile bytecode is the base's.
        let kits = root
            .join("records")
            .join(crate::python::bytecode::KIT_RECORD);
        for (path, size, _) in files(&kits) {
            if let Some(json) = small_json(&path, size)
                && let Some(hex) = digest_hex(&json["Ready"]["blob"])
            {
                names.0.insert(hex, Kind::Bases);
            }
        }
        // A Debian base's .debs (named by their record) and their unpacked data.
        for (path, size, _) in files(
            &root
                .join("records")
                .join(crate::debian::rootfs::UNPACKED_RECORD),
        ) {
            names.0.insert(file_name(&path), Kind::Bases);
            if let Some(json) = small_json(&path, size)
                && let Some(hex) = digest_hex(&json["data"])
            {
                names.0.insert(hex, Kind::Bases);
            }
        }
        names
    }

    fn kind_of(&self, hex: &str) -> Option<Kind> {
        self.0.get(hex).copied()
    }
}

/// How many layers of an image config pyship wrote: its history entries that made a
/// layer and say `pyship:`, which pyship appends after the base's.
fn pyship_layers(config: &serde_json::Value) -> usize {
    config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .filter(|h| {
            h["created_by"]
                .as_str()
                .is_some_and(|c| c.starts_with("pyship:"))
        })
        .count()
}

fn digest_hex(value: &serde_json::Value) -> Option<String> {
    value.as_str()?.strip_prefix("sha256:").map(str::to_owned)
}

/// The file as JSON when it is small and starts like an object.
fn small_json(path: &Path, size: u64) -> Option<serde_json::Value> {
    if !(2..=MAX_JSON).contains(&size) {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// A blob nothing names, judged by its bytes.
fn sniff(path: &Path) -> Kind {
    let mut magic = [0u8; 4];
    let Ok(mut file) = File::open(path) else {
        return Kind::Other;
    };
    if file.read_exact(&mut magic).is_err() {
        return Kind::Other;
    }
    match magic {
        [b'P', b'K', 3, 4] => zip_kind(path),
        [0x1f, 0x8b, _, _] => {
            let Ok(file) = File::open(path) else {
                return Kind::Other;
            };
            let tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
            if is_sdist_tar(tar) {
                Kind::Sdists
            } else {
                Kind::Other
            }
        }
        _ => Kind::Other,
    }
}

fn zip_kind(path: &Path) -> Kind {
    let Some(archive) = File::open(path)
        .ok()
        .and_then(|f| zip::ZipArchive::new(f).ok())
    else {
        return Kind::Other;
    };
    let names: Vec<&str> = archive.file_names().collect();
    if names.iter().any(|n| is_dist_info_wheel(n)) {
        return Kind::Wheels;
    }
    if is_sdist_tree(names.iter().copied()) {
        Kind::Sdists
    } else {
        Kind::Other
    }
}

fn is_dist_info_wheel(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(dir, file)| dir.ends_with(".dist-info") && file == "WHEEL")
}

/// An sdist's entries all sit under one `name-version/` folder with a `PKG-INFO`; a
/// layer's first entries already sit under several (`bin`, `etc`, …), so reading
/// stops early.
fn is_sdist_tar<R: Read>(mut tar: tar::Archive<R>) -> bool {
    let Ok(entries) = tar.entries() else {
        return false;
    };
    let names =
        entries.map_while(|entry| Some(entry.ok()?.path().ok()?.to_string_lossy().into_owned()));
    is_sdist_tree(names)
}

fn is_sdist_tree<S: AsRef<str>>(names: impl Iterator<Item = S>) -> bool {
    let mut top: Option<String> = None;
    let mut pkg_info = false;
    for name in names {
        let name = name.as_ref().trim_start_matches("./");
        let Some(first) = name.split('/').next().filter(|f| !f.is_empty()) else {
            continue;
        };
        match &top {
            None if first.contains('-') => top = Some(first.to_owned()),
            None => return false,
            Some(top) if top != first => return false,
            Some(_) => {}
        }
        pkg_info |= name.strip_prefix(first) == Some("/PKG-INFO");
    }
    pkg_info
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sdist_trees_are_told_from_layers() {
        assert!(is_sdist_tree(
            [
                "demo-1.0/",
                "demo-1.0/PKG-INFO",
                "demo-1.0/demo/__init__.py"
            ]
            .iter()
        ));
        assert!(!is_sdist_tree(["demo-1.0/setup.py"].iter()), "no PKG-INFO");
        assert!(!is_sdist_tree(
            ["bin/", "etc/passwd", "x-1/PKG-INFO"].iter()
        ));
        assert!(!is_sdist_tree(["opt-1/PKG-INFO", "usr/bin/python"].iter()));
        assert!(is_dist_info_wheel("demo-1.0.dist-info/WHEEL"));
        assert!(!is_dist_info_wheel("demo/WHEEL"));
    }

    #[test]
    fn blobs_are_classified_by_what_names_them_and_by_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let blobs = root.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::create_dir_all(root.join("records/layers")).unwrap();
        let put = |name: &str, bytes: &[u8]| std::fs::write(blobs.join(name), bytes).unwrap();
        let hex = |c: char| c.to_string().repeat(64);
        let config = serde_json::json!({
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [
                {"created_by": "debootstrap"},
                {"created_by": "ENV A=1", "empty_layer": true},
                {"created_by": "pyship: user app"},
                {"created_by": "pyship: deps"},
            ]
        });
        put(&hex('c'), config.to_string().as_bytes());
        put(
            &hex('d'),
            br#"{"rootfs": {"type": "layers"}, "history": [{"created_by": "base"}]}"#,
        );
        let layer =
            |c: char| serde_json::json!({"digest": format!("sha256:{}", hex(c)), "size": 1});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"digest": format!("sha256:{}", hex('c')), "size": 1},
            "layers": [layer('1'), layer('2'), layer('3')],
        });
        put(&hex('m'), manifest.to_string().as_bytes());
        for c in ['1', '2', '3', '4'] {
            put(&hex(c), &[0x1f, 0x8b, 8, 0]);
        }
        std::fs::write(
            root.join("records/layers/key"),
            serde_json::json!({"digest": format!("sha256:{}", hex('4'))}).to_string(),
        )
        .unwrap();
        let mut wheel = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        wheel
            .start_file(
                "demo-1.0.dist-info/WHEEL",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        wheel.write_all(b"Wheel-Version: 1.0\n").unwrap();
        put(&hex('w'), &wheel.finish().unwrap().into_inner());
        let mut sdist = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(4);
        sdist
            .append_data(&mut header, "demo-1.0/PKG-INFO", &b"Name"[..])
            .unwrap();
        put(&hex('s'), &sdist.into_inner().unwrap().finish().unwrap());
        put(&hex('x'), b"not json, not an archive");

        let kinds: HashMap<String, Kind> = entries(root)
            .into_iter()
            .map(|e| (file_name(&e.path), e.kind))
            .collect();
        let expect = [
            ('c', Kind::Images),
            ('d', Kind::Bases),
            ('m', Kind::Images),
            ('1', Kind::Bases),
            ('2', Kind::Layers),
            ('3', Kind::Layers),
            ('4', Kind::Layers),
            ('w', Kind::Wheels),
            ('s', Kind::Sdists),
            ('x', Kind::Other),
        ];
        for (c, kind) in expect {
            assert_eq!(kinds[&hex(c)], kind, "blob {c}");
        }
        assert_eq!(kinds["key"], Kind::Records);
    }
}
