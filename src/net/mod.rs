//! HTTP for the commands that reach the network: package indexes and registries.
//!
//! One stack for all of them: `ureq` (blocking, no async runtime) over rustls. The roots
//! are the system's bundle, not a copy compiled into the binary: behind a TLS-
//! intercepting proxy or with a private index, the CA users trust is in that bundle
//! (`SSL_CERT_FILE`, else Debian's `/etc/ssl/certs/ca-certificates.crt`), as pip and uv
//! read it. Every request has timeouts, and every body is read with a byte limit: what a
//! server sends is untrusted.

pub mod auth;
pub mod index_auth;
pub mod pypi;
pub mod pypi_json;
pub mod registry;
pub mod resolve;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// The bundle read when `SSL_CERT_FILE` is unset.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The most bytes of CA certificates read from one file.
const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Idle connections kept per host: as many as requests that run at once (the wheel
/// fetcher's four threads, a registry push's uploads), so none is closed only to be
/// opened again, with its lookup and TLS handshake.
const IDLE_PER_HOST: usize = 8;

/// How an agent connects.
#[derive(Clone, Debug)]
pub struct Options {
    /// Certificates trusted besides the system bundle (a registry's own CA).
    pub extra_ca: Option<PathBuf>,
    /// Connecting, and then each wait for the server, may take this long.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            extra_ca: None,
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot read the CA bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{url}: {source}")]
    Http { url: String, source: ureq::Error },
    #[error("{url}: the response is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
}

/// An agent that trusts the system bundle and `options.extra_ca`, with the timeouts of
/// `options`. HTTP error statuses are responses, not errors: callers decide (a 404 is an
/// answer for a registry's HEAD). Each host is looked up once (`resolve`), and up to
/// `IDLE_PER_HOST` connections to a host are kept open for the next requests.
pub fn agent(options: &Options) -> Result<ureq::Agent, NetError> {
    let system = std::env::var_os("SSL_CERT_FILE")
        .map_or_else(|| PathBuf::from(SYSTEM_BUNDLE), PathBuf::from);
    let mut roots = certificates(&system)?;
    if let Some(extra) = &options.extra_ca {
        roots.extend(certificates(extra)?);
    }
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build();
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_connect(Some(options.timeout))
        .timeout_recv_response(Some(options.timeout))
        .timeout_recv_body(Some(options.timeout))
        .user_agent(concat!("fabuild/", env!("CARGO_PKG_VERSION")))
        .max_idle_connections_per_host(IDLE_PER_HOST)
        .build();
    Ok(ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        resolve::Caching::<ureq::unversioned::resolver::DefaultResolver>::default(),
    ))
}

/// Every certificate in a PEM file (other items, such as keys, are skipped).
fn certificates(path: &Path) -> Result<Vec<Certificate<'static>>, NetError> {
    let bundle = |source| NetError::Bundle {
        path: path.to_owned(),
        source,
    };
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .map_err(bundle)?
        .take(MAX_BUNDLE_BYTES)
        .read_to_end(&mut pem)
        .map_err(bundle)?;
    let found: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if found.is_empty() {
        return Err(NetError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(found)
}

/// A response body, whole, refused past `limit` bytes.
pub fn read_bounded(
    url: &str,
    response: ureq::http::Response<ureq::Body>,
    limit: u64,
) -> Result<Vec<u8>, NetError> {
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| NetError::Http {
            url: url.to_owned(),
            source: ureq::Error::Io(e),
        })?;
    if body.len() as u64 > limit {
        return Err(NetError::TooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let options = Options {
            extra_ca: Some(path.clone()),
            ..Options::default()
        };
        let err = agent(&options).unwrap_err();
        assert!(matches!(err, NetError::NoCertificate { path: p } if p == path));
    }
}
