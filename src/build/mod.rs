//! `pyship build`: project → plan → layers → image → outputs. This module directs;
//! each step lives in its own file.

mod args;
mod attest;
mod base;
mod config;
mod dependencies;
mod git;
mod index;
mod layers;
mod linkage;
mod plan;
mod provenance;
pub mod summary;
mod tags;

use std::process::ExitCode;

use anyhow::{Result, bail};

pub use args::{BuildArgs, Format};
use attest::Attestations;
use dependencies::{Compiling, Inputs};
use plan::Plan;
use summary::{BuildSummary, LayerRole};

use crate::contract::{APP_DIR, VENV_DIR, user_spec};
use crate::oci::Descriptor;
use crate::oci::image::Image;
use crate::oci::layer::Layer;
use crate::oci::platform::ImagePlatform;
use crate::python::bytecode::Compiler;
use crate::python::lock::{Lock, Selection};
use crate::python::pep517;
use crate::python::project::Project;
use crate::python::simple_api::Finder;
use crate::python::workspace;
use crate::sign::PrivateKey;
use crate::store::{Cache, Progress};
use crate::transport::registry::{BeforeTag, Registry};
use crate::transport::{Destination, ImageSource, ResolvedImage};

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
    let platforms = args.platforms(&project)?;
    if platforms.len() > 1 {
        index::check_destinations(&destinations, &platforms)?;
    }
    let source = base::source(&args, &project)?;
    let selection = args.selection(&project);
    // Named extras and groups are checked before anything is downloaded.
    lock.check_selection(&project, &selection)?;
    let finder = Finder::new(&client, &cache, &project.indexes, &progress);
    let context = Context {
        args: &args,
        project: &project,
        lock: &lock,
        finder: &finder,
        selection: &selection,
        destinations: &destinations,
        cache: &cache,
        client: &client,
        progress: &progress,
        attesting: pushed.is_some() && !args.no_attest,
    };

    // The platform this machine runs goes first: its base's interpreter compiles the
    // bytecode, and every other platform reuses it (no emulation).
    let mut order = platforms.clone();
    order.sort_by_key(|p| Some(*p) != ImagePlatform::host());
    let bases = resolve_bases(&source, &order, &client, &cache)?;
    let mut compiler = None;
    let mut built = Vec::new();
    for (n, (&platform, base)) in order.iter().zip(bases).enumerate() {
        if platforms.len() > 1 {
            progress.line(&format!("platform {platform}"));
        }
        let compiling = match n {
            0 => Compiling::Find,
            _ => Compiling::Shared {
                compiler: compiler.as_ref(),
                from: order[0],
            },
        };
        let (one, found) = build_platform(&context, base, platform, compiling)?;
        if n == 0 {
            compiler = found;
        }
        built.push(one);
    }
    built.sort_by_key(|b| platforms.iter().position(|p| *p == b.platform));

    if built.len() > 1 {
        return index::publish(&built, &context, pushed, sign_key, started_on);
    }
    let Built {
        plan,
        base,
        own,
        image,
        ..
    } = built.pop().expect("one platform at least");
    let attestations = attestations(
        &Built::sources(&plan, &base, &image, pushed, &lock, started_on),
        args.no_attest,
        sign_key,
        &context,
    )?;
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

/// What every platform of one build shares.
pub struct Context<'a> {
    pub args: &'a BuildArgs,
    pub project: &'a Project,
    pub lock: &'a Lock,
    pub finder: &'a Finder<'a>,
    pub selection: &'a Selection,
    pub destinations: &'a [Destination],
    pub cache: &'a Cache,
    pub client: &'a reqwest::blocking::Client,
    pub progress: &'a Progress,
    /// Whether SBOMs are made: a push that is not `--no-attest`.
    pub attesting: bool,
}

/// One platform's finished image, with what it was made from.
pub struct Built {
    pub platform: ImagePlatform,
    pub plan: Plan,
    pub base: ResolvedImage,
    pub own: Vec<OwnLayer>,
    pub image: Image,
}

