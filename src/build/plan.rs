//! Everything a build decides before it writes a layer: the interpreter, the
//! dependencies, the files, the command, the port, the time every file is clamped
//! to, and where the image goes under which name.

use std::str::FromStr;

use anyhow::Result;

use super::args::BuildArgs;
use super::dependencies::Dependencies;
use crate::contract::{DEFAULT_PORT, VENV_DIR};
use crate::oci::Reference;
use crate::oci::facts::{BaseFacts, Interpreter};
use crate::python::entrypoint::{self, Entrypoint};
use crate::python::interpreter;
use crate::python::lock::normalize;
use crate::python::project::Project;
use crate::python::source::SourceFiles;
use crate::python::wheel::WheelChoice;
use crate::transport::Destination;

pub struct Plan {
    pub project: Project,
    pub interpreter: Interpreter,
    pub deps: Dependencies,
    /// The project (when it has a build system) and the workspace members and path
    /// dependencies it needs, built into wheels for the project layer.
    pub local: Vec<WheelChoice>,
    pub files: SourceFiles,
    pub entrypoint: Entrypoint,
    pub port: u16,
    /// Seconds since 1970 that every mtime is clamped to, and the image's creation time.
    pub epoch: u64,
    pub destinations: Vec<Destination>,
    /// The name the image is given in outputs and engines.
    pub tag: Reference,
}

impl Plan {
    pub fn new(
        project: Project,
        facts: &BaseFacts,
        deps: Dependencies,
        local: Vec<WheelChoice>,
        args: &BuildArgs,
        destinations: Vec<Destination>,
    ) -> Result<Plan> {
        let interpreter = interpreter::choose(&project, facts)?;
        let files = SourceFiles::collect(&project.root)?;
        let port = args.port.or(project.config.port).unwrap_or(DEFAULT_PORT);
        let entrypoint = entrypoint::detect(
            &project,
            &files,
            &deps.installed,
            &format!("{VENV_DIR}/bin"),
            port,
        )?;
        let pushed = destinations.iter().find_map(|d| match d {
            Destination::Push(target) => Some(target.first_reference()),
            _ => None,
        });
        let tag = match (&args.tag, pushed) {
            (Some(tag), _) => Reference::from_str(tag)?,
            (None, Some(pushed)) => pushed,
            (None, None) => Reference::from_str(&format!("{}:latest", project.image_name()))?,
        };
        Ok(Plan {
            epoch: super::git::source_date_epoch(&project.root)?,
            project,
            interpreter,
            deps,
            local,
            files,
            entrypoint,
            port,
            destinations,
            tag,
        })
    }
}

impl Plan {
    /// True when the project is installed from its own wheel; otherwise (a virtual
    /// project, in uv's words) it runs from its source in /app.
    pub fn project_is_built(&self) -> bool {
        let name = normalize(&self.project.name);
        self.local.iter().any(|w| normalize(&w.package) == name)
    }
}
