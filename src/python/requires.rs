//! What the wheels of one install require of each other (`Requires-Dist` in their
//! METADATA), to refuse a set that lacks a package one of them needs. A resolver's lock
//! always lists it; a requirements file written by hand often pins only the top-level
//! packages (seed 000's does), and an image built from it would fail at import time.
//!
//! Only names are checked: a version outside a requirement's range may be a
//! deliberate override, and only `uv pip compile` can settle it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use uv_normalize::ExtraName;
use uv_pep508::{MarkerEnvironment, Requirement, VerbatimUrl, VersionOrUrl};

use crate::python::lock::normalize;
use crate::python::wheel::WheelChoice;
use crate::store::Cache;

/// The largest METADATA read: real ones are tens of kilobytes.
const METADATA_LIMIT: u64 = 4 << 20;

/// Refuses `wheels` (already in `cache`) when one needs, in `env`, a package none of
/// them is; `file` names the lock to fix.
pub fn ensure_complete(
    wheels: &[WheelChoice],
    cache: &Cache,
    env: &MarkerEnvironment,
    file: &str,
) -> Result<()> {
    let mut requires = BTreeMap::new();
    for wheel in wheels {
        requires.insert(
            normalize(&wheel.package),
            (wheel, requires_dist(wheel, cache)?),
        );
    }
    let extras = active_extras(&requires, env);
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, (wheel, requirements)) in &requires {
        for requirement in requirements {
            let needed = normalize(requirement.name.as_ref());
            if requirement.marker.evaluate(env, &extras[name]) && !requires.contains_key(&needed) {
                let range = match &requirement.version_or_url {
                    Some(VersionOrUrl::VersionSpecifier(range)) => range.to_string(),
                    _ => String::new(),
                };
                missing
                    .entry(format!("{} {}", wheel.package, wheel.version))
                    .or_default()
                    .push(format!("{}{range}", requirement.name));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = missing
        .iter()
        .map(|(package, needs)| format!("{package} needs {}", needs.join(", ")))
        .collect();
    bail!(
        "{file} does not pin every package its packages need ({}): pin the whole set with `uv pip compile … -o {file}`, which writes every dependency",
        shown.join("; ")
    )
}

/// The extras each package is installed with: those other packages' requirements ask
/// for, followed until nothing changes.
fn active_extras(
    requires: &BTreeMap<String, (&WheelChoice, Vec<Requirement<VerbatimUrl>>)>,
    env: &MarkerEnvironment,
) -> BTreeMap<String, Vec<ExtraName>> {
    let mut active: BTreeMap<String, BTreeSet<ExtraName>> = requires
        .keys()
        .map(|name| (name.clone(), BTreeSet::new()))
        .collect();
    loop {
        let mut added = Vec::new();
        for (name, (_, requirements)) in requires {
            let own: Vec<ExtraName> = active[name].iter().cloned().collect();
            for requirement in requirements.iter().filter(|r| r.marker.evaluate(env, &own)) {
                let target = normalize(requirement.name.as_ref());
                for extra in requirement.extras.iter() {
                    if active.get(&target).is_some_and(|set| !set.contains(extra)) {
                        added.push((target.clone(), extra.clone()));
                    }
                }
            }
        }
        if added.is_empty() {
            break;
        }
        for (target, extra) in added {
            active.entry(target).or_default().insert(extra);
        }
    }
    active
        .into_iter()
        .map(|(name, extras)| (name, extras.into_iter().collect()))
        .collect()
}

/// The `Requires-Dist` entries of a wheel's METADATA; one that does not parse is
/// skipped (installers ignore it too).
fn requires_dist(wheel: &WheelChoice, cache: &Cache) -> Result<Vec<Requirement<VerbatimUrl>>> {
    let file = cache.open_blob(&wheel.sha256)?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a valid wheel (zip)", wheel.filename))?;
    let is_metadata = |name: &str| matches!(name.split_once('/'), Some((top, "METADATA")) if top.ends_with(".dist-info"));
    let Some(index) =
        (0..archive.len()).find(|&i| archive.name_for_index(i).is_some_and(is_metadata))
    else {
        bail!(
            "{} has no .dist-info/METADATA: not a valid wheel",
            wheel.filename
        );
    };
    let mut text = Vec::new();
    archive
        .by_index(index)?
        .take(METADATA_LIMIT)
        .read_to_end(&mut text)
        .with_context(|| format!("{}: cannot read its METADATA", wheel.filename))?;
    Ok(headers(&String::from_utf8_lossy(&text), "Requires-Dist")
        .iter()
        .filter_map(|value| Requirement::from_str(value).ok())
        .collect())
}

/// The values of one header of an email-style METADATA, continuation lines joined.
fn headers(text: &str, wanted: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(value) = current.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        values.extend(current.take());
        current = line
            .split_once(':')
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.trim().to_owned());
    }
    values.extend(current);
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::platform::ImagePlatform;
    use crate::python::target::Target;
    use std::io::Write;

    /// A wheel of `name` 1.0 whose METADATA requires `requires`, stored in `cache`.
    fn wheel(cache: &Cache, name: &str, requires: &[&str]) -> WheelChoice {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(
            format!("{name}-1.0.dist-info/METADATA"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let mut metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
        for requirement in requires {
            metadata.push_str(&format!("Requires-Dist: {requirement}\n"));
        }
        zip.write_all(metadata.as_bytes()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        WheelChoice {
            package: name.into(),
            version: "1.0".into(),
            filename: format!("{name}-1.0-py3-none-any.whl"),
            url: String::new(),
            sha256: cache.put_blob(&bytes).unwrap(),
            size: None,
            index: None,
            kind: crate::python::wheel::ArtifactKind::Wheel,
        }
    }

    #[test]
    fn names_what_a_package_needs_and_the_set_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let env = Target::bookworm(ImagePlatform::Amd64, "3.11.2")
            .unwrap()
            .marker_environment();
        let app = wheel(
            &cache,
            "app",
            &["uvicorn[standard]>=0.30", "tomli; python_version < '3.11'"],
        );
        let uvicorn = wheel(
            &cache,
            "uvicorn",
            &[
                "h11",
                "httptools; extra == 'standard'",
                "watchfiles; extra == 'dev'",
            ],
        );
        let h11 = wheel(&cache, "h11", &[]);
        let err = ensure_complete(
            &[app.clone(), uvicorn.clone(), h11.clone()],
            &cache,
            &env,
            "requirements.txt",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("requirements.txt does not pin every package its packages need (uvicorn 1.0 needs httptools)"),
            "{err}"
        );
        assert!(
            !err.contains("tomli") && !err.contains("watchfiles"),
            "{err}"
        );
        let httptools = wheel(&cache, "httptools", &[]);
        ensure_complete(
            &[app, uvicorn, h11, httptools],
            &cache,
            &env,
            "requirements.txt",
        )
        .unwrap();
    }

    #[test]
    fn reads_one_header_with_continuations_until_the_body() {
        let text = "Metadata-Version: 2.1\nName: flask\nRequires-Dist: werkzeug>=3.1\nrequires-dist: asgiref>=3.2 ;\n  extra == \"async\"\nSummary: x\n\nRequires-Dist: not-a-header\n";
        assert_eq!(
            headers(text, "Requires-Dist"),
            ["werkzeug>=3.1", "asgiref>=3.2 ; extra == \"async\""]
        );
    }
}
