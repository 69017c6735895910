//! A docker-archive tar (`docker-archive:FILE`): what `docker save` writes. The one
//! pyship writes is at the same time an OCI image layout, so `docker load`, `podman
//! load` and `skopeo` all read it.
//!
//! Reading never unpacks: the archive is someone else's bytes, and a path it names
//! (`/etc/…`, `../…`, a symlink member) must not reach the host's filesystem. Members
//! are looked up by name in the tar itself and copied from it into the cache.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::ResolvedImage;
use crate::oci::image::Image;
use crate::oci::media_type::{OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYOUT_FILE};
use crate::oci::{Descriptor, Reference};
use crate::store::Cache;

/// The largest `manifest.json` or image config read: both are small JSON documents,
/// and a larger one is a hostile or broken archive, not a reason to run out of memory.
const JSON_LIMIT: u64 = 4 << 20;

/// How many links one lookup follows before it calls the chain a loop.
const LINK_LIMIT: usize = 16;

/// Reads a `docker save` archive: `manifest.json` names the config and layer files.
pub fn resolve(file: &Path, cache: &Cache) -> Result<ResolvedImage> {
    let members = Members::list(file)?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&members.read_small("manifest.json").with_context(|| {
            format!(
                "{} has no usable manifest.json: is it from `docker save`?",
                file.display()
            )
        })?)
        .with_context(|| format!("{}: manifest.json is not JSON", file.display()))?;
    let image = manifest
        .get(0)
        .context("the archive's manifest.json lists no image")?;
    let config_name = image["Config"]
        .as_str()
        .context("manifest.json has no Config")?;
    let config_bytes = members
        .read_small(config_name)
        .with_context(|| format!("{}: cannot read the image config", file.display()))?;
    let config_digest = cache.put_blob(&config_bytes)?;
    let mut layers = Vec::new();
    for layer in image["Layers"]
        .as_array()
        .context("manifest.json has no Layers")?
    {
        let name = layer.as_str().context("a layer path is not a string")?;
        let descriptor = members
            .import(name, cache)
            .with_context(|| format!("{}: cannot read a layer", file.display()))?;
        layers.push(descriptor);
    }
    Ok(ResolvedImage {
        name: format!("docker-archive:{}", file.display()),
        manifest_digest: config_digest.clone(),
        config: super::read_config(cache, &config_digest)?,
        config_digest,
        layers,
        annotations: Default::default(),
        registry: None,
    })
}

/// Writes `image` as one tar that is both an OCI layout and a `docker save` archive.
pub fn write(out: &mut dyn Write, image: &Image, tag: &Reference, cache: &Cache) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, path, bytes)?;
        Ok(())
    };
    add("oci-layout", OCI_LAYOUT_FILE)?;
    let docker_manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", image.config_digest.hex()),
        "RepoTags": [tag.to_string()],
        "Layers": image.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
    }]);
    add("manifest.json", &serde_json::to_vec(&docker_manifest)?)?;
    add(
        "index.json",
        &super::layout::index_json(&image.descriptor(), tag),
    )?;
    for digest in image.blobs() {
        let file = cache.open_blob(digest)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(file.metadata()?.len());
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, format!("blobs/sha256/{}", digest.hex()), file)?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

/// The members of a tar, by their normalized name: found in one pass that skips file
/// contents, and read later straight from the tar.
struct Members {
    tar: File,
    by_name: HashMap<String, Member>,
}

/// What a member is, as far as reading an image goes.
#[derive(Debug)]
enum Member {
    /// A regular file: where its bytes start in the tar, and how many there are.
    File { offset: u64, size: u64 },
    /// A symlink or hard link, with its target as a member name.
    Link(String),
    /// A link out of the archive, or anything that is neither file nor link.
    Unusable(&'static str),
}

impl Members {
    /// Lists the members of the tar at `file`.
    fn list(file: &Path) -> Result<Members> {
        let not_a_tar = || format!("{} is not a docker-archive (tar)", file.display());
        let tar = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let mut by_name = HashMap::new();
        let mut archive = tar::Archive::new(&tar);
        for entry in archive.entries_with_seek().with_context(not_a_tar)? {
            let entry = entry.with_context(not_a_tar)?;
            // A member whose own name leaves the archive can never be asked for.
            let Some(name) = inside("", &String::from_utf8_lossy(&entry.path_bytes())) else {
                continue;
            };
            by_name.insert(name.clone(), Member::of(&entry, &name)?);
        }
        Ok(Members { tar, by_name })
    }

