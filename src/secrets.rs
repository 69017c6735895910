//! What a secret looks like: a variable named or valued like a credential, and the
//! well-known shapes of tokens. Shared by `lint` (ARG/ENV in Dockerfiles) and `verify`
//! (an image's environment, history and files), so both judge alike.

/// Why a variable looks secret, if it does: its name or its value.
pub fn secret_variable(key: &str, value: Option<&str>) -> Option<&'static str> {
    let upper = key.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    let indirect = [
        "FILE",
        "PATH",
        "DIR",
        "ID",
        "NAME",
        "URL",
        "HOST",
        "PORT",
        "USER",
        "USERNAME",
        "ENDPOINT",
        "REGION",
        "EXPIRY",
        "TTL",
        "LENGTH",
        "POLICY",
        "HASHERS",
        "ALGORITHM",
        "HEADER",
        "TIMEOUT",
        "LIFETIME",
        "PREFIX",
        "ENABLED",
    ]
    .contains(parts.last().unwrap_or(&""));
    let secret_word = parts.iter().any(|p| {
        matches!(
            *p,
            "PASSWORD" | "PASSWD" | "SECRET" | "TOKEN" | "APIKEY" | "CREDENTIALS" | "PASSPHRASE"
        )
    }) || upper.contains("API_KEY")
        || upper.contains("PRIVATE_KEY")
        || upper.contains("ACCESS_KEY");
    if secret_word && !indirect {
        return Some("is named like a secret");
    }
    let value = value?;
    if value.starts_with("ghp_")
        || value.starts_with("github_pat_")
        || value.starts_with("glpat-")
        || value.starts_with("xoxb-")
        || value.starts_with("xoxp-")
        || value.starts_with("-----BEGIN")
        || (value.starts_with("AKIA") && value.len() == 20)
        || (value.starts_with("sk-") && value.len() >= 24)
    {
        return Some("holds a credential");
    }
    if url_with_password(value) {
        return Some("holds a URL with a password");
    }
    None
}

/// True when `text` holds a URL whose user info carries a password or token
/// (`https://user:secret@host/…`), as a CI clone's remote does.
pub fn url_with_password(text: &str) -> bool {
    text.split_whitespace().any(|word| {
        word.split_once("://")
            .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
            .and_then(|authority| authority.rsplit_once('@'))
            .is_some_and(|(userinfo, _)| {
                userinfo
                    .split_once(':')
                    .is_some_and(|(_, password)| !password.is_empty())
            })
    })
}

/// `url` without its user info, query and fragment: what may be shown or recorded of
/// a repository or index address. Text that is not a URL comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let redacted = crate::store::http::redact(url);
    match redacted.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.split(['?', '#']).next().unwrap_or(rest);
            format!("{scheme}://{rest}")
        }
        None => redacted,
    }
}

/// What kind of credential a file is by its path, if it is one: private keys, `.env`
/// files, and the files where tools keep logins. One list for all of pyship: `build`
/// never ships these, `lint` flags copying them, `verify` looks inside them.
pub fn credential_file(path: &str) -> Option<&'static str> {
    let mut components = path.trim_end_matches('/').rsplit('/');
    let name = components.next().unwrap_or(path).to_ascii_lowercase();
    let parent = components.next().unwrap_or("");
    let harmless = [".example", ".sample", ".template", ".dist", ".defaults"];
    if (name == ".env" || name.starts_with(".env.")) && !harmless.iter().any(|h| name.ends_with(h))
        || name == ".envrc"
    {
        return Some("an environment file with secrets");
    }
    // A `.pem` may be a public CA certificate; only key-looking ones count.
    let key_pem = name.ends_with(".pem") && (name.contains("key") || name.contains("private"));
    if key_pem || name.ends_with(".key") || name.ends_with(".p12") || name.ends_with(".pfx") {
        return Some("a private key or key bundle");
    }
    if name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.starts_with("id_ecdsa")
        || name == ".ssh"
    {
        return Some("an SSH key");
    }
    let docker_login = name == "config.json" && parent == ".docker";
    if docker_login
        || matches!(
            name.as_str(),
            ".netrc"
                | ".pypirc"
                | ".npmrc"
                | ".git-credentials"
                | ".dockercfg"
                | ".aws"
                | ".docker"
                | "credentials"
                | "credentials.json"
        )
        || name.contains("service-account") && name.ends_with(".json")
    {
        return Some("a credentials file");
    }
    None
}

