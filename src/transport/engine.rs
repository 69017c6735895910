//! The local Docker or Podman engine (`docker:NAME`, `--load`): images read through
//! `save`, written through `load`, and every other engine command run the same way,
//! with one policy for what a failure tells the user.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

use super::ResolvedImage;
use crate::oci::Reference;
use crate::oci::image::Image;
use crate::store::Cache;

/// A container engine's command-line client.
#[derive(Debug, Clone)]
pub struct Engine {
    program: String,
}

impl Engine {
    /// `$PYSHIP_ENGINE`, else docker, else podman.
    pub fn detect() -> Result<Engine> {
        if let Ok(program) = std::env::var("PYSHIP_ENGINE") {
            return Ok(Engine { program });
        }
        for candidate in ["docker", "podman"] {
            let found = Command::new(candidate)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if found.is_ok_and(|s| s.success()) {
                return Ok(Engine {
                    program: candidate.to_owned(),
                });
            }
        }
        bail!(
            "no container engine on PATH: install docker or podman (or set PYSHIP_ENGINE), or use --output oci:DIR / --push REF"
        )
    }

    /// A command for this engine, to add arguments and environment to.
    pub fn command(&self) -> Command {
        Command::new(&self.program)
    }

    /// Runs `command` (made by [`Engine::command`]) to completion, whatever its status.
    pub fn output(&self, command: &mut Command) -> Result<Output> {
        command
            .output()
            .with_context(|| format!("cannot run `{}`", self.program))
    }

    /// Runs `command` and returns its trimmed stdout; on failure, an error naming the
    /// subcommand, the engine's last line of stderr and `hint`.
    pub fn ok(&self, command: &mut Command, hint: &str) -> Result<String> {
        let out = self.output(command)?;
        self.check(command, &out, hint)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The one-line error for a failed engine command, or nothing when it succeeded.
    pub fn check(&self, command: &Command, out: &Output, hint: &str) -> Result<()> {
        if out.status.success() {
            return Ok(());
        }
        let subcommand = command
            .get_args()
            .next()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.trim().lines().last().unwrap_or("").trim();
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!(": {hint}")
        };
        bail!("`{} {subcommand}` failed: {last}{hint}", self.program)
    }

    /// Saves `name` from the engine to a scratch archive and reads that.
    pub fn resolve(&self, name: &str, cache: &Cache) -> Result<ResolvedImage> {
        let scratch = tempfile::tempdir_in(cache.root().join("tmp"))?;
        let archive = scratch.path().join("image.tar");
        self.ok(
            self.command().args(["save", "-o"]).arg(&archive).arg(name),
            &format!("check the image name {name} with `{} images`", self.program),
        )?;
        let mut image = super::archive::resolve(&archive, cache)?;
        image.name = format!("docker:{name}");
        Ok(image)
    }

    /// Streams `image` as a docker-archive into `load`.
    pub fn load(&self, image: &Image, tag: &Reference, cache: &Cache) -> Result<String> {
        let mut load = self.command();
        load.arg("load")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = load
            .spawn()
            .with_context(|| format!("cannot run `{} load`", self.program))?;
        let mut stdin = child.stdin.take().expect("piped");
        let written = super::archive::write(&mut stdin, image, tag, cache);
        let _ = stdin.flush();
        drop(stdin);
        let result = child.wait_with_output()?;
        self.check(
            &load,
            &result,
            &format!("is the engine running? (`{} info`)", self.program),
        )?;
        written?;
        Ok(format!("{tag} ({}@{})", tag.name(), image.manifest_digest))
    }
}
