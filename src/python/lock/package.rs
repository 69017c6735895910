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
    /// Set when the lock pins the package without its files' URLs: the package-index
    /// lookup (`python::simple_api`) fills in `wheels`, `sdist` and `index` from it.
    #[serde(skip)]
    pub lookup: Option<IndexLookup>,
    /// A wheel or sdist file the lock pins by path, relative to the lock's directory.
    #[serde(default)]
    pub path: Option<String>,
    /// A local package (a workspace member, a path dependency) built from this
    /// directory, relative to the lock's.
    #[serde(default)]
    pub directory: Option<String>,
}

/// What a lock says about a package whose files must be found on an index.
#[derive(Debug, Clone, Default)]
pub struct IndexLookup {
    /// The indexes to search, in order: the first that has the version decides.
    pub indexes: Vec<IndexUrl>,
    /// The files the lock names (Poetry); empty for any file of the version.
    pub filenames: Vec<String>,
    /// sha256 digests (lowercase hex) the files must have; empty when the lock gives none.
    pub hashes: Vec<String>,
    /// Where the lock pins the package, such as `requirements.txt:12`, for errors.
    pub pinned_at: String,
}

/// A package index (PEP 503 / PEP 691 "simple" URL) and where it was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexUrl {
    /// As configured, login included: it goes to this index's origin only.
    pub url: String,
    /// What to check when the index fails, such as `--index-url in requirements.txt:1`.
    pub declared: String,
}

impl IndexUrl {
    /// PyPI, the index every installer uses unless told otherwise.
    pub fn pypi() -> IndexUrl {
        IndexUrl {
            url: "https://pypi.org/simple".to_owned(),
            declared: "your network, or name a mirror with --index-url in the requirements file"
                .to_owned(),
        }
    }
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
