//! `pyship init`: writes the Docker-side files for a service (Dockerfile, .dockerignore,
//! compose file, CI workflow, Kubernetes manifest) with the choices `pyship build` makes.
//! Each artefact is rendered from one [`Service`] by its own module; this one picks
//! which to render and writes, diffs or prints them. Existing files change only with
//! `--force`.

mod compose;
mod dockerfile;
mod dockerignore;
mod kubernetes;
mod lockfile;
mod pin;
mod service;
pub(crate) mod workflow;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::python::project::Project;
use pin::PinnedImage;
use service::{InitConfig, Service};

/// Write a production Dockerfile, .dockerignore, compose file and CI workflow for a service.
///
/// Reads pyproject.toml, the lockfile (uv.lock, poetry.lock or a pinned requirements.txt)
/// and the code, and writes files that build a small non-root image from the lockfile,
/// dependencies before source. Nothing existing is overwritten without --force.
/// Examples:
///
///   pyship init
///   pyship init --diff
///   pyship init --print dockerfile --base python:3.12-slim
///   pyship init --kubernetes --image ghcr.io/acme/api:sha-1234abc
///   pyship init --only workflow --ci pyship
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct InitArgs {
    /// The service's directory (holding pyproject.toml and its lockfile).
    #[arg(default_value = ".")]
    pub path: PathBuf,

    /// Write only these files (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FILES")]
    pub only: Vec<Artefact>,

    /// Do not write these files (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FILES")]
    pub skip: Vec<Artefact>,

    /// Also write a Kubernetes Deployment and Service (needs --image).
    #[arg(long)]
    pub kubernetes: bool,

    /// Give the image a HEALTHCHECK; leave it off where an orchestrator probes instead.
    #[arg(long)]
    pub healthcheck: bool,

    /// Overwrite files that exist and differ.
    #[arg(long)]
    pub force: bool,

    /// Show what would change as a unified diff, write nothing; exit 1 if anything would.
    #[arg(long, conflicts_with = "print")]
    pub diff: bool,

    /// Write one file to stdout instead of to disk.
    #[arg(long, value_name = "FILE")]
    pub print: Option<Artefact>,

    /// Base image for both stages (default: [tool.pyship] base, else python:X.Y-slim).
    #[arg(long, env = "PYSHIP_BASE")]
    pub base: Option<String>,

    /// The image uv is copied from (default: ghcr.io/astral-sh/uv at a fixed release).
    #[arg(long, value_name = "REF")]
    pub uv_image: Option<String>,

    /// The port the service listens on.
    #[arg(long, env = "PYSHIP_PORT")]
    pub port: Option<u16>,

    /// The path that answers 200 when the service is healthy.
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,

    /// The built image the Kubernetes manifest deploys: a digest, or a tag to resolve.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,

    /// Which lockfile to use when the project has several.
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<String>,

    /// Do not ask registries for digests; images stay at their tags.
    #[arg(long)]
    pub offline: bool,

    /// What builds the image in the CI workflow: `docker` (BuildKit and the Dockerfile)
    /// or `pyship` (no Dockerfile or daemon; SBOM, provenance, signature, promotion by
    /// digest). Default: [tool.pyship.init] ci, else docker.
    #[arg(long, value_enum)]
    pub ci: Option<workflow::Ci>,
}

/// One file `pyship init` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Artefact {
    Dockerfile,
    Dockerignore,
    Compose,
    Workflow,
    Kubernetes,
}

impl Artefact {
    /// Where it goes, relative to the project root.
    pub fn path(self) -> &'static str {
        match self {
            Artefact::Dockerfile => "Dockerfile",
            Artefact::Dockerignore => ".dockerignore",
            Artefact::Compose => "compose.yaml",
            Artefact::Workflow => ".github/workflows/container.yml",
            Artefact::Kubernetes => "k8s/deployment.yaml",
        }
    }
}

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let project = Project::read(&args.path)?;
    let config = InitConfig::of(&project)?;
    let selected = match args.print {
        Some(one) => vec![one],
        None => select(&args, &config),
    };
    if selected.is_empty() {
        bail!("--only and --skip leave nothing to write: name at least one file to --only");
    }
    let client = if args.offline {
        None
    } else {
        Some(crate::store::http::client()?)
    };
    let service = Service::discover(&project, &args, &config, client.as_ref())?;
    let deployed = if selected.contains(&Artefact::Kubernetes) {
        Some(deployed_image(&args, &config, &service, client.as_ref())?)
    } else {
        None
    };
    let rendered: Vec<(Artefact, String)> = selected
        .iter()
        .map(|&artefact| {
            let ci = args.ci.or(config.ci).unwrap_or_default();
            (
                artefact,
                render(artefact, &service, deployed.as_deref(), ci),
            )
        })
        .collect();

    if args.print.is_some() {
        let mut stdout = std::io::stdout().lock();
        for (_, text) in &rendered {
            stdout.write_all(text.as_bytes())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "command {} ({})",
        service.entrypoint.command.join(" "),
        service.entrypoint.reason
    );
    for image in [&service.base, &service.uv] {
        if let Some(why) = &image.unpinned_because {
            eprintln!(
                "warning: {} is not pinned by digest ({why}); the Dockerfile says how to pin it",
                image.named
            );
        }
    }
    if args.diff {
        return diff(&project, &rendered);
    }
    write(&project, &rendered, args.force)?;
    Ok(ExitCode::SUCCESS)
}

