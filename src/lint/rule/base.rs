//! Catalogue text for the base-image rules (PS1xx), checked in `rules/base.rs`.

use super::Category::Base;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::{Error, Info, Warning};

pub(super) const PS101: Rule = Rule {
    id: RuleId::PS101,
    name: "base-tag-moving",
    category: Base,
    severity: Warning,
    summary: "base image is `latest` or has no tag",
    hint: "name the version you test against, e.g. `python:3.12-slim-bookworm`",
    explain: "`FROM python` and `FROM python:latest` resolve to whatever was pushed last. A \
rebuild of an unchanged commit can silently move to a new Python minor version or a new \
Debian release, and wheels, the venv interpreter path and system libraries move with it. \
Pin a version tag at least (and a digest, see PS103) so a rebuild reproduces what was tested.",
    hadolint: &["DL3006", "DL3007"],
    fixable: false,
};

pub(super) const PS102: Rule = Rule {
    id: RuleId::PS102,
    name: "base-alpine",
    category: Base,
    severity: Warning,
    summary: "Python on an Alpine (musl) base",
    hint: "use a Debian slim image such as `python:3.12-slim`",
    explain: "Most binary wheels on PyPI are built for glibc (manylinux). On Alpine, which \
uses musl, pip and uv often find no matching wheel and compile from source: builds need a \
compiler and headers, take much longer, and the image usually ends up larger than the slim \
Debian variant. Some packages also behave differently on musl (DNS, locale, threading \
stack size). Use `-slim` unless you have measured a reason not to.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS103: Rule = Rule {
    id: RuleId::PS103,
    name: "base-no-digest",
    category: Base,
    severity: Info,
    summary: "base image is pinned by tag but not by digest",
    hint: "append `@sha256:…` (a bot such as Renovate can keep it current)",
    explain: "Tags are labels that move: `python:3.12-slim` is re-pushed for every patch \
release and security update. Only a digest names exact bytes. Pinning `image:tag@sha256:…` \
keeps the readable tag and makes the build reproducible; update the digest on purpose.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS104: Rule = Rule {
    id: RuleId::PS104,
    name: "python-version-mismatch",
    category: Base,
    severity: Warning,
    summary: "base image Python differs from `.python-version`",
    hint: "use the base image tag that matches `.python-version` (or update the file)",
    explain: "The project pins its interpreter in `.python-version`; developers and CI test \
against it. An image built on another minor version runs code against a different \
standard library and may pick different wheels. uv reads `.python-version` too: with a \
mismatching system Python it may download its own interpreter into the builder, which the \
runtime stage does not have (see PS205).",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS105: Rule = Rule {
    id: RuleId::PS105,
    name: "stage-python-mismatch",
    category: Base,
    severity: Error,
    summary: "builder and runtime stages use different Python versions",
    hint: "build from the same `python:X.Y` in every stage that shares the venv",
    explain: "A virtual environment is tied to the interpreter that created it: \
`.venv/bin/python` is a symlink to it and compiled extensions target its ABI. Copying a \
venv built on Python 3.11 into a 3.12 runtime leaves a dangling interpreter link and \
extensions that cannot load; the container fails at start.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS106: Rule = Rule {
    id: RuleId::PS106,
    name: "stage-distro-mismatch",
    category: Base,
    severity: Warning,
    summary: "builder and runtime stages come from different distributions",
    hint: "use the same distribution release (e.g. bookworm) for builder and runtime",
    explain: "Compiled wheels and the venv copied out of the builder link against its C \
library and system libraries. A runtime on another distribution or release (musl vs glibc, \
bullseye vs bookworm) may lack those libraries or carry older ones, and imports fail at \
run time rather than at build time.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS107: Rule = Rule {
    id: RuleId::PS107,
    name: "python-end-of-life",
    category: Base,
    severity: Warning,
    summary: "base image Python no longer gets security fixes",
    hint: "move to a supported Python, e.g. `python:3.12-slim`",
    explain: "CPython releases get security fixes for five years. Python 3.9 and older are \
past that date: new CVEs in the interpreter and its bundled libraries stay open, and the \
official images for them are no longer rebuilt, so their Debian packages age too.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS108: Rule = Rule {
    id: RuleId::PS108,
    name: "runtime-base-full",
    category: Base,
    severity: Warning,
    summary: "the shipped stage starts from the full, non-slim Python image",
    hint: "use `python:3.X-slim` for the stage that ships; keep the full image for building",
    explain: "The full `python:3.X` image carries compilers, headers and hundreds of Debian \
packages for building wheels: about a gigabyte, and many more packages for scanners to \
flag and an intruder to use. The stage that ships needs only the interpreter and the \
shared libraries its wheels link to: the `-slim` variant.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS109: Rule = Rule {
    id: RuleId::PS109,
    name: "runtime-build-platform",
    category: Base,
    severity: Warning,
    summary: "the shipped stage is built `FROM --platform=$BUILDPLATFORM`",
    hint: "drop `--platform` from the stage that ships; keep it for cross-compiling builders",
    explain: "`--platform=$BUILDPLATFORM` runs a stage on the machine that builds. That is \
right for a builder that cross-compiles, but a stage that ships then holds the build \
machine's architecture: an arm64 image built on amd64 CI carries amd64 binaries and fails \
with `exec format error`.",
    hadolint: &["DL3029"],
    fixable: false,
};
