//! A thin client of the OCI distribution API (what Docker Hub, GHCR, GitLab's registry,
//! Harbor, ECR and the CNCF `distribution` registry serve), on the one HTTP stack.
//!
//! Only what pulling a base and pushing an image need: manifests by tag or digest, blobs
//! (HEAD, GET, cross-repository mount, monolithic and chunked upload), the referrers API.
//! Authentication follows the registry's `WWW-Authenticate` challenge: HTTP basic, or a
//! bearer token fetched from the realm it names with the scopes the client needs.
//!
//! Everything a registry sends is bounded: a manifest is at most `MAX_MANIFEST_BYTES`
//! (distribution's own limit), a blob is read to the size its descriptor gives and no
//! further and must hash to its digest, an error body is read to 64 KiB, and every
//! transfer has a deadline that grows with its size.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use ureq::http::Response;
use ureq::{Agent, Body};

use super::auth::{self, Credentials};
use super::{NetError, Options, read_bounded};

/// The largest manifest or index read (distribution refuses larger ones too).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Layers larger than this go up in chunks of this size.
pub const CHUNK_BYTES: u64 = 16 << 20;
const MAX_ERROR_BODY: u64 = 64 << 10;
const MAX_TOKEN_BYTES: u64 = 1 << 20;
/// The most bytes read from one CA file of certs.d (as `net` reads a bundle).
const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The slowest transfer waited for, in bytes per second, on top of `Options::timeout`.
const MIN_RATE: u64 = 256 << 10;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// An image reference: `python:3.12-slim`, `ghcr.io/org/app:1`,
/// `host:5000/base@sha256:<hex>`, with Docker Hub's short names expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry as written (`docker.io` for Docker Hub).
    pub host: String,
    /// The repository: `library/python`, `org/app`.
    pub repo: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `text` (a `docker://` prefix is accepted); a reference with neither tag nor
    /// digest means `:latest`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix("docker://").unwrap_or(text);
        let bad = |why: &str| format!("`{text}` is not an image reference: {why}");
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("the digest must be sha256:<64 hex digits>"))?;
                if !is_hex64(hex) {
                    return Err(bad("the digest must be sha256:<64 hex digits>"));
                }
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && (tag.is_empty()
                || tag.len() > 128
                || tag.starts_with(['.', '-'])
                || !tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
        {
            return Err(bad("a tag is 1 to 128 letters, digits, `_`, `.` or `-`"));
        }
        let (host, repo) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let repo = if host == "docker.io" && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo
        };
        let repo_ok = !repo.is_empty()
            && repo.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
                    && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            });
        if !repo_ok || host.is_empty() {
            return Err(bad(
                "the repository is lower-case letters, digits and `._-` between `/`",
            ));
        }
        let tag = match (&digest, tag) {
            (None, None) => Some("latest".to_owned()),
            (_, t) => t.map(str::to_owned),
        };
        Ok(Self {
            host,
            repo,
            tag,
            digest,
        })
    }

    /// The tag, else the digest: what a manifest is asked for by.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `host/repo` (Docker Hub's images as `docker.io/library/python`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repo)
    }

    /// The host the API is served from.
    fn api_host(&self) -> &str {
        if self.host == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.host
        }
    }
}