/// The image the Kubernetes manifest deploys, as `name@sha256:…`: a tag could move.
fn deployed_image(
    args: &InitArgs,
    config: &InitConfig,
    service: &Service,
    client: Option<&reqwest::blocking::Client>,
) -> Result<String> {
    let Some(image) = args.image.as_deref().or(config.image.as_deref()) else {
        bail!(
            "the Kubernetes manifest deploys a built image by digest: pass --image ghcr.io/OWNER/{}@sha256:… (or a tag pyship can resolve)",
            service.image_name
        );
    };
    let pinned = PinnedImage::require_digest(image, client, "the Kubernetes manifest")?;
    Ok(pinned.by_digest().expect("require_digest gives a digest"))
}

fn render(
    artefact: Artefact,
    service: &Service,
    deployed: Option<&str>,
    ci: workflow::Ci,
) -> String {
    match artefact {
        Artefact::Dockerfile => dockerfile::render(service),
        Artefact::Dockerignore => dockerignore::render(),
        Artefact::Compose => compose::render(service),
        Artefact::Workflow => workflow::render(ci),
        Artefact::Kubernetes => {
            kubernetes::render(service, deployed.expect("resolved when selected"))
        }
    }
}

/// The default set (Kubernetes only on request), narrowed by --only and --skip.
fn select(args: &InitArgs, config: &InitConfig) -> Vec<Artefact> {
    let mut selected: Vec<Artefact> = if args.only.is_empty() {
        let mut all = vec![
            Artefact::Dockerfile,
            Artefact::Dockerignore,
            Artefact::Compose,
            Artefact::Workflow,
        ];
        if args.kubernetes || config.kubernetes.unwrap_or(false) {
            all.push(Artefact::Kubernetes);
        }
        all
    } else {
        args.only.clone()
    };
    selected.retain(|a| !args.skip.contains(a));
    selected.sort();
    selected.dedup();
    selected
}

/// Writes every file, or none: any existing file that differs stops the run unless
/// `force` is set, and so does a path a symlink would lead out of the project.
fn write(project: &Project, rendered: &[(Artefact, String)], force: bool) -> Result<()> {
    let mut targets = Vec::new();
    let mut differing = Vec::new();
    for (artefact, text) in rendered {
        let path = inside_project(&project.root, artefact.path())?;
        if let Ok(existing) = std::fs::read(&path)
            && existing != text.as_bytes()
        {
            differing.push(artefact.path());
        }
        targets.push(path);
    }
    if !differing.is_empty() && !force {
        bail!(
            "{} already exist{} in {} and differ{}: pass --force to overwrite (see the change with --diff)",
            differing.join(", "),
            if differing.len() == 1 { "s" } else { "" },
            project.root.display(),
            if differing.len() == 1 { "s" } else { "" },
        );
    }
    for ((artefact, text), path) in rendered.iter().zip(&targets) {
        if std::fs::read(path).is_ok_and(|existing| existing == text.as_bytes()) {
            println!("unchanged {}", artefact.path());
            continue;
        }
        crate::store::atomic::write_file(path, |out| Ok(out.write_all(text.as_bytes())?))?;
        println!("wrote {}", artefact.path());
    }
    Ok(())
}

/// Where `relative` really is under `root`, following symlinks that stay inside the
/// project; one that leads out (a `.github` linked to a shared checkout, say) is
/// refused, since writing there would change files that are not the project's.
fn inside_project(root: &Path, relative: &str) -> Result<PathBuf> {
    let real_root = root
        .canonicalize()
        .with_context(|| format!("cannot read {}", root.display()))?;
    let mut real = real_root.clone();
    for part in Path::new(relative).components() {
        let next = real.join(part);
        real = match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = next
                    .canonicalize()
                    .ok()
                    .filter(|t| t.starts_with(&real_root));
                target.with_context(|| {
                    format!(
                        "{} is a symlink that leads out of the project (or to nothing); remove it or point it inside {} before `pyship init` writes {relative}",
                        root.join(next.strip_prefix(&real_root).unwrap_or(&next)).display(),
                        root.display()
                    )
                })?
            }
            _ => next,
        };
    }
    Ok(real)
}

/// Unified diffs from the files on disk to what would be written; exit 1 if any.
fn diff(project: &Project, rendered: &[(Artefact, String)]) -> Result<ExitCode> {
    let mut changed = false;
    let mut stdout = std::io::stdout().lock();
    for (artefact, text) in rendered {
        let path = project.root.join(artefact.path());
        let existing = match std::fs::read_to_string(&path) {
            Ok(existing) => Some(existing),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        if existing.as_deref() == Some(text.as_str()) {
            continue;
        }
        changed = true;
        let old_name = match existing {
            Some(_) => format!("a/{}", artefact.path()),
            None => "/dev/null".to_owned(),
        };
        let new_name = format!("b/{}", artefact.path());
        let old = existing.unwrap_or_default();
        let patch = similar::TextDiff::from_lines(&old, text);
        write!(
            stdout,
            "{}",
            patch
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
        )?;
    }
    Ok(if changed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The health check both the image and compose run: Python's standard library, since
/// slim bases have no curl and installing one only for this would widen the image.
fn health_probe(service: &Service) -> Vec<String> {
    let url = format!("http://127.0.0.1:{}{}", service.port, service.health_path);
    vec![
        "python".to_owned(),
        "-c".to_owned(),
        format!("import urllib.request; urllib.request.urlopen('{url}', timeout=4)"),
    ]
}

/// A JSON array on one line: Docker's exec form, and a YAML flow sequence.
fn json_list(words: &[String]) -> String {
    let words: Vec<String> = words
        .iter()
        .map(|word| serde_json::to_string(word).expect("strings serialize"))
        .collect();
    format!("[{}]", words.join(", "))
}
