//! Image references as written after `FROM` or `COPY --from`: `[registry/]repo[:tag][@digest]`.

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Everything before the tag and digest, e.g. `ghcr.io/astral-sh/uv`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> ImageRef {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (reference, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                rest[..last_slash + i].to_string(),
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        ImageRef {
            repository,
            tag,
            digest,
        }
    }

    /// The last path component: `python` for `docker.io/library/python`.
    pub fn name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// `scratch` is no image at all, and needs no tag.
    pub fn is_scratch(&self) -> bool {
        self.repository == "scratch"
    }

    /// Whether this is an official `python` image (Docker Hub, any mirror path).
    pub fn is_python(&self) -> bool {
        matches!(
            self.repository.as_str(),
            "python" | "library/python" | "docker.io/library/python" | "docker.io/python"
        ) || self.repository.ends_with("/library/python")
    }

    /// Whether this is one of astral's uv images.
    pub fn is_uv(&self) -> bool {
        self.repository.ends_with("astral-sh/uv")
    }

    /// The Python version the image is built around, read from its tag
    /// (`3.12-slim`, `python3.12-bookworm-slim`) or name (`distroless/python3`).
    pub fn python_version(&self) -> Option<String> {
        let tag = self.tag.as_deref()?;
        let candidate = if self.is_python() {
            tag
        } else {
            // uv and other tool images spell it `python3.12-…`.
            tag.split('-')
                .find_map(|part| part.strip_prefix("python"))?
        };
        let version: String = candidate
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let version = version.trim_end_matches('.');
        (version.contains('.') && version.starts_with('3')).then(|| version.to_string())
    }

    /// The Linux distribution the tag names, if any: `alpine`, `bookworm`, `trixie`, …
    pub fn distribution(&self) -> Option<Distribution> {
        let tag = self.tag.as_deref().unwrap_or("");
        let name = self.name();
        if name == "alpine" || tag.contains("alpine") {
            return Some(Distribution::Alpine);
        }
        for codename in ["bookworm", "bullseye", "buster", "trixie"] {
            if tag.contains(codename) {
                return Some(Distribution::Debian(codename.to_string()));
            }
        }
        if self.repository.contains("distroless") {
            let release = ["debian11", "debian12", "debian13"]
                .into_iter()
                .find(|r| name.contains(r) || self.repository.contains(r))?;
            let codename = match release {
                "debian11" => "bullseye",
                "debian12" => "bookworm",
                _ => "trixie",
            };
            return Some(Distribution::Debian(codename.to_string()));
        }
        if matches!(name, "ubuntu") {
            return Some(Distribution::Ubuntu(tag.to_string()));
        }
        if matches!(name, "debian") && !tag.is_empty() {
            let codename = tag.split('-').next().unwrap_or(tag);
            return Some(Distribution::Debian(codename.to_string()));
        }
        None
    }
}

/// The userland a base image is built on; a venv built on one does not run on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distribution {
    Alpine,
    Debian(String),
    Ubuntu(String),
}

impl std::fmt::Display for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distribution::Alpine => f.write_str("Alpine (musl)"),
            Distribution::Debian(codename) => write!(f, "Debian {codename}"),
            Distribution::Ubuntu(release) => write!(f, "Ubuntu {release}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tag_and_digest_but_not_registry_port() {
        let r = ImageRef::parse("localhost:5000/team/app:1.2@sha256:abc");
        assert_eq!(r.repository, "localhost:5000/team/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(ImageRef::parse("localhost:5000/app").tag, None);
    }

    #[test]
    fn python_versions_from_tags() {
        assert_eq!(
            ImageRef::parse("python:3.12-slim")
                .python_version()
                .as_deref(),
            Some("3.12")
        );
        assert_eq!(
            ImageRef::parse("ghcr.io/astral-sh/uv:python3.11-bookworm-slim")
                .python_version()
                .as_deref(),
            Some("3.11")
        );
        assert_eq!(ImageRef::parse("python:slim").python_version(), None);
        assert_eq!(ImageRef::parse("python:3-slim").python_version(), None);
    }

    #[test]
    fn distributions() {
        assert_eq!(
            ImageRef::parse("python:3.12-alpine3.20").distribution(),
            Some(Distribution::Alpine)
        );
        assert_eq!(
            ImageRef::parse("python:3.12-slim-bookworm").distribution(),
            Some(Distribution::Debian("bookworm".into()))
        );
        assert_eq!(ImageRef::parse("python:3.12-slim").distribution(), None);
    }
}
