//! `pyship verify`: proves the production contract on any image, by reading it and by
//! running it.

mod check;
mod contents;
mod rebuild;
mod report;
mod runtime;
mod signature;
mod statics;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;

use crate::contract::{DEFAULT_PORT, HEALTH_PATH};
use crate::oci::Reference;
use crate::oci::facts::BaseFacts;
use crate::oci::platform::ImagePlatform;
use crate::python::project::Project;
use crate::python::target::Target;
use crate::sign::PublicKey;
use crate::store::{Cache, Progress};
use crate::transport::engine::Engine;
use crate::transport::{ImageSource, ResolvedImage};

pub use check::{Check, Status};
pub use rebuild::Via;

/// Prove an image is production-ready: inspect it, then run it hardened.
///
/// Static checks read the config and every layer: non-root user, no secrets (also in
/// deleted files), no dev dependencies, no build tools or caches, an exec-form command,
/// OCI metadata. Runtime checks start the image with --read-only --cap-drop ALL
/// --security-opt no-new-privileges --tmpfs /tmp and check health, PID 1's UID, logs,
/// graceful SIGTERM and required environment variables. Examples:
///
///   pyship verify ghcr.io/acme/api@sha256:…
///   pyship verify docker:api:dev --require-env DATABASE_URL --env DATABASE_URL=postgres://…
///   pyship verify oci:out/image --project . --format junit > verify.xml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    /// The image: a registry reference, oci:DIR[:TAG], docker-archive:FILE or docker:NAME.
    pub image: String,

    /// The project the image was built from, for lock-aware and rebuild checks.
    #[arg(long, value_name = "PATH")]
    pub project: Option<PathBuf>,

    /// How --project is rebuilt for the dependency-cache check.
    #[arg(long, value_enum, default_value_t = Via::Pyship)]
    pub via: Via,

    /// Base image for the pyship rebuild (default: as pyship build decides).
    #[arg(long)]
    pub base: Option<String>,

    /// Environment for the container: NAME=VALUE, or NAME to pass the host's value; repeatable.
    #[arg(long = "env", short = 'e', value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,

    /// A file of NAME=VALUE lines for the container's environment.
    #[arg(long)]
    pub env_file: Option<PathBuf>,

    /// A variable the app must refuse to start without; repeatable.
    #[arg(long, value_name = "NAME")]
    pub require_env: Vec<String>,

    /// The port the app listens on (default: the image's EXPOSE, else $PORT, else 8000).
    #[arg(long)]
    pub port: Option<u16>,

    /// The path that must answer 2xx.
    #[arg(long)]
    pub health_path: Option<String>,

    /// Seconds the app may take to answer the health path.
    #[arg(long)]
    pub health_timeout: Option<u64>,

    /// Seconds SIGTERM may take before the engine kills the app.
    #[arg(long)]
    pub grace: Option<u64>,

    /// A check to skip, by id (user, secrets, dev-dependencies, build-tooling, command,
    /// metadata, signature, health, pid1-user, logs, graceful-stop, port,
    /// dependency-cache); repeatable.
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,

    /// Check that the image (in a registry) carries a Sigstore signature by this ECDSA
    /// P-256 public key (PEM, `BEGIN PUBLIC KEY`, as cosign.pub).
    #[arg(long, env = "PYSHIP_PUBLIC_KEY", value_name = "FILE")]
    pub public_key: Option<PathBuf>,

    /// Run only the checks that need no container engine.
    #[arg(long)]
    pub static_only: bool,

    /// Platform to read from a multi-platform image (default: the engine's own, the one
    /// the runtime checks can run natively).
    #[arg(long)]
    pub platform: Option<String>,

    /// Output: a human table, JSON, or JUnit XML for CI.
    #[arg(long, value_enum, default_value_t = report::Format::Human)]
    pub format: report::Format,
}