    /// The bytes of member `name`, refused beyond [`JSON_LIMIT`].
    fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let (offset, size) = self.find(name)?;
        if size > JSON_LIMIT {
            bail!(
                "{name} claims {size} bytes, more than the {JSON_LIMIT} a JSON document of an image may have"
            );
        }
        let mut bytes = Vec::new();
        self.open(offset, size)?.read_to_end(&mut bytes)?;
        ensure_whole(name, bytes.len() as u64, size)?;
        Ok(bytes)
    }

    /// Copies member `name`, a layer, into the cache; its media type says how it is compressed.
    fn import(&self, name: &str, cache: &Cache) -> Result<Descriptor> {
        let (offset, size) = self.find(name)?;
        let mut magic = [0u8; 2];
        let gzip = size >= 2
            && self.open(offset, 2)?.read_exact(&mut magic).is_ok()
            && magic == [0x1f, 0x8b];
        // A short member fails inside the writer, so no partial blob enters the cache.
        let (digest, _) = cache.write_blob(None, |out| {
            let copied = std::io::copy(&mut self.open(offset, size)?, out)?;
            ensure_whole(name, copied, size)
        })?;
        Ok(Descriptor {
            media_type: if gzip { OCI_LAYER_GZIP } else { OCI_LAYER_TAR }.to_owned(),
            digest,
            size,
        })
    }

    /// Where the regular file `name` lies in the tar, following links inside the archive.
    fn find(&self, name: &str) -> Result<(u64, u64)> {
        let mut current = inside("", name).with_context(|| {
            format!(
                "the manifest names {name:?}, which is not a path inside the archive: refusing it"
            )
        })?;
        for _ in 0..LINK_LIMIT {
            match self.by_name.get(&current) {
                None => bail!("the archive has no member {current:?}"),
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Link(target)) => current = target.clone(),
                Some(Member::Unusable(why)) => {
                    bail!("member {current:?} is {why}: refusing to read it as part of an image")
                }
            }
        }
        bail!("member {name:?} is a chain of more than {LINK_LIMIT} links: refusing it")
    }

    /// At most `size` bytes of the tar from `offset`.
    fn open(&self, offset: u64, size: u64) -> Result<impl Read + '_> {
        let mut tar = &self.tar;
        tar.seek(SeekFrom::Start(offset))?;
        Ok(tar.take(size))
    }
}

impl Member {
    fn of<R: Read>(entry: &tar::Entry<'_, R>, name: &str) -> Result<Member> {
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_contiguous() {
            return Ok(Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            });
        }
        if !(kind.is_symlink() || kind.is_hard_link()) {
            return Ok(Member::Unusable("not a regular file"));
        }
        let target = entry
            .link_name_bytes()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .unwrap_or_default();
        // A symlink's target is relative to its directory; a hard link names a member.
        let base = match kind.is_symlink() {
            true => name.rsplit_once('/').map_or("", |(dir, _)| dir),
            false => "",
        };
        Ok(match inside(base, &target) {
            Some(target) => Member::Link(target),
            None => Member::Unusable("a link that points outside the archive"),
        })
    }
}

/// `path`, relative to the archive directory `base`, as a member name: `.` and empty
/// parts dropped, `..` applied. None for absolute paths and paths that climb out.
fn inside(base: &str, path: &str) -> Option<String> {
    if path.starts_with('/') || path.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// A member whose header claims more bytes than the tar holds is a truncated archive.
fn ensure_whole(name: &str, got: u64, claimed: u64) -> Result<()> {
    if got != claimed {
        bail!("member {name:?} is cut short ({got} of {claimed} bytes): the archive is truncated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_stay_inside_the_archive() {
        assert_eq!(
            inside("", "./blobs//sha256/ab").as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(
            inside("b", "../a/layer.tar").as_deref(),
            Some("a/layer.tar")
        );
        for outside in ["/etc/hostname", "../x", "a/../../x", "", ".", "a/.."] {
            assert_eq!(inside("", outside), None, "{outside}");
        }
        assert_eq!(inside("a", "../../etc/passwd"), None);
    }
}
