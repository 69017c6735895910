//! A client for the OCI distribution API: pull manifests and blobs, push blobs and
//! manifests, answering the registry's auth challenge (basic, or the bearer-token flow
//! Docker Hub, GHCR and most registries use) with the login `auth` finds.
//!
//! The login and the token made from it go to this registry's origin only: an upload
//! `Location` or a redirect to another host gets no `Authorization`, as with Docker.
//! Transient answers (5xx, 429) and broken connections are retried a bounded number
//! of times, for requests that may be repeated; a blob upload restarts from its POST.

use std::io::Read;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use sha2::Digest as _;

use super::auth::{Login, insecure_allowed, login_for, parse_param};
use crate::oci::Reference;
use crate::oci::media_type::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::store::http::{self, ATTEMPTS, DownloadError};
use crate::store::{Cache, Digest};

/// The largest manifest or index pyship reads: real ones are a few KiB, and a larger
/// answer is a broken or hostile registry, not an image.
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

/// A registry session for one repository.
pub struct Registry {
    client: Client,
    /// `scheme://host:port/v2/<repository>`: every API path of this repository.
    pub(super) base_url: String,
    /// `scheme://host:port` of the API: the only place the login and tokens go.
    origin: String,
    /// The registry as the reference names it, the key logins are found by.
    registry: String,
    pub(super) repository: String,
    pub(super) display: String,
    /// Plain HTTP: a login goes to a token realm over plain HTTP only for such registries.
    plain_http: bool,
    /// Repositories of this registry that blobs are mounted from: a token asked for
    /// this repository also asks to pull from them, or a token registry refuses the mount.
    mount_sources: Vec<String>,
    authorization: Mutex<Option<String>>,
}

/// A manifest or index as the registry returned it.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// A failure that sending the same thing again may cure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Retryable(pub(super) String);

impl Registry {
    pub fn new(client: &Client, reference: &Reference) -> Registry {
        let plain_http = reference.is_loopback() || insecure_allowed(&reference.registry);
        let scheme = if plain_http { "http" } else { "https" };
        let host = reference.api_host();
        Registry {
            client: client.clone(),
            base_url: format!("{scheme}://{host}/v2/{}", reference.repository),
            origin: http::origin(&format!("{scheme}://{host}/")).unwrap_or_default(),
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            display: reference.name(),
            plain_http,
            mount_sources: Vec::new(),
            authorization: Mutex::new(None),
        }
    }

    /// The same session, its tokens also allowed to pull from `repository` (on this
    /// registry) so blobs can be mounted from there.
    pub fn mounting_from(mut self, repository: &str) -> Registry {
        if repository != self.repository && !self.mount_sources.iter().any(|r| r == repository) {
            self.mount_sources.push(repository.to_owned());
        }
        self
    }

    /// True when both sessions talk to the same registry (so blobs can be mounted).
    pub fn same_registry(&self, other: &Registry) -> bool {
        self.origin == other.origin
    }

    /// Fetches a manifest or index by tag or digest; one named by digest is checked
    /// against it, and one larger than [`MAX_MANIFEST`] is refused.
    pub fn manifest(&self, reference: &str) -> Result<Fetched> {
        match self.try_manifest(reference)? {
            Some(fetched) => Ok(fetched),
            None => bail!(
                "{}:{reference} was not found in the registry: check the name and tag",
                self.display
            ),
        }
    }

    /// [`Registry::manifest`], with `None` when the registry has no such tag or digest.
    pub fn try_manifest(&self, reference: &str) -> Result<Option<Fetched>> {
        let wanted = WantedDigest::parse(reference).with_context(|| {
            format!(
                "{}@{reference}: pyship verifies manifests by sha256 or sha512 only: name the image by its sha256 digest",
                self.display
            )
        })?;
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let url = format!("{}/manifests/{reference}", self.base_url);
        let response = self.send(
            || self.request(Method::GET, &url).header(ACCEPT, &accept),
            "pull",
            true,
        )?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = self.ok(
            response,
            &format!("fetch the manifest {}:{reference}", self.display),
        )?;
        let too_large = || {
            anyhow::anyhow!(
                "the manifest of {}:{reference} is larger than {} MiB: the registry is broken or hostile",
                self.display,
                MAX_MANIFEST >> 20
            )
        };
        let claimed = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if claimed.is_some_and(|len| len > MAX_MANIFEST) {
            return Err(too_large());
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(OCI_MANIFEST)
            .split(';')
            .next()
            .unwrap_or(OCI_MANIFEST)
            .trim()
            .to_owned();
        let mut bytes = Vec::new();
        response
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .with_context(|| {
                format!(
                    "the connection to {} broke while reading the manifest {reference}: build again",
                    self.display
                )
            })?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(too_large());
        }
        let digest = Digest::of(&bytes);
        if let Some(wanted) = wanted
            && !wanted.matches(&bytes, &digest)
        {
            bail!(
                "{} returned a manifest with digest {digest} for {reference}: the registry is not trustworthy",
                self.display
            );
        }
        Ok(Some(Fetched {
            bytes,
            media_type,
            digest,
        }))
    }

