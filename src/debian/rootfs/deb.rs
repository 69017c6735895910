//! One `.deb`: an `ar` archive holding `debian-binary`, the control tarball (the
//! package's fields and the md5sums of its files) and the data tarball (its files).
//! Read from the cache, where it arrived checked against the archive's sha256.

use std::io::{Cursor, Read};

use anyhow::{Context, Result, bail};

/// A package's files, as its data tarball holds them.
#[derive(Debug)]
pub struct DataEntry {
    /// The path as the package names it, without `./` (`usr/bin/python3.11`).
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

#[derive(Debug)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to another path of the same package, as the package names it.
    HardLink(String),
}

/// What pyship reads of a `.deb`.
#[derive(Debug)]
pub struct Deb {
    /// The `control` file, as written.
    pub control: String,
    /// The `md5sums` file, if the package has one.
    pub md5sums: Option<String>,
    pub data: Vec<DataEntry>,
}

impl Deb {
    /// Reads a whole `.deb`; `name` is for messages.
    pub fn read(bytes: &[u8], name: &str) -> Result<Deb> {
        let mut archive = ar::Archive::new(Cursor::new(bytes));
        let (mut control, mut data) = (None, None);
        let mut first = true;
        while let Some(member) = archive.next_entry() {
            let mut member = member.with_context(|| format!("{name} is not a .deb archive"))?;
            let id = String::from_utf8_lossy(member.header().identifier()).into_owned();
            let mut body = Vec::new();
            member
                .read_to_end(&mut body)
                .with_context(|| format!("cannot read {id} of {name}"))?;
            if first && id != "debian-binary" {
                bail!("{name} is not a .deb: its first member is {id:?}, not debian-binary");
            }
            first = false;
            if id.starts_with("control.tar") {
                control = Some((id, body));
            } else if id.starts_with("data.tar") {
                data = Some((id, body));
            }
        }
        let (Some((control_id, control_tar)), Some((data_id, data_tar))) = (control, data) else {
            bail!("{name} lacks its control or data tarball");
        };
        let mut files = Vec::new();
        let mut deb = Deb {
            control: String::new(),
            md5sums: None,
            data: Vec::new(),
        };
        for_each_entry(&control_id, &control_tar, name, |entry| {
            if let Kind::File(bytes) = entry.kind {
                files.push((entry.path, bytes));
            }
            Ok(())
        })?;
        for (path, bytes) in files {
            let text = String::from_utf8(bytes)
                .with_context(|| format!("{path} of {name}'s control is not UTF-8"))?;
            match path.as_str() {
                "control" => deb.control = text,
                "md5sums" => deb.md5sums = Some(text),
                _ => {}
            }
        }
        if deb.control.is_empty() {
            bail!("{name} has no control file");
        }
        for_each_entry(&data_id, &data_tar, name, |entry| {
            deb.data.push(entry);
            Ok(())
        })?;
        Ok(deb)
    }
}

/// Each entry of the tarball `id` (compressed as its name says), with a safe path.
fn for_each_entry(
    id: &str,
    bytes: &[u8],
    name: &str,
    mut each: impl FnMut(DataEntry) -> Result<()>,
) -> Result<()> {
    let reader: Box<dyn Read + '_> = match id.rsplit_once('.').map(|(_, ext)| ext) {
        Some("tar") => Box::new(bytes),
        Some("gz") => Box::new(flate2::read::GzDecoder::new(bytes)),
        Some("xz") => Box::new(liblzma::read::XzDecoder::new(bytes)),
        _ => bail!("{name}'s {id} is compressed in a way pyship cannot read (it reads .tar, .tar.gz and .tar.xz)"),
    };
    let mut tar = tar::Archive::new(reader);
    for entry in tar
        .entries()
        .with_context(|| format!("cannot read {id} of {name}"))?
    {
        let mut entry = entry.with_context(|| format!("cannot read {id} of {name}"))?;
        let header = entry.header().clone();
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = clean(&raw) else {
            bail!("{name} holds {raw:?}, which leaves the filesystem root: the package is corrupt");
        };
        let link = || -> Result<String> {
            let target = entry
                .link_name_bytes()
                .with_context(|| format!("{name}: link {raw:?} has no target"))?;
            Ok(String::from_utf8_lossy(&target).into_owned())
        };
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()?),
            tar::EntryType::Link => {
                let target = link()?;
                let Some(target) = clean(&target) else {
                    bail!("{name}: hard link {raw:?} points at {target:?}, outside the package");
                };
                Kind::HardLink(target)
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut bytes = Vec::with_capacity(header.size().unwrap_or(0) as usize);
                entry
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("cannot read {raw} of {name}"))?;
                Kind::File(bytes)
            }
            other => bail!("{name} holds {raw:?}, a {other:?} entry: only files, directories and links belong in a package"),
        };
        if path.is_empty() {
            continue;
        }
        each(DataEntry {
            path,
            kind,
            mode: header.mode().unwrap_or(0o644),
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
        })?;
    }
    Ok(())
}

