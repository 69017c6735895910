//! The content-addressed cache shared by every project: wheels, base layers and the
//! layers pyship writes live under `blobs/sha256/<hex>`, small JSON records under
//! `records/`. Files appear only by atomic rename after their digest was checked, so an
//! interrupted or failed download never leaves a corrupt entry behind; and a blob is
//! hashed again the first time a run uses it, so one damaged later (a disk error, an
//! edit through a hard link in an output) is fetched or built again, never shipped.
//! That first use also marks the blob used now (`usage`), which `pyship cache prune`
//! goes by, so a prune never removes a blob a running build has found.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest as _, Sha256};

use super::atomic::temp_file_in;
use super::digest::{Digest, HashingWriter};
use super::usage::{self, RunMark};

/// Bytes that arrived whole but are not the ones asked for: unlike an I/O error, trying
/// again will not help, so callers tell the user where the wrong bytes came from.
#[derive(Debug, thiserror::Error)]
#[error("content has digest {actual}, expected {expected}")]
pub struct DigestMismatch {
    pub expected: Digest,
    pub actual: Digest,
}

/// Scratch files older than this belong to no running build: an interrupted build's
/// download is rewritten far more often than this while it runs.
const STALE_SCRATCH: Duration = Duration::from_secs(60 * 60);

/// The on-disk cache.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// Blobs this run has hashed or written: each is read in full at most once.
    checked: Arc<Mutex<HashSet<Digest>>>,
    /// Held shared while the cache is open, so a later run can tell whether any other
    /// run is using `tmp/` (it then sweeps only scratch files that are old).
    _in_use: Option<Arc<File>>,
    /// This run's registration, which keeps prune off what it used since it started.
    _run: Option<Arc<RunMark>>,
}

impl Cache {
    /// Opens the cache at [`Cache::default_root`].
    pub fn open() -> Result<Cache> {
        Cache::at(Cache::default_root()?)
    }

