//! The base a build starts from: `--base`, `[tool.pyship] base`, or the official slim
//! image of the project's Python; a `deb:` base gets what the project adds to it.

use std::str::FromStr;

use anyhow::{Context, Result};

use super::BuildArgs;
use crate::python::interpreter;
use crate::python::project::Project;
use crate::transport::ImageSource;
use crate::transport::debian::DebianSource;

/// Where the base comes from, ready to resolve for each platform.
pub fn source(args: &BuildArgs, project: &Project) -> Result<ImageSource> {
    let name = match &args.base {
        Some(base) => base.clone(),
        None => interpreter::default_base(project)?,
    };
    let mut source = ImageSource::from_str(&name)?;
    if let ImageSource::Debian(debian) = &mut source {
        for_project(debian, args, project)?;
    }
    Ok(source)
}

fn for_project(debian: &mut DebianSource, args: &BuildArgs, project: &Project) -> Result<()> {
    for package in &project.config.base_packages {
        debian
            .spec
            .add_package(package)
            .context("in [tool.pyship] base-packages")?;
    }
    debian.python = interpreter::wanted_python_xy(project).and_then(|xy| {
        let (major, minor) = xy.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    });
    debian.lock_file = Some(project.root.join(crate::debian::archive::LOCK_FILE_NAME));
    debian.update_lock = args.lock_base;
    debian.refresh = args.refresh_base || args.lock_base;
    debian.quiet = args.quiet || args.format == super::Format::Json;
    for file in &project.config.base_ca_certificates {
        let path = project.root.join(file);
        let pem = std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {} named in [tool.pyship] base-ca-certificates: fix the path (relative to pyproject.toml)",
                path.display()
            )
        })?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "extra.crt".to_owned());
        debian.extra_ca_certificates.push((name, pem));
    }
    Ok(())
}
