//! What is really in an image, read from its layers with the one walker: every
//! installed Python distribution (its `.dist-info`), every package of the Debian
//! database, the distribution the image says it is (`os-release`), and the base it was
//! built on when its annotations or labels say so.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::dpkg::{self, DebPackage};
use super::license::License;
use crate::oci::walk::{ReadLayers, Removal, Walk};
use crate::python::lock::normalize;
use crate::store::{Cache, Digest, Progress};
use crate::transport::ResolvedImage;

/// Everything an SBOM lists about one image.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The image's repository (`registry/repository`, or the name it was read by).
    pub name: String,
    pub digest: Digest,
    pub os: Option<OsRelease>,
    pub python: Vec<PythonDist>,
    pub debs: Vec<DebPackage>,
    pub base: Option<BaseImage>,
}

/// An installed Python distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonDist {
    pub name: String,
    pub version: String,
    pub license: Option<License>,
    /// The `.dist-info` directory, absolute.
    pub location: String,
    pub hash: Option<DistHash>,
    /// True for the service itself (known to builds only), not a dependency of it.
    pub is_project: bool,
    /// What installed it (`.dist-info/INSTALLER`): `pyship`, `uv`, `pip`, ….
    pub installer: Option<String>,
    /// The tags of the wheel it came from (`.dist-info/WHEEL`), as `py-abi-platform`.
    pub wheel_tags: BTreeSet<String>,
}

/// The hash an SBOM gives for a distribution, and what it is the hash of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistHash {
    /// The file the lock pins (by sha256) that the build installed: a wheel, or an
    /// sdist the build made the installed wheel from.
    Locked { sha256: Digest, filename: String },
    /// The installed `RECORD` file, which lists every installed file with its hash:
    /// the wheel itself leaves no hash behind in the image.
    Record(Digest),
}

impl DistHash {
    /// What the hash is the hash of, in words an SBOM reader sees.
    pub fn subject(&self) -> &'static str {
        match self {
            DistHash::Locked { filename, .. } if filename.ends_with(".whl") => {
                "the wheel pinned by the lockfile"
            }
            DistHash::Locked { .. } => {
                "the sdist pinned by the lockfile, from which the build made the installed wheel"
            }
            DistHash::Record(_) => {
                "the installed RECORD file, which lists each installed file's hash"
            }
        }
    }
}

/// `os-release`: which distribution, and which release of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    pub id: String,
    pub version_id: Option<String>,
    pub codename: Option<String>,
    pub pretty_name: Option<String>,
}

/// The image this one was built on, as its `org.opencontainers.image.base.*`
/// annotations or labels name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    pub name: Option<String>,
    pub digest: Digest,
}

/// What a build knows about the image that its layers do not say.
#[derive(Debug, Clone, Default)]
pub struct BuildFacts {
    /// The locked wheels it installed, whose hashes replace RECORD's.
    pub wheels: Vec<InstalledWheel>,
    /// The project's own name, whose distribution is the service itself.
    pub project: Option<String>,
}

/// A wheel the build installed, to recognise its distribution by name and version.
#[derive(Debug, Clone)]
pub struct InstalledWheel {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub sha256: Digest,
}

const BASE_NAME: &str = "org.opencontainers.image.base.name";
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The records of what each layer holds for an inventory, by the layer's digest.
const LAYER_RECORD: &str = "sbom-layer-v1";

