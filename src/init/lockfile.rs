//! Which lockfile pins the service's dependencies, and which packages it installs at
//! run time: the names entrypoint detection needs to tell uvicorn from gunicorn.

use anyhow::{Result, bail};

use crate::oci::platform::ImagePlatform;
use crate::python::lock::{self, Lock, RequirementsLock, Selection, normalize};
use crate::python::project::Project;
use crate::python::target::Target;

/// The file that pins what the image installs, as the Dockerfile installs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lockfile {
    Uv,
    Poetry,
    /// Requirements files with every requirement pinned `==`; `hashed` when they carry
    /// `--hash` options, which then cover every requirement.
    Requirements {
        /// The files to install, relative to the project.
        files: Vec<String>,
        /// Every file read, includes too: what the install step must see.
        inputs: Vec<String>,
        hashed: bool,
    },
}

impl Lockfile {
    /// The file (or files) by name, for comments in the generated files.
    pub fn describe(&self) -> String {
        match self {
            Lockfile::Uv => "uv.lock".to_owned(),
            Lockfile::Poetry => "poetry.lock".to_owned(),
            Lockfile::Requirements { files, .. } => files.join(" and "),
        }
    }

    /// Finds the project's lockfile as `pyship build` does; `chosen` settles a project
    /// that has several.
    pub fn find(project: &Project, chosen: Option<&str>) -> Result<Lockfile> {
        Ok(match lock::Lockfile::find(project, chosen)? {
            lock::Lockfile::Uv => Lockfile::Uv,
            lock::Lockfile::Poetry => Lockfile::Poetry,
            lock::Lockfile::Requirements => {
                let read = RequirementsLock::read(project)?;
                if let Some(at) = &read.installs_project {
                    bail!(
                        "{at}: the line installs the project, which the Dockerfile's dependency stage cannot do before the source is copied: remove it (the Dockerfile installs the project after its dependencies when pyproject.toml declares a [build-system]; pyship build takes the line as it is)"
                    );
                }
                let shown = |paths: &[std::path::PathBuf]| {
                    paths.iter().map(|p| p.display().to_string()).collect()
                };
                Lockfile::Requirements {
                    files: shown(&read.files),
                    inputs: shown(&read.inputs),
                    hashed: read.hashed,
                }
            }
        })
    }

    /// The normalized names of the packages installed at run time (no dev groups).
    pub fn runtime_packages(&self, project: &Project, python_xy: &str) -> Result<Vec<String>> {
        let kind = match self {
            Lockfile::Poetry => lock::Lockfile::Poetry,
            Lockfile::Uv => lock::Lockfile::Uv,
            Lockfile::Requirements { .. } => lock::Lockfile::Requirements,
        };
        let lock = Lock::open(project, &kind)?;
        lock.ensure_fresh(project)?;
        let target = Target::bookworm(ImagePlatform::Amd64, &format!("{python_xy}.0"))?;
        let packages =
            lock.runtime_packages(project, &target.marker_environment(), &Selection::default())?;
        Ok(packages.iter().map(|p| normalize(&p.name)).collect())
    }
}