    /// Downloads a blob of `size` bytes into the cache, verifying its digest, unless it
    /// is there already.
    pub fn fetch_blob(
        &self,
        cache: &Cache,
        digest: &Digest,
        size: u64,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        self.fetch_blob_tee(cache, digest, size, on_bytes, &mut std::io::sink())
    }

    /// Downloads a blob into the cache and copies every byte to `tee` as it arrives, so
    /// a reader can work while the download runs. If `tee` stops accepting bytes, the
    /// download still completes into the cache; a digest mismatch fails it either way.
    /// A broken connection resumes where it stopped, so `tee` sees each byte once.
    pub fn fetch_blob_tee(
        &self,
        cache: &Cache,
        digest: &Digest,
        size: u64,
        on_bytes: &(dyn Fn(u64) + Sync),
        tee: &mut dyn std::io::Write,
    ) -> Result<()> {
        if cache.has_blob(digest) {
            return Ok(());
        }
        let url = format!("{}/blobs/{digest}", self.base_url);
        let mut tee_open = true;
        let mut on_chunk = |chunk: &[u8]| {
            tee_open = tee_open && tee.write_all(chunk).is_ok();
            on_bytes(chunk.len() as u64);
        };
        let request = || self.request(Method::GET, &url);
        let mut result = http::download(cache, digest, Some(size), &request, &mut on_chunk);
        if let Err(DownloadError::Unauthorized(challenge)) = &result {
            self.authorize(challenge, "pull")?;
            result = http::download(cache, digest, Some(size), &request, &mut on_chunk);
        }
        result.map_err(|err| self.download_error(err, digest))
    }

