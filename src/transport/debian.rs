//! `deb:SUITE[+PACKAGE...]`: a base pyship assembles itself from Debian's binary
//! packages, with no registry, no daemon and nothing executed: the archive's signed
//! closure (`debian::archive`), unpacked into one layer (`debian::rootfs`), with the
//! standard library's bytecode compiled by the base's own interpreter into a second.
//! The image is remembered by the packages it holds, so a second build of the same
//! closure reads nothing from the network and unpacks nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oci_spec::image::{
    Arch, ConfigBuilder, HistoryBuilder, ImageConfigurationBuilder, Os, RootFsBuilder,
};
use reqwest::blocking::Client;
use serde::{Deserialize, Serialize};

use super::ResolvedImage;
use crate::debian::archive::{self, Request, Resolution};
use crate::debian::rootfs::{self, BaseInfo};
use crate::debian::{BaseSpec, DebPackage};
use crate::oci::image::{Image, canonical_json};
use crate::oci::layer::{Content, Entry, Layer, Tree};
use crate::oci::platform::ImagePlatform;
use crate::python::bytecode::{Base, Compiler, Invalidation};
use crate::store::{Cache, Digest, Progress};

/// The prefix that names a Debian-package base.
pub const SCHEME: &str = "deb:";

/// The label listing the base's packages: name, version, architecture and `.deb` sha256.
pub const PACKAGES_LABEL: &str = "dev.pyship.base.debian.packages";

/// Where Debian's `ca-certificates` bundle is, for `SSL_CERT_FILE`.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The records of assembled bases, by the packages and certificates they hold. The
/// version changes whenever the way a base is assembled does.
const RECORD: &str = "debian-base-v1";

/// A `deb:` base and what the project adds to it before it is resolved.
#[derive(Debug, Clone)]
pub struct DebianSource {
    pub spec: BaseSpec,
    /// The project's Python X.Y; none takes the suite's default.
    pub python: Option<(u64, u64)>,
    /// The project's `pyship-base.lock`.
    pub lock_file: Option<PathBuf>,
    pub update_lock: bool,
    pub refresh: bool,
    /// Certificates (file name, PEM) added to the system bundle.
    pub extra_ca_certificates: Vec<(String, Vec<u8>)>,
    pub quiet: bool,
}

/// An assembled base as the cache remembers it.
#[derive(Debug, Serialize, Deserialize)]
struct Assembled {
    manifest_digest: Digest,
    manifest: Vec<u8>,
}

