//! Entry points shared by the fuzz targets (`fuzz/`) and the no-panic tests: each
//! feeds untrusted input to a parser and asserts only that it returns.

use std::str::FromStr;

use crate::oci::layer::Tree;
use crate::oci::platform::ImagePlatform;
use crate::python::target::Target;

/// Parses `text` as uv.lock and, if it parses, walks it for a Linux target.
pub fn uv_lock(text: &str) {
    let Ok(lock) = crate::python::lock::UvLock::parse_str(text) else {
        return;
    };
    let lock = crate::python::lock::Lock::Uv(lock);
    let Ok(dir) = tempfile::tempdir() else { return };
    let pyproject =
        "[project]\nname = \"app\"\nrequires-python = \">=3.11\"\ndependencies = [\"x\"]\n";
    if std::fs::write(dir.path().join("pyproject.toml"), pyproject).is_err() {
        return;
    }
    let Ok(project) = crate::python::project::Project::read(dir.path()) else {
        return;
    };
    let _ = lock.ensure_fresh(&project);
    let Ok(target) = Target::bookworm(ImagePlatform::Amd64, "3.11.9") else {
        return;
    };
    if let (Ok(packages), Ok(tags)) = (
        lock.runtime_packages(
            &project,
            &target.marker_environment(),
            &crate::python::lock::Selection::default(),
        ),
        target.tags(),
    ) {
        for package in &packages {
            let _ = crate::python::wheel::choose(package, &tags, &target, dir.path());
        }
    }
}

/// Reads `lock` as poetry.lock against `pyproject` and, if both parse, checks the
/// content hash and walks the lock for a Linux target with every extra and group.
pub fn poetry_lock(lock: &str, pyproject: &str) {
    let Ok(pyproject) = toml::from_str(pyproject) else {
        return;
    };
    let Ok(project) = crate::python::lock::poetry::PoetryProject::from_table(pyproject) else {
        return;
    };
    let groups = project.groups.keys().cloned().collect();
    let Ok(lock) = crate::python::lock::PoetryLock::parse(lock, project) else {
        return;
    };
    let _ = lock.ensure_fresh();
    let Ok(target) = Target::bookworm(ImagePlatform::Amd64, "3.11.9") else {
        return;
    };
    let env = target.marker_environment();
    let everything = crate::python::lock::Selection {
        extras: Vec::new(),
        all_extras: true,
        groups,
    };
    let _ = lock.runtime_packages(&env, &everything);
    let _ = lock.dev_only_packages(&env);
}

/// Reads `text` as a service's requirements.txt (including itself, to reach the include
/// rules) and, if it reads, takes its packages for a Linux target.
pub fn requirements(text: &str) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let written = std::fs::write(dir.path().join("requirements.txt"), text)
        .and_then(|()| std::fs::write(dir.path().join("base.txt"), text));
    if written.is_err() {
        return;
    }
    let Ok(project) = crate::python::project::Project::read(dir.path()) else {
        return;
    };
    let Ok(lock) = crate::python::lock::Lock::read(&project, None) else {
        return;
    };
    let _ = lock.ensure_fresh(&project);
    let Ok(target) = Target::bookworm(ImagePlatform::Amd64, "3.11.9") else {
        return;
    };
    let env = target.marker_environment();
    let _ = lock.runtime_packages(&project, &env, &crate::python::lock::Selection::default());
    let _ = lock.dev_only_packages(&project, &env);
}

/// Reads `bytes` as a package index's project page, as JSON and as HTML.
pub fn simple_page(bytes: &[u8]) {
    use crate::python::simple_api::page;
    let Ok(url) = reqwest::Url::parse("https://index.example/simple/demo/") else {
        return;
    };
    for content_type in [page::JSON, "text/html"] {
        if let Ok(files) = page::files(content_type, bytes, &url) {
            let name = page::package_name("demo");
            let version = uv_pep440::Version::from_str("1.0");
            if let (Some(name), Ok(version)) = (name, version) {
                files.iter().for_each(|f| {
                    f.is_version(&name, &version);
                });
            }
        }
    }
}

/// Parses `text` as every kind of image name pyship accepts.
pub fn reference(text: &str) {
    if let Ok(reference) = crate::oci::reference::Reference::from_str(text) {
        // Display must give something that parses back to the same reference.
        let again = crate::oci::reference::Reference::from_str(&reference.to_string())
            .expect("a displayed reference parses");
        assert_eq!(again, reference);
    }
    let _ = crate::transport::ImageSource::from_str(text);
    let _ = crate::transport::Destination::from_str(text);
}

/// Installs `bytes` as a wheel; whatever it installs must stay under the venv.
pub fn wheel(bytes: &[u8]) {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if std::io::Write::write_all(&mut file, bytes).is_err() {
        return;
    }
    let choice = crate::python::wheel::WheelChoice {
        package: "fuzz".into(),
        version: "1.0".into(),
        filename: "fuzz-1.0-py3-none-any.whl".into(),
        url: String::new(),
        sha256: crate::store::Digest::of(bytes),
        size: None,
        index: None,
        kind: crate::python::wheel::ArtifactKind::Wheel,
    };
    let venv = crate::python::venv::Venv::new(crate::contract::VENV_DIR, "3.11");
    let mut tree = Tree::new();
    if crate::python::wheel::install(file.path(), &choice, &venv, &mut tree).is_ok() {
        assert!(
            tree.paths().all(|p| p.starts_with("app/.venv/")),
            "a wheel escaped the venv"
        );
        // The contents stay in the wheel until the layer is written: write it too.
        let _ = tree.write_tar(&mut std::io::sink(), 0);
    }
}

