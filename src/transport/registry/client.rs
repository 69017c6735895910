//! A client for the OCI distribution API: pull manifests and blobs, push blobs and
//! manifests, answering the registry's auth challenge (basic, or the bearer-token flow
//! Docker Hub, GHCR and most registries use) with the credentials `auth` finds.

use std::io::Write;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};

use super::auth::{basic, credentials_for, insecure_allowed, parse_param};
use crate::oci::Reference;
use crate::oci::media_type::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::store::atomic::copy_with_progress;
use crate::store::{Cache, Digest};

/// A registry session for one repository.
pub struct Registry {
    client: Client,
    base_url: String,
    repository: String,
    display: String,
    credentials: Option<(String, String)>,
    authorization: Mutex<Option<String>>,
}

/// A manifest or index as the registry returned it.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

impl Registry {
    pub fn new(client: &Client, reference: &Reference) -> Registry {
        let scheme = if reference.is_loopback() || insecure_allowed(&reference.registry) {
            "http"
        } else {
            "https"
        };
        Registry {
            client: client.clone(),
            base_url: format!(
                "{scheme}://{}/v2/{}",
                reference.api_host(),
                reference.repository
            ),
            repository: reference.repository.clone(),
            display: reference.name(),
            credentials: credentials_for(&reference.registry),
            authorization: Mutex::new(None),
        }
    }

    /// Fetches a manifest or index by tag or digest.
    pub fn manifest(&self, reference: &str) -> Result<Fetched> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let url = format!("{}/manifests/{reference}", self.base_url);
        let response = self.send(|| self.client.get(&url).header(ACCEPT, &accept), "pull")?;
        if response.status() == StatusCode::NOT_FOUND {
            bail!(
                "{}:{reference} was not found in the registry: check the name and tag",
                self.display
            );
        }
        let response = self.ok(
            response,
            &format!("fetch the manifest {}:{reference}", self.display),
        )?;
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
        let bytes = response.bytes()?.to_vec();
        let digest = Digest::of(&bytes);
        if let Ok(wanted) = reference.parse::<Digest>()
            && wanted != digest
        {
            bail!(
                "{} returned a manifest with digest {digest} for {wanted}: the registry is not trustworthy",
                self.display
            );
        }
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// Downloads a blob into the cache, verifying its digest, unless it is there already.
    pub fn fetch_blob(
        &self,
        cache: &Cache,
        digest: &Digest,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        self.fetch_blob_tee(cache, digest, on_bytes, &mut std::io::sink())
    }

