//! What every lockfile reader yields: a pinned distribution and the files it may be
//! installed from, each with the hash that proves it is the file that was locked.

use serde::Deserialize;

/// One pinned distribution a target needs, as any lockfile kind records it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: Option<String>,
    /// The package index the lock took the package from, whose login downloads may use.
    #[serde(default)]
    pub index: Option<String>,
    pub sdist: Option<Artifact>,
    #[serde(default)]
    pub wheels: Vec<Artifact>,
}

/// A downloadable file of a locked package (a wheel or an sdist).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Artifact {
    pub url: Option<String>,
    pub path: Option<String>,
    pub filename: Option<String>,
    pub hash: Option<String>,
    pub size: Option<u64>,
}

impl Artifact {
    /// The file name: the `filename` field, else the last segment of the URL or path.
    pub fn filename(&self) -> Option<&str> {
        if let Some(name) = &self.filename {
            return Some(name);
        }
        let location = self.url.as_deref().or(self.path.as_deref())?;
        let location = location.split(['#', '?']).next().unwrap_or(location);
        location.rsplit('/').next()
    }
}

impl LockedPackage {
    pub fn version_str(&self) -> &str {
        self.version.as_deref().unwrap_or("(no version)")
    }
}
