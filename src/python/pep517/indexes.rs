//! Where a build environment finds its build requirements: the indexes uv would search
//! for the project, each with its login (see `index`), handed to pip in its
//! environment, never on a command line where `ps` would show a password.

use anyhow::Result;
use reqwest::Url;

use crate::python::index::{Download, NamedIndex};

/// uv's index of last resort, unless an index is declared `default = true`.
const PYPI: &str = "https://pypi.org/simple";

/// The indexes, most preferred first, with logins in their URLs.
pub struct BuildIndexes {
    urls: Vec<Url>,
}

impl BuildIndexes {
    /// `first` (the index a package was locked from) if given, then the project's
    /// `[[tool.uv.index]]` that are not `explicit`, then the default index.
    pub fn new(first: Option<&str>, project: &[NamedIndex]) -> Result<BuildIndexes> {
        let default = project
            .iter()
            .find(|i| i.default)
            .map_or(PYPI, |i| i.url.as_str());
        let declared = project
            .iter()
            .filter(|i| !i.explicit && !i.default)
            .map(|i| i.url.as_str());
        let mut urls: Vec<Url> = Vec::new();
        for url in first.into_iter().chain(declared).chain([default]) {
            let download = Download::new(url, Some(url), project)?;
            let mut url = download.url;
            if urls.iter().any(|known| same_index(known, &url)) {
                continue;
            }
            if let Some(login) = download.login {
                // Only fails for URLs that cannot carry a login, which a parsed index URL can.
                let _ = url.set_username(&login.user);
                let _ = url.set_password(login.password.as_deref());
            }
            urls.push(url);
        }
        Ok(BuildIndexes { urls })
    }

    /// pip's variables: the first index as `PIP_INDEX_URL`, the others as extras.
    pub fn pip_env(&self) -> Vec<(&'static str, String)> {
        let mut urls = self.urls.iter().map(Url::to_string);
        let mut env = Vec::new();
        if let Some(first) = urls.next() {
            env.push(("PIP_INDEX_URL", first));
        }
        env.push(("PIP_EXTRA_INDEX_URL", urls.collect::<Vec<_>>().join(" ")));
        env
    }

    /// The passwords the URLs carry, to be blanked out of anything shown.
    pub fn secrets(&self) -> Vec<String> {
        self.urls
            .iter()
            .filter_map(|url| url.password())
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn same_index(a: &Url, b: &Url) -> bool {
    let bare = |u: &Url| {
        let mut u = u.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.as_str().trim_end_matches('/').to_owned()
    };
    bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str, url: &str, default: bool, explicit: bool) -> NamedIndex {
        NamedIndex {
            name: Some(name.to_owned()),
            url: url.to_owned(),
            default,
            explicit,
            variables: "UV_INDEX",
        }
    }

    #[test]
    fn the_locked_index_first_then_declared_then_default() {
        let project = [
            index("torch", "https://download.example/whl", false, true),
            index("corp", "https://pypi.corp.example/simple", false, false),
        ];
        let indexes = BuildIndexes::new(Some("https://pypi.org/simple/"), &project).unwrap();
        let env = indexes.pip_env();
        assert_eq!(env[0], ("PIP_INDEX_URL", "https://pypi.org/simple/".into()));
        assert_eq!(
            env[1],
            (
                "PIP_EXTRA_INDEX_URL",
                "https://pypi.corp.example/simple".into()
            )
        );
        let own_default = [index(
            "mirror",
            "https://mirror.example/simple",
            true,
            false,
        )];
        let env = BuildIndexes::new(None, &own_default).unwrap().pip_env();
        assert_eq!(
            env[0],
            ("PIP_INDEX_URL", "https://mirror.example/simple".into())
        );
        assert_eq!(env[1], ("PIP_EXTRA_INDEX_URL", String::new()));
    }

    #[test]
    fn a_url_login_stays_with_its_index_and_is_known_as_a_secret() {
        let project = [index(
            "corp",
            "https://ci:s3cret@pypi.corp.example/simple",
            true,
            false,
        )];
        let indexes = BuildIndexes::new(None, &project).unwrap();
        assert_eq!(
            indexes.pip_env()[0].1,
            "https://ci:s3cret@pypi.corp.example/simple"
        );
        assert_eq!(indexes.secrets(), ["s3cret"]);
    }
}
