//! When cache entries were last used, and which runs are using the cache now: what
//! makes `pyship cache prune` safe while builds run.
//!
//! The rule: an entry's last use is its mtime. A run sets it to now the first time it
//! uses a blob (or writes one), and registers itself in `runs/` with a file it holds
//! locked until it ends, named after the time it started. Prune removes only entries
//! last used before every running run started (a run uses nothing before it starts)
//! and before its own cutoff. Marking a blob used and finding it present happen under
//! a shared lock on `prune.lock`; prune checks an entry's time and removes it under
//! the exclusive lock, so a blob is either removed before a run looks for it (the run
//! fetches it again) or marked used first (prune keeps it): never removed after a run
//! found it.

use std::fs::{self, File, FileTimes};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

/// Where runs register while they use the cache.
const RUNS: &str = "runs";
/// Shared while a run marks a blob used or stores one, exclusive while prune removes.
const PRUNE_LOCK: &str = "prune.lock";
/// Taken off the oldest run's start: file times and the clock are read at different
/// precisions, and a blob used a moment before a run registered is still young.
const MARGIN: Duration = Duration::from_secs(2);
/// A registration file this old and unlocked belongs to a run that died registering.
const ABANDONED: Duration = Duration::from_secs(60);

/// This run's registration in `runs/`: the file is locked for as long as the run
/// holds the cache open, and removed when it closes it.
#[derive(Debug)]
pub struct RunMark {
    path: PathBuf,
    _file: File,
}

impl RunMark {
    /// Registers a run. The file is locked under a hidden name and then renamed, so
    /// prune never finds it unlocked and takes it for a crashed run's. None where the
    /// filesystem has no locks (prune then refuses to run, see [`Exclusive`]).
    pub fn register(root: &Path) -> Option<RunMark> {
        let dir = root.join(RUNS);
        fs::create_dir_all(&dir).ok()?;
        let tmp = tempfile::Builder::new()
            .prefix(".new-")
            .tempfile_in(&dir)
            .ok()?;
        tmp.as_file().try_lock().ok()?;
        let name = format!("run-{}-{}", std::process::id(), unique(tmp.path()));
        let path = dir.join(name);
        let file = tmp.persist(&path).ok()?;
        Some(RunMark { path, _file: file })
    }
}

impl Drop for RunMark {
    fn drop(&mut self) {
        fs::remove_file(&self.path).ok();
    }
}

/// The random part of a temporary file's name.
fn unique(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(".new-"))
        .unwrap_or("0")
        .to_owned()
}

/// Runs `work` holding the shared side of `prune.lock`: no prune removes anything
/// meanwhile. Without locks on this filesystem the work runs unguarded.
pub fn guarded<T>(root: &Path, work: impl FnOnce() -> T) -> T {
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(PRUNE_LOCK));
    let _held = lock.ok().filter(|file| file.lock_shared().is_ok());
    work()
}

/// Opens `path` and marks it used now, both under the guard, so a prune either removed
/// it before (None) or sees the new time. None when it is not there.
pub fn open_used(root: &Path, path: &Path) -> Option<File> {
    guarded(root, || {
        let file = File::open(path).ok()?;
        // Not owning the file (a cache shared between users) only costs its time.
        file.set_times(FileTimes::new().set_modified(SystemTime::now()))
            .ok();
        Some(file)
    })
}

/// Marks a small entry (a record) used; it is read whole at once, so a prune racing
/// with the read costs only a miss.
pub fn mark_used(path: &Path) {
    if let Ok(file) = File::options().append(true).open(path) {
        file.set_times(FileTimes::new().set_modified(SystemTime::now()))
            .ok();
    }
}

/// The exclusive side of `prune.lock`, held while prune removes entries.
pub struct Exclusive {
    root: PathBuf,
    _lock: File,
}