impl DebianSource {
    /// Parses what follows `deb:`: a suite, then runtime packages joined by `+`. A `+`
    /// beside another belongs to a name (`libstdc++6`); names with a single `+` inside
    /// go in `[tool.pyship] base-packages`.
    pub fn parse(text: &str) -> Result<DebianSource> {
        let mut parts = split_plus(text).into_iter();
        let suite = parts.next().unwrap_or_default();
        if suite.is_empty()
            || !suite
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            bail!(
                "{SCHEME}{text} names no Debian suite: write {SCHEME}SUITE[+PACKAGE...], such as {SCHEME}bookworm or {SCHEME}trixie+libpq5"
            );
        }
        let mut spec = BaseSpec {
            suite: suite.to_owned(),
            extra: Vec::new(),
        };
        for name in parts {
            spec.add_package(name)
                .with_context(|| format!("in {SCHEME}{text}"))?;
        }
        Ok(DebianSource {
            spec,
            python: None,
            lock_file: None,
            update_lock: false,
            refresh: false,
            extra_ca_certificates: Vec::new(),
            quiet: false,
        })
    }

    /// The base for `platform`: the archive resolved (or the lock read), and the image
    /// assembled unless the cache already holds one of exactly these packages.
    pub fn resolve(
        &self,
        platform: ImagePlatform,
        client: &Client,
        cache: &Cache,
    ) -> Result<ResolvedImage> {
        let progress = Progress::new(self.quiet);
        let resolution = self.resolution(platform, client, cache, &progress)?;
        let key = self.record_key(&resolution);
        if let Some(image) = self.remembered(&key, cache)? {
            return Ok(image);
        }
        archive::fetch(&resolution, client, cache, &progress)?;
        let (image, resolved) =
            self.assemble(&resolution, &key, platform, client, cache, &progress)?;
        cache.put_record(
            RECORD,
            &key,
            &Assembled {
                manifest_digest: image.manifest_digest,
                manifest: image.manifest,
            },
        )?;
        Ok(resolved)
    }

    /// The archive's closure for `platform` (or the lock's), saying what was left out.
    fn resolution(
        &self,
        platform: ImagePlatform,
        client: &Client,
        cache: &Cache,
        progress: &Progress,
    ) -> Result<Resolution> {
        let resolution = archive::resolve(
            &Request {
                spec: &self.spec,
                architecture: platform.oci_arch(),
                python: self.python,
                lock_file: self.lock_file.as_deref(),
                update_lock: self.update_lock,
                refresh: self.refresh,
            },
            client,
            cache,
            progress,
        )?;
        if !resolution.omitted.is_empty() {
            progress.line(&format!(
                "note    left out of {} for {}: {} (install-time tools and shells; name one with +PACKAGE to have it)",
                self.name(),
                platform.oci_arch(),
                resolution.omitted.join(", ")
            ));
        }
        Ok(resolution)
    }

    /// The interpreter that compiles the standard library of the base whose files are
    /// `tree`: its own when this machine runs its CPU, else the same suite's for this
    /// machine's CPU, when that is the same Python build (pycs do not depend on the
    /// CPU). No QEMU either way.
    #[allow(clippy::too_many_arguments)]
    fn compiler(
        &self,
        resolution: &Resolution,
        tree: &Tree,
        key: &str,
        platform: ImagePlatform,
        client: &Client,
        cache: &Cache,
        progress: &Progress,
    ) -> Result<Option<Compiler>> {
        let (major, minor) = resolution.python;
        let interpreter = crate::oci::facts::Interpreter {
            path: resolution.interpreter.clone(),
            major: major as u8,
            minor: minor as u8,
            full: None,
        };
        let host = ImagePlatform::host().filter(|&host| host != platform);
        let Some(host) = host else {
            // The interpreter is read straight from the tree, while its layer is still
            // being compressed; the kit is remembered by the packages' key.
            let epoch = epoch(resolution)?;
            let read = |each: &mut dyn FnMut(Box<dyn std::io::Read>) -> Result<()>| {
                read_tree(tree, epoch, each)
            };
            let key: Digest = format!("sha256:{key}").parse()?;
            let base = Base {
                config_digest: &key,
                platform,
                layers: &read,
            };
            return Compiler::find(&base, &interpreter, cache, progress);
        };
        let here = self.resolution(host, client, cache, progress)?;
        if interpreter_build(&here) != interpreter_build(resolution) {
            progress.warn(&format!(
                "warning: {} has Python {} for {} but {} for {}: the standard library gets no bytecode",
                self.name(),
                interpreter_build(resolution).unwrap_or("?"),
                platform.oci_arch(),
                interpreter_build(&here).unwrap_or("?"),
                host.oci_arch()
            ));
            return Ok(None);
        }
        let image = self.resolve(host, client, cache)?;
        // The kit is remembered by this digest.
        let read = |each: &mut dyn FnMut(Box<dyn std::io::Read>) -> Result<()>| -> Result<()> {
            for layer in &image.layers {
                each(crate::oci::walk::open(cache, layer)?)?;
            }
            Ok(())
        };
        let base = Base {
            config_digest: &image.config_digest,
            platform: host,
            layers: &read,
        };
        Compiler::find(&base, &interpreter, cache, progress)
    }

    /// `deb:SUITE+PACKAGE...`, as the base's name in annotations and messages.
    pub fn name(&self) -> String {
        let mut name = format!("{SCHEME}{}", self.spec.suite);
        for package in &self.spec.extra {
            name.push('+');
            name.push_str(package);
        }
        name
    }

    /// What an assembled base is remembered by: the exact packages, the certificates
    /// added, and the interpreter.
    fn record_key(&self, resolution: &Resolution) -> String {
        let mut hasher = sha2::Sha256::default();
        let mut feed = |bytes: &[u8]| {
            sha2::Digest::update(&mut hasher, (bytes.len() as u64).to_le_bytes());
            sha2::Digest::update(&mut hasher, bytes);
        };
        feed(resolution.codename.as_bytes());
        feed(resolution.date.as_bytes());
        feed(resolution.interpreter.as_bytes());
        for package in &resolution.packages {
            feed(package.sha256.as_bytes());
        }
        for (name, pem) in &self.extra_ca_certificates {
            feed(name.as_bytes());
            feed(pem);
        }
        Digest::from_hasher(hasher).hex().to_owned()
    }

    /// The base assembled earlier from the same packages, if every blob is still cached.
    fn remembered(&self, key: &str, cache: &Cache) -> Result<Option<ResolvedImage>> {
        let Some(assembled) = cache.record::<Assembled>(RECORD, key) else {
            return Ok(None);
        };
        let image = self.resolved(assembled.manifest_digest, &assembled.manifest, cache)?;
        let complete = cache.has_blob(&image.config_digest)
            && image.layers.iter().all(|l| cache.has_blob(&l.digest));
        Ok(complete.then_some(image))
    }

    fn resolved(&self, digest: Digest, manifest: &[u8], cache: &Cache) -> Result<ResolvedImage> {
        let manifest = serde_json::from_slice(manifest)
            .context("the manifest of an assembled Debian base does not read back")?;
        super::from_manifest(self.name(), digest, &manifest, cache, None)
    }

    /// Unpacks the packages into the base's layer, compiles the standard library into
    /// a second one, and writes the config and manifest. What a build reads from a base
    /// (its facts, its interpreter) is remembered from the files at hand, so the base
    /// is never decompressed again for them.
    fn assemble(
        &self,
        resolution: &Resolution,
        key: &str,
        platform: ImagePlatform,
        client: &Client,
        cache: &Cache,
        progress: &Progress,
    ) -> Result<(Image, ResolvedImage)> {
        let epoch = epoch(resolution)?;
        progress.line(&format!(
            "debian  {} ({} {}, {}): {} packages",
            self.name(),
            resolution.codename,
            resolution.release,
            platform.oci_arch(),
            resolution.packages.len()
        ));
        let tree = rootfs::assemble(
            &resolution.packages,
            &BaseInfo {
                codename: &resolution.codename,
                architecture: platform.oci_arch(),
                extra_ca_certificates: &self.extra_ca_certificates,
            },
            cache,
            epoch,
        )?;
        // The layer is compressed while the standard library compiles: each is seconds.
        let (packages, compiler, bytecode) = std::thread::scope(|scope| {
            let writing = scope.spawn(|| tree.write_layer(cache, epoch));
            let compiled = self
                .compiler(resolution, &tree, key, platform, client, cache, progress)
                .and_then(|compiler| {
                    let bytecode = match &compiler {
                        Some(compiler) => Some(stdlib_bytecode(
                            &tree, compiler, resolution, cache, progress,
                        )?),
                        None => None,
                    };
                    Ok((compiler, bytecode))
                });
            let packages = writing
                .join()
                .map_err(|_| anyhow::anyhow!("writing the Debian base's layer failed"))?
                .context("cannot write the Debian base's layer")?;
            let (compiler, bytecode) = compiled?;
            anyhow::Ok((packages, compiler, bytecode))
        })?;
        let mut layers = vec![(
            packages,
            format!("pyship: {} from Debian packages", self.name()),
        )];
        if let Some(bytecode) = bytecode {
            layers.push((
                bytecode,
                "pyship: the standard library's bytecode".to_owned(),
            ));
        }
        let config = canonical_json(&config(resolution, platform, &layers, epoch)?)?;
        let config_digest = cache.put_blob(&config)?;
        let image = Image::write(
            &Image::config_descriptor(&config_digest, config.len()),
            layers.iter().map(|(layer, _)| layer.descriptor()).collect(),
            HashMap::new(),
            cache,
        )?;
        let resolved = self.resolved(image.manifest_digest.clone(), &image.manifest, cache)?;
        let read = |each: &mut dyn FnMut(Box<dyn std::io::Read>) -> Result<()>| {
            read_tree(&tree, epoch, each)?;
            for (layer, _) in &layers[1..] {
                each(crate::oci::walk::open(cache, &layer.descriptor())?)?;
            }
            Ok(())
        };
        let facts = std::thread::scope(|scope| {
            let listing = scope
                .spawn(|| crate::sbom::inventory::remember_layers(&resolved.layers, &read, cache));
            let facts = resolved.read_facts(&read, cache);
            listing
                .join()
                .map_err(|_| anyhow::anyhow!("listing the Debian base's packages failed"))??;
            facts
        })?;
        if let Some(compiler) = compiler {
            let (major, minor) = resolution.python;
            for interpreter in facts
                .interpreters
                .iter()
                .filter(|i| (u64::from(i.major), u64::from(i.minor)) == (major, minor))
            {
                compiler.remember_for(&config_digest, &interpreter.path, cache)?;
            }
        }
        Ok((image, resolved))
    }
}