/// `[tool.pyship.verify]`: the same settings as the flags, which override it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct VerifyConfig {
    health_path: Option<String>,
    health_timeout: Option<u64>,
    port: Option<u16>,
    #[serde(default)]
    require_env: Vec<String>,
    grace: Option<u64>,
    #[serde(default)]
    skip: Vec<String>,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let cache = Cache::open()?;
    let client = crate::store::http::client()?;
    let progress = Progress::new(args.format != report::Format::Human);
    let public_key = args
        .public_key
        .as_deref()
        .map(PublicKey::read)
        .transpose()?;
    let project = args
        .project
        .as_deref()
        .map(|path| crate::python::workspace::project(path, None))
        .transpose()?;
    let config = verify_config(project.as_ref())?;
    let source = ImageSource::from_str(&args.image).with_context(|| format!("{:?} is not an image (use a registry reference, oci:DIR, docker-archive:FILE or docker:NAME)", args.image))?;
    let platform = match &args.platform {
        Some(platform) => ImagePlatform::from_str(platform)?,
        None => ImagePlatform::host().unwrap_or(ImagePlatform::Amd64),
    };
    let image = source
        .resolve(platform, &client, &cache)
        .with_context(|| format!("cannot read the image {}", args.image))?;
    // Said once the image is read, so an unreadable one stays a one-line error.
    if args.platform.is_none() {
        progress.line(&format!(
            "platform {platform}, the engine's (--platform picks another of a multi-platform image)"
        ));
    }
    image.fetch_layers(&cache, &progress)?;

    let (contents, facts) = contents::Contents::read(&image, &cache)?;
    let dev_only = match &project {
        Some(project) => Some(dev_only_packages(project, &facts, platform)?),
        None => None,
    };
    let skip: Vec<String> = args.skip.iter().chain(&config.skip).cloned().collect();
    let mut checks = statics::checks(&image, &contents, dev_only.as_ref());
    if let Some(key) = &public_key {
        checks.push(signature::check(&image, key, &cache)?);
    }

    if args.static_only {
        progress.line("--static-only: runtime checks not run");
    } else {
        let engine = Engine::detect().map_err(|_| {
            anyhow::anyhow!(
                "runtime checks need docker or podman on PATH: install one, or pass --static-only"
            )
        })?;
        let mut engine = runtime::Session::new(engine);
        let name = engine_image(&source, &image, &mut engine, &cache)?;
        let options = runtime_options(&args, &config, &image)?;
        checks.extend(runtime::checks(&engine, &name, &options)?);
    }
    if let Some(project) = &args.project {
        checks.push(rebuild::check(project, args.via, args.base.as_deref())?);
    }
    for check in &mut checks {
        if skip
            .iter()
            .any(|id| *id == check.id || check.id.starts_with(&format!("{id}:")))
        {
            *check = Check::skip(&check.id, &check.title, "skipped by request");
        }
    }
    let summary = report::Summary::new(&args.image, &image, &contents, &facts);
    report::print(args.format, &summary, &checks)?;
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn verify_config(project: Option<&Project>) -> Result<VerifyConfig> {
    let Some(value) = project.and_then(|p| p.config.verify.clone()) else {
        return Ok(VerifyConfig::default());
    };
    value.try_into().map_err(|err: toml::de::Error| {
        anyhow::anyhow!("[tool.pyship.verify] in pyproject.toml: {}", err.message())
    })
}

/// The lock's dev-only packages, for the image's own platform, libc and Python.
fn dev_only_packages(
    project: &Project,
    facts: &BaseFacts,
    platform: ImagePlatform,
) -> Result<std::collections::BTreeSet<String>> {
    let lock = crate::python::lock::Lock::read(project, None)?;
    // An image without a Python of its own is judged as the project's default base.
    let python = facts
        .interpreters
        .first()
        .map(|i| i.full_version())
        .unwrap_or_else(|| "3.12.0".to_owned());
    let target = match facts.libc {
        Some(libc) => Target::new(platform, libc, &python)?,
        None => Target::bookworm(platform, &python)?,
    };
    lock.dev_only_packages(project, &target.marker_environment())
}

/// The image's name in the engine: loaded from pyship's cache unless it is there already.
fn engine_image(
    source: &ImageSource,
    image: &ResolvedImage,
    engine: &mut runtime::Session,
    cache: &Cache,
) -> Result<String> {
    if let ImageSource::Engine(name) = source {
        return Ok(name.clone());
    }
    let tag = Reference::from_str(&format!("pyship-verify/run-{}:latest", engine.run_id()))?;
    engine.engine().load(&image.as_image(cache)?, &tag, cache)?;
    engine.adopt_image(tag.to_string());
    Ok(tag.to_string())
}

fn runtime_options(
    args: &VerifyArgs,
    config: &VerifyConfig,
    image: &ResolvedImage,
) -> Result<runtime::RuntimeOptions> {
    let runtime = image.config.config().clone().unwrap_or_default();
    let exposed = runtime
        .exposed_ports()
        .clone()
        .unwrap_or_default()
        .iter()
        .find_map(|p| p.split('/').next()?.parse().ok());
    let env_port = runtime
        .env()
        .clone()
        .unwrap_or_default()
        .iter()
        .find_map(|e| e.strip_prefix("PORT=")?.parse().ok());
    let mut env = Vec::new();
    if let Some(file) = &args.env_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --env-file {}", file.display()))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            env.push(parse_env(line)?);
        }
    }
    for entry in &args.env {
        env.push(parse_env(entry)?);
    }
    Ok(runtime::RuntimeOptions {
        port: args
            .port
            .or(config.port)
            .or(exposed)
            .or(env_port)
            .unwrap_or(DEFAULT_PORT),
        health_path: args
            .health_path
            .clone()
            .or_else(|| config.health_path.clone())
            .unwrap_or_else(|| HEALTH_PATH.into()),
        health_timeout: Duration::from_secs(
            args.health_timeout.or(config.health_timeout).unwrap_or(30),
        ),
        grace: Duration::from_secs(args.grace.or(config.grace).unwrap_or(30)),
        env,
        require_env: args
            .require_env
            .iter()
            .chain(&config.require_env)
            .cloned()
            .collect(),
    })
}

fn parse_env(entry: &str) -> Result<(String, String)> {
    match entry.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        Some(_) => bail!("--env {entry:?} has no name: write NAME=VALUE"),
        None => {
            let value = std::env::var(entry).with_context(|| {
                format!("--env {entry}: the variable is not set here; write {entry}=VALUE")
            })?;
            Ok((entry.to_owned(), value))
        }
    }
}
