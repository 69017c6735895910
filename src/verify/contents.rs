//! One pass over every layer of an image, collecting what the static checks judge:
//! secrets (also in files a later layer deleted: they stay in the image), build
//! tooling and caches, installed distributions and the user database.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result};

use crate::oci::facts::{BaseFacts, FactsScan};
use crate::oci::walk::{self, Walk};
use crate::python::lock::normalize;
use crate::store::Cache;
use crate::transport::ResolvedImage;

/// A secret found in a layer.
#[derive(Debug, Clone)]
pub struct SecretFile {
    pub path: String,
    /// The path as the layer's tar names it, for the merged filesystem.
    layer_path: String,
    pub layer: usize,
    pub what: String,
    /// True when a later layer deleted the file: it is still in the image's history.
    pub deleted: bool,
}

/// An installed distribution, read from its `.dist-info/METADATA`.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Default)]
pub struct Contents {
    pub passwd: Option<String>,
    pub distributions: Vec<Distribution>,
    pub secrets: Vec<SecretFile>,
    /// Build tools and caches left in the final filesystem: (path, what).
    pub tooling: Vec<(String, String)>,
}

/// Files larger than this are not read for secret patterns (keys and tokens are small).
const SCAN_LIMIT: u64 = 256 * 1024;

/// How much of `/etc/passwd` or a distribution's METADATA is read: the fields wanted
/// come first, and a long description must not cost memory.
const METADATA_LIMIT: u64 = 1024 * 1024;

impl Contents {
    /// Reads every layer once, for the static checks and for the image's facts (its
    /// interpreter and libc) alike.
    pub fn read(image: &ResolvedImage, cache: &Cache) -> Result<(Contents, BaseFacts)> {
        let mut walk = Walk::default();
        let mut facts = FactsScan::default();
        let mut contents = Contents::default();
        let mut dists: BTreeMap<String, Distribution> = BTreeMap::new();
        for (index, layer) in image.layers.iter().enumerate() {
            let reader = walk::open(cache, layer)?;
            walk.layer(reader, |path, index, entry| {
                facts.visit(path, index, entry)?;
                contents.visit(path, index, entry, &mut dists)
            })
            .with_context(|| format!("cannot read layer {} ({})", index + 1, layer.digest))?;
        }
        for secret in &mut contents.secrets {
            secret.deleted = !walk.survives(&secret.layer_path, secret.layer);
        }
        contents.distributions = dists
            .into_iter()
            .filter(|(dir, _)| walk.contains(&format!("{dir}/METADATA")))
            .map(|(_, d)| d)
            .collect();
        contents.tooling = walk
            .paths()
            .filter_map(|path| tooling(path).map(|what| (format!("/{path}"), what.to_owned())))
            .collect();
        dedupe_tooling(&mut contents.tooling);
        Ok((contents, facts.finish(&walk, &image.config)))
    }

    /// Looks at one entry; the walk has already applied whiteouts.
    fn visit<R: Read>(
        &mut self,
        path: &str,
        index: usize,
        entry: &mut tar::Entry<'_, R>,
        dists: &mut BTreeMap<String, Distribution>,
    ) -> Result<()> {
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Ok(());
        }
        let size = entry.header().size().unwrap_or(0);
        let wants_text = path == "etc/passwd"
            || path.ends_with(".dist-info/METADATA")
            || (size <= SCAN_LIMIT && scan_for_secrets(path));
        if !wants_text {
            return Ok(());
        }
        // Read at most the limit: the header's size is the input's claim, not a fact.
        let mut bytes = Vec::new();
        entry
            .take(SCAN_LIMIT.max(METADATA_LIMIT))
            .read_to_end(&mut bytes)?;
        if path == "etc/passwd" {
            self.passwd = Some(String::from_utf8_lossy(&bytes).into_owned());
        } else if let Some(dist_dir) = path
            .strip_suffix("/METADATA")
            .filter(|d| d.ends_with(".dist-info"))
        {
            if let Some(dist) = read_metadata(&bytes) {
                dists.insert(dist_dir.to_owned(), dist);
            }
        } else if let Some(what) = secret_in(path, &bytes) {
            self.secrets.push(SecretFile {
                path: format!("/{path}"),
                layer_path: path.to_owned(),
                layer: index,
                what,
                deleted: false,
            });
        }
        Ok(())
    }
}

fn read_metadata(bytes: &[u8]) -> Option<Distribution> {
    let text = String::from_utf8_lossy(bytes);
    let field = |key: &str| {
        text.lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
    };
    Some(Distribution {
        name: field("Name:")?,
        version: field("Version:").unwrap_or_default(),
    })
}

