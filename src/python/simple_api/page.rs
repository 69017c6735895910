//! One project's page of a package index, read: PEP 691's JSON, or PEP 503's HTML for
//! indexes that only speak HTML. Both give the same list of files.

use std::str::FromStr;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use uv_distribution_filename::DistFilename;
use uv_normalize::PackageName;
use uv_pep440::Version;

/// The media type of PEP 691's JSON, version 1.
pub const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// What a request for a project page accepts: JSON first, then either HTML flavour.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// A file an index lists for a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute, resolved against the page it was listed on, without the hash fragment.
    pub url: String,
    /// Hex digest, lowercase; `None` when the index gives no sha256.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub requires_python: Option<String>,
    /// `Some` (the reason, maybe empty) when the file is yanked (PEP 592).
    pub yanked: Option<String>,
}

impl IndexFile {
    /// True for the files of `name` at `version` (PEP 440 equality: `1.0` is `1.0.0`).
    pub fn is_version(&self, name: &PackageName, version: &Version) -> bool {
        DistFilename::try_from_filename(&self.filename, name)
            .is_some_and(|parsed| parsed.version() == version)
    }

    pub fn is_wheel(&self) -> bool {
        self.filename.ends_with(".whl")
    }
}

/// The files of a page, by what the server said it sent.
pub fn files(content_type: &str, body: &[u8], page: &Url) -> Result<Vec<IndexFile>, String> {
    if content_type.split(';').next().map(str::trim) == Some(JSON) {
        json_files(body, page)
    } else {
        Ok(html_files(body, page))
    }
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Yanked,
    size: Option<u64>,
}

/// PEP 691's `yanked`: false, true, or the reason.
#[derive(Default, Deserialize)]
#[serde(untagged)]
enum Yanked {
    #[default]
    No,
    Flag(bool),
    Reason(String),
}

fn json_files(body: &[u8], page: &Url) -> Result<Vec<IndexFile>, String> {
    let parsed: JsonPage = serde_json::from_slice(body)
        .map_err(|err| format!("its JSON project page is not PEP 691 ({err})"))?;
    Ok(parsed
        .files
        .into_iter()
        .filter_map(|file| {
            let url = page.join(&file.url).ok()?;
            Some(IndexFile {
                filename: file.filename,
                url: without_fragment(url),
                sha256: file.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
                size: file.size,
                requires_python: file.requires_python,
                yanked: match file.yanked {
                    Yanked::No | Yanked::Flag(false) => None,
                    Yanked::Flag(true) => Some(String::new()),
                    Yanked::Reason(reason) => Some(reason),
                },
            })
        })
        .collect())
}