impl Inventory {
    /// Reads every layer of `image` once (downloading what the cache lacks). What a
    /// layer holds is remembered by its digest, so the next image sharing it (a
    /// rebuild, another platform's twin, anything on the same base) reads only its
    /// new layers.
    pub fn read(
        name: &str,
        image: &ResolvedImage,
        cache: &Cache,
        progress: &Progress,
    ) -> Result<Inventory> {
        let mut walk = Walk::default();
        let mut scan = Scan::default();
        let mut known: Vec<Option<LayerScan>> = image
            .layers
            .iter()
            .map(|layer| cache.record(LAYER_RECORD, layer.digest.hex()))
            .collect();
        let unknown: Vec<bool> = known.iter().map(Option::is_none).collect();
        image.read_layers_where(
            cache,
            progress,
            |n| unknown[n],
            |n, layer, stream| match (stream, known[n].take()) {
                (Some(stream), _) => scan
                    .read_layer(&mut walk, stream, layer, cache)
                    .with_context(|| format!("cannot read layer {} of {name}", layer.digest)),
                (None, Some(remembered)) => {
                    scan.replay(&mut walk, remembered);
                    Ok(())
                }
                (None, None) => unreachable!("a layer is read unless it is remembered"),
            },
        )?;
        let found = scan.finish(&walk);
        Ok(Inventory {
            name: name.to_owned(),
            digest: image.manifest_digest.clone(),
            os: found.os,
            python: found.python,
            debs: found.debs,
            base: base_of(image),
        })
    }

    /// Marks the project's distribution, and gives each distribution a build installed
    /// from a locked wheel that wheel's hash.
    pub fn with_build(mut self, build: &BuildFacts) -> Inventory {
        for dist in &mut self.python {
            let named = |other: &str| normalize(other) == normalize(&dist.name);
            dist.is_project = build.project.as_deref().is_some_and(named);
            if let Some(wheel) = build
                .wheels
                .iter()
                .find(|w| named(&w.name) && w.version == dist.version)
            {
                dist.hash = Some(DistHash::Locked {
                    sha256: wheel.sha256.clone(),
                    filename: wheel.filename.clone(),
                });
            }
        }
        self
    }
}

/// The base named by the manifest's annotations, else by the config's labels.
fn base_of(image: &ResolvedImage) -> Option<BaseImage> {
    let labels = image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default();
    let get = |key: &str| {
        image
            .annotations
            .get(key)
            .or_else(|| labels.get(key))
            .cloned()
    };
    Some(BaseImage {
        digest: get(BASE_DIGEST)?.parse().ok()?,
        name: get(BASE_NAME),
    })
}

/// Lists and remembers what each layer of `image` that no listing has seen holds, for
/// [`Inventory::read`] later: a build lists its base while other work waits on
/// another core.
pub fn remember_image_layers(
    image: &ResolvedImage,
    cache: &Cache,
    progress: &Progress,
) -> Result<()> {
    let unknown: Vec<bool> = image
        .layers
        .iter()
        .map(|layer| {
            cache
                .record::<serde::de::IgnoredAny>(LAYER_RECORD, layer.digest.hex())
                .is_none()
        })
        .collect();
    let mut walk = Walk::default();
    let mut scan = Scan::default();
    image.read_layers_where(
        cache,
        progress,
        |n| unknown[n],
        |_, layer, stream| match stream {
            Some(stream) => scan
                .read_layer(&mut walk, stream, layer, cache)
                .with_context(|| format!("cannot read layer {} of {}", layer.digest, image.name)),
            None => Ok(()),
        },
    )
}

/// Remembers what each of `layers` holds for [`Inventory::read`], from their tar
/// streams as `read` gives them, in order: a base pyship has just assembled is not
/// decompressed again to be listed.
pub fn remember_layers(
    layers: &[crate::oci::Descriptor],
    read: ReadLayers<'_>,
    cache: &Cache,
) -> Result<()> {
    let mut walk = Walk::default();
    let mut scan = Scan::default();
    let mut layers = layers.iter();
    read(&mut |stream| {
        let layer = layers
            .next()
            .context("more layer streams than layers to remember")?;
        scan.read_layer(&mut walk, stream, layer, cache)
    })
}

/// What one layer holds for an inventory: the files of interest it has, and what it
/// hides in the layers below.
#[derive(Serialize, Deserialize)]
struct LayerScan {
    removed: Vec<Removal>,
    seen: Vec<(String, Seen)>,
}

/// A file of interest seen in a layer.
#[derive(Clone, Serialize, Deserialize)]
enum Seen {
    Text(String),
    Sha256(Digest),
}

/// The most read of one text file: a METADATA's fields come first, and a dpkg status
/// of a large distribution is a few MB.
const TEXT_LIMIT: u64 = 64 << 20;

