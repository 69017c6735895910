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
    if let Some((_, rest)) = value.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && userinfo.contains(':')
        && !userinfo.ends_with(':')
    {
        return Some("holds a URL with a password");
    }
    None
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
