//! Files that are complete or absent: written beside their destination and renamed
//! into place, so an interrupted write never leaves half a file under the real name.

use std::fs::{self, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

/// Writes a file through a temporary sibling and renames it into place. A new file gets
/// the mode any program would give it (0666 less the umask); a replaced one keeps its own.
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = temp_file_in(dir, Some(path))
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let mut out = io::BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A temporary file in `dir`, created with 0666 less the umask (tempfile's own default,
/// 0600, would leak into every file renamed from it), or with the mode of the regular
/// file `replacing` when there is one.
pub fn temp_file_in(dir: &Path, replacing: Option<&Path>) -> io::Result<NamedTempFile> {
    let tmp = tempfile::Builder::new()
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    let kept = replacing
        .and_then(|path| fs::symlink_metadata(path).ok())
        .filter(|meta| meta.is_file());
    if let Some(meta) = kept {
        tmp.as_file()
            .set_permissions(Permissions::from_mode(meta.permissions().mode() & 0o7777))?;
    }
    Ok(tmp)
}

/// Copies `from` into `to` in large chunks, showing each chunk to `on_chunk` (for
/// progress bars and digests computed on the way).
pub fn copy_with_progress(
    from: &mut dyn Read,
    to: &mut dyn Write,
    mut on_chunk: impl FnMut(&[u8]),
) -> Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        on_chunk(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_follow_the_umask_and_replaced_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let umask = current_umask();
        let fresh = dir.path().join("fresh");
        write_file(&fresh, |out| Ok(out.write_all(b"new")?)).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&fresh), 0o666 & !umask);

        let kept = dir.path().join("kept");
        fs::write(&kept, b"old").unwrap();
        fs::set_permissions(&kept, Permissions::from_mode(0o640)).unwrap();
        write_file(&kept, |out| Ok(out.write_all(b"new")?)).unwrap();
        assert_eq!(mode(&kept), 0o640);
        assert_eq!(fs::read(&kept).unwrap(), b"new");
    }

    /// The process umask, read from /proc (setting it to read it would race other tests).
    fn current_umask() -> u32 {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
    }
}