/// Collects the files an inventory is made of while a [`Walk`] goes over the layers.
#[derive(Default)]
struct Scan {
    seen: BTreeMap<String, (usize, Seen)>,
}

/// What the surviving files say.
struct Found {
    python: Vec<PythonDist>,
    debs: Vec<DebPackage>,
    os: Option<OsRelease>,
}

impl Scan {
    fn visit<R: Read>(
        &mut self,
        path: &str,
        layer: usize,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Ok(());
        }
        let seen = if path.ends_with(".dist-info/RECORD") {
            let mut hasher = Sha256::new();
            std::io::copy(entry, &mut hasher)?;
            Seen::Sha256(Digest::from_hasher(hasher))
        } else if path.ends_with(".dist-info/METADATA")
            || path.ends_with(".dist-info/WHEEL")
            || path.ends_with(".dist-info/INSTALLER")
            || dpkg::is_database(path)
            || matches!(path, "etc/os-release" | "usr/lib/os-release")
        {
            let mut bytes = Vec::new();
            entry.take(TEXT_LIMIT).read_to_end(&mut bytes)?;
            Seen::Text(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            return Ok(());
        };
        self.seen.insert(path.to_owned(), (layer, seen));
        Ok(())
    }

    /// Reads the next layer into `walk` and this scan, and remembers what it holds.
    fn read_layer(
        &mut self,
        walk: &mut Walk,
        stream: Box<dyn Read>,
        layer: &crate::oci::Descriptor,
        cache: &Cache,
    ) -> Result<()> {
        walk.layer(stream, |path, index, entry| self.visit(path, index, entry))?;
        let index = walk.layers() - 1;
        let seen = self
            .seen
            .iter()
            .filter(|(_, (at, _))| *at == index)
            .map(|(path, (_, seen))| (path.clone(), seen.clone()))
            .collect();
        let record = LayerScan {
            removed: walk.removed_by_last_layer().to_vec(),
            seen,
        };
        cache.put_record(LAYER_RECORD, layer.digest.hex(), &record)
    }

    /// Applies a layer remembered from an earlier read.
    fn replay(&mut self, walk: &mut Walk, layer: LayerScan) {
        let paths = layer.seen.iter().map(|(path, _)| path.clone());
        let index = walk.replay(&layer.removed, paths);
        for (path, seen) in layer.seen {
            self.seen.insert(path, (index, seen));
        }
    }