    fn download_error(&self, err: DownloadError, digest: &Digest) -> anyhow::Error {
        let what = format!("blob {digest} of {}", self.display);
        match err {
            DownloadError::Unauthorized(_) => self.denied(&format!("download {what}")),
            DownloadError::Status(status) => {
                anyhow::anyhow!("cannot download {what}: the registry answered {status}")
            }
            DownloadError::Network(cause) => anyhow::anyhow!(
                "the download of {what} broke off ({cause}): check your network and build again"
            ),
            DownloadError::TooLarge(size) => anyhow::anyhow!(
                "{} sent more than the {size} bytes its manifest gives for {digest}: the registry is not trustworthy",
                self.display
            ),
            DownloadError::Mismatch(mismatch) => anyhow::anyhow!(
                "{} sent wrong bytes for {digest} ({mismatch}): the registry is not trustworthy",
                self.display
            ),
            DownloadError::Cache(err) => err.context(format!("cannot store {what} in the cache")),
        }
    }

    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let url = format!("{}/blobs/{digest}", self.base_url);
        let response = self.send(|| self.request(Method::HEAD, &url), "pull,push", true)?;
        Ok(response.status().is_success())
    }

    /// Puts a blob of `size` bytes into this repository: mounted from `source`'s
    /// repository when that is on the same registry, else uploaded from the cache,
    /// downloading it from `source` first when only the source has it.
    pub fn push_blob(
        &self,
        cache: &Cache,
        digest: &Digest,
        size: u64,
        source: Option<&Registry>,
    ) -> Result<()> {
        if self.has_blob(digest)? {
            return Ok(());
        }
        if let Some(source) = source.filter(|s| s.same_registry(self))
            && source.repository != self.repository
            && self.mount(digest, &source.repository)
        {
            return Ok(());
        }
        if !cache.has_blob(digest) {
            let Some(source) = source else {
                bail!(
                    "blob {digest} for {} is not in the cache: build again",
                    self.display
                );
            };
            source
                .fetch_blob(cache, digest, size, &|_| {})
                .with_context(|| {
                    format!(
                        "{} did not mount blob {digest} from {}, and it could not be downloaded to upload it",
                        self.display, source.display
                    )
                })?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.upload(cache, digest) {
                Err(err) if attempt < ATTEMPTS && err.is::<Retryable>() => {
                    std::thread::sleep(http::backoff(attempt, None));
                }
                result => return result,
            }
        }
    }

    /// Asks the registry to mount a blob from another repository; false when it did not
    /// (a 202 starts an upload instead, which the caller then makes itself).
    pub(super) fn mount(&self, digest: &Digest, from: &str) -> bool {
        let url = format!(
            "{}/blobs/uploads/?mount={digest}&from={from}",
            self.base_url
        );
        self.send(|| self.request(Method::POST, &url), "pull,push", false)
            .is_ok_and(|response| response.status() == StatusCode::CREATED)
    }

    /// One monolithic upload: POST for a session, PUT the bytes to its `Location`.
    fn upload(&self, cache: &Cache, digest: &Digest) -> Result<()> {
        let what = format!("blob {digest} to {}", self.display);
        let start = format!("{}/blobs/uploads/", self.base_url);
        let response = self.send(|| self.request(Method::POST, &start), "pull,push", false)?;
        let response = self.ok(response, &format!("start an upload of {what}"))?;
        let location = self.location(&response)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={digest}");
        let size = std::fs::metadata(cache.blob_path(digest))
            .with_context(|| format!("cannot upload {what}: it is not in the cache: build again"))?
            .len();
        let response = self.send(
            || {
                let body = match cache.open_blob(digest) {
                    Ok(file) => reqwest::blocking::Body::sized(file, size),
                    // Gone since it was measured: the registry sees a short body and
                    // refuses it, which names the blob below.
                    Err(_) => reqwest::blocking::Body::from(Vec::new()),
                };
                self.request(Method::PUT, &url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body)
            },
            "pull,push",
            false,
        )?;
        self.ok(response, &format!("upload {what}"))?;
        Ok(())
    }

    /// Uploads a manifest under `reference` (a tag or its digest).
    pub fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<()> {
        let url = format!("{}/manifests/{reference}", self.base_url);
        let response = self.send(
            || {
                self.request(Method::PUT, &url)
                    .header(CONTENT_TYPE, media_type)
                    .body(bytes.to_vec())
            },
            "pull,push",
            true,
        )?;
        self.ok(
            response,
            &format!("push the manifest to {}:{reference}", self.display),
        )?;
        Ok(())
    }

    pub(super) fn location(&self, response: &Response) -> Result<String> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .with_context(|| format!("{} started an upload without a Location", self.display))?;
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_owned());
        }
        let origin: String = self
            .base_url
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        Ok(format!("{origin}{location}"))
    }

    /// A request to `url`, carrying the session's authorization only when `url` is on
    /// this registry's origin.
    pub(super) fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let request = self.client.request(method, url);
        let authorization = self.authorization.lock().unwrap().clone();
        match authorization {
            Some(value) if http::origin(url).as_deref() == Some(self.origin.as_str()) => {
                request.header(AUTHORIZATION, value)
            }
            _ => request,
        }
    }

    /// Sends a request, answering one auth challenge if the registry asks for one.
    /// `idempotent` requests are retried on transient failures.
    pub(super) fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
        actions: &str,
        idempotent: bool,
    ) -> Result<Response> {
        let send = || -> Result<Response> {
            let sent = if idempotent {
                http::send_idempotent(&build)
            } else {
                build().send()
            };
            sent.map_err(|err| self.unreachable(&err))
        };
        let response = send()?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.authorize(&challenge, actions)?;
        send()
    }

    /// Answers `challenge` and keeps the result for the session's next requests.
    fn authorize(&self, challenge: &str, actions: &str) -> Result<()> {
        let authorization = self.answer(challenge, actions)?;
        *self.authorization.lock().unwrap() = Some(authorization);
        Ok(())
    }

    fn login(&self) -> Result<Option<Login>> {
        login_for(&self.registry)
            .with_context(|| format!("cannot find the login for {}", self.registry))
    }

    fn answer(&self, challenge: &str, actions: &str) -> Result<String> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(login) = self.login()? else {
                bail!(
                    "{} needs a login: set PYSHIP_REGISTRY={} with PYSHIP_REGISTRY_USERNAME and PYSHIP_REGISTRY_PASSWORD, or run `docker login {}`",
                    self.display,
                    self.registry,
                    self.registry
                );
            };
            return Ok(login.basic());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            bail!(
                "{} asked for unsupported authentication {scheme:?}",
                self.display
            );
        }
        let param = |name: &str| parse_param(params, name);
        let realm = param("realm")
            .with_context(|| format!("{} sent a token challenge without a realm", self.display))?;
        let mut scopes = vec![format!("repository:{}:{actions}", self.repository)];
        scopes.extend(
            self.mount_sources
                .iter()
                .map(|repository| format!("repository:{repository}:pull")),
        );
        let service = param("service");
        // A login crosses the network in the clear only to a registry the user
        // already speaks plain HTTP with.
        let login = if realm.starts_with("https://") || self.plain_http {
            self.login()?
        } else {
            None
        };
        let response = http::send_idempotent(|| {
            let scope_params: Vec<(&str, &String)> =
                scopes.iter().map(|scope| ("scope", scope)).collect();
            let mut request = self.client.get(&realm).query(&scope_params);
            if let Some(service) = &service {
                request = request.query(&[("service", service)]);
            }
            if let Some(login) = &login {
                request = request.header(AUTHORIZATION, login.basic());
            }
            request
        })
        .map_err(|err| self.unreachable(&err))?;
        if response.status() == StatusCode::UNAUTHORIZED
            || response.status() == StatusCode::FORBIDDEN
        {
            bail!(
                "{} refused the login for {actions}{}: check it, or set PYSHIP_REGISTRY={} with PYSHIP_REGISTRY_USERNAME/PASSWORD",
                self.display,
                login
                    .map(|l| format!(" from {}", l.source))
                    .unwrap_or_default(),
                self.registry
            );
        }
        let token: serde_json::Value = self.ok(response, "get a registry token")?.json()?;
        let token = token
            .get("token")
            .or_else(|| token.get("access_token"))
            .and_then(|t| t.as_str())
            .with_context(|| format!("{} returned no token", self.display))?;
        Ok(format!("Bearer {token}"))
    }

    fn denied(&self, doing: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot {doing}: access denied: log in with `docker login {}`, or set PYSHIP_REGISTRY={} with PYSHIP_REGISTRY_USERNAME/PASSWORD",
            self.registry,
            self.registry
        )
    }

    pub(super) fn ok(&self, response: Response, doing: &str) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = String::new();
        let _ = response.take(4096).read_to_string(&mut body);
        let detail = body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(self.denied(doing)),
            _ if http::is_transient(status) => Err(Retryable(format!(
                "cannot {doing}: the registry answered {status} {detail}"
            ))
            .into()),
            _ => bail!("cannot {doing}: the registry answered {status} {detail}"),
        }
    }

    fn unreachable(&self, err: &reqwest::Error) -> anyhow::Error {
        Retryable(format!(
            "cannot reach the registry {} ({}): check the address and your network",
            self.display,
            http::cause(err)
        ))
        .into()
    }
}