fn is_hex64(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("{what}: {url} answered {status}{detail}")]
    Status {
        what: String,
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{host} refused the credentials{source_note}")]
    Unauthorized { host: String, source_note: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

impl RegistryError {
    /// The HTTP status, when the registry answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A body to send; files are reopened on a retry.
pub enum Payload<'a> {
    None,
    Bytes(&'a [u8], &'a str),
    /// `len` bytes of `path` from `offset`.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

/// A manifest or index as the registry has it.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// `sha256:` of `bytes`.
    pub digest: String,
}

/// What one blob upload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The registry had it.
    Present,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Uploaded: this many bytes.
    Uploaded(u64),
}

/// A connection to one registry, for one repository and the scopes it was opened with.
pub struct Client {
    agent: Agent,
    base: String,
    host: String,
    repo: String,
    scopes: Vec<String>,
    credentials: Option<Credentials>,
    authorization: Option<String>,
    timeout: Duration,
}

impl Client {
    /// A client for `reference`'s repository; `push` asks for push rights too, `mount_from`
    /// for pull rights on the repositories blobs may be mounted from.
    pub fn open(
        reference: &Reference,
        options: &Options,
        push: bool,
        mount_from: &[String],
    ) -> Result<Self, RegistryError> {
        let credentials = auth::lookup(&reference.host, &reference.repo)?;
        let mut scopes = vec![format!(
            "repository:{}:{}",
            reference.repo,
            if push { "pull,push" } else { "pull" }
        )];
        scopes.extend(
            mount_from
                .iter()
                .filter(|r| **r != reference.repo)
                .map(|r| format!("repository:{r}:pull")),
        );
        Ok(Self {
            agent: super::agent(options)?,
            base: format!("https://{}", reference.api_host()),
            host: reference.host.clone(),
            repo: reference.repo.clone(),
            scopes,
            credentials,
            authorization: None,
            timeout: options.timeout,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repo)
    }

    /// A `Location` header as an absolute URL.
    fn absolute(&self, location: &str) -> String {
        if location.starts_with("https://") || location.starts_with("http://") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        }
    }

    fn deadline(&self, bytes: u64) -> Duration {
        self.timeout + Duration::from_secs(bytes / MIN_RATE)
    }

    /// Sends a request; on a 401 answers the challenge once and sends it again.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
        expect_bytes: u64,
    ) -> Result<Response<Body>, RegistryError> {
        let mut answered = false;
        loop {
            let response = self.send_once(method, url, headers, payload, expect_bytes)?;
            if response.status().as_u16() != 401 || answered {
                if response.status().as_u16() == 401 {
                    return Err(self.unauthorized());
                }
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            self.answer(&challenge)?;
            answered = true;
        }
    }

    fn unauthorized(&self) -> RegistryError {
        RegistryError::Unauthorized {
            host: self.host.clone(),
            source_note: match &self.credentials {
                Some(c) => format!(" from {}", c.source),
                None => format!(
                    " (none found for it: log in with `podman login {}` or `docker login`, or set REGISTRY_AUTH_FILE)",
                    self.host
                ),
            },
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
        expect_bytes: u64,
    ) -> Result<Response<Body>, RegistryError> {
        let send_bytes = match payload {
            Payload::None => 0,
            Payload::Bytes(b, _) => b.len() as u64,
            Payload::File { len, .. } => *len,
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        // Credentials go to this registry only: an upload `Location` on another host (a
        // storage backend) gets none.
        if let Some(auth) = &self.authorization
            && url.starts_with(&format!("{}/", self.base))
        {
            builder = builder.header("authorization", auth.as_str());
        }
        let http = |source| {
            RegistryError::Net(NetError::Http {
                url: url.to_owned(),
                source,
            })
        };
        let configure = |request| {
            self.agent
                .configure_request(request)
                .timeout_send_body(Some(self.deadline(send_bytes)))
                .timeout_recv_body(Some(self.deadline(expect_bytes)))
                .build()
        };
        if let Payload::None = payload {
            let request = builder
                .body(ureq::SendBody::none())
                .map_err(|e| http(e.into()))?;
            return self.agent.run(configure(request)).map_err(http);
        }
        let mut slice: &[u8];
        let mut file_reader;
        let body = match payload {
            Payload::None => unreachable!("sent above"),
            Payload::Bytes(bytes, content_type) => {
                builder = builder
                    .header("content-type", *content_type)
                    .header("content-length", bytes.len().to_string());
                slice = bytes;
                ureq::SendBody::from_reader(&mut slice)
            }
            Payload::File { path, offset, len } => {
                let io_err = |source| RegistryError::Io {
                    what: path.display().to_string(),
                    source,
                };
                let mut file = std::fs::File::open(path).map_err(io_err)?;
                io::Seek::seek(&mut file, io::SeekFrom::Start(*offset)).map_err(io_err)?;
                file_reader = file.take(*len);
                builder = builder
                    .header("content-type", "application/octet-stream")
                    .header("content-length", len.to_string());
                ureq::SendBody::from_reader(&mut file_reader)
            }
        };
        let request = builder.body(body).map_err(|e| http(e.into()))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_send_body(Some(self.deadline(send_bytes)))
            .timeout_recv_body(Some(self.deadline(expect_bytes)))
            .build();
        self.agent.run(request).map_err(http)
    }

    /// Answers a `WWW-Authenticate` challenge: basic credentials, or a bearer token from
    /// the realm for this client's scopes.
    fn answer(&mut self, challenge: &str) -> Result<(), RegistryError> {
        let (scheme, params) = parse_challenge(challenge);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => match &self.credentials {
                Some(c) => {
                    self.authorization = Some(c.basic());
                    Ok(())
                }
                None => Err(self.unauthorized()),
            },
            "bearer" => {
                let realm = params
                    .iter()
                    .find(|(k, _)| k == "realm")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        RegistryError::Invalid(format!(
                            "{}: a bearer challenge without a realm",
                            self.host
                        ))
                    })?;
                if !realm.starts_with("https://") {
                    return Err(RegistryError::Invalid(format!(
                        "{}: the token realm {realm} is not https; credentials are only sent over TLS",
                        self.host
                    )));
                }
                let mut url = realm.clone();
                let mut sep = if url.contains('?') { '&' } else { '?' };
                if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
                    url.push_str(&format!("{sep}service={}", encode(service)));
                    sep = '&';
                }
                for scope in &self.scopes {
                    url.push_str(&format!("{sep}scope={}", encode(scope)));
                    sep = '&';
                }
                let mut request = self.agent.get(&url);
                if let Some(c) = &self.credentials {
                    request = request.header("authorization", c.basic());
                }
                let response = request.call().map_err(|source| NetError::Http {
                    url: realm.clone(),
                    source,
                })?;
                if response.status().as_u16() == 401 || response.status().as_u16() == 403 {
                    return Err(self.unauthorized());
                }
                if !response.status().is_success() {
                    return Err(RegistryError::Status {
                        what: "a token".to_owned(),
                        url: realm,
                        status: response.status().as_u16(),
                        detail: String::new(),
                    });
                }
                let body = read_bounded(&realm, response, MAX_TOKEN_BYTES)?;
                let doc: Value = serde_json::from_slice(&body).map_err(|_| {
                    RegistryError::Invalid(format!("{realm}: the token answer is not JSON"))
                })?;
                let token = doc
                    .get("token")
                    .or_else(|| doc.get("access_token"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        RegistryError::Invalid(format!("{realm}: the token answer holds no token"))
                    })?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
            _ => Err(RegistryError::Invalid(format!(
                "{} asks for authentication fabuild does not speak (`{}`)",
                self.host, scheme
            ))),
        }
    }

    /// Turns a non-success response into an error naming what was asked for.
    fn check(
        &self,
        what: &str,
        url: &str,
        response: Response<Body>,
        ok: &[u16],
    ) -> Result<Response<Body>, RegistryError> {
        let status = response.status().as_u16();
        if ok.contains(&status) {
            return Ok(response);
        }
        if status == 401 || status == 403 {
            return Err(self.unauthorized());
        }
        let detail = read_bounded(url, response, MAX_ERROR_BODY)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|doc| {
                let messages: Vec<String> = doc
                    .get("errors")?
                    .as_array()?
                    .iter()
                    .filter_map(|e| {
                        Some(format!(
                            "{}: {}",
                            e.get("code")?.as_str()?,
                            e.get("message").and_then(Value::as_str).unwrap_or("")
                        ))
                    })
                    .collect();
                (!messages.is_empty()).then(|| format!(" ({})", messages.join("; ")))
            })
            .map(|d| d.chars().take(400).collect())
            .unwrap_or_default();
        Err(RegistryError::Status {
            what: what.to_owned(),
            url: url.to_owned(),
            status,
            detail,
        })
    }

    /// The manifest or index `reference` (a tag or a digest), checked against the digest
    /// when it is one.
    pub fn manifest(&mut self, reference: &str) -> Result<Fetched, RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.send(
            "GET",
            &url,
            &[("accept", ACCEPT)],
            &Payload::None,
            MAX_MANIFEST_BYTES,
        )?;
        let response = self.check(&format!("the manifest {reference}"), &url, response, &[200])?;
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        let bytes = read_bounded(&url, response, MAX_MANIFEST_BYTES)?;
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        if reference.starts_with("sha256:") && digest != reference {
            return Err(RegistryError::Invalid(format!(
                "{url}: the manifest hashes to {digest}, not the digest asked for"
            )));
        }
        // The body's own mediaType wins over a header a proxy may have rewritten.
        let media_type = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|doc| doc.get("mediaType")?.as_str().map(str::to_owned))
            .unwrap_or(media_type);
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// Whether the manifest `reference` exists (HEAD).
    pub fn has_manifest(&mut self, reference: &str) -> Result<bool, RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.send("HEAD", &url, &[("accept", ACCEPT)], &Payload::None, 0)?;
        let response = self.check(
            &format!("the manifest {reference}"),
            &url,
            response,
            &[200, 404],
        )?;
        Ok(response.status().as_u16() == 200)
    }

    /// Writes the blob `digest` of `size` bytes to `out`, refusing more bytes than `size`
    /// and bytes that do not hash to `digest`.
    pub fn blob(
        &mut self,
        digest: &str,
        size: u64,
        out: &mut dyn Write,
    ) -> Result<(), RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send("GET", &url, &[], &Payload::None, size)?;
        let response = self.check(&format!("the blob {digest}"), &url, response, &[200])?;
        let io_err = |source| RegistryError::Io {
            what: url.clone(),
            source,
        };
        let mut reader = response.into_body().into_reader().take(size + 1);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(io_err)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > size {
                return Err(RegistryError::Invalid(format!(
                    "{url}: the blob is larger than its descriptor's {size} bytes"
                )));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_err)?;
        }
        let got = format!("sha256:{:x}", hasher.finalize());
        if total != size || got != digest {
            return Err(RegistryError::Invalid(format!(
                "{url}: the blob is {total} bytes hashing to {got}; its descriptor says {size} bytes, {digest}"
            )));
        }
        Ok(())
    }

    /// Whether the repository has the blob `digest` (HEAD).
    pub fn has_blob(&mut self, digest: &str) -> Result<bool, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send("HEAD", &url, &[], &Payload::None, 0)?;
        let response = self.check(&format!("the blob {digest}"), &url, response, &[200, 404])?;
        Ok(response.status().as_u16() == 200)
    }

    /// Puts the blob `digest` (`size` bytes, in the file `path`) into the repository:
    /// nothing if it is there, a mount from one of `mount_from` if the registry allows it,
    /// else an upload, in chunks of `CHUNK_BYTES` when it is larger.
    pub fn put_blob(
        &mut self,
        digest: &str,
        size: u64,
        path: &Path,
        mount_from: &[String],
    ) -> Result<Sent, RegistryError> {
        if self.has_blob(digest)? {
            return Ok(Sent::Present);
        }
        let mut location = None;
        let sources: Vec<String> = mount_from
            .iter()
            .filter(|r| **r != self.repo)
            .cloned()
            .collect();
        for from in &sources {
            let url = self.url(&format!(
                "blobs/uploads/?mount={}&from={}",
                encode(digest),
                encode(from)
            ));
            let response =
                self.send("POST", &url, &[("content-length", "0")], &Payload::None, 0)?;
            let response = self.check("a blob mount", &url, response, &[201, 202])?;
            if response.status().as_u16() == 201 {
                return Ok(Sent::Mounted);
            }
            // 202: the registry would not mount; it opened an upload instead.
            location = header(&response, "location");
        }
        let mut location = match location {
            Some(l) => self.absolute(&l),
            None => {
                let url = self.url("blobs/uploads/");
                let response =
                    self.send("POST", &url, &[("content-length", "0")], &Payload::None, 0)?;
                let response = self.check("starting an upload", &url, response, &[202])?;
                let l = header(&response, "location").ok_or_else(|| {
                    RegistryError::Invalid(format!("{url}: an upload without a Location"))
                })?;
                self.absolute(&l)
            }
        };
        if size > CHUNK_BYTES {
            let mut offset = 0;
            while offset < size {
                let len = CHUNK_BYTES.min(size - offset);
                let range = format!("{}-{}", offset, offset + len - 1);
                let response = self.send(
                    "PATCH",
                    &location,
                    &[("content-range", &range)],
                    &Payload::File { path, offset, len },
                    0,
                )?;
                let response = self.check("uploading a chunk", &location, response, &[202])?;
                location = self.absolute(&header(&response, "location").ok_or_else(|| {
                    RegistryError::Invalid(format!(
                        "{location}: a chunk accepted without a Location"
                    ))
                })?);
                offset += len;
            }
            let url = with_query(&location, "digest", digest);
            let response = self.send("PUT", &url, &[("content-length", "0")], &Payload::None, 0)?;
            self.check("completing an upload", &url, response, &[201])?;
        } else {
            let url = with_query(&location, "digest", digest);
            let response = self.send(
                "PUT",
                &url,
                &[],
                &Payload::File {
                    path,
                    offset: 0,
                    len: size,
                },
                0,
            )?;
            self.check("uploading a blob", &url, response, &[201])?;
        }
        Ok(Sent::Uploaded(size))
    }

    /// Puts a manifest or index under `reference` (a tag or its digest); returns the
    /// digest, checked against the registry's `Docker-Content-Digest` when it sends one.
    pub fn put_manifest(
        &mut self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.send("PUT", &url, &[], &Payload::Bytes(bytes, media_type), 0)?;
        let response = self.check(
            &format!("the manifest {reference}"),
            &url,
            response,
            &[201, 200],
        )?;
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        if let Some(told) = header(&response, "docker-content-digest")
            && told != digest
        {
            return Err(RegistryError::Invalid(format!(
                "{url}: the registry stored the manifest as {told}, fabuild sent {digest}"
            )));
        }
        Ok(digest)
    }

    /// The referrers index of `digest`, or `None` when the registry has no referrers API.
    pub fn referrers(&mut self, digest: &str) -> Result<Option<Value>, RegistryError> {
        let url = self.url(&format!("referrers/{digest}"));
        let response = self.send(
            "GET",
            &url,
            &[("accept", OCI_INDEX)],
            &Payload::None,
            MAX_MANIFEST_BYTES,
        )?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        let response = self.check("the referrers", &url, response, &[200])?;
        let is_index = header(&response, "content-type").is_some_and(|t| t.starts_with(OCI_INDEX));
        let bytes = read_bounded(&url, response, MAX_MANIFEST_BYTES)?;
        if !is_index {
            return Ok(None);
        }
        Ok(serde_json::from_slice(&bytes).ok())
    }
}