    fn finish(self, walk: &Walk) -> Found {
        let seen: BTreeMap<String, Seen> = self
            .seen
            .into_iter()
            .filter(|(path, (layer, _))| walk.survives(path, *layer))
            .map(|(path, (_, seen))| (path, seen))
            .collect();
        let text = |path: &str| match seen.get(path) {
            Some(Seen::Text(text)) => Some(text.as_str()),
            _ => None,
        };
        let mut python: Vec<PythonDist> = seen
            .keys()
            .filter_map(|path| path.strip_suffix("/METADATA"))
            .filter(|dir| dir.ends_with(".dist-info"))
            .filter_map(|dir| {
                let mut dist = read_metadata(text(&format!("{dir}/METADATA"))?)?;
                dist.location = format!("/{dir}");
                dist.installer = text(&format!("{dir}/INSTALLER"))
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty());
                dist.wheel_tags = text(&format!("{dir}/WHEEL"))
                    .map(|t| {
                        t.lines()
                            .filter_map(|l| l.strip_prefix("Tag:"))
                            .map(|tag| tag.trim().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(Seen::Sha256(record)) = seen.get(&format!("{dir}/RECORD")) {
                    dist.hash = Some(DistHash::Record(record.clone()));
                }
                Some(dist)
            })
            .collect();
        python.sort_by(|a, b| {
            (normalize(&a.name), &a.version, &a.location).cmp(&(
                normalize(&b.name),
                &b.version,
                &b.location,
            ))
        });
        let mut debs: Vec<DebPackage> = seen
            .keys()
            .filter(|path| dpkg::is_database(path))
            .filter_map(|path| text(path))
            .flat_map(dpkg::installed)
            .collect();
        debs.sort();
        debs.dedup_by(|a, b| a.name == b.name && a.architecture == b.architecture);
        let os = text("etc/os-release")
            .or_else(|| text("usr/lib/os-release"))
            .and_then(os_release);
        Found { python, debs, os }
    }
}

/// Name, version and license from a METADATA file's header fields.
fn read_metadata(text: &str) -> Option<PythonDist> {
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    let mut last: Option<&str> = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // A folded line continues the field before it (old `License:` texts).
            if let Some(key) = last
                && let Some(value) = fields.get_mut(key)
            {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = match key.to_ascii_lowercase().as_str() {
            "name" => "name",
            "version" => "version",
            "license" => "license",
            "license-expression" => "license-expression",
            _ => {
                last = None;
                continue;
            }
        };
        fields.entry(key).or_insert_with(|| value.trim().to_owned());
        last = Some(key);
    }
    Some(PythonDist {
        name: fields.get("name").filter(|n| !n.is_empty())?.clone(),
        version: fields.get("version").cloned().unwrap_or_default(),
        license: License::declared(
            fields.get("license-expression").map(String::as_str),
            fields.get("license").map(String::as_str),
        ),
        location: String::new(),
        hash: None,
        is_project: false,
        installer: None,
        wheel_tags: BTreeSet::new(),
    })
}

/// `ID=debian`, `VERSION_ID="12"`, … as `os-release(5)` writes them.
fn os_release(text: &str) -> Option<OsRelease> {
    let get = |key: &str| {
        text.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            let value = value.trim().trim_matches(['"', '\'']).trim();
            (!value.is_empty()).then(|| value.to_owned())
        })
    };
    Some(OsRelease {
        id: get("ID")?,
        version_id: get("VERSION_ID"),
        codename: get("VERSION_CODENAME"),
        pretty_name: get("PRETTY_NAME"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::walk::tests::layer;

    fn scan(layers: &[&[(&str, &[u8])]]) -> Found {
        let mut walk = Walk::default();
        let mut scan = Scan::default();
        for entries in layers {
            walk.layer(layer(entries).as_slice(), |path, index, entry| {
                scan.visit(path, index, entry)
            })
            .unwrap();
        }
        scan.finish(&walk)
    }

    const SP: &str = "app/.venv/lib/python3.11/site-packages";

    #[test]
    fn remembered_layers_list_what_reading_them_lists_whiteouts_included() {
        let meta = |name: &str| format!("Metadata-Version: 2.1\nName: {name}\nVersion: 2.0\n");
        let (keep, gone, added) = (meta("keep"), meta("gone"), meta("added"));
        let keep_path = format!("{SP}/keep-2.0.dist-info/METADATA");
        let gone_path = format!("{SP}/gone-2.0.dist-info/METADATA");
        let base: &[(&str, &[u8])] = &[
            (&keep_path, keep.as_bytes()),
            (&gone_path, gone.as_bytes()),
            ("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
            ("var/lib/dpkg/status", b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36\n"),
        ];
        let whiteout = format!("{SP}/.wh.gone-2.0.dist-info");
        let added_path = format!("{SP}/added-2.0.dist-info/METADATA");
        let own: &[(&str, &[u8])] = &[
            (&whiteout, b""),
            (&added_path, added.as_bytes()),
            ("etc/os-release", b"ID=debian\nVERSION_ID=\"13\"\n"),
        ];
        let whole = scan(&[base, own]);

        // Each layer read once, remembered, then replayed in a second listing; the
        // second layer read again on top of the remembered first gives the same too.
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let descriptors: Vec<crate::oci::Descriptor> = [base, own]
            .iter()
            .map(|entries| {
                let bytes = layer(entries);
                crate::oci::Descriptor {
                    media_type: "application/vnd.oci.image.layer.v1.tar".into(),
                    digest: Digest::of(&bytes),
                    size: bytes.len() as u64,
                }
            })
            .collect();
        let (mut walk, mut first) = (Walk::default(), Scan::default());
        for (entries, descriptor) in [base, own].iter().zip(&descriptors) {
            let stream: Box<dyn Read> = Box::new(std::io::Cursor::new(layer(entries)));
            first
                .read_layer(&mut walk, stream, descriptor, &cache)
                .unwrap();
        }
        let (mut walk, mut again) = (Walk::default(), Scan::default());
        let remembered = |d: &crate::oci::Descriptor| -> LayerScan {
            cache.record(LAYER_RECORD, d.digest.hex()).unwrap()
        };
        again.replay(&mut walk, remembered(&descriptors[0]));
        let stream: Box<dyn Read> = Box::new(std::io::Cursor::new(layer(own)));
        again
            .read_layer(&mut walk, stream, &descriptors[1], &cache)
            .unwrap();
        let (mut walk2, mut replayed) = (Walk::default(), Scan::default());
        for d in &descriptors {
            replayed.replay(&mut walk2, remembered(d));
        }
        let replayed = replayed.finish(&walk2);
        let again = again.finish(&walk);

        let names = |f: &Found| f.python.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&whole), ["added", "keep"]);
        for other in [&again, &replayed] {
            assert_eq!(names(other), names(&whole));
            assert_eq!(other.debs, whole.debs);
            assert_eq!(other.os, whole.os);
        }
        assert_eq!(whole.os.unwrap().version_id.as_deref(), Some("13"));
    }

    #[test]
    fn lists_surviving_distributions_packages_and_the_release() {
        let metadata = |name: &str, extra: &str| {
            format!(
                "Metadata-Version: 2.4\nName: {name}\nVersion: 1.0\n{extra}\nDescription-Content-Type: text/markdown\n\nLicense: not a field here\n"
            )
        };
        let a = metadata("Alpha_Pkg", "License-Expression: MIT");
        let b = metadata("beta", "License: BSD\n        more text");
        let gone = metadata("gone", "");
        let files: Vec<(String, Vec<u8>)> = vec![
            (format!("{SP}/Alpha_Pkg-1.0.dist-info/METADATA"), a.into_bytes()),
            (format!("{SP}/Alpha_Pkg-1.0.dist-info/RECORD"), b"x,,\n".to_vec()),
            (format!("{SP}/Alpha_Pkg-1.0.dist-info/INSTALLER"), b"pyship\n".to_vec()),
            (format!("{SP}/Alpha_Pkg-1.0.dist-info/WHEEL"), b"Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\n".to_vec()),
            (format!("{SP}/beta-1.0.dist-info/METADATA"), b.into_bytes()),
            (format!("{SP}/gone-1.0.dist-info/METADATA"), gone.into_bytes()),
            ("usr/lib/os-release".into(), b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n".to_vec()),
            ("var/lib/dpkg/status".into(), b"Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\n".to_vec()),
            ("var/lib/dpkg/status.d/tzdata".into(), b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n".to_vec()),
        ];
        let first: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        let whiteout = format!("{SP}/.wh.gone-1.0.dist-info");
        let found = scan(&[&first, &[(whiteout.as_str(), b"")]]);
        let names: Vec<&str> = found.python.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["Alpha_Pkg", "beta"]);
        assert_eq!(
            found.python[0].license,
            Some(License::Expression("MIT".into()))
        );
        assert_eq!(
            found.python[0].hash,
            Some(DistHash::Record(Digest::of(b"x,,\n")))
        );
        assert_eq!(
            found.python[0].location,
            format!("/{SP}/Alpha_Pkg-1.0.dist-info")
        );
        assert_eq!(found.python[0].installer.as_deref(), Some("pyship"));
        let tags: Vec<&str> = found.python[0]
            .wheel_tags
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(tags, ["py2-none-any", "py3-none-any"]);
        assert_eq!(found.python[1].license, Some(License::Named("BSD".into())));
        let debs: Vec<&str> = found.debs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(debs, ["bash", "tzdata"]);
        let os = found.os.unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_deref()),
            ("debian", Some("12"))
        );
    }
}