/// Reads `bytes` as a `docker save` archive into a scratch cache. Whatever it names,
/// nothing outside the archive may be read: the archive holds no host path to find.
pub fn docker_archive(bytes: &[u8]) {
    let Some((dir, cache)) = scratch_cache() else {
        return;
    };
    let file = dir.path().join("image.tar");
    if std::fs::write(&file, bytes).is_err() {
        return;
    }
    let _ = crate::transport::archive::resolve(&file, &cache);
}

/// Assembles `bytes` as the one `.deb` of a Debian base; whatever it holds, every
/// path of the tree stays inside it and the tree can be written.
pub fn deb(bytes: &[u8]) {
    let Some((_dir, cache)) = scratch_cache() else {
        return;
    };
    let Ok(digest) = cache.put_blob(bytes) else {
        return;
    };
    let package = crate::debian::DebPackage {
        name: "fuzz".into(),
        version: "1.0".into(),
        architecture: "amd64".into(),
        source: None,
        filename: "fuzz_1.0_amd64.deb".into(),
        size: bytes.len() as u64,
        sha256: digest.to_string().trim_start_matches("sha256:").to_owned(),
    };
    let info = crate::debian::rootfs::BaseInfo {
        codename: "bookworm",
        architecture: "amd64",
        extra_ca_certificates: &[],
    };
    if let Ok(tree) = crate::debian::rootfs::assemble(&[package], &info, &cache, 0) {
        assert!(
            tree.paths().all(|p| !p.split('/').any(|part| part == "..")),
            "a package escaped the root"
        );
        let _ = tree.write_tar(&mut std::io::sink(), 0);
    }
}

/// Walks `bytes` as two layers of one image (the second over the first, so whiteouts
/// apply) and reads the base facts from them, as a build does for its base.
pub fn layer(bytes: &[u8]) {
    let mut walk = crate::oci::walk::Walk::default();
    let mut scan = crate::oci::facts::FactsScan::default();
    for _ in 0..2 {
        let read = walk.layer(bytes, |path, index, entry| {
            scan.visit(path, index, entry)?;
            // A bounded read of every entry, as verify's scan does.
            std::io::copy(
                &mut std::io::Read::take(entry, 1 << 20),
                &mut std::io::sink(),
            )?;
            Ok(())
        });
        if read.is_err() {
            return;
        }
    }
    let _ = scan.finish(&walk, &Default::default());
}

/// Reads `bytes` as the manifest and, separately, as the image index an OCI layout's
/// `index.json` points at.
pub fn manifest(bytes: &[u8]) {
    use crate::oci::media_type::{OCI_INDEX, OCI_MANIFEST};
    for media_type in [OCI_MANIFEST, OCI_INDEX] {
        let Some((dir, cache)) = scratch_cache() else {
            return;
        };
        let digest = crate::store::Digest::of(bytes);
        let blobs = dir.path().join("blobs/sha256");
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()}],
        });
        let written = std::fs::create_dir_all(&blobs)
            .and_then(|()| std::fs::write(blobs.join(digest.hex()), bytes))
            .and_then(|()| std::fs::write(dir.path().join("index.json"), index.to_string()));
        if written.is_err() {
            return;
        }
        let _ = crate::transport::layout::resolve(dir.path(), None, ImagePlatform::Amd64, &cache);
    }
}

/// A temporary directory with a cache inside it.
fn scratch_cache() -> Option<(tempfile::TempDir, crate::store::Cache)> {
    let dir = tempfile::tempdir().ok()?;
    let cache = crate::store::Cache::at(dir.path().join("cache")).ok()?;
    Some((dir, cache))
}

/// Reads `text` as a Debian `Packages` index and, if it reads, resolves the closure of
/// each of its first packages as a base would.
pub fn debian_packages(text: &str) {
    use crate::debian::archive::{closure, packages};
    let Ok(candidates) = packages::read_index(text, "amd64", packages::Origin::Main) else {
        return;
    };
    let roots: Vec<String> = candidates
        .iter()
        .take(4)
        .map(|c| c.package.name.clone())
        .collect();
    let universe = closure::Universe::new(candidates);
    let excluded = closure::EXCLUDED.iter().map(|s| s.to_string()).collect();
    for root in roots {
        let _ = universe.closure(&[root, "not-there".into()], &excluded);
    }
}

/// Reads `bytes` as a suite's `InRelease`: its signature against Debian's keys, and the
/// release fields both of the bytes as given and of whatever a signature covered.
pub fn debian_release(bytes: &[u8]) {
    use crate::debian::archive::{keyring::Keyring, release::Release};
    if let Ok(keyring) = Keyring::debian()
        && let Ok(text) = keyring.verify(bytes, "fuzz")
    {
        let _ = Release::parse(&text);
    }
    let text = String::from_utf8_lossy(bytes);
    if let Ok(release) = Release::parse(&text) {
        let _ = release.packages_index("main", "amd64");
        let _ = release.check_fresh(jiff::Timestamp::UNIX_EPOCH);
        let _ = crate::debian::archive::release::snapshot_stamp(&release.date);
    }
}
