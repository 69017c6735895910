//! `pyship build`: project → plan → layers → image → outputs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::Args;
use sha2::{Digest as _, Sha256};

use crate::base::{BaseImage, BaseSource};
use crate::cache::Cache;
use crate::entrypoint::{self, Entrypoint};
use crate::image::{Image, OwnLayer, RuntimeSpec};
use crate::inspect::{BaseFacts, Interpreter};
use crate::layer::{Content, Entry, Layer, Tree};
use crate::lock::{UvLock, normalize};
use crate::output::{self, Output};
use crate::progress::Progress;
use crate::project::Project;
use crate::reference::Reference;
use crate::source::SourceFiles;
use crate::target::{ImagePlatform, Libc, Target};
use crate::venv::Venv;
use crate::wheel::{self, WheelChoice};

const APP_DIR: &str = "/app";
const VENV_DIR: &str = "/app/.venv";
const APP_UID: u64 = 1001;
const DEFAULT_PORT: u16 = 8000;

/// Build a production image from a uv-locked Python service, without a Docker daemon.
///
/// Reads pyproject.toml and uv.lock, installs the locked runtime dependencies (never dev
/// groups) from wheels for the target platform, adds the project's files, and writes a
/// reproducible image that runs as the non-root user `app` (UID 1001) with an exec-form
/// command. Examples:
///
///   pyship build --load
///   pyship build path/to/service --push ghcr.io/acme/api:sha-1234abc
///   pyship build --base python:3.12-slim --output oci:out/image
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BuildArgs {
    /// The service's directory (holding pyproject.toml and uv.lock).
    #[arg(default_value = ".")]
    pub path: PathBuf,

    /// Base image: a registry reference (tag or digest), oci:DIR[:TAG] or docker-archive:FILE.
    /// Default: [tool.pyship] base, else python:X.Y-slim for the project's Python.
    #[arg(long, env = "PYSHIP_BASE")]
    pub base: Option<String>,

    /// Target platform: linux/amd64 or linux/arm64.
    #[arg(long, env = "PYSHIP_PLATFORM")]
    pub platform: Option<String>,

    /// Write the image to oci:DIR (OCI image layout) or docker-archive:FILE; repeatable.
    #[arg(
        long = "output",
        short = 'o',
        value_name = "oci:DIR|docker-archive:FILE"
    )]
    pub outputs: Vec<String>,

    /// Load the image into the local Docker (or Podman) engine.
    #[arg(long)]
    pub load: bool,

    /// Push the image to a registry, e.g. 127.0.0.1:5000/team/api:sha-abc123.
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,

    /// Image name and tag for --load and the outputs (default: the project name, tag latest).
    #[arg(long, short = 't', value_name = "NAME[:TAG]")]
    pub tag: Option<String>,

    /// The port the service listens on (sets PORT, EXPOSE and the server's bind).
    #[arg(long, env = "PYSHIP_PORT")]
    pub port: Option<u16>,

    /// Print only the pinned references, no progress.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// How to print the result: human lines, or one JSON object for scripts.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Everything decided before any layer is written.
struct Plan {
    project: Project,
    interpreter: Interpreter,
    deps: Dependencies,
    files: SourceFiles,
    entrypoint: Entrypoint,
    port: u16,
    epoch: u64,
    outputs: Vec<Output>,
    tag: Reference,
}

/// The locked runtime packages for one target, and the wheel chosen for each.
struct Dependencies {
    target: Target,
    wheels: Vec<WheelChoice>,
    /// Normalized names, for command detection.
    installed: Vec<String>,
}

impl Dependencies {
    fn resolve(lock: &UvLock, project: &Project, target: Target) -> Result<Dependencies> {
        let tags = target.tags()?;
        let packages = lock.runtime_packages(project, &target.marker_environment())?;
        let wheels = packages
            .iter()
            .map(|p| wheel::choose(p, &tags, &target.to_string()))
            .collect::<Result<Vec<_>>>()?;
        let installed = packages.iter().map(|p| normalize(&p.name)).collect();
        Ok(Dependencies {
            target,
            wheels,
            installed,
        })
    }

    /// True when both install the same files: same wheels into the same site-packages.
    fn same_install(&self, other: &Dependencies) -> bool {
        let files = |d: &Dependencies| {
            d.wheels
                .iter()
                .map(|w| (w.filename.clone(), w.sha256.clone()))
                .collect::<Vec<_>>()
        };
        self.target.python_xy() == other.target.python_xy() && files(self) == files(other)
    }

