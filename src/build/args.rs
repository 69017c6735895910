//! `pyship build`'s command line, as typed: flags and `PYSHIP_*` variables, before
//! anything is checked against the project.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;
use clap::Args;

use crate::oci::Reference;
use crate::oci::platform::ImagePlatform;
use crate::python::lock::Selection;
use crate::python::project::Project;
use crate::transport::{Destination, PushTarget};

/// Build a production image from a locked Python service, without a Docker daemon.
///
/// Reads pyproject.toml and its lock (uv.lock, poetry.lock or pinned requirements files),
/// installs the locked runtime dependencies (never dev groups) from wheels for the target
/// platform (source-only ones built into wheels with the host's python3 and pip), installs
/// the project itself when it has a build system, adds the project's files, and writes a
/// reproducible image that runs as the non-root user `app` (UID 1001) with an exec-form
/// command. Examples:
///
///   pyship build --load
///   pyship build path/to/service --push ghcr.io/acme/api:sha-1234abc
///   pyship build --push ghcr.io/acme/api:sha-1234abc --sign-key key.pem
///   pyship build --push ghcr.io/acme/api    (tags sha-<commit>, the branch, the release)
///   pyship build path/to/workspace --package api --load
///   pyship build --base python:3.12-slim --output oci:out/image
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BuildArgs {
    /// The service's directory (holding pyproject.toml and its lock: uv.lock, poetry.lock
    /// or requirements.txt), or a member of a uv workspace whose root holds uv.lock.
    #[arg(default_value = ".")]
    pub path: PathBuf,

    /// Build this member of the uv workspace PATH is in, as uv's --package does.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,

    /// Base image: a registry reference (tag or digest), oci:DIR[:TAG], docker-archive:FILE,
    /// or deb:SUITE[+PACKAGE...] to assemble it from Debian's signed packages (deb:bookworm
    /// for Python 3.11, deb:trixie for 3.13; +libpq5 adds a runtime library).
    /// Default: [tool.pyship] base, else python:X.Y-slim for the project's Python.
    #[arg(long, env = "PYSHIP_BASE")]
    pub base: Option<String>,

    /// For a deb: base, resolve its packages from the archive again and write them to
    /// pyship-base.lock, which later builds then use instead of the archive's index.
    #[arg(long)]
    pub lock_base: bool,

    /// For a deb: base, read the archive's index again even if a resolution from the
    /// last 24 hours is cached (a pyship-base.lock still decides when present).
    #[arg(long)]
    pub refresh_base: bool,

    /// Target platform: linux/amd64 or linux/arm64, or both as a comma list
    /// (linux/amd64,linux/arm64), which builds one image per platform and an image index.
    /// Default: [tool.pyship] platforms or platform, else linux/amd64.
    #[arg(long, env = "PYSHIP_PLATFORM", value_name = "PLATFORM[,PLATFORM]")]
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

    /// Push the image to a registry, e.g. 127.0.0.1:5000/team/api:sha-abc123. A repository
    /// without a tag gets the tags docker/metadata-action would give it from git:
    /// sha-<full commit>, the branch (`feature/x` as `feature-x`), and X.Y.Z for a
    /// vX.Y.Z tag on HEAD (a pre-release keeps its suffix).
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,

    /// Attach no SBOMs or provenance to the pushed image (by default both SBOMs, CycloneDX
    /// and SPDX, and an in-toto SLSA provenance are attached as OCI 1.1 referrers).
    #[arg(long, env = "PYSHIP_NO_ATTEST")]
    pub no_attest: bool,

    /// Sign the pushed image, and its SBOMs and provenance, with this ECDSA P-256 private
    /// key (PKCS#8 or SEC1 PEM), as Sigstore bundles attached as referrers.
    #[arg(long, env = "PYSHIP_SIGN_KEY", value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Push the sha-<commit> tag even when tracked files differ from the commit.
    #[arg(long, requires = "push")]
    pub allow_dirty: bool,

    /// Image name and tag for --load and the outputs (default: the project name, tag latest).
    #[arg(long, short = 't', value_name = "NAME[:TAG]")]
    pub tag: Option<String>,

    /// The lockfile to build from when the service has several: uv.lock, poetry.lock or
    /// requirements.txt (default: [tool.pyship] lockfile, else the only one present).
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<String>,

    /// Install this extra of the project too ([project.optional-dependencies]); repeatable.
    #[arg(long = "extra", value_name = "NAME")]
    pub extras: Vec<String>,

    /// Install every extra of the project.
    #[arg(long)]
    pub all_extras: bool,

    /// Install this dependency group too ([dependency-groups]); repeatable. None by default.
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,

    /// The port the service listens on when $PORT is unset at run time (sets ENV PORT and
    /// EXPOSE; the server reads $PORT when the container starts).
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

impl BuildArgs {
    /// The optional parts to install: these flags, else `[tool.pyship] extras`/`groups`.
    pub fn selection(&self, project: &Project) -> Selection {
        let or_config = |flags: &[String], config: &[String]| {
            if flags.is_empty() {
                config.to_vec()
            } else {
                flags.to_vec()
            }
        };
        Selection {
            extras: or_config(&self.extras, &project.config.extras),
            all_extras: self.all_extras,
            groups: or_config(&self.groups, &project.config.groups),
        }
    }

    /// The platforms to build, in order: this flag, else `[tool.pyship] platforms`,
    /// else `platform`, else linux/amd64.
    pub fn platforms(&self, project: &Project) -> Result<Vec<ImagePlatform>> {
        let config = &project.config;
        match (&self.platform, &config.platforms, &config.platform) {
            (Some(flag), _, _) => ImagePlatform::list(flag),
            (None, Some(list), _) if list.is_empty() => {
                anyhow::bail!(
                    "[tool.pyship] platforms is empty: list at least one, e.g. [\"linux/amd64\"]"
                )
            }
            (None, Some(list), _) => ImagePlatform::list(&list.join(",")),
            (None, None, Some(one)) => ImagePlatform::list(one),
            (None, None, None) => Ok(vec![ImagePlatform::Amd64]),
        }
    }

    /// Where the image goes: each `--output`, then `--load`, then `--push` (tagged from
    /// the git checkout around `root` when it names no tag or digest).
    pub fn destinations(&self, root: &Path) -> Result<Vec<Destination>> {
        let mut destinations: Vec<Destination> = self
            .outputs
            .iter()
            .map(|o| Destination::from_str(o))
            .collect::<Result<_>>()?;
        if self.load {
            destinations.push(Destination::Load);
        }
        if let Some(reference) = &self.push {
            let reference = Reference::from_str(reference)?;
            let tags = match (&reference.tag, &reference.digest) {
                (Some(tag), _) => vec![tag.clone()],
                (None, Some(_)) => Vec::new(),
                (None, None) => super::tags::from_git(root, self.allow_dirty)?,
            };
            destinations.push(Destination::Push(PushTarget::new(&reference, tags)));
        }
        Ok(destinations)
    }
}
