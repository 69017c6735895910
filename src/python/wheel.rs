//! Wheels: choosing the one that fits a target, and installing it into a virtual
//! environment tree exactly as an installer would (PEP 427 / PEP 491 layout, RECORD,
//! INSTALLER, console scripts, the `.data` schemes).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use uv_distribution_filename::WheelFilename;
use uv_platform_tags::{TagCompatibility, Tags};

use crate::oci::layer::{Content, Entry, Tree};
use crate::python::lock::{Artifact, LockedPackage};
use crate::python::target::Target;
use crate::python::venv::Venv;
use crate::store::Digest;

/// The file chosen for one locked package: its most specific wheel for the target, or
/// when it has none, its sdist to build into one (`pep517::sdist`).
#[derive(Debug, Clone)]
pub struct WheelChoice {
    pub package: String,
    pub version: String,
    pub filename: String,
    /// Where it is fetched from: an index URL, or a `file:` URL for a local path.
    pub url: String,
    pub sha256: Digest,
    pub size: Option<u64>,
    /// The index the lock took the package from (`source = { registry = … }`), whose
    /// login the download may use.
    pub index: Option<String>,
    pub kind: ArtifactKind,
}

/// What kind of distribution a [`WheelChoice`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    Wheel,
    Sdist,
}

/// Picks the most specific compatible wheel of `package` for `tags`, else its sdist.
/// Local paths in the lock are relative to `lock_dir`.
pub fn choose(
    package: &LockedPackage,
    tags: &Tags,
    target: &Target,
    lock_dir: &Path,
) -> Result<WheelChoice> {
    let mut best: Option<(TagCompatibility, &Artifact, &str)> = None;
    let mut offered = Vec::new();
    for artifact in &package.wheels {
        let Some(filename) = artifact.filename() else {
            continue;
        };
        let Ok(parsed) = WheelFilename::from_str(filename) else {
            continue;
        };
        offered.push(
            filename
                .trim_end_matches(".whl")
                .rsplitn(4, '-')
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("-"),
        );
        let compat = parsed.compatibility(tags);
        if compat.is_compatible() && best.as_ref().is_none_or(|(b, _, _)| compat > *b) {
            best = Some((compat, artifact, filename));
        }
    }
    let (artifact, filename, kind) = match (best, &package.sdist) {
        (Some((_, artifact, filename)), _) => (artifact, filename.to_owned(), ArtifactKind::Wheel),
        (None, Some(sdist)) => {
            let filename = sdist
                .filename()
                .or_else(|| source_path(package)?.rsplit('/').next())
                .with_context(|| {
                    format!(
                        "{} {}: uv.lock gives its sdist no file name: run `uv lock`",
                        package.name,
                        package.version_str()
                    )
                })?;
            (sdist, filename.to_owned(), ArtifactKind::Sdist)
        }
        (None, None) => return Err(no_wheel_error(package, &offered, target)),
    };
    let url = location(package, artifact, lock_dir).with_context(|| {
        format!(
            "{} {}: the lock gives {filename} without a URL or path: run `uv lock`",
            package.name,
            package.version_str()
        )
    })?;
    let hash = artifact.hash.as_deref().with_context(|| {
        format!("{} {}: uv.lock has no hash for {filename}, so it cannot be verified: run `uv lock --refresh`", package.name, package.version_str())
    })?;
    let sha256 = Digest::from_str(hash).with_context(|| {
        format!(
            "{} {}: unusable hash in uv.lock",
            package.name,
            package.version_str()
        )
    })?;
    Ok(WheelChoice {
        package: package.name.clone(),
        version: package.version_str().to_owned(),
        filename,
        url,
        sha256,
        size: artifact.size,
        index: package.index.clone(),
        kind,
    })
}

/// Where an artifact is: its URL, else its path or the package's (`source = { path =
/// … }`, a local wheel or sdist) as a `file:` URL.
fn location(package: &LockedPackage, artifact: &Artifact, lock_dir: &Path) -> Option<String> {
    if let Some(url) = &artifact.url {
        return Some(url.clone());
    }
    let path = artifact.path.as_deref().or_else(|| source_path(package))?;
    reqwest::Url::from_file_path(lock_dir.join(path))
        .ok()
        .map(String::from)
}

