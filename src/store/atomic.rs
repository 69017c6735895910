//! Files that are complete or absent: written beside their destination and renamed
//! into place, so an interrupted write never leaves half a file under the real name.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Writes a file through a temporary sibling and renames it into place.
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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
