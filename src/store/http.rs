//! The one HTTP client pyship uses, for package indexes and registries alike, and what
//! every caller needs around it: bounded retries of transient failures, origins to
//! decide where credentials may go, and URLs with their passwords taken out.
//!
//! TLS goes through the platform verifier, which on Linux trusts the system store and
//! `SSL_CERT_FILE`, as a tool must behind a corporate proxy that re-signs HTTPS:
//! bundled roots alone would fail there.
//!
//! Redirects are followed by reqwest, which drops `Authorization` when one leads to
//! another origin: a registry's blob redirect to a CDN never carries the login.

use std::io::{self, Read};
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{RANGE, RETRY_AFTER, WWW_AUTHENTICATE};

use super::atomic::copy_with_progress;
use super::cache::{Cache, DigestMismatch};
use super::digest::Digest;

pub fn client() -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("pyship/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(16)
        .build()
        .context("cannot set up HTTPS")
}

/// How many times a request is sent before a transient failure is final.
pub const ATTEMPTS: u32 = 3;

/// The longest pause a server's `Retry-After` may ask for: longer is not worth waiting.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// True for answers that say "try again later": overload, rate limits, a gateway's
/// hiccup. Other errors will not change by asking again.
pub fn is_transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// The pause before attempt `attempt + 1`: what the server's `Retry-After` asks for
/// (in seconds, capped), else an exponential backoff.
pub fn backoff(attempt: u32, response: Option<&Response>) -> Duration {
    let asked = response
        .and_then(|r| r.headers().get(RETRY_AFTER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match asked {
        Some(asked) => asked.min(MAX_RETRY_AFTER),
        None => Duration::from_millis(250 << attempt.min(6)),
    }
}

/// Sends what `build` makes until it gets an answer that is not transient, at most
/// [`ATTEMPTS`] times. Only for requests that may be repeated (GET, HEAD, a PUT of the
/// same bytes): a transient answer or a lost connection leads to the same request again.
pub fn send_idempotent(build: impl Fn() -> RequestBuilder) -> reqwest::Result<Response> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match build().send() {
            Ok(response) if attempt < ATTEMPTS && is_transient(response.status()) => {
                std::thread::sleep(backoff(attempt, Some(&response)));
            }
            Err(err) if attempt < ATTEMPTS && !err.is_builder() => {
                std::thread::sleep(backoff(attempt, None));
            }
            result => return result,
        }
    }
}

/// Why a download did not land in the cache, for each caller to word for its user.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server wants a login: the `WWW-Authenticate` challenge it sent.
    #[error("the server asks for a login")]
    Unauthorized(String),
    /// A final answer other than success (transient ones were retried first).
    #[error("the server answered {0}")]
    Status(StatusCode),
    /// The connection failed or broke off on every attempt.
    #[error("the connection failed {ATTEMPTS} times, last: {0}")]
    Network(String),
    /// The server sent more than the size the caller was told to expect.
    #[error("the server sent more than the expected {0} bytes")]
    TooLarge(u64),
    /// Whole bytes arrived, but not the ones asked for: asking again will not help.
    #[error(transparent)]
    Mismatch(DigestMismatch),
    /// The cache could not take the bytes.
    #[error("{0:#}")]
    Cache(anyhow::Error),
}