fn source_path(package: &LockedPackage) -> Option<&str> {
    package.path.as_deref()
}

fn no_wheel_error(package: &LockedPackage, offered: &[String], target: &Target) -> anyhow::Error {
    let name = format!("{} {}", package.name, package.version_str());
    if offered.is_empty() {
        return anyhow::anyhow!(
            "{name}: it has neither wheels nor an sdist in uv.lock (a git or URL source): pin a version from an index, or build a wheel and serve it from one"
        );
    }
    let mut tags = offered.to_vec();
    tags.sort();
    tags.dedup();
    let shown = if tags.len() > 8 {
        format!("{} and {} more", tags[..8].join(", "), tags.len() - 8)
    } else {
        tags.join(", ")
    };
    anyhow::anyhow!(
        "{name} has no wheel for {target}; it offers {shown}: pick a base image that matches one, or a version with a wheel for this target"
    )
}

/// The largest `entry_points.txt` or `#!python` script read into memory: real ones are
/// a few kilobytes, and a claim of more is the input's, not a reason to allocate.
const TEXT_LIMIT: u64 = 16 << 20;

/// Installs the wheel at `path` into `tree` under `venv`, with mtimes clamped later to the epoch.
///
/// File contents stay in the wheel: each member is inflated once here, to hash it for
/// RECORD, and again when the layer is written, so memory does not grow with the
/// wheel's inflated size.
pub fn install(path: &Path, choice: &WheelChoice, venv: &Venv, tree: &mut Tree) -> Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a valid wheel (zip)", choice.filename))?;
    let zip: Arc<Path> = Arc::from(path);
    let parsed = WheelFilename::from_str(&choice.filename)
        .map_err(|err| anyhow::anyhow!("{}: {err}", choice.filename))?;
    let data_dir = format!(
        "{}-{}.data/",
        parsed.name.as_dist_info_name(),
        parsed.version
    );
    let mut installed = InstalledFiles::default();
    let mut dist_info = None;
    let mut entry_points = None;
    for index in 0..archive.len() {
        let mut member = archive.by_index(index)?;
        if member.is_dir() {
            continue;
        }
        let name = member.name().to_owned();
        check_member_path(&name, &choice.filename)?;
        let executable = member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mtime = member
            .last_modified()
            .and_then(zip_time_to_unix)
            .unwrap_or(0);
        let cannot_read = || format!("{}: cannot read {name}", choice.filename);
        let (dest, is_script) = destination(&name, &data_dir, venv, parsed.name.as_ref())?;
        if let Some(top) = name
            .split('/')
            .next()
            .filter(|top| top.ends_with(".dist-info"))
        {
            dist_info = Some(top.to_owned());
            if name.ends_with(".dist-info/RECORD") {
                continue;
            }
            if name.ends_with(".dist-info/entry_points.txt") {
                let bytes = read_text(&mut member).with_context(cannot_read)?;
                entry_points = Some(String::from_utf8_lossy(&bytes).into_owned());
                installed.add(&dest, &bytes, venv);
                tree.insert(&dest, file_entry(Content::Bytes(bytes), executable, mtime))?;
                continue;
            }
        }
        let mut head = Vec::new();
        if is_script {
            (&mut member)
                .take(SHEBANG.len() as u64)
                .read_to_end(&mut head)
                .with_context(cannot_read)?;
        }
        let content = if head == SHEBANG {
            // A script for "the interpreter that installs it": its first line changes.
            head.extend(read_text(&mut member).with_context(cannot_read)?);
            let bytes = rewrite_shebang(head, venv);
            installed.add(&dest, &bytes, venv);
            Content::Bytes(bytes)
        } else {
            let mut hasher = Sha256::new();
            hasher.update(&head);
            let size = head.len() as u64
                + std::io::copy(&mut member, &mut hasher).with_context(cannot_read)?;
            installed.add_hashed(&dest, hasher.finalize().into(), size, venv);
            Content::ZipMember {
                zip: zip.clone(),
                index,
                size,
            }
        };
        tree.insert(&dest, file_entry(content, executable || is_script, mtime))?;
    }
    let dist_info = dist_info.with_context(|| {
        format!(
            "{} has no .dist-info directory: not a valid wheel",
            choice.filename
        )
    })?;
    if let Some(text) = entry_points {
        for (name, target) in console_scripts(&text) {
            let script = venv.console_script(&target)?;
            let dest = format!("{}/{name}", venv.bin_dir());
            installed.add(&dest, script.as_bytes(), venv);
            tree.insert(
                &dest,
                Entry::executable(Content::Bytes(script.into_bytes()), 0),
            )?;
        }
    }
    let installer = format!("{}/{dist_info}/INSTALLER", venv.site_packages());
    installed.add(&installer, b"pyship\n", venv);
    tree.insert(
        &installer,
        Entry::file(Content::Bytes(b"pyship\n".to_vec()), 0),
    )?;
    let record = format!("{}/{dist_info}/RECORD", venv.site_packages());
    let record_bytes = installed.render(&format!("{dist_info}/RECORD"));
    tree.insert(&record, Entry::file(Content::Bytes(record_bytes), 0))?;
    Ok(())
}