    fn venv(&self) -> Venv {
        Venv::new(VENV_DIR, &self.target.python_xy())
    }
}

pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.quiet || args.format == Format::Json);
    let cache = Cache::open()?;
    let client = crate::http::client()?;
    let project = Project::read(&args.path)?;
    let lock = UvLock::read(&project)?;
    lock.ensure_fresh(&project)?;

    let outputs = outputs(&args)?;
    let platform = ImagePlatform::from_str(
        args.platform
            .as_deref()
            .or(project.config.platform.as_deref())
            .unwrap_or("linux/amd64"),
    )?;
    let base_source = BaseSource::from_str(&base_name(&args, &project)?)?;
    let base = BaseImage::resolve(&base_source, platform, &client, &cache)?;
    progress.line(&format!("base    {}@{}", base.name, base.manifest_digest));

    let (facts, deps, deps_layer) =
        base_and_dependencies(&base, &project, &lock, platform, &cache, &client, &progress)?;
    let plan = plan(project, &facts, deps, &args, outputs)?;
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
            layer: runtime_layer(&facts, &plan, &venv, &cache)?,
            created_by: format!(
                "pyship: user app (1001:1001), {VENV_DIR} on {}",
                plan.interpreter.path
            ),
        },
        OwnLayer {
            layer: deps_layer,
            created_by: format!(
                "pyship: {} locked dependencies into {VENV_DIR}",
                plan.deps.wheels.len()
            ),
        },
        OwnLayer {
            layer: project_layer(&plan, &venv, &cache)?,
            created_by: format!(
                "pyship: {} project files into {APP_DIR}",
                plan.files.files().len()
            ),
        },
    ];
    let spec = runtime_spec(&plan, &base);
    let image = Image::assemble(&base, &own, &spec, &cache)?;

    let needs_base_bytes = plan.outputs.iter().any(|o| match o {
        Output::Push(r) => base
            .registry_reference()
            .is_none_or(|b| b.registry != r.registry),
        _ => true,
    });
    if needs_base_bytes {
        base.fetch_layers(&cache, &progress)?;
    }
    if plan.outputs.is_empty() {
        progress.line("no output requested: pass --load, --push REF or --output oci:DIR; the image is in the cache");
    }
    let mut written = Vec::new();
    for output in &plan.outputs {
        let pinned = output::write(output, &image, &base, &plan.tag, &cache, &client, &progress)?;
        if args.format == Format::Human {
            println!("{pinned}");
        }
        written.push(pinned);
    }
    match args.format {
        Format::Human if plan.outputs.is_empty() => {
            println!("{}@{}", plan.tag.name(), image.manifest_digest)
        }
        Format::Human => {}
        Format::Json => println!("{}", summary(&plan, &base, &image, &own, &written)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The base's facts, the dependencies for its real target, and their layer.
///
/// When the base has not been read before, its layers are pulled and scanned on one
/// thread while the dependency layer is built on another for the target the base most
/// likely is; the guess is kept only if the real target installs exactly the same files.
fn base_and_dependencies(
    base: &BaseImage,
    project: &Project,
    lock: &UvLock,
    platform: ImagePlatform,
    cache: &Cache,
    client: &reqwest::blocking::Client,
    progress: &Progress,
) -> Result<(BaseFacts, Dependencies, Layer)> {
    let build = |deps: Dependencies| -> Result<(Dependencies, Layer)> {
        let layer = dependency_layer(&deps, cache, client, progress)?;
        Ok((deps, layer))
    };
    if let Some(facts) = cache.record::<BaseFacts>(crate::inspect::RECORD, base.config_digest.hex())
    {
        let (deps, layer) = build(Dependencies::resolve(
            lock,
            project,
            real_target(project, &facts, platform)?.1,
        )?)?;
        return Ok((facts, deps, layer));
    }
    std::thread::scope(|scope| {
        let scan = scope.spawn(|| BaseFacts::of(base, cache, progress));
        // A failed guess only costs the head start: the real target decides below.
        let guess = predicted_target(base, project, platform)
            .and_then(|target| Dependencies::resolve(lock, project, target).ok())
            .and_then(|deps| build(deps).ok());
        let facts = scan
            .join()
            .map_err(|_| anyhow::anyhow!("reading the base image failed"))??;
        let deps = Dependencies::resolve(lock, project, real_target(project, &facts, platform)?.1)?;
        let (deps, layer) = match guess {
            Some((guessed, layer)) if guessed.same_install(&deps) => (deps, layer),
            _ => build(deps)?,
        };
        Ok((facts, deps, layer))
    })
}

/// The target a base most likely is before its layers are read: the Python its config
/// declares or the project pins, on Debian bookworm's glibc unless it says Alpine.
fn predicted_target(
    base: &BaseImage,
    project: &Project,
    platform: ImagePlatform,
) -> Option<Target> {
    let full = crate::inspect::env_python_version(base)
        .or_else(|| wanted_python_xy(project).map(|xy| format!("{xy}.0")))?;
    let libc = if base.name.contains("alpine") {
        Libc::Musl { major: 1, minor: 2 }
    } else {
        Libc::Glibc {
            major: 2,
            minor: 36,
        }
    };
    Target::new(platform, libc, &full).ok()
}

/// The interpreter the base really has, checked against the project, and its target.
fn real_target(
    project: &Project,
    facts: &BaseFacts,
    platform: ImagePlatform,
) -> Result<(Interpreter, Target)> {
    let interpreter = choose_interpreter(project, facts)?;
    let full = interpreter
        .full
        .clone()
        .unwrap_or_else(|| format!("{}.{}.0", interpreter.major, interpreter.minor));
    check_python_version(project, &interpreter, &full)?;
    let libc = facts.libc.unwrap_or(Libc::Glibc {
        major: 2,
        minor: 17,
    });
    Ok((interpreter, Target::new(platform, libc, &full)?))
}

/// The build's result for scripts: what was built, from what, and where it went.
fn summary(
    plan: &Plan,
    base: &BaseImage,
    image: &Image,
    own: &[OwnLayer],
    written: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "image": plan.tag.to_string(),
        "digest": image.manifest_digest.to_string(),
        "outputs": written,
        "base": { "name": base.name, "digest": base.manifest_digest.to_string() },
        "python": { "interpreter": plan.interpreter.path, "version": plan.deps.target.python_full },
        "platform": plan.deps.target.platform.to_string(),
        "command": plan.entrypoint.command,
        "packages": plan.deps.wheels.iter().map(|w| serde_json::json!({ "name": w.package, "version": w.version, "wheel": w.filename })).collect::<Vec<_>>(),
        "layers": own.iter().map(|o| serde_json::json!({ "digest": o.layer.digest.to_string(), "size": o.layer.size, "created_by": o.created_by })).collect::<Vec<_>>(),
    })
}