impl Built {
    /// What the attestations of a pushed image are made from.
    fn sources<'a>(
        plan: &'a Plan,
        base: &'a ResolvedImage,
        image: &'a Image,
        pushed: Option<String>,
        lock: &'a Lock,
        started_on: String,
    ) -> Option<attest::Sources<'a>> {
        Some(attest::Sources {
            lockfiles: lock.files(&plan.project),
            plan,
            base,
            image,
            repository: pushed?,
            started_on,
        })
    }
}

/// The SBOMs, provenance and signatures a push attaches to one image, if any.
fn attestations(
    sources: &Option<attest::Sources<'_>>,
    no_attest: bool,
    key: Option<PrivateKey>,
    context: &Context<'_>,
) -> Result<Option<Attestations>> {
    let (cache, client, progress) = (context.cache, context.client, context.progress);
    Ok(match (sources, key) {
        (Some(sources), key) if !no_attest => Some(Attestations::prepare(
            sources, key, client, cache, progress,
        )?),
        (_, Some(key)) => Some(Attestations::signature_only(key)),
        _ => None,
    })
}

/// The base for each platform, read side by side: each is a few registry requests.
fn resolve_bases(
    source: &ImageSource,
    platforms: &[ImagePlatform],
    client: &reqwest::blocking::Client,
    cache: &Cache,
) -> Result<Vec<ResolvedImage>> {
    if let [platform] = platforms {
        return Ok(vec![source.resolve(*platform, client, cache)?]);
    }
    std::thread::scope(|scope| {
        let reads: Vec<_> = platforms
            .iter()
            .map(|&platform| scope.spawn(move || source.resolve(platform, client, cache)))
            .collect();
        reads
            .into_iter()
            .map(|read| {
                read.join()
                    .map_err(|_| anyhow::anyhow!("reading the base image failed"))?
            })
            .collect()
    })
}

/// Builds the image for one platform on its base: its wheels, its layers. Returns the
/// compiler found for it when `compiling` asked to find one.
fn build_platform(
    context: &Context<'_>,
    base: ResolvedImage,
    platform: ImagePlatform,
    compiling: Compiling<'_>,
) -> Result<(Built, Option<Compiler>)> {
    let Context {
        args,
        project,
        cache,
        client,
        progress,
        ..
    } = *context;
    progress.line(&format!("base    {}@{}", base.name, base.manifest_digest));
    let dependencies::WithBase {
        facts,
        deps,
        layer: deps_layer,
        compiler: found,
    } = dependencies::with_base(
        &Inputs {
            base: &base,
            project,
            lock: context.lock,
            finder: context.finder,
            selection: context.selection,
            platform,
            cache,
            client,
            progress,
            list_base: context.attesting,
        },
        compiling,
    )?;
    linkage::warn_missing(&deps.wheels, &facts, &base.name, cache, progress)?;
    let compiler = match compiling {
        Compiling::Find => found.as_ref(),
        Compiling::Shared { compiler, .. } => compiler,
    };
    let local = pep517::local::build(
        context.lock,
        project,
        context.selection,
        &deps.target,
        cache,
        progress,
    )?;
    let plan = Plan::new(
        project.clone(),
        &facts,
        deps,
        local,
        args,
        context.destinations.to_vec(),
    )?;
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
            layer: layers::runtime(&facts, &plan, &venv, cache)?,
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
            layer: layers::project(&plan, &venv, compiler, cache, progress)?,
            role: LayerRole::Project,
            created_by: format!(
                "pyship: {} project files into {APP_DIR}, {} local packages into {VENV_DIR}",
                plan.files.files().len(),
                plan.local.len()
            ),
        },
    ];
    let image = config::assemble(&plan, &base, &own, cache)?;
    let built = Built {
        platform,
        plan,
        base,
        own,
        image,
    };
    Ok((built, found))
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
    if needs_base_bytes(&plan.destinations, base) {
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

/// Whether some destination needs the base's layer bytes: a push to the base's own
/// registry mounts them; every other destination copies them.
fn needs_base_bytes(destinations: &[Destination], base: &ResolvedImage) -> bool {
    destinations.iter().any(|d| match d {
        Destination::Push(target) => base
            .registry_reference()
            .is_none_or(|b| b.registry != target.repository.registry),
        _ => true,
    })
}