/// Maps a wheel member to its installed path; the bool says it is a script.
fn destination(name: &str, data_dir: &str, venv: &Venv, dist: &str) -> Result<(String, bool)> {
    let Some(rest) = name.strip_prefix(data_dir) else {
        return Ok((format!("{}/{name}", venv.site_packages()), false));
    };
    let (scheme, path) = rest.split_once('/').unwrap_or((rest, ""));
    let dest = match scheme {
        "purelib" | "platlib" => format!("{}/{path}", venv.site_packages()),
        "scripts" => return Ok((format!("{}/{path}", venv.bin_dir()), true)),
        "headers" => format!(
            "{}/include/site/python{}/{dist}/{path}",
            venv.prefix(),
            venv.python_xy()
        ),
        "data" => format!("{}/{path}", venv.prefix()),
        other => bail!("the wheel has an unknown data scheme {other:?} in {name}"),
    };
    Ok((dest, false))
}

/// Refuses members that would land outside the venv: absolute paths, `..`, backslashes.
fn check_member_path(name: &str, wheel: &str) -> Result<()> {
    let unsafe_path = name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.split('/').any(|part| part == "..");
    if unsafe_path {
        bail!(
            "{wheel} contains the unsafe path {name:?} that would escape the environment; refusing to install it (report it to the package's maintainers)"
        );
    }
    Ok(())
}

/// How a script in `.data/scripts` asks for the interpreter that installs it.
const SHEBANG: &[u8] = b"#!python";

/// Scripts in `.data/scripts` that start with `#!python` get the venv interpreter.
fn rewrite_shebang(bytes: Vec<u8>, venv: &Venv) -> Vec<u8> {
    if !bytes.starts_with(SHEBANG) {
        return bytes;
    }
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let mut out = format!("#!{}", venv.python()).into_bytes();
    out.extend_from_slice(&bytes[end..]);
    out
}

/// The rest of a small text member, refused beyond [`TEXT_LIMIT`].
fn read_text(member: &mut impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    member.take(TEXT_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > TEXT_LIMIT {
        bail!("it is larger than {TEXT_LIMIT} bytes, too large for a text file of a wheel");
    }
    Ok(bytes)
}

fn file_entry(content: Content, executable: bool, mtime: u64) -> Entry {
    if executable {
        Entry::executable(content, mtime)
    } else {
        Entry::file(content, mtime)
    }
}

/// The `[console_scripts]` and `[gui_scripts]` entries of `entry_points.txt`.
fn console_scripts(text: &str) -> Vec<(String, String)> {
    let mut section = "";
    let mut scripts = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            section = &line[1..line.len() - 1];
        } else if matches!(section, "console_scripts" | "gui_scripts")
            && let Some((name, target)) = line.split_once('=')
        {
            scripts.push((name.trim().to_owned(), target.trim().to_owned()));
        }
    }
    scripts
}

/// The files an install wrote, for its RECORD.
#[derive(Default)]
struct InstalledFiles {
    rows: BTreeMap<String, (String, u64)>,
}

impl InstalledFiles {
    fn add(&mut self, dest: &str, bytes: &[u8], venv: &Venv) {
        let sha256 = Sha256::digest(bytes).into();
        self.add_hashed(dest, sha256, bytes.len() as u64, venv);
    }