fn outputs(args: &BuildArgs) -> Result<Vec<Output>> {
    let mut outputs: Vec<Output> = args
        .outputs
        .iter()
        .map(|o| Output::from_str(o))
        .collect::<Result<_>>()?;
    if args.load {
        outputs.push(Output::Load);
    }
    if let Some(reference) = &args.push {
        outputs.push(Output::Push(Reference::from_str(reference)?));
    }
    Ok(outputs)
}

fn base_name(args: &BuildArgs, project: &Project) -> Result<String> {
    match &args.base {
        Some(base) => Ok(base.clone()),
        None => default_base(project),
    }
}

/// `[tool.pyship] base`, else `python:X.Y-slim` for the project's Python; `pyship init`
/// writes the same default into Dockerfiles.
pub fn default_base(project: &Project) -> Result<String> {
    if let Some(base) = &project.config.base {
        return Ok(base.clone());
    }
    let xy = wanted_python_xy(project).with_context(|| {
        format!("cannot tell which Python {} needs: add a .python-version file (e.g. `uv python pin 3.12`) or pass --base", project.name)
    })?;
    Ok(format!("python:{xy}-slim"))
}

/// X.Y from `.python-version`, else the lower bound of `requires-python`.
pub fn wanted_python_xy(project: &Project) -> Option<String> {
    if let Some(pin) = &project.python_pin {
        let release = pin.release();
        return Some(format!("{}.{}", release.first()?, release.get(1)?));
    }
    let spec = project.requires_python.as_ref()?;
    spec.iter().find_map(|s| {
        matches!(
            s.operator(),
            uv_pep440::Operator::GreaterThanEqual
                | uv_pep440::Operator::TildeEqual
                | uv_pep440::Operator::Equal
        )
        .then(|| {
            let release = s.version().release();
            Some(format!(
                "{}.{}",
                release.first()?,
                release.get(1).copied().unwrap_or(0)
            ))
        })
        .flatten()
    })
}

