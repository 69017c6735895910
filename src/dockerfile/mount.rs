//! `RUN --mount=…` options, parsed into what each mount type means.

/// One `--mount` of a `RUN` instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A persistent build cache directory (`type=cache`): pip/uv caches live here, not in a layer.
    Cache { target: String, id: Option<String> },
    /// Files from the context or another stage, visible only during this `RUN` (`type=bind`,
    /// the default type).
    Bind {
        source: Option<String>,
        target: String,
        from: Option<String>,
    },
    /// A build secret (`type=secret`): exposed as a file or variable, never stored in a layer.
    Secret {
        id: Option<String>,
        target: Option<String>,
        env: Option<String>,
    },
    /// The SSH agent socket (`type=ssh`).
    Ssh { id: Option<String> },
    /// A scratch `tmpfs` (`type=tmpfs`).
    Tmpfs { target: String },
    /// A `type=` BuildKit does not define; kept so rules can still see the mount exists.
    Unknown { kind: String },
}

impl Mount {
    /// Parses the value of one `--mount=` flag: comma-separated `key=value` fields.
    pub fn parse(value: &str) -> Mount {
        let mut fields = std::collections::HashMap::new();
        for field in value.split(',') {
            let (key, val) = field.split_once('=').unwrap_or((field, "true"));
            fields.insert(key.trim().to_ascii_lowercase(), val.trim().to_string());
        }
        let get = |keys: &[&str]| keys.iter().find_map(|k| fields.get(*k).cloned());
        let target = || get(&["target", "dst", "destination"]).unwrap_or_default();
        match get(&["type"]).as_deref().unwrap_or("bind") {
            "cache" => Mount::Cache {
                target: target(),
                id: get(&["id"]),
            },
            "bind" => Mount::Bind {
                source: get(&["source", "src"]),
                target: target(),
                from: get(&["from"]),
            },
            "secret" => Mount::Secret {
                id: get(&["id"]),
                target: get(&["target", "dst", "destination"]),
                env: get(&["env"]),
            },
            "ssh" => Mount::Ssh { id: get(&["id"]) },
            "tmpfs" => Mount::Tmpfs { target: target() },
            other => Mount::Unknown {
                kind: other.to_string(),
            },
        }
    }

    /// The cache directory, for cache mounts.
    pub fn cache_target(&self) -> Option<&str> {
        match self {
            Mount::Cache { target, .. } => Some(target),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type() {
        assert_eq!(
            Mount::parse("type=cache,target=/root/.cache/uv"),
            Mount::Cache {
                target: "/root/.cache/uv".into(),
                id: None
            }
        );
        assert_eq!(
            Mount::parse("source=uv.lock,target=uv.lock"),
            Mount::Bind {
                source: Some("uv.lock".into()),
                target: "uv.lock".into(),
                from: None
            }
        );
        assert_eq!(
            Mount::parse("type=secret,id=pip_conf,target=/etc/pip.conf"),
            Mount::Secret {
                id: Some("pip_conf".into()),
                target: Some("/etc/pip.conf".into()),
                env: None
            }
        );
        assert_eq!(Mount::parse("type=ssh"), Mount::Ssh { id: None });
        assert_eq!(
            Mount::parse("type=weird"),
            Mount::Unknown {
                kind: "weird".into()
            }
        );
    }
}