impl Exclusive {
    /// Waits for every run to finish marking or storing a blob, then holds them off.
    pub fn take(root: &Path) -> Result<Exclusive> {
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join(PRUNE_LOCK))
            .with_context(|| format!("cannot open {}", root.join(PRUNE_LOCK).display()))?;
        lock.lock().with_context(|| {
            format!(
                "cannot lock the cache at {}: its filesystem has no file locks, so pruning could remove what a running build uses",
                root.display()
            )
        })?;
        Ok(Exclusive {
            root: root.to_owned(),
            _lock: lock,
        })
    }

    /// The time before which an entry's last use makes it removable: `cutoff`, or
    /// earlier when a running run started before it.
    pub fn floor(&self, cutoff: SystemTime) -> SystemTime {
        floor(&self.root, cutoff, true)
    }

    /// Removes `path` if its last use is still before `floor`; true when it went.
    pub fn remove_if_unused(&self, path: &Path, floor: SystemTime) -> io::Result<bool> {
        let used = fs::symlink_metadata(path)?.modified()?;
        if used >= floor {
            return Ok(false);
        }
        fs::remove_file(path)?;
        Ok(true)
    }
}

/// The time before which an entry's last use makes it removable, as it stands now:
/// `cutoff`, or earlier when a running run started before it. With `tidy`, the marks
/// of runs that died are removed on the way.
pub fn floor(root: &Path, cutoff: SystemTime, tidy: bool) -> SystemTime {
    match oldest_running(root, tidy) {
        Some(start) => cutoff.min(start.checked_sub(MARGIN).unwrap_or(SystemTime::UNIX_EPOCH)),
        None => cutoff,
    }
}

/// When the oldest run still holding the cache started; with `tidy`, the marks of
/// runs that ended without removing theirs (a crash, a kill) are removed on the way.
fn oldest_running(root: &Path, tidy: bool) -> Option<SystemTime> {
    let mut oldest: Option<SystemTime> = None;
    for entry in fs::read_dir(root.join(RUNS))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(file) = File::open(entry.path()) else {
            continue;
        };
        let modified = file.metadata().and_then(|m| m.modified()).ok();
        if name.starts_with(".new-") {
            // A registration cut off between creating its file and locking it.
            let old = modified.is_some_and(|m| m.elapsed().is_ok_and(|age| age > ABANDONED));
            if tidy && old && file.try_lock_shared().is_ok() {
                fs::remove_file(entry.path()).ok();
            }
            continue;
        }
        match file.try_lock_shared() {
            Ok(()) => {
                if tidy {
                    fs::remove_file(entry.path()).ok();
                }
            }
            Err(_) => {
                let started = modified.unwrap_or(SystemTime::UNIX_EPOCH);
                oldest = Some(oldest.map_or(started, |o| o.min(started)));
            }
        }
    }
    oldest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, by: Duration) {
        File::options()
            .append(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - by)
            .unwrap();
    }

    #[test]
    fn a_running_run_protects_what_it_used_and_a_crashed_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let blob = root.join("blob");
        fs::write(&blob, b"x").unwrap();
        age(&blob, Duration::from_secs(3600));
        let run = RunMark::register(root).unwrap();
        let marks = || fs::read_dir(root.join(RUNS)).unwrap().count();
        assert_eq!(marks(), 1);

        let prune = Exclusive::take(root).unwrap();
        let floor = prune.floor(SystemTime::now());
        assert!(
            floor < SystemTime::now() - MARGIN / 2,
            "bounded by the run's start"
        );
        assert!(
            prune.remove_if_unused(&blob, floor).unwrap(),
            "unused since before the run"
        );
        drop(prune);

        fs::write(&blob, b"x").unwrap();
        age(&blob, Duration::from_secs(3600));
        assert!(open_used(root, &blob).is_some());
        let prune = Exclusive::take(root).unwrap();
        let floor = prune.floor(SystemTime::now());
        assert!(
            !prune.remove_if_unused(&blob, floor).unwrap(),
            "used by the running run"
        );
        drop(prune);

        // A run that ended without removing its mark (killed): nothing holds the lock.
        let crashed = root.join(RUNS).join("run-2-crashed");
        File::create(&crashed).unwrap();
        assert!(oldest_running(root, false).is_some());
        assert!(crashed.exists(), "looking without tidying removes nothing");
        assert!(
            oldest_running(root, true).is_some(),
            "the live run still counts"
        );
        assert!(!crashed.exists(), "the dead run's mark is removed");
        drop(run);
        assert_eq!(marks(), 0);
        assert_eq!(oldest_running(root, true), None);
    }

    #[test]
    fn dropping_a_run_removes_its_mark() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunMark::register(dir.path()).unwrap();
        drop(run);
        assert_eq!(fs::read_dir(dir.path().join(RUNS)).unwrap().count(), 0);
        assert_eq!(oldest_running(dir.path(), true), None);
    }
}
