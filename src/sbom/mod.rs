//! `pyship sbom`: what is really in an image, as CycloneDX 1.6 or SPDX 2.3 JSON, read
//! from its layers: every installed Python distribution and every Debian package,
//! plus the base image it was built on. `pyship build --push` attaches both formats
//! to the image it pushes.

mod cyclonedx;
pub(crate) mod dpkg;
pub mod inventory;
mod license;
mod locked;
mod purl;
mod spdx;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::Args;

pub use inventory::{BuildFacts, InstalledWheel, Inventory};

use crate::oci::media_type;
use crate::oci::platform::ImagePlatform;
use crate::store::{Cache, Progress};
use crate::transport::{ImageSource, ResolvedImage};

/// Write the software bill of materials of an image: its Python distributions and OS packages.
///
/// Reads every layer of the image (a registry reference, oci:DIR[:TAG],
/// docker-archive:FILE or docker:NAME) and lists what survives in its filesystem: each
/// installed Python distribution (name, version, declared license, pkg:pypi purl and a
/// hash), each package of the Debian database (pkg:deb purls with architecture and
/// distribution), and the base image when the image names it. A distribution's hash is
/// that of its installed RECORD file; SBOMs attached by `pyship build --push`, and
/// --project for an image pyship built, give the locked wheel's sha256 instead. Timestamps come from SOURCE_DATE_EPOCH, else the
/// image's creation time, so the same image gives the same document. Examples:
///
///   pyship sbom 127.0.0.1:5000/team/api@sha256:… --format spdx -o sbom.spdx.json
///   pyship sbom docker:api:dev --project .
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct SbomArgs {
    /// The image: a registry reference, oci:DIR[:TAG], docker-archive:FILE or docker:NAME.
    pub image: String,

    /// The document format.
    #[arg(long, value_enum, default_value_t = Format::Cyclonedx)]
    pub format: Format,

    /// Write the document to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Platform to read from a multi-platform image.
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,

    /// The project pyship built the image from: each distribution pyship installed gets
    /// the sha256 of the wheel the lock pins for it (same name, version and wheel tags)
    /// instead of its RECORD's, and the project's own distribution is marked as such.
    #[arg(long, value_name = "PATH")]
    pub project: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

impl Format {
    /// The media type (and OCI artifact type) of documents in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Cyclonedx => media_type::SBOM_CYCLONEDX,
            Format::Spdx => media_type::SBOM_SPDX,
        }
    }
}

pub fn run(args: SbomArgs) -> Result<ExitCode> {
    let cache = Cache::open()?;
    let client = crate::store::http::client()?;
    let progress = Progress::new(false);
    let source = ImageSource::from_str(&args.image).with_context(|| {
        format!(
            "{:?} is not an image (use a registry reference, oci:DIR, docker-archive:FILE or docker:NAME)",
            args.image
        )
    })?;
    let platform = ImagePlatform::from_str(&args.platform)?;
    let image = source
        .resolve(platform, &client, &cache)
        .with_context(|| format!("cannot read the image {}", args.image))?;
    let name = match &source {
        ImageSource::Registry(reference) => reference.name(),
        _ => args.image.clone(),
    };
    let mut inventory = Inventory::read(&name, &image, &cache, &progress)?;
    if let Some(project) = &args.project {
        let build = locked::build_facts(
            project,
            &inventory.python,
            &image,
            platform,
            &cache,
            &progress,
        )?;
        inventory = inventory.with_build(&build);
    }
    let document = render(&inventory, args.format, &timestamp(&image)?)?;
    match &args.output {
        Some(file) => crate::store::atomic::write_file(file, |out| Ok(out.write_all(&document)?))
            .with_context(|| format!("cannot write the SBOM to {}", file.display()))?,
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &document)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The document for `inventory` in `format`: pretty JSON ending in a newline, with
/// object keys sorted.
pub fn render(inventory: &Inventory, format: Format, timestamp: &str) -> Result<Vec<u8>> {
    let document = match format {
        Format::Cyclonedx => cyclonedx::document(inventory, timestamp)?,
        Format::Spdx => spdx::document(inventory, timestamp)?,
    };
    let mut bytes = serde_json::to_vec_pretty(&document)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// When the document is made: SOURCE_DATE_EPOCH, else the image's creation time, else
/// the epoch, as `YYYY-MM-DDThh:mm:ssZ` (SPDX allows no fractions or offsets).
pub fn timestamp(image: &ResolvedImage) -> Result<String> {
    let time = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => {
            let seconds: i64 = value.trim().parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds")
            })?;
            jiff::Timestamp::from_second(seconds)
                .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is out of range"))?
        }
        Err(_) => image
            .config
            .created()
            .as_deref()
            .and_then(|created| jiff::Timestamp::from_str(created).ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    };
    Ok(time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `registry/repository` of an image name such as `python:3.12-slim`, or the name
/// itself when it is no reference.
fn repository_of(name: &str) -> String {
    crate::oci::Reference::from_str(name).map_or_else(|_| name.to_owned(), |r| r.name())
}

/// Identifiers made unique within one document by a counter suffix.
#[derive(Default)]
struct Refs(HashSet<String>);

impl Refs {
    fn unique(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_owned();
        let mut n = 1;
        while !self.0.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{wanted}-{n}");
        }
        candidate
    }
}
