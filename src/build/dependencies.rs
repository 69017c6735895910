//! The locked runtime dependencies for the image's real target, and their layer.
//!
//! The target is only known once the base's layers are read (which interpreter, which
//! libc). On a base not read before, that read and the download of the wheels for the
//! target the base most likely is run side by side. The layer itself is written for the
//! real target, with bytecode compiled by the base's own interpreter.

use anyhow::{Context, Result, bail};
use reqwest::blocking::Client;
use sha2::{Digest as _, Sha256};

use crate::contract::VENV_DIR;
use crate::oci::facts::{self, BaseFacts, Interpreter};
use crate::oci::layer::{Layer, Tree};
use crate::oci::platform::{ImagePlatform, Libc};
use crate::python::bytecode::{self, Compiler, Invalidation};
use crate::python::download;
use crate::python::interpreter;
use crate::python::lock::{Lock, Selection, normalize};
use crate::python::pep517;
use crate::python::project::Project;
use crate::python::simple_api::Finder;
use crate::python::target::Target;
use crate::python::venv::Venv;
use crate::python::wheel::{self, WheelChoice};
use crate::store::{Cache, Progress};
use crate::transport::ResolvedImage;

/// The locked runtime packages for one target, and the wheel chosen for each.
pub struct Dependencies {
    pub target: Target,
    pub wheels: Vec<WheelChoice>,
    /// Normalized names, for command detection.
    pub installed: Vec<String>,
}

/// What a build needs to know before it can write the dependency layer.
pub struct Inputs<'a> {
    pub base: &'a ResolvedImage,
    pub project: &'a Project,
    pub lock: &'a Lock,
    /// Finds the files of packages the lock pins without URLs.
    pub finder: &'a Finder<'a>,
    pub selection: &'a Selection,
    pub platform: ImagePlatform,
    pub cache: &'a Cache,
    pub client: &'a Client,
    pub progress: &'a Progress,
    /// Whether the image's SBOM will be made, so its base's packages are worth listing
    /// while the dependencies are prepared.
    pub list_base: bool,
}

impl Dependencies {
    fn resolve(inputs: &Inputs<'_>, target: Target) -> Result<Dependencies> {
        let (lock, project, selection) = (inputs.lock, inputs.project, inputs.selection);
        let tags = target.tags()?;
        let packages = lock.runtime_packages(project, &target.marker_environment(), selection)?;
        let packages = inputs.finder.locate(packages, &target.python_full)?;
        let wheels = packages
            .iter()
            .map(|p| wheel::choose(p, &tags, &target, project.lock_dir()))
            .collect::<Result<Vec<_>>>()?;
        let installed = packages.iter().map(|p| normalize(&p.name)).collect();
        Ok(Dependencies {
            target,
            wheels,
            installed,
        })
    }

    pub fn venv(&self) -> Venv {
        Venv::new(VENV_DIR, &self.target.python_xy())
    }
}

/// What the base gives a build: its facts, the dependencies for its real target and
/// their layer, and the interpreter that compiles bytecode for it, if one was found
/// for this base (none when another platform's compiler was given).
pub struct WithBase {
    pub facts: BaseFacts,
    pub deps: Dependencies,
    pub layer: Layer,
    pub compiler: Option<Compiler>,
}

/// Which interpreter compiles a platform's bytecode.
#[derive(Clone, Copy)]
pub enum Compiling<'a> {
    /// Find one for this base: its own interpreter, or a host Python of its release.
    Find,
    /// The one found for another platform of the same build: pycs do not depend on the
    /// CPU, so one compiler serves every platform whose Python is the same release.
    Shared {
        compiler: Option<&'a Compiler>,
        from: ImagePlatform,
    },
}

/// The base's facts, the dependencies for its real target, and their layer.
pub fn with_base(inputs: &Inputs<'_>, compiling: Compiling<'_>) -> Result<WithBase> {
    let Inputs {
        base,
        project,
        platform,
        ..
    } = *inputs;
    let facts = match base.cached_facts(inputs.cache) {
        Some(facts) => facts,
        None => std::thread::scope(|scope| {
            let scan = scope.spawn(|| base.facts(inputs.cache, inputs.progress));
            // The head start: the guessed target's wheels download while the base is
            // read. The layer waits for the real target and the base's interpreter,
            // which compiles its bytecode; a wrong guess costs only the download.
            if let Some(deps) = predicted_target(base, project, platform)
                .and_then(|target| Dependencies::resolve(inputs, target).ok())
            {
                let (cache, client, progress) = (inputs.cache, inputs.client, inputs.progress);
                download::wheels(&deps.wheels, &project.indexes, cache, client, progress).ok();
            }
            scan.join()
                .map_err(|_| anyhow::anyhow!("reading the base image failed"))?
        })?,
    };
    let (interpreter, target) = real_target(project, &facts, platform, inputs.progress)?;
    // The base is in the cache now: its SBOM listing takes the other core meanwhile.
    let (cache, progress) = (inputs.cache, inputs.progress);
    std::thread::scope(|scope| {
        let listing = inputs.list_base.then(|| {
            scope.spawn(|| crate::sbom::inventory::remember_image_layers(base, cache, progress))
        });
        let compiler = match compiling {
            Compiling::Find => compiler(inputs, &interpreter)?,
            Compiling::Shared { compiler, from } => {
                same_release(compiler, &interpreter, platform, from)?;
                None
            }
        };
        let shared = match compiling {
            Compiling::Shared { compiler, .. } => compiler,
            Compiling::Find => compiler.as_ref(),
        };
        let deps = Dependencies::resolve(inputs, target)?;
        let layer = layer(&deps, shared, inputs)?;
        if let Some(listing) = listing {
            listing
                .join()
                .map_err(|_| anyhow::anyhow!("listing the base's packages failed"))??;
        }
        Ok(WithBase {
            facts,
            deps,
            layer,
            compiler,
        })
    })
}

