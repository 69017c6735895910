//! The content-addressed cache shared by every project: wheels, base layers and the
//! layers pyship writes live under `blobs/sha256/<hex>`, small JSON records under
//! `records/`. Files appear only by atomic rename after their digest was checked, so an
//! interrupted or failed download never leaves a corrupt entry behind.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Serialize, de::DeserializeOwned};

use super::digest::{Digest, HashingWriter};

/// Bytes that arrived whole but are not the ones asked for: unlike an I/O error, trying
/// again will not help, so callers tell the user where the wrong bytes came from.
#[derive(Debug, thiserror::Error)]
#[error("content has digest {actual}, expected {expected}")]
pub struct DigestMismatch {
    pub expected: Digest,
    pub actual: Digest,
}

/// The on-disk cache.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Opens the cache at `$PYSHIP_CACHE_DIR`, else `$XDG_CACHE_HOME/pyship`, else `~/.cache/pyship`.
    pub fn open() -> Result<Cache> {
        let root = if let Some(dir) = std::env::var_os("PYSHIP_CACHE_DIR") {
            PathBuf::from(dir)
        } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            PathBuf::from(dir).join("pyship")
        } else if let Some(home) = std::env::var_os("HOME") {
            PathBuf::from(home).join(".cache").join("pyship")
        } else {
            bail!("no cache directory: set PYSHIP_CACHE_DIR or HOME");
        };
        Cache::at(root)
    }

    pub fn at(root: PathBuf) -> Result<Cache> {
        for dir in ["blobs/sha256", "records", "tmp"] {
            fs::create_dir_all(root.join(dir)).with_context(|| {
                format!(
                    "cannot create the cache at {}: set PYSHIP_CACHE_DIR to a writable directory",
                    root.display()
                )
            })?;
        }
        Ok(Cache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores what `write` produces as a blob. With `expected`, a different digest is an
    /// error and nothing is kept. Returns the digest and size.
    pub fn write_blob(
        &self,
        expected: Option<&Digest>,
        write: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<(Digest, u64)> {
        let tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))
            .context("cannot create a file in the cache")?;
        let mut writer = HashingWriter::new(io::BufWriter::new(tmp));
        write(&mut writer)?;
        let (buffered, digest, size) = writer.finish();
        let tmp = buffered.into_inner().map_err(|err| err.into_error())?;
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(DigestMismatch {
                expected: expected.clone(),
                actual: digest,
            }
            .into());
        }
        tmp.as_file().sync_data().ok();
        tmp.persist(self.blob_path(&digest))
            .map_err(|err| err.error)
            .context("cannot move a finished download into the cache")?;
        Ok((digest, size))
    }

    /// Copies a file into the cache, checking its digest when one is expected.
    pub fn import_file(&self, path: &Path, expected: Option<&Digest>) -> Result<Digest> {
        if let Some(d) = expected
            && self.has_blob(d)
        {
            return Ok(d.clone());
        }
        let mut file =
            File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let (digest, _) = self.write_blob(expected, |out| {
            io::copy(&mut file, out)?;
            Ok(())
        })?;
        Ok(digest)
    }

    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if !self.has_blob(&digest) {
            self.write_blob(Some(&digest), |w| Ok(w.write_all(bytes)?))?;
        }
        Ok(digest)
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        fs::read(self.blob_path(digest))
            .with_context(|| format!("blob {digest} is not in the cache"))
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest))
            .with_context(|| format!("blob {digest} is not in the cache"))
    }

    /// A JSON record stored under a key, such as what a base image contains.
    pub fn record<T: DeserializeOwned>(&self, kind: &str, key: &str) -> Option<T> {
        let text = fs::read(self.root.join("records").join(kind).join(key)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    pub fn put_record<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<()> {
        let dir = self.root.join("records").join(kind);
        fs::create_dir_all(&dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        serde_json::to_writer(&mut tmp, value)?;
        tmp.persist(dir.join(key)).map_err(|err| err.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_with_wrong_digest_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let wrong = Digest::of(b"other");
        let err = cache
            .write_blob(Some(&wrong), |w| Ok(w.write_all(b"content")?))
            .unwrap_err();
        assert!(err.to_string().contains("expected"));
        assert!(
            err.downcast_ref::<DigestMismatch>()
                .is_some_and(|m| m.expected == wrong),
            "a mismatch is told apart from an I/O error"
        );
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        let digest = cache.put_blob(b"content").unwrap();
        assert_eq!(cache.read_blob(&digest).unwrap(), b"content");
    }
}