impl BaseSpec {
    /// Adds a runtime package, checked against Debian's rules for package names.
    pub fn add_package(&mut self, name: &str) -> Result<()> {
        let valid = name.len() >= 2
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
        if !valid {
            bail!(
                "{name:?} is not a Debian package name (lowercase letters, digits, + - and ., at least two): check it at https://packages.debian.org/"
            );
        }
        if !self.extra.iter().any(|p| p == name) {
            self.extra.push(name.to_owned());
        }
        Ok(())
    }
}

/// `text` split at each `+` that stands alone.
fn split_plus(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let alone =
            b == b'+' && bytes.get(i + 1) != Some(&b'+') && (i == 0 || bytes[i - 1] != b'+');
        if alone {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The standard library's pycs, compiled by the interpreter the packages just laid
/// down: what the interpreter package's postinst would have made. Unchecked hash-based
/// pycs: nothing ever edits the standard library in an image.
fn stdlib_bytecode(
    tree: &Tree,
    compiler: &Compiler,
    resolution: &Resolution,
    cache: &Cache,
    progress: &Progress,
) -> Result<Layer> {
    let (major, minor) = resolution.python;
    let stdlib = format!("usr/lib/python{major}.{minor}/");
    let mut sources = Tree::new();
    for (path, bytes) in
        tree.read_files(|path, _| path.starts_with(&stdlib) && path.ends_with(".py"))?
    {
        sources.insert(&format!("/{path}"), Entry::file(Content::Bytes(bytes), 0))?;
    }
    compiler.compile_tree(&mut sources, &stdlib, Invalidation::Unchecked, progress)?;
    sources.retain(|path| path.ends_with(".pyc"));
    sources.write_layer(cache, epoch(resolution)?)
}

/// Hands `tree`'s tar stream to `each`, written by a second thread through a pipe.
fn read_tree(
    tree: &Tree,
    epoch: u64,
    each: &mut dyn FnMut(Box<dyn std::io::Read>) -> Result<()>,
) -> Result<()> {
    let (reader, mut writer) = std::io::pipe()?;
    std::thread::scope(|scope| {
        let writing = scope.spawn(move || tree.write_tar(&mut writer, epoch));
        let read = each(Box::new(reader));
        let wrote = writing
            .join()
            .map_err(|_| anyhow::anyhow!("reading the Debian base's files failed"))?;
        // A reader done at the archive's end may leave its padding unread: the writer's
        // broken pipe then means nothing.
        read?;
        match wrote {
            Err(err)
                if err
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
            {
                Ok(())
            }
            other => other,
        }
    })
}

/// The version of the package that holds the interpreter (`python3.11-minimal`).
fn interpreter_build(resolution: &Resolution) -> Option<&str> {
    let (major, minor) = resolution.python;
    let name = format!("python{major}.{minor}-minimal");
    resolution
        .packages
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.version.as_str())
}

/// The base's config: Debian's environment, the CA bundle for OpenSSL, and a label
/// naming every package, so the image says what it is made of without its SBOM.
fn config(
    resolution: &Resolution,
    platform: ImagePlatform,
    layers: &[(Layer, String)],
    epoch: u64,
) -> Result<oci_spec::image::ImageConfiguration> {
    let created = jiff::Timestamp::from_second(epoch as i64)?.to_string();
    let packages = serde_json::to_string(&label_entries(&resolution.packages))?;
    let runtime = ConfigBuilder::default()
        .env(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            "LANG=C.UTF-8".to_owned(),
            format!("SSL_CERT_FILE={CA_BUNDLE}"),
        ])
        .labels(HashMap::from([(PACKAGES_LABEL.to_owned(), packages)]))
        .build()?;
    let history = layers
        .iter()
        .map(|(_, created_by)| {
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(created_by.clone())
                .comment("pyship")
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ImageConfigurationBuilder::default()
        .architecture(Arch::from(platform.oci_arch()))
        .os(Os::Linux)
        .created(created)
        .config(runtime)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(
                    layers
                        .iter()
                        .map(|(layer, _)| layer.diff_id.to_string())
                        .collect::<Vec<_>>(),
                )
                .build()?,
        )
        .history(history)
        .build()?)
}

