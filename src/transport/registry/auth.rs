//! Who pyship is to a registry: credentials from `PYSHIP_REGISTRY_USERNAME` /
//! `PYSHIP_REGISTRY_PASSWORD` or `~/.docker/config.json`, the `Authorization` values
//! made from them, and which registries are spoken to over plain HTTP.

use base64::Engine as _;

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

/// Credentials for `registry`: the environment first, then Docker's config file.
pub(super) fn credentials_for(registry: &str) -> Option<(String, String)> {
    if let (Ok(user), Ok(password)) = (
        std::env::var("PYSHIP_REGISTRY_USERNAME"),
        std::env::var("PYSHIP_REGISTRY_PASSWORD"),
    ) {
        return Some((user, password));
    }
    let config = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".docker"))
        })?
        .join("config.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(config).ok()?).ok()?;
    let auths = json.get("auths")?.as_object()?;
    let keys = if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
        ]
    } else {
        vec![registry]
    };
    let encoded = keys
        .iter()
        .find_map(|key| auths.get(*key)?.get("auth")?.as_str())?;
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?,
    )
    .ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
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
}