/// True when a credential file's content really holds a login, not only settings: an
/// `.npmrc` with a registry URL alone, or a `.pypirc` listing repositories, holds none.
pub fn holds_credential(path: &str, text: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name {
        ".npmrc" => {
            text.contains("_authToken") || text.contains("_auth") || text.contains("_password")
        }
        ".pypirc" | ".netrc" => text.contains("password"),
        "config.json" => text.contains("\"auth\"") || text.contains("identitytoken"),
        _ => true,
    }
}

/// Well-known token shapes: a fixed prefix followed by enough token characters.
pub fn token_in(text: &str) -> Option<&'static str> {
    const SHAPES: &[(&str, usize, &str)] = &[
        ("ghp_", 36, "GitHub token"),
        ("gho_", 36, "GitHub token"),
        ("ghs_", 36, "GitHub token"),
        ("ghu_", 36, "GitHub token"),
        ("github_pat_", 40, "GitHub token"),
        ("glpat-", 20, "GitLab token"),
        ("xoxb-", 20, "Slack token"),
        ("xoxp-", 20, "Slack token"),
        ("sk_live_", 20, "Stripe key"),
        ("AKIA", 16, "AWS access key"),
        ("pypi-AgEI", 40, "PyPI token"),
    ];
    SHAPES.iter().find_map(|(prefix, len, kind)| {
        text.match_indices(prefix).find_map(|(at, _)| {
            let before_ok = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric();
            let run = text[at + prefix.len()..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
                .count();
            (before_ok && run >= *len).then_some(*kind)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_passwords_are_found_and_redacted() {
        let clone = "https://ci-bot:glpat-abcdefghijklmnopqrstu@gitlab.example/g/repo.git";
        assert!(url_with_password(clone));
        assert_eq!(redact_url(clone), "https://gitlab.example/g/repo.git");
        assert!(!url_with_password("https://gitlab.example/g/repo.git"));
        assert!(!url_with_password("https://user@gitlab.example/g/repo.git"));
        assert!(!url_with_password("git@github.com:org/repo.git"));
        assert_eq!(
            redact_url("https://h.example/simple?token=x#frag"),
            "https://h.example/simple"
        );
        assert_eq!(
            redact_url("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    #[test]
    fn credential_files_by_path() {
        for path in [
            ".npmrc",
            "app/.pypirc",
            ".netrc",
            ".git-credentials",
            "home/.aws/credentials",
            "home/.docker/config.json",
            "credentials.json",
            ".envrc",
            "certs/client.p12",
            "client.pfx",
            ".env",
            "deploy-key.pem",
        ] {
            assert!(credential_file(path).is_some(), "{path}");
        }
        for path in ["config.json", "ca.pem", ".env.example", "app/main.py"] {
            assert!(credential_file(path).is_none(), "{path}");
        }
        assert!(!holds_credential(
            ".npmrc",
            "registry=https://npm.example/\n"
        ));
        assert!(holds_credential(
            ".npmrc",
            "//npm.example/:_authToken=abc\n"
        ));
    }

    #[test]
    fn secret_names_and_values() {
        assert!(secret_variable("DJANGO_SECRET_KEY", Some("x")).is_some());
        assert!(secret_variable("GITHUB_TOKEN", None).is_some());
        assert!(secret_variable("DB_PASSWORD", Some("")).is_some());
        assert!(
            secret_variable("PIP_INDEX_URL", Some("https://u:p@pypi.example/simple")).is_some()
        );
        assert!(secret_variable("TOKENIZERS_PARALLELISM", Some("false")).is_none());
        assert!(secret_variable("SECRET_KEY_FILE", Some("/run/secrets/key")).is_none());
        assert!(secret_variable("PASSWORD_MIN_LENGTH", Some("12")).is_none());
        assert!(secret_variable("JWT_TOKEN_LIFETIME", Some("3600")).is_none());
        assert!(secret_variable("PIP_INDEX_URL", Some("https://pypi.example/simple")).is_none());
        assert!(secret_variable("RELEASE", Some("ghp_abcdef")).is_some());
    }

    #[test]
    fn token_shapes() {
        assert_eq!(
            token_in("export T=ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
            Some("GitHub token")
        );
        assert_eq!(token_in("key AKIAIOSFODNN7EXAMPLE"), Some("AWS access key"));
        assert_eq!(token_in("ghp_short"), None);
        assert_eq!(token_in("XAKIAIOSFODNN7EXAMPLE"), None);
    }
}