/// `./usr/bin/x` as `usr/bin/x`; `None` when the path climbs out of the root.
pub fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A `.deb` with `control` and `files` (path, bytes; a path ending in `/` is a
    /// directory, `->` makes a symlink), its data tarball compressed as `compression`.
    pub fn deb(control: &str, files: &[(&str, &[u8])], compression: &str) -> Vec<u8> {
        let tarball = |entries: &[(&str, &[u8])]| {
            let mut builder = tar::Builder::new(Vec::new());
            for (path, bytes) in entries {
                let mut header = tar::Header::new_gnu();
                header.set_mtime(1_700_000_000);
                if let Some((link, target)) = path.split_once(" -> ") {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    header.set_mode(0o777);
                    builder.append_link(&mut header, link, target).unwrap();
                } else if path.ends_with('/') {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    builder.append_data(&mut header, path, &[][..]).unwrap();
                } else {
                    header.set_size(bytes.len() as u64);
                    header.set_mode(0o644);
                    builder.append_data(&mut header, path, *bytes).unwrap();
                }
            }
            builder.into_inner().unwrap()
        };
        let control_tar = tarball(&[("./control", control.as_bytes())]);
        let data_tar = tarball(files);
        let (data_name, data) = match compression {
            "gz" => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut gz, &data_tar).unwrap();
                ("data.tar.gz", gz.finish().unwrap())
            }
            "xz" => {
                let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
                std::io::Write::write_all(&mut xz, &data_tar).unwrap();
                ("data.tar.xz", xz.finish().unwrap())
            }
            _ => ("data.tar", data_tar),
        };
        let mut out = ar::Builder::new(Vec::new());
        for (id, body) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control_tar),
            (data_name, data),
        ] {
            let header = ar::Header::new(id.as_bytes().to_vec(), body.len() as u64);
            out.append(&header, &body[..]).unwrap();
        }
        out.into_inner().unwrap()
    }

    #[test]
    fn reads_every_compression_and_kind() {
        for compression in ["gz", "xz", "tar"] {
            let bytes = deb(
                "Package: t\nVersion: 1\n",
                &[("./usr/", b""), ("./usr/bin/t", b"hi"), ("./usr/bin/u -> t", b"")],
                compression,
            );
            let deb = Deb::read(&bytes, "t.deb").unwrap();
            assert!(deb.control.starts_with("Package: t"));
            let paths: Vec<&str> = deb.data.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(paths, ["usr", "usr/bin/t", "usr/bin/u"], "{compression}");
            assert!(matches!(&deb.data[1].kind, Kind::File(b) if b == b"hi"));
            assert!(matches!(&deb.data[2].kind, Kind::Symlink(t) if t == "t"));
        }
    }

    #[test]
    fn refuses_what_is_not_a_package() {
        let err = Deb::read(b"!<arch>\n", "x.deb").unwrap_err().to_string();
        assert!(err.contains("lacks its control or data tarball"), "{err}");
        let err = format!("{:#}", Deb::read(b"not an ar file", "x.deb").unwrap_err());
        assert!(err.contains("x.deb is not a .deb archive"), "{err}");
        assert_eq!(clean("./a/../../etc"), None);
        assert_eq!(clean("./usr//lib/"), Some("usr/lib".to_owned()));
    }
}