/// The digest a manifest was asked for by, when it was asked for by one.
enum WantedDigest {
    Sha256(Digest),
    Sha512(String),
}

impl WantedDigest {
    /// `None` for a tag; an error for a digest pyship cannot check.
    fn parse(reference: &str) -> Result<Option<WantedDigest>> {
        let Some((algorithm, hex_part)) = reference.split_once(':') else {
            return Ok(None);
        };
        match algorithm {
            "sha256" => Ok(Some(WantedDigest::Sha256(reference.parse()?))),
            "sha512"
                if hex_part.len() == 128 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Ok(Some(WantedDigest::Sha512(hex_part.to_ascii_lowercase())))
            }
            _ => bail!("{reference:?} is not a digest pyship can check"),
        }
    }

    fn matches(&self, bytes: &[u8], sha256: &Digest) -> bool {
        match self {
            WantedDigest::Sha256(wanted) => wanted == sha256,
            WantedDigest::Sha512(wanted) => *wanted == hex::encode(sha2::Sha512::digest(bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_checked_by_sha256_or_sha512_and_nothing_else() {
        let bytes = b"{}";
        let sha256 = Digest::of(bytes);
        let sha512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes)));
        let check = |reference: &str| {
            WantedDigest::parse(reference).map(|w| w.map(|w| w.matches(bytes, &sha256)))
        };
        assert_eq!(check("latest").unwrap(), None);
        assert_eq!(check(sha256.as_str()).unwrap(), Some(true));
        assert_eq!(check(&sha512).unwrap(), Some(true));
        let other512 = format!("sha512:{}", "0".repeat(128));
        assert_eq!(check(&other512).unwrap(), Some(false));
        assert!(check(&format!("sha384:{}", "0".repeat(96))).is_err());
        assert!(check("sha512:00").is_err());
    }
}
