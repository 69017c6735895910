//! The image config: the base's, with the production contract applied (user,
//! environment, command, working directory, port, labels, history) and pyship's
//! layers appended, then the manifest that names it all.

use std::collections::HashMap;

use anyhow::Result;
use oci_spec::image::{HistoryBuilder, ImageConfiguration, RootFsBuilder};

use super::OwnLayer;
use super::plan::Plan;
use crate::contract::{APP_DIR, APP_HOME, VENV_DIR};
use crate::oci::image::{Image, canonical_json};
use crate::store::Cache;
use crate::transport::ResolvedImage;

const BASE_NAME: &str = "org.opencontainers.image.base.name";
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
const CREATED: &str = "org.opencontainers.image.created";

/// Writes the config and manifest of `base` plus `own`, following `plan`.
pub fn assemble(
    plan: &Plan,
    base: &ResolvedImage,
    own: &[OwnLayer],
    cache: &Cache,
) -> Result<Image> {
    let created = rfc3339(plan.epoch);
    let config = canonical_json(&config(plan, base, own, &created)?)?;
    let config_digest = cache.put_blob(&config)?;
    let mut layers = base.oci_layers();
    layers.extend(own.iter().map(|o| o.layer.descriptor()));
    let annotations = HashMap::from([
        (BASE_NAME.to_owned(), base.name.clone()),
        (BASE_DIGEST.to_owned(), base.manifest_digest.to_string()),
        (CREATED.to_owned(), created),
    ]);
    Image::write(
        &Image::config_descriptor(&config_digest, config.len()),
        layers,
        annotations,
        cache,
    )
}

fn config(
    plan: &Plan,
    base: &ResolvedImage,
    own: &[OwnLayer],
    created: &str,
) -> Result<ImageConfiguration> {
    let mut config: ImageConfiguration = base.config.clone();
    let mut runtime = config.config().clone().unwrap_or_default();
    let base_env = runtime.env().clone().unwrap_or_default();
    runtime.set_user(Some(crate::contract::user_spec()));
    runtime.set_env(Some(environment(plan, &base_env)));
    runtime.set_entrypoint(None);
    runtime.set_cmd(Some(plan.entrypoint.command.clone()));
    runtime.set_working_dir(Some(APP_DIR.to_owned()));
    runtime.set_exposed_ports(Some(vec![format!("{}/tcp", plan.port)]));
    runtime.set_stop_signal(Some("SIGTERM".to_owned()));
    let mut labels = runtime.labels().clone().unwrap_or_default();
    labels.extend(self::labels(plan, base, created));
    runtime.set_labels(Some(labels));
    config.set_config(Some(runtime));
    config.set_created(Some(created.to_owned()));
    config.set_author(None);
    let mut diff_ids = config.rootfs().diff_ids().clone();
    diff_ids.extend(own.iter().map(|o| o.layer.diff_id.to_string()));
    config.set_rootfs(
        RootFsBuilder::default()
            .typ("layers")
            .diff_ids(diff_ids)
            .build()?,
    );
    let mut history = config.history().clone().unwrap_or_default();
    for layer in own {
        history.push(
            HistoryBuilder::default()
                .created(created.to_owned())
                .created_by(layer.created_by.clone())
                .comment("pyship")
                .build()?,
        );
    }
    config.set_history(Some(history));
    Ok(config)
}

/// The base's environment with pyship's variables set over it, in a stable order.
fn environment(plan: &Plan, base_env: &[String]) -> Vec<String> {
    let base_path = base_env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let ours = [
        ("PATH", format!("{VENV_DIR}/bin:{base_path}")),
        ("VIRTUAL_ENV", VENV_DIR.to_owned()),
        ("PYTHONUNBUFFERED", "1".to_owned()),
        ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
        ("PORT", plan.port.to_string()),
        ("HOME", APP_HOME.to_owned()),
    ];
    let mut env: Vec<String> = base_env
        .iter()
        .filter(|e| {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            !ours.iter().any(|(o, _)| *o == key)
        })
        .cloned()
        .collect();
    env.extend(ours.iter().map(|(k, v)| format!("{k}={v}")));
    env
}

/// The OCI labels: what was built, from which base, commit and repository.
fn labels(plan: &Plan, base: &ResolvedImage, created: &str) -> Vec<(String, String)> {
    let project = &plan.project;
    let mut labels = vec![
        (CREATED, Some(created.to_owned())),
        ("org.opencontainers.image.title", Some(project.name.clone())),
        (BASE_NAME, Some(base.name.clone())),
        (BASE_DIGEST, Some(base.manifest_digest.to_string())),
        ("org.opencontainers.image.version", project.version.clone()),
        (
            "org.opencontainers.image.description",
            project.description.clone(),
        ),
        (
            "org.opencontainers.image.revision",
            super::git::revision(&project.root),
        ),
        (
            "org.opencontainers.image.source",
            super::git::origin(&project.root),
        ),
    ];
    labels
        .drain(..)
        .filter_map(|(key, value)| Some((key.to_owned(), value?)))
        .collect()
}

/// Seconds since 1970 as RFC 3339 UTC, as OCI's `created` fields want it.
fn rfc3339(epoch: u64) -> String {
    let seconds = i64::try_from(epoch).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_second(seconds) {
        Ok(time) => time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => jiff::Timestamp::MAX
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_582_977_600), "2020-02-29T12:00:00Z");
    }
}
