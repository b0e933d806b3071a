//! A package index's JSON API (`GET {base}/{project}/json`, as `PyPI` serves it at
//! `https://pypi.org/pypi`): every release's files with their sha256 and whether they are
//! yanked, and the newest release's declared dependencies. What the index sends is
//! untrusted: the body is bounded and only the fields read here are kept.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::NetError;

/// The JSON API `PyPI` serves.
pub const PYPI_JSON: &str = "https://pypi.org/pypi";
/// The most bytes of one project's JSON (uv's is about 5 MB: hundreds of releases of
/// dozens of wheels).
pub const MAX_PROJECT_BYTES: u64 = 64 * 1024 * 1024;

/// One project as the index describes it.
#[derive(Clone, Debug, Default)]
pub struct Project {
    pub name: String,
    /// The index's newest release (`info.version`).
    pub latest: String,
    /// The newest release's `Requires-Dist` lines.
    pub latest_requires: Vec<String>,
    /// Every release's files, by version as the index spells it.
    pub releases: BTreeMap<String, Vec<File>>,
}

/// One file of a release.
#[derive(Clone, Debug, Deserialize)]
pub struct File {
    pub filename: String,
    #[serde(default)]
    pub digests: Digests,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default)]
    pub yanked_reason: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Digests {
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Deserialize)]
struct Document {
    info: Info,
    #[serde(default)]
    releases: BTreeMap<String, Vec<File>>,
}

#[derive(Deserialize)]
struct Info {
    name: String,
    version: String,
    #[serde(default)]
    requires_dist: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PypiError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{url}: the index answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: not the JSON API's project document: {why}")]
    Json { url: String, why: String },
}

/// The JSON document URL for `project` under `base` (`https://pypi.org/pypi`).
pub fn project_url(base: &str, project: &str) -> String {
    format!("{}/{}/json", base.trim_end_matches('/'), project)
}

/// Reads `project` from the JSON API at `base`, sending `authorization` (a header value,
/// from `net::index_auth`) when given.
pub fn project(
    agent: &ureq::Agent,
    base: &str,
    project: &str,
    authorization: Option<&str>,
) -> Result<Project, PypiError> {
    let url = project_url(base, project);
    let mut request = agent.get(&url).header("Accept", "application/json");
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.call().map_err(|source| NetError::Http {
        url: url.clone(),
        source,
    })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(PypiError::Status { url, status });
    }
    let body = super::read_bounded(&url, response, MAX_PROJECT_BYTES)?;
    parse(&url, &body)
}

/// The project document in `body`, fetched from `url`.
pub fn parse(url: &str, body: &[u8]) -> Result<Project, PypiError> {
    let doc: Document = serde_json::from_slice(body).map_err(|e| PypiError::Json {
        url: url.to_owned(),
        why: e.to_string(),
    })?;
    Ok(Project {
        name: doc.info.name,
        latest: doc.info.version,
        latest_requires: doc.info.requires_dist.unwrap_or_default(),
        releases: doc.releases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_releases_files_and_yanks() {
        let body = br#"{"info":{"name":"Demo","version":"1.1","requires_dist":["a>=1"]},
            "releases":{"1.0":[{"filename":"demo-1.0-py3-none-any.whl","digests":{"sha256":"ab"},"yanked":true,"yanked_reason":"broken"}],"1.1":[]}}"#;
        let p = parse("u", body).unwrap();
        assert_eq!(p.latest, "1.1");
        assert_eq!(p.latest_requires, ["a>=1"]);
        let f = &p.releases["1.0"][0];
        assert!(f.yanked);
        assert_eq!(f.digests.sha256.as_deref(), Some("ab"));
        assert!(matches!(parse("u", b"[]"), Err(PypiError::Json { .. })));
    }
}