/// The base's interpreter, run here to compile bytecode (or a stand-in of its release).
fn compiler(inputs: &Inputs<'_>, interpreter: &Interpreter) -> Result<Option<Compiler>> {
    let (base, cache, progress) = (inputs.base, inputs.cache, inputs.progress);
    let layers = |each: &mut dyn FnMut(Box<dyn std::io::Read>) -> Result<()>| {
        base.read_layers(cache, progress, |_, stream| each(stream))
    };
    let base = bytecode::Base {
        config_digest: &base.config_digest,
        platform: inputs.platform,
        layers: &layers,
    };
    Compiler::find(&base, interpreter, cache, progress)
}

/// Refuses a platform whose base has another Python release than the one that
/// compiles: its pycs would carry a magic number the base's interpreter rejects or
/// marshal data it reads differently.
fn same_release(
    compiler: Option<&Compiler>,
    interpreter: &Interpreter,
    platform: ImagePlatform,
    from: ImagePlatform,
) -> Result<()> {
    let Some(compiler) = compiler else {
        return Ok(());
    };
    let (release, compiling) = (interpreter.full_version(), &compiler.identity().release);
    if &release != compiling {
        bail!(
            "the {platform} base has Python {release} but the {from} base, whose interpreter compiles the bytecode for every platform, has {compiling}: use bases of one Python release for all platforms"
        );
    }
    Ok(())
}

/// The target a base most likely is before its layers are read: the Python its config
/// declares or the project pins, on Debian bookworm's glibc unless it says Alpine.
fn predicted_target(
    base: &ResolvedImage,
    project: &Project,
    platform: ImagePlatform,
) -> Option<Target> {
    let full = facts::env_python_version(&base.config)
        .or_else(|| interpreter::wanted_python_xy(project).map(|xy| format!("{xy}.0")))?;
    let libc = if base.name.contains("alpine") {
        Libc::Musl { major: 1, minor: 2 }
    } else {
        Libc::BOOKWORM
    };
    Target::new(platform, libc, &full).ok()
}

/// The interpreter the base really has, checked against the project, and its target.
fn real_target(
    project: &Project,
    facts: &BaseFacts,
    platform: ImagePlatform,
    progress: &Progress,
) -> Result<(Interpreter, Target)> {
    let interpreter = interpreter::choose(project, facts)?;
    let full = interpreter.full_version();
    if let Some(note) = interpreter::check_version(project, &interpreter, &full)? {
        progress.warn(&note);
    }
    // Without a libc found in the layers, assume the oldest manylinux glibc: every
    // wheel chosen for it runs on anything newer.
    let libc = facts.libc.unwrap_or(Libc::Glibc {
        major: 2,
        minor: 17,
    });
    Ok((interpreter, Target::new(platform, libc, &full)?))
}

/// The venv with every locked runtime wheel and its bytecode, remembered by its inputs
/// (the wheels and the interpreter that compiles) so an unchanged lock reuses the layer
/// without touching a wheel. A lock no resolver wrote is first checked to hold
/// everything its packages need.
fn layer(deps: &Dependencies, compiler: Option<&Compiler>, inputs: &Inputs<'_>) -> Result<Layer> {
    let (cache, client, progress) = (inputs.cache, inputs.client, inputs.progress);
    let venv = deps.venv();
    let mut key = Sha256::new();
    key.update(format!(
        "deps-v3\0{VENV_DIR}\0{}\0{}\0",
        deps.target.python_xy(),
        bytecode::cache_key(compiler)
    ));
    for wheel in &deps.wheels {
        key.update(format!("{}\0{}\0", wheel.filename, wheel.sha256));
    }
    let key = hex::encode(key.finalize());
    if let Some(layer) = cache.record::<Layer>("layers", &key)
        && cache.has_blob(&layer.digest)
    {
        progress.line(&format!(
            "deps    {} packages, layer reused",
            deps.wheels.len()
        ));
        return Ok(layer);
    }
    let indexes = &inputs.project.indexes;
    download::wheels(&deps.wheels, indexes, cache, client, progress)?;
    let wheels = pep517::sdist::built(&deps.wheels, &deps.target, indexes, cache, progress)?;
    if let Some(file) = inputs.lock.unresolved_file() {
        let env = deps.target.marker_environment();
        crate::python::requires::ensure_complete(&wheels, cache, &env, &file)?;
    }
    let mut tree = Tree::new();
    let task = progress.items(wheels.len() as u64, "installing wheels");
    for choice in &wheels {
        wheel::install(&cache.blob_path(&choice.sha256), choice, &venv, &mut tree)
            .with_context(|| format!("cannot install {} {}", choice.package, choice.version))?;
        task.inc(1);
    }
    task.finish();
    if let Some(compiler) = compiler {
        compiler.compile_tree(
            &mut tree,
            &venv.site_packages(),
            Invalidation::Unchecked,
            progress,
        )?;
    }
    let layer = tree.write_layer(cache, DEPENDENCY_EPOCH)?;
    cache.put_record("layers", &key, &layer)?;
    Ok(layer)
}

/// Dependency files carry no time of their own: clamping them to the commit time would
/// make every commit change the dependency layer and defeat its cache.
const DEPENDENCY_EPOCH: u64 = 0;