/// The anchors of a PEP 503 page: `href` (its `#sha256=` fragment is the hash), the
/// link text as the file name, `data-requires-python`, `data-yanked`. A `<base href>`
/// moves where relative links point, as in a browser.
fn html_files(body: &[u8], page: &Url) -> Vec<IndexFile> {
    use html5gum::{Token, Tokenizer};

    let mut base = page.clone();
    let mut files = Vec::new();
    let mut open: Option<(Url, Option<String>, Option<String>)> = None;
    let mut text = String::new();
    for Ok(token) in Tokenizer::new(body) {
        match token {
            Token::StartTag(tag) if tag.name.eq_ignore_ascii_case(b"base") => {
                if let Some(href) = attribute(&tag.attributes, b"href")
                    && let Ok(url) = page.join(&href)
                {
                    base = url;
                }
            }
            Token::StartTag(tag) if tag.name.eq_ignore_ascii_case(b"a") => {
                text.clear();
                open = attribute(&tag.attributes, b"href")
                    .and_then(|href| base.join(href.trim()).ok())
                    .map(|url| {
                        (
                            url,
                            attribute(&tag.attributes, b"data-requires-python"),
                            attribute(&tag.attributes, b"data-yanked"),
                        )
                    });
            }
            Token::String(chunk) if open.is_some() => {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
            Token::EndTag(tag) if tag.name.eq_ignore_ascii_case(b"a") => {
                if let Some((url, requires_python, yanked)) = open.take() {
                    files.push(html_file(url, text.trim(), requires_python, yanked));
                }
            }
            _ => {}
        }
    }
    files
}

fn html_file(
    url: Url,
    text: &str,
    requires_python: Option<String>,
    yanked: Option<String>,
) -> IndexFile {
    let sha256 = url.fragment().and_then(|fragment| {
        fragment
            .strip_prefix("sha256=")
            .map(|hex| hex.to_ascii_lowercase())
    });
    // The link text is the file name; an empty one falls back to the URL's last segment.
    let filename = if text.is_empty() {
        url.path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or("")
            .to_owned()
    } else {
        text.to_owned()
    };
    IndexFile {
        filename,
        url: without_fragment(url),
        sha256,
        size: None,
        requires_python: requires_python.filter(|r| !r.trim().is_empty()),
        yanked,
    }
}

fn attribute(
    attributes: &std::collections::BTreeMap<
        html5gum::HtmlString,
        html5gum::Spanned<html5gum::HtmlString, ()>,
    >,
    name: &[u8],
) -> Option<String> {
    attributes
        .get(name)
        .map(|value| String::from_utf8_lossy(value).into_owned())
}

fn without_fragment(mut url: Url) -> String {
    url.set_fragment(None);
    url.into()
}

/// The normalized name a package is listed under, for URLs and cache keys.
pub fn package_name(name: &str) -> Option<PackageName> {
    PackageName::from_str(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://index.example/simple/flask/").unwrap()
    }

    #[test]
    fn reads_pep_691_json() {
        let body = br#"{"meta": {"api-version": "1.1"}, "name": "flask", "files": [
            {"filename": "flask-3.1.0-py3-none-any.whl", "url": "../../files/flask-3.1.0-py3-none-any.whl",
             "hashes": {"sha256": "ABCD"}, "requires-python": ">=3.9", "yanked": false, "size": 103},
            {"filename": "flask-3.1.0.tar.gz", "url": "https://files.example/flask-3.1.0.tar.gz",
             "hashes": {}, "yanked": "broken"}
        ]}"#;
        let listed = files("application/vnd.pypi.simple.v1+json", body, &page()).unwrap();
        assert_eq!(
            listed[0].url,
            "https://index.example/files/flask-3.1.0-py3-none-any.whl"
        );
        assert_eq!(listed[0].sha256.as_deref(), Some("abcd"));
        assert_eq!(listed[0].size, Some(103));
        assert_eq!(listed[0].requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(listed[0].yanked, None);
        assert_eq!(listed[1].sha256, None);
        assert_eq!(listed[1].yanked.as_deref(), Some("broken"));
        assert!(files(JSON, b"<html>", &page()).is_err());
    }

    #[test]
    fn reads_pep_503_html_with_entities_quoting_and_base() {
        let body = br#"<!DOCTYPE html><html><body>
            <A HREF="../../files/flask-3.1.0-py3-none-any.whl#sha256=00FF" data-requires-python="&gt;=3.9">flask-3.1.0-py3-none-any.whl</A><br/>
            <a href='/other/flask-3.1.0.tar.gz#md5=1' data-yanked>flask-3.1.0.tar.gz</a>
            <a href=https://files.example/x/flask-3.0.0.tar.gz#sha256=aa data-yanked="bad &amp; old"></a>
        </body></html>"#;
        let listed = files("text/html", body, &page()).unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(
            listed[0].url,
            "https://index.example/files/flask-3.1.0-py3-none-any.whl"
        );
        assert_eq!(listed[0].sha256.as_deref(), Some("00ff"));
        assert_eq!(listed[0].requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(
            listed[1].url,
            "https://index.example/other/flask-3.1.0.tar.gz"
        );
        assert_eq!(listed[1].sha256, None);
        assert_eq!(listed[1].yanked.as_deref(), Some(""));
        assert_eq!(listed[2].filename, "flask-3.0.0.tar.gz");
        assert_eq!(listed[2].yanked.as_deref(), Some("bad & old"));

        let based = br#"<base href="https://cdn.example/pkgs/"><a href="f-1.0-py3-none-any.whl">f-1.0-py3-none-any.whl</a>"#;
        let listed = files("text/html", based, &page()).unwrap();
        assert_eq!(
            listed[0].url,
            "https://cdn.example/pkgs/f-1.0-py3-none-any.whl"
        );
    }

    #[test]
    fn matches_files_by_version_as_pep_440_compares() {
        let name = package_name("Zope.Interface").unwrap();
        let file = |filename: &str| IndexFile {
            filename: filename.into(),
            url: String::new(),
            sha256: None,
            size: None,
            requires_python: None,
            yanked: None,
        };
        let version = Version::from_str("7.2").unwrap();
        assert!(
            file("zope.interface-7.2-cp311-cp311-manylinux_2_17_x86_64.whl")
                .is_version(&name, &version)
        );
        assert!(file("zope_interface-7.2.0.tar.gz").is_version(&name, &version));
        assert!(!file("zope.interface-7.2.1.tar.gz").is_version(&name, &version));
        assert!(!file("zope.interface-7.2-py3-none-any.whl.metadata").is_version(&name, &version));
    }
}
