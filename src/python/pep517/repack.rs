//! A built wheel written again so that the same files always give the same bytes:
//! build backends stamp zip entries with the time of the build, keep the order the
//! filesystem listed them in and the modes the umask gave.

use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// Writes `wheel` to `out` with its entries sorted (the `.dist-info` directory last and
/// its RECORD very last, as the wheel format recommends), every time 1980-01-01, every
/// mode 0644 or 0755, and RECORD's rows sorted. No file's contents change, so RECORD
/// stays valid.
pub fn repack(wheel: &Path, out: impl Write + Seek) -> Result<()> {
    let file =
        std::fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let name = wheel.display();
    let mut archive =
        ZipArchive::new(file).with_context(|| format!("{name} is not a valid wheel (zip)"))?;
    let mut entries: Vec<(usize, String, bool)> = Vec::new();
    for index in 0..archive.len() {
        let member = archive.by_index(index)?;
        if member.is_dir() {
            continue;
        }
        let executable = member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        entries.push((index, member.name().to_owned(), executable));
    }
    entries.sort_by_key(|(_, path, _)| order(path));
    let mut writer = ZipWriter::new(out);
    for (index, path, executable) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        let mut member = archive.by_index(index)?;
        writer.start_file(path.as_str(), options)?;
        if is_record(&path) {
            let mut text = String::new();
            member
                .read_to_string(&mut text)
                .with_context(|| format!("{name}: {path} is not text"))?;
            writer.write_all(sorted_record(&text, &path).as_bytes())?;
        } else {
            std::io::copy(&mut member, &mut writer)
                .with_context(|| format!("{name}: cannot read {path}"))?;
        }
    }
    writer.finish()?;
    Ok(())
}

/// Where an entry goes: package files, then `.dist-info` files, then RECORD.
fn order(path: &str) -> (u8, String) {
    let in_dist_info = path
        .split('/')
        .next()
        .is_some_and(|top| top.ends_with(".dist-info"));
    let rank = match (in_dist_info, is_record(path)) {
        (true, true) => 2,
        (true, false) => 1,
        (false, _) => 0,
    };
    (rank, path.to_owned())
}

fn is_record(path: &str) -> bool {
    path.ends_with(".dist-info/RECORD") && path.matches('/').count() == 1
}

/// RECORD's rows sorted, with its own row last, where tools write it.
fn sorted_record(text: &str, record_path: &str) -> String {
    let own = |line: &&str| line.split(',').next() == Some(record_path);
    let mut rows: Vec<&str> = text.lines().filter(|l| !l.is_empty() && !own(l)).collect();
    rows.sort_unstable();
    rows.extend(text.lines().find(own));
    rows.iter().map(|row| format!("{row}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wheel(members: &[(&str, &[u8], u32)], time: DateTime) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = ZipWriter::new(file.reopen().unwrap());
        for (name, bytes, mode) in members {
            let options = SimpleFileOptions::default()
                .last_modified_time(time)
                .unix_permissions(*mode);
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    fn repacked(file: &tempfile::NamedTempFile) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        repack(file.path(), &mut out).unwrap();
        out.into_inner()
    }

    #[test]
    fn order_times_and_modes_no_longer_matter() {
        let record = b"demo/b.py,sha256=b,1\ndemo-1.0.dist-info/RECORD,,\ndemo/a.py,sha256=a,1\n";
        let one = wheel(
            &[
                ("demo-1.0.dist-info/RECORD", record, 0o600),
                ("demo/b.py", b"b", 0o600),
                ("demo-1.0.dist-info/METADATA", b"Name: demo\n", 0o600),
                ("demo/a.py", b"a", 0o700),
            ],
            DateTime::from_date_and_time(2024, 5, 1, 10, 0, 0).unwrap(),
        );
        let two = wheel(
            &[
                ("demo/a.py", b"a", 0o755),
                ("demo/b.py", b"b", 0o644),
                ("demo-1.0.dist-info/METADATA", b"Name: demo\n", 0o644),
                ("demo-1.0.dist-info/RECORD", record, 0o644),
            ],
            DateTime::from_date_and_time(2025, 1, 2, 3, 4, 5).unwrap(),
        );
        let bytes = repacked(&one);
        assert_eq!(bytes, repacked(&two));
        let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<&str> = archive.file_names().collect();
        assert_eq!(names.len(), 4);
        assert_eq!(archive.by_index(0).unwrap().name(), "demo/a.py");
        assert_eq!(archive.by_index(0).unwrap().unix_mode(), Some(0o100755));
        assert_eq!(archive.by_index(1).unwrap().unix_mode(), Some(0o100644));
        let mut text = String::new();
        archive
            .by_name("demo-1.0.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            text,
            "demo/a.py,sha256=a,1\ndemo/b.py,sha256=b,1\ndemo-1.0.dist-info/RECORD,,\n"
        );
        assert_eq!(
            archive.by_index(3).unwrap().name(),
            "demo-1.0.dist-info/RECORD"
        );
    }
}
