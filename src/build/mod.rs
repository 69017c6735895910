//! `pyship build`: project → plan → layers → image → outputs. This module directs;
//! each step lives in its own file.

mod args;
mod config;
mod dependencies;
mod git;
mod layers;
mod plan;
pub mod summary;

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Result;

pub use args::{BuildArgs, Format};
use dependencies::Inputs;
use plan::Plan;
use summary::{BuildSummary, LayerRole};

use crate::contract::{APP_DIR, VENV_DIR, user_spec};
use crate::oci::image::Image;
use crate::oci::layer::Layer;
use crate::oci::platform::ImagePlatform;
use crate::python::interpreter;
use crate::python::lock::UvLock;
use crate::python::project::Project;
use crate::store::{Cache, Progress};
use crate::transport::{Destination, ImageSource, ResolvedImage};

/// A layer pyship wrote, with what it holds and the line its history entry shows.
pub struct OwnLayer {
    pub layer: Layer,
    pub role: LayerRole,
    pub created_by: String,
}

pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.quiet || args.format == Format::Json);
    let cache = Cache::open()?;
    let client = crate::store::http::client()?;
    let project = Project::read(&args.path)?;
    let lock = UvLock::read(&project)?;
    lock.ensure_fresh(&project)?;

    let destinations = args.destinations()?;
    for destination in &destinations {
        if let Destination::Push(reference) = destination {
            crate::transport::registry::pushing_to(&reference.registry);
        }
    }
    let platform = ImagePlatform::from_str(
        args.platform
            .as_deref()
            .or(project.config.platform.as_deref())
            .unwrap_or("linux/amd64"),
    )?;
    let base_name = match &args.base {
        Some(base) => base.clone(),
        None => interpreter::default_base(&project)?,
    };
    let base = ImageSource::from_str(&base_name)?.resolve(platform, &client, &cache)?;
    progress.line(&format!("base    {}@{}", base.name, base.manifest_digest));

    let selection = args.selection(&project);
    // Named extras and groups are checked before anything is downloaded.
    selection.extras(&project)?;
    selection.groups(&project)?;
    let dependencies::WithBase {
        facts,
        deps,
        layer: deps_layer,
        compiler,
    } = dependencies::with_base(&Inputs {
        base: &base,
        project: &project,
        lock: &lock,
        selection: &selection,
        platform,
        cache: &cache,
        client: &client,
        progress: &progress,
    })?;
    let plan = Plan::new(project, &facts, deps, &args, destinations)?;
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
                "pyship: {} project files into {APP_DIR}",
                plan.files.files().len()
            ),
        },
    ];
    let image = config::assemble(&plan, &base, &own, &cache)?;
    let written = write(
        &plan,
        &image,
        &base,
        &cache,
        &client,
        &progress,
        args.format,
    )?;
    match args.format {
        Format::Human if plan.destinations.is_empty() => {
            println!("{}@{}", plan.tag.name(), image.manifest_digest)
        }
        Format::Human => {}
        Format::Json => println!(
            "{}",
            serde_json::to_string(&BuildSummary::new(&plan, &base, &image, &own, written))?
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends the image to every destination, printing each pinned reference as it lands.
fn write(
    plan: &Plan,
    image: &Image,
    base: &ResolvedImage,
    cache: &Cache,
    client: &reqwest::blocking::Client,
    progress: &Progress,
    format: Format,
) -> Result<Vec<String>> {
    // A push to the base's own registry mounts the base's layers; every other
    // destination needs their bytes.
    let needs_base_bytes = plan.destinations.iter().any(|d| match d {
        Destination::Push(r) => base
            .registry_reference()
            .is_none_or(|b| b.registry != r.registry),
        _ => true,
    });
    if needs_base_bytes {
        base.fetch_layers(cache, progress)?;
    }
    if plan.destinations.is_empty() {
        progress.line("no output requested: pass --load, --push REF or --output oci:DIR; the image is in the cache");
    }
    let mut written = Vec::new();
    for destination in &plan.destinations {
        let pinned = destination.write(image, base, &plan.tag, cache, client, progress)?;
        if format == Format::Human {
            println!("{pinned}");
        }
        written.push(pinned);
    }
    Ok(written)
}