    fn add_hashed(&mut self, dest: &str, sha256: [u8; 32], size: u64, venv: &Venv) {
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256);
        self.rows.insert(
            venv.relative_to_site_packages(dest),
            (format!("sha256={hash}"), size),
        );
    }

    fn render(&self, record_path: &str) -> Vec<u8> {
        let mut out = String::new();
        for (path, (hash, size)) in &self.rows {
            out.push_str(&format!("{},{hash},{size}\n", csv_field(path)));
        }
        out.push_str(&format!("{},,\n", csv_field(record_path)));
        out.into_bytes()
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Converts a zip (DOS, local time treated as UTC) timestamp to Unix seconds.
/// A zip member's local time, read as UTC (wheels carry no zone), in Unix seconds.
fn zip_time_to_unix(time: zip::DateTime) -> Option<u64> {
    let civil = jiff::civil::DateTime::try_from(time).ok()?;
    let seconds = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp()
        .as_second();
    u64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::platform::ImagePlatform;
    use std::io::Write;

    fn venv() -> Venv {
        Venv::new("/app/.venv", "3.11")
    }

    fn wheel(members: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, bytes) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    fn choice(filename: &str) -> WheelChoice {
        WheelChoice {
            package: "demo".into(),
            version: "1.0".into(),
            filename: filename.into(),
            url: "https://example.invalid/x.whl".into(),
            sha256: Digest::of(b""),
            size: None,
            index: None,
            kind: ArtifactKind::Wheel,
        }
    }

    #[test]
    fn installs_modules_scripts_data_and_record() {
        let whl = wheel(&[
            ("demo/__init__.py", b"x = 1\n"),
            ("demo-1.0.dist-info/METADATA", b"Name: demo\n"),
            (
                "demo-1.0.dist-info/entry_points.txt",
                b"[console_scripts]\ndemo = demo.cli:main\n",
            ),
            ("demo-1.0.dist-info/RECORD", b"stale\n"),
            ("demo-1.0.data/scripts/tool", b"#!python\nprint(1)\n"),
            ("demo-1.0.data/data/share/demo.txt", b"d"),
        ]);
        let mut tree = Tree::new();
        install(
            whl.path(),
            &choice("demo-1.0-py3-none-any.whl"),
            &venv(),
            &mut tree,
        )
        .unwrap();
        let sp = "/app/.venv/lib/python3.11/site-packages";
        for path in [
            format!("{sp}/demo/__init__.py"),
            format!("{sp}/demo-1.0.dist-info/INSTALLER"),
            format!("{sp}/demo-1.0.dist-info/RECORD"),
            "/app/.venv/bin/demo".into(),
            "/app/.venv/bin/tool".into(),
            "/app/.venv/share/demo.txt".into(),
        ] {
            assert!(tree.contains(&path), "{path} missing");
        }
        let mut tar = Vec::new();
        tree.write_tar(&mut tar, u64::MAX).unwrap();
        let text = String::from_utf8_lossy(&tar);
        assert!(text.contains("#!/app/.venv/bin/python\nprint(1)"));
        assert!(text.contains("../../../bin/demo,sha256="));
        assert!(text.contains("demo-1.0.dist-info/RECORD,,"));
        assert!(!text.contains("stale"));
    }

    #[test]
    fn member_contents_stay_in_the_wheel_and_are_hashed_for_record() {
        let big = vec![0u8; 4 << 20];
        let whl = wheel(&[
            ("demo/zeros.bin", big.as_slice()),
            ("demo-1.0.dist-info/METADATA", b"Name: demo\n"),
        ]);
        let mut tree = Tree::new();
        install(
            whl.path(),
            &choice("demo-1.0-py3-none-any.whl"),
            &venv(),
            &mut tree,
        )
        .unwrap();
        assert!(
            tree.bytes_held() < 64 * 1024,
            "{} bytes of the wheel held in memory",
            tree.bytes_held()
        );
        let mut tar = Vec::new();
        tree.write_tar(&mut tar, 0).unwrap();
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&big));
        let row = format!("demo/zeros.bin,sha256={hash},{}", big.len());
        assert!(String::from_utf8_lossy(&tar).contains(&row), "no {row}");
        let mut archive = tar::Archive::new(tar.as_slice());
        let written = archive
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().ends_with("demo/zeros.bin"))
            .map(|e| e.size());
        assert_eq!(written, Some(big.len() as u64));
    }

    #[test]
    fn refuses_escaping_members() {
        for bad in ["../evil.py", "/etc/evil", "demo/../../x"] {
            let whl = wheel(&[(bad, b"x"), ("demo-1.0.dist-info/METADATA", b"")]);
            let err = install(
                whl.path(),
                &choice("demo-1.0-py3-none-any.whl"),
                &venv(),
                &mut Tree::new(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("unsafe path"), "{bad}: {err}");
        }
    }

    #[test]
    fn no_wheel_lists_offered_tags() {
        let pkg: LockedPackage = toml::from_str(
            r#"name = "native"
version = "1.0"
wheels = [{ url = "https://example.invalid/native-1.0-cp312-cp312-macosx_11_0_arm64.whl", hash = "sha256:00" }]"#,
        )
        .unwrap();
        let target = Target::bookworm(ImagePlatform::Amd64, "3.11.2").unwrap();
        let tags = target.tags().unwrap();
        let err = choose(&pkg, &tags, &target, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("native 1.0 has no wheel for CPython 3.11"),
            "{err}"
        );
        assert!(err.contains("cp312-cp312-macosx_11_0_arm64"), "{err}");
    }

    #[test]
    fn a_wheel_for_one_cpu_only_is_refused_naming_the_other_platform() {
        let pkg: LockedPackage = toml::from_str(&format!(
            r#"name = "native"
version = "1.0"
wheels = [{{ url = "https://example.invalid/native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", hash = "sha256:{}" }}]"#,
            "ab".repeat(32)
        ))
        .unwrap();
        let amd64 = Target::bookworm(ImagePlatform::Amd64, "3.11.2").unwrap();
        assert!(choose(&pkg, &amd64.tags().unwrap(), &amd64, Path::new(".")).is_ok());
        let arm64 = Target::bookworm(ImagePlatform::Arm64, "3.11.2").unwrap();
        let err = choose(&pkg, &arm64.tags().unwrap(), &arm64, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("native 1.0 has no wheel for") && err.contains("linux/arm64"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn without_a_fitting_wheel_the_sdist_is_chosen_from_its_url_or_path() {
        let hash = format!("sha256:{}", "ab".repeat(32));
        let pkg: LockedPackage = toml::from_str(&format!(
            r#"name = "srconly"
version = "1.0"
sdist = {{ url = "https://example.invalid/srconly-1.0.tar.gz", hash = "{hash}" }}
wheels = [{{ url = "https://example.invalid/srconly-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", hash = "{hash}" }}]"#
        ))
        .unwrap();
        let target = Target::bookworm(ImagePlatform::Amd64, "3.11.2").unwrap();
        let tags = target.tags().unwrap();
        let choice = choose(&pkg, &tags, &target, Path::new("/lock")).unwrap();
        assert_eq!(choice.kind, ArtifactKind::Sdist);
        assert_eq!(choice.filename, "srconly-1.0.tar.gz");
        let local: LockedPackage = toml::from_str(&format!(
            r#"name = "cext"
version = "0.1.0"
path = "vendor/cext-0.1.0.tar.gz"
sdist = {{ hash = "{hash}" }}"#
        ))
        .unwrap();
        let choice = choose(&local, &tags, &target, Path::new("/lock")).unwrap();
        assert_eq!(choice.url, "file:///lock/vendor/cext-0.1.0.tar.gz");
        assert_eq!(choice.filename, "cext-0.1.0.tar.gz");
        let nothing: LockedPackage = toml::from_str("name = \"g\"\nversion = \"1\"").unwrap();
        let err = choose(&nothing, &tags, &target, Path::new("/lock")).unwrap_err();
        assert!(
            err.to_string().contains("neither wheels nor an sdist"),
            "{err}"
        );
    }

    #[test]
    fn zip_times_convert() {
        let t = zip::DateTime::from_date_and_time(2020, 2, 29, 12, 0, 0).unwrap();
        assert_eq!(zip_time_to_unix(t), Some(1_582_977_600));
    }
}
