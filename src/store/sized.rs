//! A file read with the size it had when it was opened. A tar header states an entry's
//! size before its bytes: a file that grows or shrinks while it is copied would make
//! the header lie and shift every entry after it, so a change of size is an error.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// An open file that yields exactly [`SizedFile::size`] bytes, or fails naming the file.
pub struct SizedFile {
    file: File,
    path: PathBuf,
    size: u64,
    left: u64,
}

impl SizedFile {
    pub fn open(path: &Path) -> io::Result<SizedFile> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(SizedFile {
            file,
            path: path.to_owned(),
            size,
            left: size,
        })
    }

    /// The size the file had when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn changed(&self) -> io::Error {
        io::Error::other(format!(
            "{} changed size while pyship read it: build again once nothing writes to it",
            self.path.display()
        ))
    }
}

impl Read for SizedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more than the size opened with means the file grew.
            return match self.file.read(&mut [0u8])? {
                0 => Ok(0),
                _ => Err(self.changed()),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(self.changed());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(mut file: SizedFile) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        file.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn an_unchanged_file_reads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = SizedFile::open(&path).unwrap();
        assert_eq!(file.size(), 10);
        assert_eq!(read_all(file).unwrap(), b"0123456789");
    }

    #[test]
    fn a_file_that_grows_after_opening_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.log");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = SizedFile::open(&path).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let err = read_all(file).unwrap_err().to_string();
        assert!(
            err.contains("growing.log changed size while pyship read it"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_shrinks_after_opening_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinking");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = SizedFile::open(&path).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(3)
            .unwrap();
        let err = read_all(file).unwrap_err().to_string();
        assert!(err.contains("shrinking changed size"), "{err}");
    }
}