/// Downloads what `request` names into the cache as the blob `digest`, with `size`
/// bytes when known. A transient answer is retried; a connection that breaks off is
/// resumed where it stopped (by `Range`, or by skipping what a server that ignores it
/// sends again), so `on_chunk` sees every byte exactly once, in order. Never reads
/// more than `size` + 1 bytes.
pub fn download(
    cache: &Cache,
    digest: &Digest,
    size: Option<u64>,
    request: &dyn Fn() -> RequestBuilder,
    on_chunk: &mut dyn FnMut(&[u8]),
) -> Result<(), DownloadError> {
    let stored = cache.write_blob(Some(digest), |out| {
        let mut received = 0u64;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= ATTEMPTS;
            let mut builder = request();
            if received > 0 {
                builder = builder.header(RANGE, format!("bytes={received}-"));
            }
            let response = match builder.send() {
                Ok(response) => response,
                Err(_) if !last => {
                    std::thread::sleep(backoff(attempt, None));
                    continue;
                }
                Err(err) => return Err(DownloadError::Network(cause(&err)).into()),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                let challenge = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                return Err(DownloadError::Unauthorized(challenge).into());
            }
            if is_transient(status) && !last {
                std::thread::sleep(backoff(attempt, Some(&response)));
                continue;
            }
            if !status.is_success() {
                return Err(DownloadError::Status(status).into());
            }
            let skip = if status == StatusCode::PARTIAL_CONTENT {
                0
            } else {
                received
            };
            let mut body = Body {
                inner: response,
                skip,
                position: received,
                limit: size,
                broke: None,
                over: false,
            };
            let copied = copy_with_progress(&mut body, out, &mut *on_chunk);
            received = body.position;
            match (copied, body.broke, body.over) {
                (_, _, true) => return Err(DownloadError::TooLarge(size.unwrap_or(0)).into()),
                (Err(_), Some(_), _) if !last => std::thread::sleep(backoff(attempt, None)),
                (Err(_), Some(cause), _) => return Err(DownloadError::Network(cause).into()),
                (Err(err), None, _) => return Err(err),
                (Ok(()), _, _) => match size {
                    // Ended early without an error (no Content-Length): not done yet.
                    Some(size) if received < size && !last => {
                        std::thread::sleep(backoff(attempt, None))
                    }
                    Some(size) if received < size => {
                        return Err(DownloadError::Network(format!(
                            "the body ended after {received} of {size} bytes"
                        ))
                        .into());
                    }
                    _ => return Ok(()),
                },
            }
        }
    });
    match stored {
        Ok(_) => Ok(()),
        Err(err) => Err(match err.downcast::<DownloadError>() {
            Ok(download) => download,
            Err(err) => match err.downcast::<DigestMismatch>() {
                Ok(mismatch) => DownloadError::Mismatch(mismatch),
                Err(err) => DownloadError::Cache(err),
            },
        }),
    }
}

/// A response body read for [`download`]: skips bytes already stored, stops one byte
/// past the expected size, and remembers whether the connection (not the disk) failed.
struct Body {
    inner: Response,
    skip: u64,
    position: u64,
    limit: Option<u64>,
    broke: Option<String>,
    over: bool,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.skip > 0 {
            let want = buf
                .len()
                .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
            let n = self.read_inner(&mut buf[..want])?;
            if n == 0 {
                return Ok(0);
            }
            self.skip -= n as u64;
        }
        // One byte past the limit is enough to know the body is too long.
        let room = match self.limit {
            Some(limit) => {
                let left = (limit + 1).saturating_sub(self.position);
                buf.len().min(usize::try_from(left).unwrap_or(usize::MAX))
            }
            None => buf.len(),
        };
        let n = self.read_inner(&mut buf[..room])?;
        self.position += n as u64;
        if self.limit.is_some_and(|limit| self.position > limit) {
            self.over = true;
            return Err(io::Error::other("more bytes than expected"));
        }
        Ok(n)
    }
}

impl Body {
    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.inner.read(buf).inspect_err(|err| {
            let transport = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>());
            self.broke = Some(transport.map_or_else(|| err.to_string(), cause));
        })
    }
}

/// `scheme://host:port` of a URL, the unit credentials are scoped to (as browsers and
/// Docker scope them); the port is explicit so `https://a` and `https://a:443` agree.
pub fn origin(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

/// The URL without its `user:password@`, for anything a person or a log may read.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// The host (and port) a URL names, without user info, for one-line errors.
pub fn host(url: &str) -> String {
    let redacted = redact(url);
    let rest = redacted
        .split_once("://")
        .map_or(redacted.as_str(), |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

/// The innermost cause of a transport error, without the URL reqwest puts in its
/// message (it may hold user info).
pub fn cause(err: &reqwest::Error) -> String {
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    cause
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_only() {
        assert_eq!(
            redact("https://user:pa@ss@index.example/simple/a@1/x.whl"),
            "https://index.example/simple/a@1/x.whl"
        );
        assert_eq!(
            redact("https://index.example/a@b"),
            "https://index.example/a@b"
        );
        assert_eq!(redact("not a url"), "not a url");
        assert_eq!(
            host("http://tok@127.0.0.1:8080/files/x.whl"),
            "127.0.0.1:8080"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://reg.example/v2/"),
            origin("https://reg.example:443/other")
        );
        assert_ne!(
            origin("http://127.0.0.1:5000/v2/"),
            origin("http://127.0.0.1:5001/v2/")
        );
        assert_ne!(
            origin("http://reg.example/"),
            origin("https://reg.example/")
        );
        assert_eq!(origin("not a url"), None);
    }
}
