//! Who pyship is to a registry, found where Docker and Podman users keep it:
//! `PYSHIP_REGISTRY_USERNAME` / `PYSHIP_REGISTRY_PASSWORD` for one named registry,
//! Podman's `auth.json`, and Docker's `config.json` with its credential helpers.
//! Also which registries are spoken to over plain HTTP.
//!
//! The Docker side is small enough to keep here rather than take a crate for it: the
//! existing one reports a missing helper without naming it and reads only the `auth`
//! field, and pyship must read Podman's files in the same pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde::Deserialize;

/// A user name and password for one registry, and where they were found (for errors).
#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
    pub source: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login({} from {})", self.user, self.source)
    }
}

impl Login {
    pub fn basic(&self) -> String {
        basic(&self.user, &self.password)
    }
}

/// The registry a build pushes to, which owns the environment's login when
/// `PYSHIP_REGISTRY` does not name one: set once, before any registry is spoken to.
static PUSH_REGISTRY: OnceLock<String> = OnceLock::new();

/// Records where the image will be pushed, so the environment's login goes there and
/// to no other registry (the base's, most of all).
pub fn pushing_to(registry: &str) {
    let _ = PUSH_REGISTRY.set(canonical(registry));
}

/// Registries the user declared as plain HTTP: `PYSHIP_INSECURE_REGISTRIES=host:port,…`.
pub(super) fn insecure_allowed(registry: &str) -> bool {
    std::env::var("PYSHIP_INSECURE_REGISTRIES")
        .is_ok_and(|list| list.split(',').any(|entry| entry.trim() == registry))
}

pub(super) fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub(super) fn parse_param(params: &str, name: &str) -> Option<String> {
    let start = params.find(&format!("{name}=\""))? + name.len() + 2;
    let end = params[start..].find('"')? + start;
    Some(params[start..end].to_owned())
}

/// The login for `registry`: the environment's if it belongs to this registry, then
/// `REGISTRY_AUTH_FILE`, Docker's config (`DOCKER_CONFIG`, else `~/.docker`), and
/// Podman's `$XDG_RUNTIME_DIR/containers/auth.json`.
pub(super) fn login_for(registry: &str) -> Result<Option<Login>> {
    if let Some(login) = environment_login(registry) {
        return Ok(Some(login));
    }
    for path in auth_files() {
        if let Some(file) = AuthFile::read(&path)?
            && let Some(login) = file.login(registry, &path)?
        {
            return Ok(Some(login));
        }
    }
    Ok(None)
}

/// `PYSHIP_REGISTRY_USERNAME`/`PASSWORD`, for the registry `PYSHIP_REGISTRY` names or,
/// without it, the registry pushed to; never for any other.
fn environment_login(registry: &str) -> Option<Login> {
    let user = std::env::var("PYSHIP_REGISTRY_USERNAME").ok()?;
    let password = std::env::var("PYSHIP_REGISTRY_PASSWORD").ok()?;
    let owner = std::env::var("PYSHIP_REGISTRY")
        .ok()
        .filter(|named| !named.trim().is_empty())
        .map(|named| canonical(&named))
        .or_else(|| PUSH_REGISTRY.get().cloned())?;
    (owner == canonical(registry)).then(|| Login {
        user,
        password,
        source: "PYSHIP_REGISTRY_USERNAME/PASSWORD".to_owned(),
    })
}

/// A registry as config files key it: host[:port] without scheme or path, with Docker
/// Hub's many names reduced to one.
fn canonical(key: &str) -> String {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        _ => host,
    }
}

/// The files to look in, in order; missing ones are skipped.
fn auth_files() -> Vec<PathBuf> {
    let env_path = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let mut files = Vec::new();
    if let Some(file) = env_path("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(file));
    }
    let docker_dir = env_path("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| env_path("HOME").map(|home| Path::new(&home).join(".docker")));
    if let Some(dir) = docker_dir {
        files.push(dir.join("config.json"));
    }
    if let Some(dir) = env_path("XDG_RUNTIME_DIR") {
        files.push(Path::new(&dir).join("containers/auth.json"));
    }
    files
}

/// What Docker's `config.json` and Podman's `auth.json` hold about logins.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl AuthFile {
    /// The file's logins; `None` when it does not exist.
    fn read(path: &Path) -> Result<Option<AuthFile>> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let file = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a registry auth file: fix its JSON or log in again",
                path.display()
            )
        })?;
        Ok(Some(file))
    }
}

