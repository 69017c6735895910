//! `.github/workflows/container.yml`, in one of two shapes: Docker's actions building the
//! Dockerfile (the default, for teams that keep one), or pyship itself building and
//! publishing without Docker, buildx or QEMU.

mod docker;
mod pyship;

use clap::ValueEnum;
use serde::Deserialize;

/// What builds the image in CI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ci {
    /// BuildKit builds the generated Dockerfile (docker/build-push-action).
    #[default]
    Docker,
    /// pyship builds, attests, signs and promotes: no Dockerfile, no Docker daemon.
    Pyship,
}

/// Third-party actions, pinned to the commit their release tag named when pyship was
/// released: a tag can be moved by whoever controls the repository, a commit cannot.
const CHECKOUT: &str = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1";
const LOGIN: &str = "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121 # v4.1.0";

/// What both workflows start with: when they run, no permissions by default, and one
/// run per ref at a time, so two pushes never race to move the same tags.
const HEAD: &str = "\
name: container

on:
  push:
    branches: [main]
    tags: [\"v*\"]

# Nothing by default; each job asks for what it needs.
permissions: {}

concurrency:
  group: container-${{ github.ref }}
  cancel-in-progress: false
";

pub fn render(ci: Ci) -> String {
    match ci {
        Ci::Docker => docker::render(),
        Ci::Pyship => pyship::render(),
    }
}

/// The build job's first steps in both workflows: the checkout, without leaving the
/// token in `.git/config`, and the image's name, which GHCR wants lowercase.
fn first_steps() -> String {
    format!(
        "      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - id: name
        name: Image name (GHCR wants it lowercase)
        env:
          REPOSITORY: ${{{{ github.repository }}}}
        run: echo \"image=ghcr.io/${{REPOSITORY,,}}\" >> \"$GITHUB_OUTPUT\""
    )
}

/// Logs in to GHCR with the job's own `GITHUB_TOKEN`: every job that touches the
/// registry through Docker starts with it.
fn ghcr_login() -> String {
    format!(
        "      - uses: {LOGIN}
        with:
          registry: ghcr.io
          username: ${{{{ github.actor }}}}
          password: ${{{{ secrets.GITHUB_TOKEN }}}}"
    )
}