fn plan(
    project: Project,
    facts: &BaseFacts,
    deps: Dependencies,
    args: &BuildArgs,
    outputs: Vec<Output>,
) -> Result<Plan> {
    let interpreter = choose_interpreter(&project, facts)?;
    let files = SourceFiles::collect(&project.root)?;
    let port = args.port.or(project.config.port).unwrap_or(DEFAULT_PORT);
    let entrypoint = entrypoint::detect(
        &project,
        &files,
        &deps.installed,
        &format!("{VENV_DIR}/bin"),
        port,
    )?;
    let pushed = outputs.iter().find_map(|o| {
        if let Output::Push(r) = o {
            Some(r.clone())
        } else {
            None
        }
    });
    let tag = match (&args.tag, pushed) {
        (Some(tag), _) => Reference::from_str(tag)?,
        (None, Some(pushed)) => pushed,
        (None, None) => Reference::from_str(&format!("{}:latest", project.image_name()))?,
    };
    Ok(Plan {
        epoch: source_date_epoch(&project)?,
        project,
        interpreter,
        deps,
        files,
        entrypoint,
        port,
        outputs,
        tag,
    })
}

fn choose_interpreter(project: &Project, facts: &BaseFacts) -> Result<Interpreter> {
    let Some(first) = facts.interpreters.first() else {
        bail!(
            "the base image has no Python interpreter (looked in /usr/local/bin and /usr/bin): use a Python base such as python:3.12-slim"
        );
    };
    let pinned = project.python_pin.as_ref().map(|v| v.release().to_vec());
    let matching = pinned.as_ref().and_then(|release| {
        facts.interpreters.iter().find(|i| {
            release.len() >= 2
                && u64::from(i.major) == release[0]
                && u64::from(i.minor) == release[1]
        })
    });
    Ok(matching.unwrap_or(first).clone())
}

/// The seed-001 lesson: a venv made for one Python and run by another breaks, and
/// silently drifting versions hide bugs. Refuse, naming both.
fn check_python_version(project: &Project, interpreter: &Interpreter, full: &str) -> Result<()> {
    let found = uv_pep440::Version::from_str(full).context("base Python version")?;
    if let Some(pin) = &project.python_pin {
        let want = pin.release();
        let have = found.release();
        if have.len() < want.len() || have[..want.len()] != *want {
            bail!(
                "the base image has Python {full} ({}) but .python-version pins {pin}: use a base with Python {pin} (e.g. --base python:{pin}-slim) or change .python-version",
                interpreter.path
            );
        }
    }
    if let Some(spec) = &project.requires_python
        && !spec.contains(&found)
    {
        bail!(
            "the base image has Python {full} but requires-python is {spec}: pick a base whose Python satisfies it"
        );
    }
    Ok(())
}

/// SOURCE_DATE_EPOCH, else the project's last commit time, else 0.
fn source_date_epoch(project: &Project) -> Result<u64> {
    if let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") {
        return value
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds"));
    }
    Ok(git(project, &["log", "-1", "--format=%ct"])
        .and_then(|t| t.parse().ok())
        .unwrap_or(0))
}

fn git(project: &Project, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&project.root)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// What ties the image to its base: `/etc/passwd` and `/etc/group` with the `app` user
/// added, its home, and the venv's `pyvenv.cfg` and links to the base's interpreter.
fn runtime_layer(facts: &BaseFacts, plan: &Plan, venv: &Venv, cache: &Cache) -> Result<Layer> {
    let epoch = plan.epoch;
    let mut tree = Tree::new();
    venv.skeleton(
        &mut tree,
        &plan.interpreter.path,
        &plan.deps.target.python_full,
        epoch,
    )?;
    let passwd = with_line(
        facts.passwd.as_deref(),
        "app",
        &format!("app:x:{APP_UID}:{APP_UID}:app:/home/app:/usr/sbin/nologin"),
        "passwd",
    )?;
    let group = with_line(
        facts.group.as_deref(),
        "app",
        &format!("app:x:{APP_UID}:"),
        "group",
    )?;
    tree.insert(
        "/etc/passwd",
        Entry::file(Content::Bytes(passwd.into_bytes()), epoch),
    )?;
    tree.insert(
        "/etc/group",
        Entry::file(Content::Bytes(group.into_bytes()), epoch),
    )?;
    tree.insert("/home/app", Entry::dir(epoch).owned_by(APP_UID, APP_UID))?;
    tree.write_layer(cache, epoch)
}

