//! The platform an image is for: its CPU architecture (always on Linux) and its C
//! library, which together decide which compiled code can run in it.

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};

/// An OCI platform pyship builds for: always Linux, with an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePlatform {
    Amd64,
    Arm64,
}

impl ImagePlatform {
    /// The OCI `architecture` value.
    pub fn oci_arch(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    /// The OCI `variant` value: arm64 images are ARMv8.
    pub fn variant(self) -> Option<&'static str> {
        match self {
            Self::Amd64 => None,
            Self::Arm64 => Some("v8"),
        }
    }

    /// The platform this machine (and so its container engine) runs natively, if
    /// pyship builds for it.
    pub fn host() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Self::Amd64),
            "aarch64" => Some(Self::Arm64),
            _ => None,
        }
    }

    /// A comma-separated list (`linux/amd64,linux/arm64`), in the order given, each
    /// platform once.
    pub fn list(text: &str) -> Result<Vec<Self>> {
        let mut platforms = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                bail!("empty platform in {text:?}: list them as linux/amd64,linux/arm64");
            }
            let platform = Self::from_str(item)?;
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
        Ok(platforms)
    }

    /// The machine name Python reports (`platform.machine()`).
    pub fn machine(self) -> &'static str {
        match self {
            Self::Amd64 => "x86_64",
            Self::Arm64 => "aarch64",
        }
    }
}

impl FromStr for ImagePlatform {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "linux/amd64" | "amd64" | "linux/x86_64" => Ok(Self::Amd64),
            "linux/arm64" | "arm64" | "linux/arm64/v8" | "linux/aarch64" => Ok(Self::Arm64),
            other => bail!("unsupported platform {other:?}: use linux/amd64 or linux/arm64"),
        }
    }
}

impl fmt::Display for ImagePlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.oci_arch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        let list = ImagePlatform::list("linux/arm64, linux/amd64,arm64").unwrap();
        assert_eq!(list, [ImagePlatform::Arm64, ImagePlatform::Amd64]);
        assert!(ImagePlatform::list("linux/amd64,").is_err());
        assert!(ImagePlatform::list("linux/amd64,linux/s390x").is_err());
    }
}

/// The C library of a base image, which decides manylinux versus musllinux wheels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Libc {
    Glibc { major: u16, minor: u16 },
    Musl { major: u16, minor: u16 },
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Libc::Glibc { major, minor } => write!(f, "glibc {major}.{minor}"),
            Libc::Musl { major, minor } => write!(f, "musl {major}.{minor}"),
        }
    }
}

impl Libc {
    /// Debian bookworm's glibc, the libc of the `python:*-slim` images.
    pub const BOOKWORM: Libc = Libc::Glibc {
        major: 2,
        minor: 36,
    };
}
