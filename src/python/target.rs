//! The environment an image runs in, as Python packaging sees it: CPU architecture,
//! C library and interpreter version. It decides which wheels fit and which markers hold.

use std::fmt;

use anyhow::{Result, bail};
use uv_pep508::{MarkerEnvironment, MarkerEnvironmentBuilder};
use uv_platform_tags::{Arch, Os, Platform, Tags, TagsOptions};

use crate::oci::platform::{ImagePlatform, Libc};

/// Everything wheel selection and marker evaluation need to know about the image.
#[derive(Debug, Clone)]
pub struct Target {
    pub platform: ImagePlatform,
    pub libc: Libc,
    /// The interpreter's full version, such as `3.12.7`.
    pub python_full: String,
    pub python_major: u8,
    pub python_minor: u8,
}

impl Target {
    pub fn new(platform: ImagePlatform, libc: Libc, python_full: &str) -> Result<Target> {
        let mut parts = python_full.split('.');
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts.next().and_then(|p| p.parse().ok());
        let (Some(python_major), Some(python_minor)) = (major, minor) else {
            bail!("{python_full:?} is not a Python version of the form X.Y or X.Y.Z");
        };
        Ok(Target {
            platform,
            libc,
            python_full: python_full.to_owned(),
            python_major,
            python_minor,
        })
    }

    /// A target on Debian bookworm's glibc 2.36, the libc of the default `python:*-slim`
    /// bases: for files written before any base is read (`pyship init`) and for tests.
    pub fn bookworm(platform: ImagePlatform, python_full: &str) -> Result<Target> {
        Target::new(platform, Libc::BOOKWORM, python_full)
    }

    pub fn python_xy(&self) -> String {
        format!("{}.{}", self.python_major, self.python_minor)
    }

    /// The compatible wheel tags, most preferred first, as an installer on the target would rank them.
    pub fn tags(&self) -> Result<Tags> {
        let os = match self.libc {
            Libc::Glibc { major, minor } => Os::Manylinux { major, minor },
            Libc::Musl { major, minor } => Os::Musllinux { major, minor },
        };
        let arch = match self.platform {
            ImagePlatform::Amd64 => Arch::X86_64,
            ImagePlatform::Arm64 => Arch::Aarch64,
        };
        let version = (self.python_major, self.python_minor);
        let options = TagsOptions {
            manylinux_compatible: true,
            is_cross: true,
            ..TagsOptions::default()
        };
        Tags::from_env(
            Platform::new(os, arch),
            version,
            "cpython",
            version,
            options,
        )
        .map_err(|err| anyhow::anyhow!("cannot compute wheel tags for {self}: {err}"))
    }

    /// The PEP 508 environment markers of the target interpreter.
    pub fn marker_environment(&self) -> MarkerEnvironment {
        let python_xy = self.python_xy();
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &self.python_full,
            os_name: "posix",
            platform_machine: self.platform.machine(),
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &self.python_full,
            python_version: &python_xy,
            sys_platform: "linux",
        })
        .expect("versions were validated in Target::new")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CPython {} on {} ({})",
            self.python_full, self.platform, self.libc
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use uv_distribution_filename::WheelFilename;

    fn fits(target: &Target, wheel: &str) -> bool {
        WheelFilename::from_str(wheel)
            .unwrap()
            .is_compatible(&target.tags().unwrap())
    }

    #[test]
    fn glibc_target_takes_manylinux_and_abi3_but_not_musl_or_newer_glibc() {
        let t = Target::bookworm(ImagePlatform::Amd64, "3.11.2").unwrap();
        assert!(fits(
            &t,
            "pydantic_core-2.27.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        ));
        assert!(fits(
            &t,
            "cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"
        ));
        assert!(fits(&t, "six-1.16.0-py2.py3-none-any.whl"));
        assert!(!fits(
            &t,
            "pydantic_core-2.27.2-cp311-cp311-musllinux_1_1_x86_64.whl"
        ));
        assert!(!fits(&t, "x-1.0-cp311-cp311-manylinux_2_39_x86_64.whl"));
        assert!(!fits(&t, "x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"));
        assert!(!fits(&t, "x-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"));
    }

    #[test]
    fn musl_target_takes_musllinux() {
        let t = Target::new(
            ImagePlatform::Arm64,
            Libc::Musl { major: 1, minor: 2 },
            "3.12.1",
        )
        .unwrap();
        assert!(fits(&t, "x-1.0-cp312-cp312-musllinux_1_1_aarch64.whl"));
        assert!(!fits(&t, "x-1.0-cp312-cp312-manylinux_2_17_aarch64.whl"));
    }

    #[test]
    fn platform_parses_and_rejects() {
        assert_eq!(
            "linux/arm64".parse::<ImagePlatform>().unwrap(),
            ImagePlatform::Arm64
        );
        assert!(
            "windows/amd64"
                .parse::<ImagePlatform>()
                .unwrap_err()
                .to_string()
                .contains("linux/amd64")
        );
    }
}
