//! Everything the generated files say about one service, decided once: how it is
//! locked, how it starts, which port and health path it has, which images it builds on.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::InitArgs;
use super::lockfile::Lockfile;
use super::pin::PinnedImage;
use crate::contract::{APP_DIR, DEFAULT_PORT, HEALTH_PATH, VENV_DIR};
use crate::python::entrypoint::{self, Entrypoint};
use crate::python::project::Project;
use crate::python::source::SourceFiles;

/// The uv release generated Dockerfiles build with unless told otherwise.
pub const UV_VERSION: &str = "0.13.9";
/// The Poetry release that installs poetry.lock projects in the builder stage.
pub const POETRY_VERSION: &str = "2.5.1";

/// `[tool.pyship.init]`: defaults for the flags of the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct InitConfig {
    pub uv_image: Option<String>,
    pub health_path: Option<String>,
    pub healthcheck: Option<bool>,
    pub kubernetes: Option<bool>,
    pub image: Option<String>,
    pub lockfile: Option<String>,
    pub ci: Option<super::workflow::Ci>,
}

impl InitConfig {
    pub fn of(project: &Project) -> Result<InitConfig> {
        let Some(table) = &project.config.init else {
            return Ok(InitConfig::default());
        };
        table.clone().try_into().map_err(|err: toml::de::Error| {
            anyhow::anyhow!(
                "{}: [tool.pyship.init] {}",
                project.root.join("pyproject.toml").display(),
                err.message()
            )
        })
    }
}

/// The service as the generated files describe it.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub image_name: String,
    /// A DNS label for compose and Kubernetes: the image name's last part.
    pub app_name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub python_xy: String,
    pub lockfile: Lockfile,
    /// The project has a build backend, so it is installed into the venv as a wheel.
    pub packaged: bool,
    /// `/app/src` when an uninstalled src-layout project must be put on `sys.path`.
    pub pythonpath: Option<String>,
    pub entrypoint: Entrypoint,
    pub port: u16,
    pub health_path: String,
    pub healthcheck: bool,
    pub base: PinnedImage,
    pub uv: PinnedImage,
}

impl Service {
    pub fn discover(
        project: &Project,
        args: &InitArgs,
        config: &InitConfig,
        client: Option<&reqwest::blocking::Client>,
    ) -> Result<Service> {
        let python_xy = crate::python::interpreter::wanted_python_xy(project).with_context(|| {
            format!(
                "cannot tell which Python {} runs on: add a .python-version file (`uv python pin 3.12`) or requires-python to pyproject.toml",
                project.name
            )
        })?;
        let lockfile = Lockfile::find(
            project,
            args.lockfile.as_deref().or(config.lockfile.as_deref()),
        )?;
        let installed = lockfile.runtime_packages(project, &python_xy)?;
        let files = SourceFiles::collect(&project.root)?;
        let port = args.port.or(project.config.port).unwrap_or(DEFAULT_PORT);
        let entrypoint = entrypoint::detect(
            project,
            &files,
            &installed,
            &format!("{VENV_DIR}/bin"),
            port,
        )?;
        let packaged = is_packaged(project, &lockfile)?;
        let pythonpath =
            (!packaged && files.import_dir(APP_DIR) != APP_DIR).then(|| files.import_dir(APP_DIR));
        let health_path = args
            .health_path
            .clone()
            .or_else(|| config.health_path.clone())
            .unwrap_or_else(|| HEALTH_PATH.to_owned());
        if !health_path.starts_with('/') || health_path.contains(char::is_whitespace) {
            bail!("health path {health_path:?} must be a URL path like /health");
        }
        let base_name = match &args.base {
            Some(base) => base.clone(),
            None => crate::python::interpreter::default_base(project)?,
        };
        if base_name.starts_with("oci:") || base_name.starts_with("docker-archive:") {
            bail!(
                "the base {base_name} is a local image, which a Dockerfile cannot name: pass --base with a registry reference such as python:{python_xy}-slim"
            );
        }
        let uv_name = args
            .uv_image
            .clone()
            .or_else(|| config.uv_image.clone())
            .unwrap_or_else(|| format!("ghcr.io/astral-sh/uv:{UV_VERSION}"));
        Ok(Service {
            name: project.name.clone(),
            image_name: project.image_name(),
            app_name: app_name(&project.image_name()),
            version: project.version.clone(),
            description: project.description.clone(),
            python_xy,
            lockfile,
            packaged,
            pythonpath,
            entrypoint,
            port,
            health_path,
            healthcheck: args.healthcheck || config.healthcheck.unwrap_or(false),
            base: PinnedImage::resolve(&base_name, client)
                .with_context(|| format!("base image {base_name}"))?,
            uv: PinnedImage::resolve(&uv_name, client)
                .with_context(|| format!("uv image {uv_name}"))?,
        })
    }
}

/// Lowercase letters, digits and `-`, as Kubernetes names and compose services need.
fn app_name(image_name: &str) -> String {
    let last = image_name.rsplit('/').next().unwrap_or(image_name);
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    let name = &name[..name.len().min(63)];
    if name.is_empty() {
        "app".to_owned()
    } else {
        name.trim_end_matches('-').to_owned()
    }
}

/// Whether installing the project builds it: uv and pip need a `[build-system]` (uv also
/// honours `tool.uv.package`), Poetry installs the root unless `package-mode = false`.
fn is_packaged(project: &Project, lockfile: &Lockfile) -> Result<bool> {
    let path = project.root.join("pyproject.toml");
    if !path.is_file() {
        return Ok(false);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| anyhow::anyhow!("{}: {}", path.display(), err.message()))?;
    let tool = |name: &str, key: &str| {
        table
            .get("tool")
            .and_then(|t| t.get(name))
            .and_then(|t| t.get(key))
            .and_then(toml::Value::as_bool)
    };
    let has_backend = table.contains_key("build-system");
    Ok(match lockfile {
        Lockfile::Uv => tool("uv", "package").unwrap_or(has_backend),
        Lockfile::Poetry => tool("poetry", "package-mode").unwrap_or(true),
        Lockfile::Requirements { .. } => has_backend,
    })
}
