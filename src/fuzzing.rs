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
        lock.runtime_packages(&project, &target.marker_environment()),
        target.tags(),
    ) {
        for package in packages {
            let _ = crate::python::wheel::choose(package, &tags, &target);
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
    };
    let venv = crate::python::venv::Venv::new(crate::contract::VENV_DIR, "3.11");
    let mut tree = Tree::new();
    if crate::python::wheel::install(file.path(), &choice, &venv, &mut tree).is_ok() {
        assert!(
            tree.paths().all(|p| p.starts_with("app/.venv/")),
            "a wheel escaped the venv"
        );
    }
}