impl AuthFile {
    /// The login for `registry`: its own helper, then a stored entry, then the file's
    /// credential store (Docker Desktop leaves empty `auths` entries beside it).
    fn login(&self, registry: &str, path: &Path) -> Result<Option<Login>> {
        let wanted = canonical(registry);
        if let Some((_, helper)) = self
            .cred_helpers
            .iter()
            .find(|(key, _)| canonical(key) == wanted)
        {
            return helper_login(
                helper,
                registry,
                &format!("credHelpers in {}", path.display()),
            );
        }
        for (key, entry) in &self.auths {
            if canonical(key) == wanted
                && let Some(login) = entry.login(path)?
            {
                return Ok(Some(login));
            }
        }
        match &self.creds_store {
            Some(store) if !store.is_empty() => helper_login(
                store,
                registry,
                &format!("credsStore in {}", path.display()),
            ),
            _ => Ok(None),
        }
    }
}

impl AuthEntry {
    fn login(&self, path: &Path) -> Result<Option<Login>> {
        let source = path.display().to_string();
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            return Ok(Some(Login {
                user: user.clone(),
                password: password.clone(),
                source,
            }));
        }
        let Some(encoded) = self.auth.as_deref().filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let unreadable = || {
            format!(
                "{source} has an `auth` entry that is not base64 of user:password: log in again"
            )
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .with_context(unreadable)?;
        let (user, password) = decoded.split_once(':').with_context(unreadable)?;
        Ok(Some(Login {
            user: user.to_owned(),
            password: password.to_owned(),
            source,
        }))
    }
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// Asks `docker-credential-<helper> get` for the login of `registry`, as Docker does:
/// the server address on stdin, JSON on stdout. "Not found" is no login, not an error.
fn helper_login(helper: &str, registry: &str, named_by: &str) -> Result<Option<Login>> {
    let program = format!("docker-credential-{helper}");
    let server = if canonical(registry) == "docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        registry.to_owned()
    };
    let mut child = match Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "the credential helper {program} ({named_by}) is not on PATH: install it, or remove it from that file"
        ),
        Err(err) => return Err(err).with_context(|| format!("cannot run {program}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        // A helper that exits without reading is judged by its answer below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let output = child
        .wait_with_output()
        .with_context(|| format!("cannot run {program}"))?;
    let said = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect::<String>()
    };
    if !output.status.success() {
        let message = format!("{} {}", said(&output.stdout), said(&output.stderr));
        if message.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        bail!(
            "the credential helper {program} failed for {registry} ({}): run `docker login {registry}` again",
            message.trim()
        );
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "{program} answered something other than {{\"Username\",\"Secret\"}} for {registry}"
        )
    })?;
    Ok(Some(Login {
        user: answer.username,
        password: answer.secret,
        source: program,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_challenge_parameters() {
        let params = r#"realm="https://auth.example/token",service="registry.example",scope="repository:a:pull""#;
        assert_eq!(
            parse_param(params, "realm").as_deref(),
            Some("https://auth.example/token")
        );
        assert_eq!(
            parse_param(params, "service").as_deref(),
            Some("registry.example")
        );
        assert_eq!(parse_param(params, "missing"), None);
    }

    #[test]
    fn config_keys_name_one_registry_whatever_their_spelling() {
        assert_eq!(canonical("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(canonical("registry-1.docker.io"), "docker.io");
        assert_eq!(canonical("https://GHCR.io"), "ghcr.io");
        assert_eq!(canonical("127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_ne!(canonical("127.0.0.1:5001"), canonical("127.0.0.1:5000"));
    }

    #[test]
    fn auth_file_entries_give_logins_for_their_registry_only() {
        let file: AuthFile = serde_json::from_value(serde_json::json!({
            "auths": {
                "https://index.docker.io/v1/": {},
                "ghcr.io": { "auth": base64::engine::general_purpose::STANDARD.encode("me:tok") },
                "https://quay.io": { "username": "robot", "password": "pw" },
            }
        }))
        .unwrap();
        let path = Path::new("config.json");
        let login = file.login("ghcr.io", path).unwrap().unwrap();
        assert_eq!(
            (login.user.as_str(), login.password.as_str()),
            ("me", "tok")
        );
        let login = file.login("quay.io", path).unwrap().unwrap();
        assert_eq!(
            (login.user.as_str(), login.password.as_str()),
            ("robot", "pw")
        );
        assert!(file.login("docker.io", path).unwrap().is_none());
        assert!(file.login("gcr.io", path).unwrap().is_none());
    }

    #[test]
    fn a_missing_helper_is_named() {
        let file: AuthFile = serde_json::from_value(serde_json::json!({
            "credsStore": "pyship-absent-helper"
        }))
        .unwrap();
        let err = file
            .login("ghcr.io", Path::new("/home/u/.docker/config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-pyship-absent-helper")
                && err.contains("credsStore in /home/u/.docker/config.json")
                && err.contains("not on PATH"),
            "{err}"
        );
    }
}