    /// `$PYSHIP_CACHE_DIR`, else `$XDG_CACHE_HOME/pyship`, else `~/.cache/pyship`.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(dir) = std::env::var_os("PYSHIP_CACHE_DIR") {
            Ok(PathBuf::from(dir))
        } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            Ok(PathBuf::from(dir).join("pyship"))
        } else if let Some(home) = std::env::var_os("HOME") {
            Ok(PathBuf::from(home).join(".cache").join("pyship"))
        } else {
            bail!("no cache directory: set PYSHIP_CACHE_DIR or HOME");
        }
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
        let in_use = sweep_scratch(&root);
        let run = RunMark::register(&root);
        Ok(Cache {
            root,
            checked: Arc::default(),
            _in_use: in_use.map(Arc::new),
            _run: run.map(Arc::new),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// True when the blob is in the cache with the bytes its name promises. The first
    /// call in a run hashes the file; a damaged one is removed, so callers fetch or
    /// build it again as if it had never been there.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        let path = self.blob_path(digest);
        if self.is_checked(digest) {
            return path.is_file();
        }
        let Some(mut file) = usage::open_used(&self.root, &path) else {
            return false;
        };
        let mut hasher = Sha256::new();
        if io::copy(&mut file, &mut hasher).is_err() {
            return false;
        }
        if Digest::from_hasher(hasher) == *digest {
            self.mark_checked(digest);
            return true;
        }
        self.discard_damaged(digest);
        false
    }

    fn is_checked(&self, digest: &Digest) -> bool {
        self.checked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(digest)
    }

    fn mark_checked(&self, digest: &Digest) {
        self.checked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(digest.clone());
    }

    fn discard_damaged(&self, digest: &Digest) {
        eprintln!(
            "warning: the cached blob {digest} does not match its digest (damaged on disk); removing it"
        );
        fs::remove_file(self.blob_path(digest)).ok();
    }

    /// Stores what `write` produces as a blob. With `expected`, a different digest is an
    /// error and nothing is kept. Returns the digest and size.
    pub fn write_blob(
        &self,
        expected: Option<&Digest>,
        write: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<(Digest, u64)> {
        let tmp = temp_file_in(&self.root.join("tmp"), None)
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
        usage::guarded(&self.root, || tmp.persist(self.blob_path(&digest)))
            .map_err(|err| err.error)
            .context("cannot move a finished download into the cache")?;
        self.mark_checked(&digest);
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

    /// The blob's bytes, checked against its digest on the way.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let missing = || format!("blob {digest} is not in the cache: run the command again");
        let mut file = if self.is_checked(digest) {
            File::open(self.blob_path(digest)).with_context(missing)?
        } else {
            usage::open_used(&self.root, &self.blob_path(digest)).with_context(missing)?
        };
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut file, &mut bytes).with_context(missing)?;
        if Digest::of(&bytes) != *digest {
            self.discard_damaged(digest);
            bail!("the cached blob {digest} was damaged and is now removed: run the command again");
        }
        self.mark_checked(digest);
        Ok(bytes)
    }

    /// The blob, opened for reading after [`Cache::has_blob`] vouched for its bytes.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        if !self.has_blob(digest) {
            bail!("blob {digest} is not in the cache (or was damaged): run the command again");
        }
        File::open(self.blob_path(digest))
            .with_context(|| format!("blob {digest} is not in the cache: run the command again"))
    }

    /// A JSON record stored under a key, such as what a base image contains.
    pub fn record<T: DeserializeOwned>(&self, kind: &str, key: &str) -> Option<T> {
        let path = self.root.join("records").join(kind).join(key);
        usage::mark_used(&path);
        let text = fs::read(&path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    pub fn put_record<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<()> {
        let dir = self.root.join("records").join(kind);
        fs::create_dir_all(&dir)?;
        let mut tmp = temp_file_in(&self.root.join("tmp"), None)?;
        serde_json::to_writer(&mut tmp, value)?;
        tmp.persist(dir.join(key)).map_err(|err| err.error)?;
        Ok(())
    }
}

/// Removes what interrupted runs left in `tmp/`: everything when no other run holds
/// the cache, else only what is old enough to belong to none. Returns the lock this run
/// then holds shared (none where the filesystem has no locks: then only old files go).
fn sweep_scratch(root: &Path) -> Option<File> {
    let tmp = root.join("tmp");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("lock"))
        .ok();
    let alone = lock.as_ref().is_some_and(|l| l.try_lock().is_ok());
    let cutoff = SystemTime::now()
        .checked_sub(STALE_SCRATCH)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for entry in fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let stale = alone
            || entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < cutoff);
        if !stale {
            continue;
        }
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path).ok();
        } else {
            fs::remove_file(&path).ok();
        }
    }
    let lock = lock?;
    if alone {
        lock.unlock().ok()?;
    }
    lock.lock_shared().ok()?;
    Some(lock)
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

    #[test]
    fn a_damaged_blob_is_removed_and_never_read_as_good() {
        let dir = tempfile::tempdir().unwrap();
        let digest = Cache::at(dir.path().to_path_buf())
            .unwrap()
            .put_blob(b"layer bytes")
            .unwrap();
        let path = dir.path().join("blobs/sha256").join(digest.hex());
        fs::write(&path, b"layer bytez").unwrap();
        // A new run, as the next build would be: nothing is trusted from before.
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        assert!(cache.open_blob(&digest).is_err());
        assert!(!path.exists(), "the damaged blob is removed");
        fs::write(&path, b"layer bytez").unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let err = cache.read_blob(&digest).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(cache.put_blob(b"layer bytes").unwrap(), digest);
        assert!(cache.has_blob(&digest));
        assert_eq!(cache.read_blob(&digest).unwrap(), b"layer bytes");
    }

    #[test]
    fn scratch_is_swept_whole_when_alone_and_only_when_old_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        drop(Cache::at(root.clone()).unwrap());
        let tmp = root.join("tmp");
        fs::write(tmp.join(".tmpKILLED"), b"half a download").unwrap();
        fs::create_dir(tmp.join(".tmpSTAGING")).unwrap();
        let running = Cache::at(root.clone()).unwrap();
        assert_eq!(
            fs::read_dir(&tmp).unwrap().count(),
            0,
            "no other run held it"
        );

        fs::write(tmp.join(".tmpFRESH"), b"another run's download").unwrap();
        let old = tmp.join(".tmpOLD");
        fs::write(&old, b"left long ago").unwrap();
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * STALE_SCRATCH)
            .unwrap();
        let second = Cache::at(root.clone()).unwrap();
        assert!(
            tmp.join(".tmpFRESH").exists(),
            "a running build's file stays"
        );
        assert!(
            !old.exists(),
            "an old leftover goes even while another run works"
        );
        drop((running, second));
    }
}
