//! `pyship build`: project → plan → layers → image → outputs. This module directs;
//! each step lives in its own file.

mod args;
mod attest;
mod base;
mod config;
mod dependencies;
mod git;
mod layers;
mod plan;
mod provenance;
pub mod summary;
mod tags;

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Result, bail};

pub use args::{BuildArgs, Format};
use attest::Attestations;
use dependencies::Inputs;
use plan::Plan;
use summary::{BuildSummary, LayerRole};

use crate::contract::{APP_DIR, VENV_DIR, user_spec};
use crate::oci::Descriptor;
use crate::oci::image::Image;
use crate::oci::layer::Layer;
use crate::oci::platform::ImagePlatform;
use crate::python::lock::Lock;
use crate::python::pep517;
use crate::python::simple_api::Finder;
use crate::python::workspace;
use crate::sign::PrivateKey;
use crate::store::{Cache, Progress};
use crate::transport::registry::{BeforeTag, Registry};
use crate::transport::{Destination, ResolvedImage};

/// A layer pyship wrote, with what it holds and the line its history entry shows.
pub struct OwnLayer {
    pub layer: Layer,
    pub role: LayerRole,
    pub created_by: String,
}

pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let started_on = provenance::now();
    let progress = Progress::new(args.quiet || args.format == Format::Json);
    let cache = Cache::open()?;
    let client = crate::store::http::client()?;
    let project = workspace::project(&args.path, args.package.as_deref())?;
    let lock = Lock::read(&project, args.lockfile.as_deref())?;
    lock.ensure_fresh(&project)?;

    let destinations = args.destinations(&project.root)?;
    for destination in &destinations {
        if let Destination::Push(target) = destination {
            crate::transport::registry::pushing_to(&target.repository.registry);
        }
    }
    let pushed = destinations.iter().find_map(|d| match d {
        Destination::Push(target) => Some(target.repository.name()),
        _ => None,
    });
    // The key is read before anything is built, so a bad key costs nothing.
    let sign_key = args.sign_key.as_deref().map(PrivateKey::read).transpose()?;
    if sign_key.is_some() && pushed.is_none() {
        bail!("--sign-key signs a pushed image: add --push REF");
    }
    let platform = ImagePlatform::from_str(
        args.platform
            .as_deref()
            .or(project.config.platform.as_deref())
            .unwrap_or("linux/amd64"),
    )?;
    let base = base::source(&args, &project)?.resolve(platform, &client, &cache)?;
    progress.line(&format!("base    {}@{}", base.name, base.manifest_digest));

    let selection = args.selection(&project);
    // Named extras and groups are checked before anything is downloaded.
    lock.check_selection(&project, &selection)?;
    let finder = Finder::new(&client, &cache, &project.indexes, &progress);
    let dependencies::WithBase {
        facts,
        deps,
        layer: deps_layer,
        compiler,
    } = dependencies::with_base(&Inputs {
        base: &base,
        project: &project,
        lock: &lock,
        finder: &finder,
        selection: &selection,
        platform,
        cache: &cache,
        client: &client,
        progress: &progress,
    })?;
    let local = pep517::local::build(&lock, &project, &selection, &deps.target, &cache, &progress)?;
    let plan = Plan::new(project, &facts, deps, local, &args, destinations)?;
    progress.line(&format!(
        "python  {} ({})",
        plan.interpreter.path, plan.deps.target
    ));
    progress.line(&format!(
        "command {} ({})",
        plan.entrypoint.command.join(" "),
        plan.entrypoint.reason
    ));

    let venv = plan.deps.venv();
    let own = vec![
        OwnLayer {
            layer: layers::runtime(&facts, &plan, &venv, &cache)?,
            role: LayerRole::Runtime,
            created_by: format!(
                "pyship: user app ({}), {VENV_DIR} on {}",
                user_spec(),
                plan.interpreter.path
            ),
        },
        OwnLayer {
            layer: deps_layer,
            role: LayerRole::Dependencies,
            created_by: format!(
                "pyship: {} locked dependencies into {VENV_DIR}",
                plan.deps.wheels.len()
            ),
        },
        OwnLayer {
            layer: layers::project(&plan, &venv, compiler.as_ref(), &cache, &progress)?,
            role: LayerRole::Project,
            created_by: format!(
                "pyship: {} project files into {APP_DIR}, {} local packages into {VENV_DIR}",
                plan.files.files().len(),
                plan.local.len()
            ),
        },
    ];
    let image = config::assemble(&plan, &base, &own, &cache)?;
    let attestations = match (pushed, sign_key) {
        (Some(repository), key) if !args.no_attest => {
            let sources = attest::Sources {
                plan: &plan,
                base: &base,
                image: &image,
                repository,
                lockfiles: lock.files(&plan.project),
                started_on,
            };
            Some(Attestations::prepare(
                &sources, key, &client, &cache, &progress,
            )?)
        }
        (_, Some(key)) => Some(Attestations::signature_only(key)),
        _ => None,
    };
    let attach = |registry: &Registry, subject: &Descriptor| match &attestations {
        Some(attestations) => attestations.attach(registry, &cache, subject, &image.manifest),
        None => Ok(()),
    };
    let (written, tagged) = write(
        &plan,
        &image,
        &base,
        &cache,
        &client,
        &progress,
        args.format,
        &attach,
    )?;
    match args.format {
        Format::Human if plan.destinations.is_empty() => {
            println!("{}@{}", plan.tag.name(), image.manifest_digest)
        }
        Format::Human => {}
        Format::Json => println!(
            "{}",
            serde_json::to_string(&BuildSummary::new(
                &plan, &base, &image, &own, written, tagged
            ))?
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends the image to every destination, printing each pinned reference as it lands
/// and then the references it was tagged under. Returns both kinds. A push runs
/// `before_tag` between its manifest (by digest) and its tags.
#[allow(clippy::too_many_arguments)]
fn write(
    plan: &Plan,
    image: &Image,
    base: &ResolvedImage,
    cache: &Cache,
    client: &reqwest::blocking::Client,
    progress: &Progress,
    format: Format,
    before_tag: BeforeTag<'_>,
) -> Result<(Vec<String>, Vec<String>)> {
    // A push to the base's own registry mounts the base's layers; every other
    // destination needs their bytes.
    let needs_base_bytes = plan.destinations.iter().any(|d| match d {
        Destination::Push(target) => base
            .registry_reference()
            .is_none_or(|b| b.registry != target.repository.registry),
        _ => true,
    });
    if needs_base_bytes {
        base.fetch_layers(cache, progress)?;
    }
    if plan.destinations.is_empty() {
        progress.line("no output requested: pass --load, --push REF or --output oci:DIR; the image is in the cache");
    }
    let (mut written, mut tagged) = (Vec::new(), Vec::new());
    for destination in &plan.destinations {
        let lines =
            destination.write(image, base, &plan.tag, cache, client, progress, before_tag)?;
        if format == Format::Human {
            for line in &lines {
                println!("{line}");
            }
        }
        let mut lines = lines.into_iter();
        written.extend(lines.next());
        tagged.extend(lines);
    }
    Ok((written, tagged))
}