/// The base's time: its archive's release date, so the same index gives the same
/// bytes on any machine on any day.
fn epoch(resolution: &Resolution) -> Result<u64> {
    let date = jiff::fmt::rfc2822::parse(&resolution.date).with_context(|| {
        format!(
            "the archive's release date {:?} is not a date",
            resolution.date
        )
    })?;
    Ok(date.timestamp().as_second().max(0) as u64)
}

/// `name=version arch sha256` for the label, in name order.
fn label_entries(packages: &[DebPackage]) -> Vec<String> {
    packages
        .iter()
        .map(|p| {
            format!(
                "{}={} {} sha256:{}",
                p.name, p.version, p.architecture, p.sha256
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_lone_plus_signs() {
        let source = DebianSource::parse("bookworm+libpq5+libstdc++6").unwrap();
        assert_eq!(source.spec.suite, "bookworm");
        assert_eq!(source.spec.extra, ["libpq5", "libstdc++6"]);
        assert_eq!(source.name(), "deb:bookworm+libpq5+libstdc++6");
        assert_eq!(DebianSource::parse("trixie").unwrap().spec.extra.len(), 0);
    }

    #[test]
    fn bad_names_say_what_a_name_is() {
        let err = DebianSource::parse("").unwrap_err().to_string();
        assert!(err.contains("names no Debian suite"), "{err}");
        let err = format!("{:#}", DebianSource::parse("bookworm+LibPQ").unwrap_err());
        assert!(
            err.contains("\"LibPQ\" is not a Debian package name"),
            "{err}"
        );
        let err = format!("{:#}", DebianSource::parse("bookworm+").unwrap_err());
        assert!(err.contains("is not a Debian package name"), "{err}");
    }
}
