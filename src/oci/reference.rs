//! Image references as Docker writes them: `[registry/]repository[:tag][@digest]`,
//! with Docker Hub's defaults (`docker.io`, `library/`).

use std::fmt;
use std::str::FromStr;

use anyhow::Result;

use crate::store::Digest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// The host to send API requests to (Docker Hub's API lives on another name).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The tag or digest to ask the registry for.
    pub fn tag_or_digest(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository pinned to `digest`.
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}@{digest}", self.name())
    }

    /// True for registries on this machine, which speak plain HTTP as Docker assumes:
    /// `localhost`, or a host that parses as a loopback IP (127.0.0.0/8, ::1). A name
    /// that merely starts with `127.` is someone else's host.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// True when `authority` (`host[:port]`, IPv6 in brackets) names this machine.
pub fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(ip, _)| ip),
        None => authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl FromStr for Reference {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Reference> {
        let invalid = |why: &str| {
            anyhow::anyhow!(
                "{text:?} is not an image reference ({why}): write it like registry.example.com/team/app:1.0"
            )
        };
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("empty or contains spaces"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(Digest::from_str(digest).map_err(|_| invalid("bad digest"))?),
            ),
            None => (text, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_owned())),
            _ => (rest, None),
        };
        if let Some(tag) = &tag
            && (tag.is_empty()
                || tag.len() > 128
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            return Err(invalid("bad tag"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let valid_part = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(valid_part) {
            return Err(invalid(
                "repository names are lowercase letters, digits and . _ -",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_forms() {
        let r: Reference = "python:3.12-slim".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/python", Some("3.12-slim"))
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r: Reference = "127.0.0.1:5000/team/app".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", None)
        );
        assert!(r.is_loopback());
        let digest = Digest::of(b"x");
        let r: Reference = format!("ghcr.io/o/a:1@{digest}").parse().unwrap();
        assert_eq!(r.digest, Some(digest));
        assert!(!r.is_loopback());
    }

    #[test]
    fn loopback_is_decided_by_the_parsed_address() {
        for local in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost:5000",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback_host(local), "{local}");
        }
        for remote in [
            "127.evil.example",
            "127.0.0.1.evil.example:5000",
            "localhost.evil.example",
            "10.0.0.1:5000",
            "[::2]:5000",
        ] {
            assert!(!is_loopback_host(remote), "{remote}");
        }
        let r: Reference = "127.evil.example/team/app:1".parse().unwrap();
        assert!(!r.is_loopback());
    }

    #[test]
    fn rejects_bad_references() {
        for bad in ["", "UPPER/case", "a b", "repo:", "x@sha256:12", "ghcr.io/"] {
            assert!(bad.parse::<Reference>().is_err(), "{bad}");
        }
    }
}