fn with_line(existing: Option<&str>, name: &str, line: &str, file: &str) -> Result<String> {
    let mut text = existing
        .unwrap_or(if file == "passwd" {
            "root:x:0:0:root:/root:/bin/sh\n"
        } else {
            "root:x:0:\n"
        })
        .to_owned();
    let id = line.split(':').nth(2).unwrap_or("");
    for entry in text.lines() {
        let fields: Vec<&str> = entry.split(':').collect();
        if fields.first() == Some(&name) {
            if entry == line {
                return Ok(text);
            }
            bail!(
                "the base image already has an `{name}` entry in /etc/{file} that differs from pyship's ({entry}): use a base without it"
            );
        }
        if fields.get(2) == Some(&id) {
            bail!(
                "the base image already uses id {id} in /etc/{file} ({entry}): use a base without it"
            );
        }
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    Ok(text)
}

/// The venv with every locked runtime wheel, remembered by its inputs so an unchanged
/// lock reuses the layer without touching a wheel.
fn dependency_layer(
    deps: &Dependencies,
    cache: &Cache,
    client: &reqwest::blocking::Client,
    progress: &Progress,
) -> Result<Layer> {
    let venv = deps.venv();
    let mut key = Sha256::new();
    key.update(format!(
        "deps-v2\0{VENV_DIR}\0{}\0",
        deps.target.python_xy()
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
    crate::download::wheels(&deps.wheels, cache, client, progress)?;
    let mut tree = Tree::new();
    let task = progress.items(deps.wheels.len() as u64, "installing wheels");
    for choice in &deps.wheels {
        wheel::install(&cache.blob_path(&choice.sha256), choice, &venv, &mut tree)
            .with_context(|| format!("cannot install {} {}", choice.package, choice.version))?;
        task.inc(1);
    }
    task.finish();
    let layer = tree.write_layer(cache, DEPENDENCY_EPOCH)?;
    cache.put_record("layers", &key, &layer)?;
    Ok(layer)
}

/// Dependency files carry no time of their own: clamping them to the commit time would
/// make every commit change the dependency layer and defeat its cache.
const DEPENDENCY_EPOCH: u64 = 0;

/// The project's files under /app, read-only for the runtime user, importable from the venv.
fn project_layer(plan: &Plan, venv: &Venv, cache: &Cache) -> Result<Layer> {
    let mut tree = Tree::new();
    tree.insert(APP_DIR, Entry::dir(plan.epoch))?;
    for path in plan.files.files() {
        let source = plan.files.root().join(path);
        let meta = std::fs::symlink_metadata(&source)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let dest = format!("{APP_DIR}/{path}");
        let entry = if meta.file_type().is_symlink() {
            Entry::symlink(&std::fs::read_link(&source)?.to_string_lossy(), mtime)
        } else if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0 {
            Entry::executable(Content::Path(source), mtime)
        } else {
            Entry::file(Content::Path(source), mtime)
        };
        tree.insert(&dest, entry)?;
    }
    project_install(plan, venv, &mut tree)?;
    tree.write_layer(cache, plan.epoch)
}

/// The project as an installed distribution: a `.pth` putting its code on `sys.path`,
/// its metadata, and its console scripts.
fn project_install(plan: &Plan, venv: &Venv, tree: &mut Tree) -> Result<()> {
    let project = &plan.project;
    let dist = project.name.replace(['-', '.'], "_");
    let version = project.version.clone().unwrap_or_else(|| "0".into());
    let site = venv.site_packages();
    let pth = format!("{}\n", plan.files.import_dir(APP_DIR));
    tree.insert(
        &format!("{site}/_{dist}.pth"),
        Entry::file(Content::Bytes(pth.into_bytes()), plan.epoch),
    )?;
    let info = format!("{site}/{dist}-{version}.dist-info");
    let metadata = format!(
        "Metadata-Version: 2.1\nName: {}\nVersion: {version}\n",
        project.name
    );
    tree.insert(
        &format!("{info}/METADATA"),
        Entry::file(Content::Bytes(metadata.into_bytes()), plan.epoch),
    )?;
    tree.insert(
        &format!("{info}/INSTALLER"),
        Entry::file(Content::Bytes(b"pyship\n".to_vec()), plan.epoch),
    )?;
    if !project.scripts.is_empty() {
        let mut entry_points = String::from("[console_scripts]\n");
        for (name, target) in &project.scripts {
            entry_points.push_str(&format!("{name} = {target}\n"));
            let script = venv
                .console_script(target)
                .with_context(|| format!("[project.scripts] {name}"))?;
            tree.insert(
                &format!("{}/{name}", venv.bin_dir()),
                Entry::executable(Content::Bytes(script.into_bytes()), plan.epoch),
            )?;
        }
        tree.insert(
            &format!("{info}/entry_points.txt"),
            Entry::file(Content::Bytes(entry_points.into_bytes()), plan.epoch),
        )?;
    }
    Ok(())
}

fn runtime_spec(plan: &Plan, base: &BaseImage) -> RuntimeSpec {
    let base_env: Vec<(String, String)> = base
        .config
        .config()
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let base_path = base_env.iter().find(|(k, _)| k == "PATH").map_or(
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        |(_, v)| v.as_str(),
    );
    let ours = [
        ("PATH", format!("{VENV_DIR}/bin:{base_path}")),
        ("VIRTUAL_ENV", VENV_DIR.to_owned()),
        ("PYTHONUNBUFFERED", "1".to_owned()),
        ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
        ("PORT", plan.port.to_string()),
        ("HOME", "/home/app".to_owned()),
    ];
    let mut env: Vec<(String, String)> = base_env
        .into_iter()
        .filter(|(k, _)| !ours.iter().any(|(o, _)| o == k))
        .collect();
    env.extend(ours.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let created = rfc3339(plan.epoch);
    let mut labels = vec![
        (
            "org.opencontainers.image.created".to_owned(),
            created.clone(),
        ),
        (
            "org.opencontainers.image.title".to_owned(),
            plan.project.name.clone(),
        ),
        (
            "org.opencontainers.image.base.name".to_owned(),
            base.name.clone(),
        ),
        (
            "org.opencontainers.image.base.digest".to_owned(),
            base.manifest_digest.to_string(),
        ),
    ];
    if let Some(version) = &plan.project.version {
        labels.push((
            "org.opencontainers.image.version".to_owned(),
            version.clone(),
        ));
    }
    if let Some(description) = &plan.project.description {
        labels.push((
            "org.opencontainers.image.description".to_owned(),
            description.clone(),
        ));
    }
    if let Some(revision) = git(&plan.project, &["rev-parse", "HEAD"]) {
        labels.push(("org.opencontainers.image.revision".to_owned(), revision));
    }
    if let Some(source) = git(&plan.project, &["remote", "get-url", "origin"]) {
        labels.push(("org.opencontainers.image.source".to_owned(), source));
    }
    RuntimeSpec {
        user: format!("{APP_UID}:{APP_UID}"),
        env,
        command: plan.entrypoint.command.clone(),
        workdir: APP_DIR.to_owned(),
        port: plan.port,
        labels,
        created,
    }
}

/// Seconds since 1970 as RFC 3339 UTC.
fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_582_977_600), "2020-02-29T12:00:00Z");
    }

    #[test]
    fn adds_app_user_once_and_refuses_clashes() {
        let base = "root:x:0:0:root:/root:/bin/bash\n";
        let line = "app:x:1001:1001:app:/home/app:/usr/sbin/nologin";
        let once = with_line(Some(base), "app", line, "passwd").unwrap();
        assert!(once.ends_with(&format!("{line}\n")));
        assert_eq!(with_line(Some(&once), "app", line, "passwd").unwrap(), once);
        let clash = "root:x:0:0::/:/bin/sh\nother:x:1001:1001::/:/bin/sh\n";
        assert!(
            with_line(Some(clash), "app", line, "passwd")
                .unwrap_err()
                .to_string()
                .contains("id 1001")
        );
    }
}
