//! Logins for private package indexes, found where uv and pip users keep them: the file
//! URL's own `user:password@`, the index URL's (as pip applies an `--index-url` login to
//! the files on that index's host), `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index
//! named in `[[tool.uv.index]]`, `POETRY_HTTP_BASIC_<NAME>_USERNAME` / `_PASSWORD` for a
//! `[[tool.poetry.source]]`, and `.netrc` (`NETRC`, else `~/.netrc`).
//!
//! A login goes only to the origin it was given for: an index's login to URLs on that
//! index's origin, a `.netrc` entry to its machine. It is never stored or printed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use reqwest::Url;
use serde::Deserialize;

use crate::store::http;

/// An index `[[tool.uv.index]]` or `[[tool.poetry.source]]` declares, by the name its
/// tool's environment variables use.
#[derive(Debug, Clone, Deserialize)]
pub struct NamedIndex {
    /// uv allows an index without a name; it has no variables then.
    pub name: Option<String>,
    pub url: String,
    /// Replaces PyPI as the index of last resort.
    #[serde(default)]
    pub default: bool,
    /// Used only by packages `[tool.uv.sources]` pins to it.
    #[serde(default)]
    pub explicit: bool,
    /// What the login variables' names start with: uv's unless Poetry declared it.
    #[serde(skip, default = "uv_variables")]
    pub variables: &'static str,
}

/// uv's login variables: `UV_INDEX_<NAME>_USERNAME`.
fn uv_variables() -> &'static str {
    "UV_INDEX"
}

/// Poetry's login variables: `POETRY_HTTP_BASIC_<NAME>_USERNAME`.
pub const POETRY_VARIABLES: &str = "POETRY_HTTP_BASIC";

/// A user name and password for one index host.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexLogin {
    pub user: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for IndexLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IndexLogin({})", self.user)
    }
}

/// A file to download: its URL without user info, and the login to send with it.
pub struct Download {
    pub url: Url,
    pub login: Option<IndexLogin>,
}

impl Download {
    /// Where `file_url`, locked from the index at `index_url`, is fetched from and with
    /// which login.
    pub fn new(
        file_url: &str,
        index_url: Option<&str>,
        indexes: &[NamedIndex],
    ) -> Result<Download> {
        let mut url = Url::parse(file_url).with_context(|| {
            format!(
                "the lock has a file URL that is not a URL ({}): lock the project again",
                http::redact(file_url)
            )
        })?;
        let own = url_login(&url);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let login = match own {
            Some(login) => Some(login),
            None => match index_url.and_then(|index| index_login(&url, index, indexes)) {
                Some(login) => Some(login),
                None => netrc_login(&url)?,
            },
        };
        Ok(Download { url, login })
    }
}

/// The `user:password@` a URL carries, decoded.
fn url_login(url: &Url) -> Option<IndexLogin> {
    (!url.username().is_empty()).then(|| IndexLogin {
        user: percent_decode(url.username()),
        password: url.password().map(percent_decode),
    })
}

/// The login of the index a file was found on, when the file is on that index's
/// origin: the index URL's own, else uv's variables for a named index.
fn index_login(file: &Url, index_url: &str, indexes: &[NamedIndex]) -> Option<IndexLogin> {
    let index = Url::parse(index_url).ok()?;
    match url_login(&index) {
        Some(login) if http::origin(file.as_str()) == http::origin(index_url) => Some(login),
        Some(_) => None,
        None => environment_login(file, index_url, indexes),
    }
}

/// `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD` (or Poetry's) of the named index the file
/// was locked from, when the file is on that index's origin.
fn environment_login(file: &Url, index_url: &str, indexes: &[NamedIndex]) -> Option<IndexLogin> {
    let same_index = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let index = indexes
        .iter()
        .find(|index| same_index(&http::redact(&index.url), &http::redact(index_url)))?;
    if http::origin(file.as_str()) != http::origin(&index.url) {
        return None;
    }
    let name = environment_name(index.name.as_deref()?);
    let prefix = index.variables;
    let user = std::env::var(format!("{prefix}_{name}_USERNAME")).ok();
    let password = std::env::var(format!("{prefix}_{name}_PASSWORD")).ok();
    match (user, password) {
        (None, None) => None,
        (user, password) => Some(IndexLogin {
            user: user.unwrap_or_default(),
            password,
        }),
    }
}

/// An index name as uv spells it in variable names: uppercase, anything but ASCII
/// letters and digits as `_`.
pub fn environment_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The `.netrc` entry for the file's host, or its `default` entry.
fn netrc_login(url: &Url) -> Result<Option<IndexLogin>> {
    let Some(path) = netrc_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(url.host_str().and_then(|host| netrc_entry(&text, host)))
}