    /// Downloads a blob into the cache and copies every byte to `tee` as it arrives, so
    /// a reader can work while the download runs. If `tee` stops accepting bytes, the
    /// download still completes into the cache; a digest mismatch fails it either way.
    pub fn fetch_blob_tee(
        &self,
        cache: &Cache,
        digest: &Digest,
        on_bytes: &(dyn Fn(u64) + Sync),
        tee: &mut dyn Write,
    ) -> Result<()> {
        if cache.has_blob(digest) {
            return Ok(());
        }
        let url = format!("{}/blobs/{digest}", self.base_url);
        let response = self.send(|| self.client.get(&url), "pull")?;
        let mut response = self.ok(
            response,
            &format!("download blob {digest} of {}", self.display),
        )?;
        let mut tee_open = true;
        cache
            .write_blob(Some(digest), |out| {
                copy_with_progress(&mut response, out, |chunk: &[u8]| {
                    tee_open = tee_open && tee.write_all(chunk).is_ok();
                    on_bytes(chunk.len() as u64);
                })
            })
            .with_context(|| format!("download of {digest} from {} failed", self.display))?;
        Ok(())
    }

    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let url = format!("{}/blobs/{digest}", self.base_url);
        let response = self.send(|| self.client.head(&url), "pull,push")?;
        Ok(response.status().is_success())
    }

    /// Uploads a blob from the cache, or mounts it from `mount_from` in the same registry.
    pub fn push_blob(
        &self,
        cache: &Cache,
        digest: &Digest,
        mount_from: Option<&str>,
    ) -> Result<()> {
        if self.has_blob(digest)? {
            return Ok(());
        }
        let mut start = format!("{}/blobs/uploads/", self.base_url);
        if let Some(from) = mount_from.filter(|from| *from != self.repository) {
            start.push_str(&format!("?mount={digest}&from={from}"));
        }
        let response = self.send(|| self.client.post(&start), "pull,push")?;
        if response.status() == StatusCode::CREATED {
            return Ok(());
        }
        let response = self.ok(response, &format!("start an upload to {}", self.display))?;
        let location = self.location(&response)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={digest}");
        let size = std::fs::metadata(cache.blob_path(digest))?.len();
        let response = self.send(
            || {
                let file = cache.open_blob(digest).expect("blob checked above");
                self.client
                    .put(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(reqwest::blocking::Body::sized(file, size))
            },
            "pull,push",
        )?;
        self.ok(
            response,
            &format!("upload blob {digest} to {}", self.display),
        )?;
        Ok(())
    }

    /// Uploads a manifest under `reference` (a tag or its digest).
    pub fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<()> {
        let url = format!("{}/manifests/{reference}", self.base_url);
        let response = self.send(
            || {
                self.client
                    .put(&url)
                    .header(CONTENT_TYPE, media_type)
                    .body(bytes.to_vec())
            },
            "pull,push",
        )?;
        self.ok(
            response,
            &format!("push the manifest to {}:{reference}", self.display),
        )?;
        Ok(())
    }

    fn location(&self, response: &Response) -> Result<String> {
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

    /// Sends a request, answering one auth challenge if the registry asks for one.
    fn send(&self, build: impl Fn() -> RequestBuilder, actions: &str) -> Result<Response> {
        let with_auth = |request: RequestBuilder| match self.authorization.lock().unwrap().as_ref()
        {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        };
        let response = with_auth(build())
            .send()
            .map_err(|err| self.unreachable(err))?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let authorization = self.answer(&challenge, actions)?;
        *self.authorization.lock().unwrap() = Some(authorization);
        with_auth(build())
            .send()
            .map_err(|err| self.unreachable(err))
    }

    fn answer(&self, challenge: &str, actions: &str) -> Result<String> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let Some((user, password)) = &self.credentials else {
                bail!(
                    "{} needs a login: set PYSHIP_REGISTRY_USERNAME and PYSHIP_REGISTRY_PASSWORD, or run `docker login`",
                    self.display
                );
            };
            return Ok(basic(user, password));
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
        let mut request = self
            .client
            .get(&realm)
            .query(&[("scope", format!("repository:{}:{actions}", self.repository))]);
        if let Some(service) = param("service") {
            request = request.query(&[("service", service)]);
        }
        if let Some((user, password)) = &self.credentials {
            request = request.header(AUTHORIZATION, basic(user, password));
        }
        let response = request.send().map_err(|err| self.unreachable(err))?;
        if response.status() == StatusCode::UNAUTHORIZED
            || response.status() == StatusCode::FORBIDDEN
        {
            bail!(
                "{} refused the credentials for {actions}: check PYSHIP_REGISTRY_USERNAME/PASSWORD or `docker login`",
                self.display
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

    fn ok(&self, response: Response, doing: &str) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().unwrap_or_default();
        let detail = body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => bail!(
                "cannot {doing}: access denied ({status}): log in with `docker login` or set PYSHIP_REGISTRY_USERNAME/PASSWORD"
            ),
            _ => bail!("cannot {doing}: the registry answered {status} {detail}"),
        }
    }

    fn unreachable(&self, err: reqwest::Error) -> anyhow::Error {
        let mut cause = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            cause = inner.to_string();
            source = inner.source();
        }
        anyhow::anyhow!(
            "cannot reach the registry {} ({cause}): check the address and your network",
            self.display
        )
    }
}