/// What a registry is trusted with: the system bundle, plus `given`, plus the CA files of
/// the containers tools' `certs.d` convention for `host` (every `*.crt` in
/// `~/.config/containers/certs.d/HOST/`, `/etc/containers/certs.d/HOST/`,
/// `/etc/docker/certs.d/HOST/`).
pub struct Trust {
    pub options: Options,
    /// The files read, for messages.
    pub files: Vec<std::path::PathBuf>,
    _bundle: Option<tempfile::TempPath>,
}

pub fn trust(host: &str, given: Option<&Path>) -> Result<Trust, RegistryError> {
    let mut files: Vec<std::path::PathBuf> = given.map(Path::to_path_buf).into_iter().collect();
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        dirs.push(std::path::PathBuf::from(home).join(".config/containers/certs.d"));
    }
    dirs.push("/etc/containers/certs.d".into());
    dirs.push("/etc/docker/certs.d".into());
    // A host name never holds a path separator; refuse to look anywhere else.
    if !host.contains(['/', '\\']) && host != ".." {
        for dir in dirs {
            let Ok(listing) = std::fs::read_dir(dir.join(host)) else {
                continue;
            };
            let mut found: Vec<_> = listing
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect();
            found.sort();
            files.extend(found);
        }
    }
    let mut options = Options::default();
    let bundle = match files.len() {
        0 => None,
        1 => {
            options.extra_ca = Some(files[0].clone());
            None
        }
        _ => {
            let mut joined =
                tempfile::NamedTempFile::new().map_err(|source| RegistryError::Io {
                    what: "a temporary CA bundle".to_owned(),
                    source,
                })?;
            for file in &files {
                let mut pem = Vec::new();
                std::fs::File::open(file)
                    .and_then(|f| f.take(MAX_CA_FILE_BYTES).read_to_end(&mut pem))
                    .map_err(|source| RegistryError::Io {
                        what: file.display().to_string(),
                        source,
                    })?;
                joined
                    .write_all(&pem)
                    .and_then(|()| joined.write_all(b"\n"))
                    .map_err(|source| RegistryError::Io {
                        what: "a temporary CA bundle".to_owned(),
                        source,
                    })?;
            }
            let path = joined.into_temp_path();
            options.extra_ca = Some(path.to_path_buf());
            Some(path)
        }
    };
    Ok(Trust {
        options,
        files,
        _bundle: bundle,
    })
}

fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", encode(value))
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Bearer realm="...",service="..."` -> ("Bearer", [(realm, ...), (service, ...)]).
fn parse_challenge(text: &str) -> (String, Vec<(String, String)>) {
    let text = text.trim();
    let (scheme, mut rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        params.push((key, value));
    }
    (scheme.to_owned(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_expand_as_docker_expands_them() {
        let r = Reference::parse("python:3.12-slim").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repo.as_str()),
            ("docker.io", "library/python")
        );
        assert_eq!(r.tag.as_deref(), Some("3.12-slim"));
        let r = Reference::parse("localhost:5000/team/app").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repo.as_str()),
            ("localhost:5000", "team/app")
        );
        assert_eq!(r.reference(), "latest");
        let hex = "a".repeat(64);
        let r = Reference::parse(&format!("ghcr.io/o/b:1@sha256:{hex}")).unwrap();
        assert_eq!(r.reference(), format!("sha256:{hex}"));
        assert!(Reference::parse("Upper/Case").is_err());
        assert!(Reference::parse("x@sha256:short").is_err());
    }

    #[test]
    fn challenges_are_split_into_their_parameters() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            [
                ("realm".to_owned(), "https://auth.example/token".to_owned()),
                ("service".to_owned(), "reg.example".to_owned()),
                ("scope".to_owned(), "repository:a/b:pull,push".to_owned()),
            ]
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#).0,
            "Basic"
        );
    }
}