fn netrc_path() -> Option<PathBuf> {
    std::env::var_os("NETRC")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".netrc")))
}

/// The login `.netrc` text gives `host`: its `machine` entry, else `default`.
fn netrc_entry(text: &str, host: &str) -> Option<IndexLogin> {
    #[derive(PartialEq)]
    enum For {
        Host,
        Default,
        Other,
    }
    let mut entries: Vec<(For, IndexLogin)> = Vec::new();
    let mut tokens = text.split_whitespace();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                let machine = tokens.next().unwrap_or("");
                let target = if machine.eq_ignore_ascii_case(host) {
                    For::Host
                } else {
                    For::Other
                };
                entries.push((
                    target,
                    IndexLogin {
                        user: String::new(),
                        password: None,
                    },
                ));
            }
            "default" => entries.push((
                For::Default,
                IndexLogin {
                    user: String::new(),
                    password: None,
                },
            )),
            "login" => {
                if let (Some((_, entry)), Some(value)) = (entries.last_mut(), tokens.next()) {
                    entry.user = value.to_owned();
                }
            }
            "password" => {
                if let (Some((_, entry)), Some(value)) = (entries.last_mut(), tokens.next()) {
                    entry.password = Some(value.to_owned());
                }
            }
            "account" => {
                tokens.next();
            }
            _ => {}
        }
    }
    let pick = |wanted: For| {
        entries
            .iter()
            .find(|(target, _)| *target == wanted)
            .map(|(_, login)| login.clone())
    };
    pick(For::Host).or_else(|| pick(For::Default))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(user: &str, password: &str) -> Option<IndexLogin> {
        Some(IndexLogin {
            user: user.to_owned(),
            password: Some(password.to_owned()),
        })
    }

    #[test]
    fn netrc_gives_the_host_entry_then_default() {
        let text = "machine other.example login o password op\n\
                    machine pypi.corp.example\n  login ci\n  password s3cret\n\
                    default login anon password guest\n";
        assert_eq!(
            netrc_entry(text, "pypi.corp.example"),
            login("ci", "s3cret")
        );
        assert_eq!(
            netrc_entry(text, "PYPI.corp.example"),
            login("ci", "s3cret")
        );
        assert_eq!(
            netrc_entry(text, "elsewhere.example"),
            login("anon", "guest")
        );
        assert_eq!(netrc_entry("machine a login b password c", "x"), None);
    }

    #[test]
    fn a_poetry_source_s_login_comes_from_poetry_s_variables() {
        // SAFETY: the variables are this test's own; nothing else reads them.
        unsafe {
            std::env::set_var("POETRY_HTTP_BASIC_PYSHIP_TEST_SOURCE_USERNAME", "ci");
            std::env::set_var("POETRY_HTTP_BASIC_PYSHIP_TEST_SOURCE_PASSWORD", "tok");
        }
        let indexes = [NamedIndex {
            name: Some("pyship-test-source".to_owned()),
            url: "https://pypi.corp.example/simple/".to_owned(),
            default: false,
            explicit: false,
            variables: POETRY_VARIABLES,
        }];
        let download = Download::new(
            "https://pypi.corp.example/files/a-1-py3-none-any.whl",
            Some("https://pypi.corp.example/simple"),
            &indexes,
        )
        .unwrap();
        assert_eq!(download.login, login("ci", "tok"));
    }

    #[test]
    fn index_names_become_uv_variable_names() {
        assert_eq!(environment_name("corp-pypi.v2"), "CORP_PYPI_V2");
    }

    #[test]
    fn a_url_login_is_taken_out_of_the_url() {
        let download = Download::new(
            "https://ci%40corp:p%2Fss@pypi.corp.example/files/a-1-py3-none-any.whl",
            None,
            &[],
        )
        .unwrap();
        assert_eq!(
            download.url.as_str(),
            "https://pypi.corp.example/files/a-1-py3-none-any.whl"
        );
        assert_eq!(download.login, login("ci@corp", "p/ss"));
    }

    #[test]
    fn an_index_login_goes_to_its_own_origin_only() {
        let index = "https://ci:tok@pypi.corp.example/simple";
        let same = Download::new(
            "https://pypi.corp.example/files/a-1-py3-none-any.whl",
            Some(index),
            &[],
        )
        .unwrap();
        assert_eq!(same.login, login("ci", "tok"));
        let other = Download::new(
            "https://files.elsewhere.example/a-1-py3-none-any.whl",
            Some(index),
            &[],
        )
        .unwrap();
        assert_ne!(other.login, login("ci", "tok"));
    }
}