/// Third-party packages and the system's own files carry test keys and sample tokens;
/// reporting them would bury real findings.
const ALLOWED_PREFIXES: &[&str] = &[
    "usr/lib/",
    "usr/share/",
    "usr/include/",
    "usr/bin/",
    "usr/sbin/",
    "usr/libexec/",
    "lib/",
    "lib64/",
    "bin/",
    "sbin/",
    "var/lib/dpkg/",
    "var/lib/apt/",
    "var/cache/",
    "etc/ssl/certs/",
    "usr/local/lib/",
    "proc/",
    "sys/",
    "dev/",
];

fn scan_for_secrets(path: &str) -> bool {
    !ALLOWED_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
        && !path.contains("/site-packages/")
        && !path.contains("/dist-packages/")
}

/// What secret, if any, a file holds: judged by its name and its content.
fn secret_in(path: &str, bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("PRIVATE KEY-----") {
        return Some("a private key".into());
    }
    if let Some(kind) = crate::secrets::credential_file(path)
        && crate::secrets::holds_credential(path, &text)
    {
        return Some(kind.into());
    }
    crate::secrets::token_in(&text).map(|kind| format!("a {kind}"))
}

/// Build tools and caches that have no place at run time.
fn tooling(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let in_bin = path.contains("bin/") && !path.contains("/site-packages/");
    if in_bin && matches!(name, "uv" | "uvx") {
        return Some("the uv binary");
    }
    if in_bin
        && (matches!(name, "gcc" | "cc" | "g++" | "c++" | "clang" | "make")
            || name.starts_with("gcc-")
            || name.starts_with("x86_64-linux-gnu-gcc")
            || name.starts_with("aarch64-linux-gnu-gcc"))
    {
        return Some("a compiler toolchain");
    }
    if path.contains(".cache/uv") {
        return Some("the uv cache");
    }
    if path.contains(".cache/pip") {
        return Some("the pip cache");
    }
    if path.contains(".cache/pypoetry") {
        return Some("the poetry cache");
    }
    if (path.ends_with("/.git") || path.contains("/.git/") || path == ".git")
        && !path.contains("/site-packages/")
    {
        return Some("a .git directory");
    }
    None
}

/// One line per cache or repository, not one per file inside it: findings are keyed
/// by the directory that holds them (`…/.cache/uv`, `…/.git`) or by the file itself.
fn dedupe_tooling(found: &mut Vec<(String, String)>) {
    let mut seen = std::collections::BTreeSet::new();
    found.retain_mut(|(path, _)| {
        let root = [".cache/uv", ".cache/pip", ".cache/pypoetry", ".git"]
            .iter()
            .find_map(|marker| {
                path.find(marker)
                    .map(|i| path[..i + marker.len()].to_owned())
            })
            .unwrap_or_else(|| path.clone());
        *path = root.clone();
        seen.insert(root)
    });
}

/// Normalized names of the installed distributions.
pub fn installed_names(contents: &Contents) -> Vec<String> {
    contents
        .distributions
        .iter()
        .map(|d| normalize(&d.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tokens_keys_and_env_files_but_not_lookalikes() {
        assert_eq!(
            secret_in("app/.env", b"A=1").as_deref(),
            Some("an environment file with secrets")
        );
        assert_eq!(secret_in("app/.env.example", b"A=1"), None);
        assert_eq!(
            secret_in("root/id", b"-----BEGIN OPENSSH PRIVATE KEY-----").as_deref(),
            Some("a private key")
        );
        assert_eq!(
            secret_in(
                "root/.docker/config.json",
                br#"{"auths":{"r":{"auth":"eDp5"}}}"#
            )
            .as_deref(),
            Some("a credentials file")
        );
        for (path, text) in [
            ("app/.npmrc", "//npm.example/:_authToken=abc"),
            ("app/.pypirc", "[pypi]\npassword = x"),
            ("app/.netrc", "machine h login u password p"),
            ("app/.git-credentials", "https://u:p@h"),
            ("root/.aws/credentials", "[default]"),
            ("app/credentials.json", "{}"),
            ("app/.envrc", "export A=1"),
            ("app/client.p12", "x"),
        ] {
            assert!(secret_in(path, text.as_bytes()).is_some(), "{path}");
        }
        assert_eq!(
            secret_in("app/.npmrc", b"registry=https://npm.example/"),
            None
        );
        assert!(!scan_for_secrets(
            "app/.venv/lib/python3.11/site-packages/tests/key.pem"
        ));
        assert!(scan_for_secrets("app/deploy/key.pem"));
    }

    #[test]
    fn tooling_is_reported_once_per_cache() {
        let mut found: Vec<(String, String)> = [
            "/root/.cache/uv",
            "/root/.cache/uv/wheels/a",
            "/usr/local/bin/uv",
            "/app/.git/HEAD",
            "/app/.git/config",
        ]
        .iter()
        .filter_map(|p| tooling(p.trim_start_matches('/')).map(|w| (p.to_string(), w.to_owned())))
        .collect();
        dedupe_tooling(&mut found);
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/root/.cache/uv", "/usr/local/bin/uv", "/app/.git"]);
    }
}
