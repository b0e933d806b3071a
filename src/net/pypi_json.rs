//! A package index's JSON API (`GET {base}/{project}/json`, as `PyPI` serves it at
//! `https://pypi.org/pypi`): every release's files with their sha256 and whether they are
//! yanked, and the newest release's declared dependencies; `GET {base}/{project}/{version}/json`
//! gives any release's. pypiserver serves a smaller document at the same path (no name,
//! no dependencies, files as bare URLs without hashes): it is read too, and the caller
//! fills what it lacks. What the index sends is untrusted: the body is bounded and only
//! the fields read here are kept.

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
    /// The file's name; when the index gives only its URL, the URL's last segment.
    #[serde(default)]
    pub filename: String,
    /// Where to download it (absolute, as `PyPI` and pypiserver give it).
    #[serde(default)]
    pub url: Option<String>,
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
    #[serde(default)]
    name: Option<String>,
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
    let body = document(agent, &url, authorization)?;
    let mut parsed = parse(&url, &body)?;
    if parsed.name.is_empty() {
        project.clone_into(&mut parsed.name);
    }
    Ok(parsed)
}

/// The `Requires-Dist` lines of release `version` of `project`, from the per-release
/// document (`{base}/{project}/{version}/json`): the project document declares them for
/// the newest release only.
pub fn requires(
    agent: &ureq::Agent,
    base: &str,
    project: &str,
    version: &str,
    authorization: Option<&str>,
) -> Result<Vec<String>, PypiError> {
    let url = format!("{}/{project}/{version}/json", base.trim_end_matches('/'));
    let body = document(agent, &url, authorization)?;
    Ok(parse(&url, &body)?.latest_requires)
}

/// The body of the JSON document at `url` (200 only, at most `MAX_PROJECT_BYTES`).
fn document(
    agent: &ureq::Agent,
    url: &str,
    authorization: Option<&str>,
) -> Result<Vec<u8>, PypiError> {
    get(
        agent,
        url,
        Some("application/json"),
        authorization,
        MAX_PROJECT_BYTES,
    )
}

/// Tries for one document. A dropped connection, a timeout or a 429/5xx answer is often
/// gone a moment later (a mirror under load, several refreshes at once); a 4xx other than
/// 429, a wrong body or one too large is an answer, not tried again.
const ATTEMPTS: u32 = 3;
/// The wait before the second try; doubled before the third.
const FIRST_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// The body at `url`, answered 200, at most `limit` bytes; `accept` and `authorization`
/// sent as those headers when given. Tried up to `ATTEMPTS` times when the failure may be
/// passing.
pub fn get(
    agent: &ureq::Agent,
    url: &str,
    accept: Option<&str>,
    authorization: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, PypiError> {
    let mut wait = FIRST_WAIT;
    for _ in 1..ATTEMPTS {
        match get_once(agent, url, accept, authorization, limit) {
            Err(e) if passing(&e) => std::thread::sleep(wait),
            done => return done,
        }
        wait *= 2;
    }
    get_once(agent, url, accept, authorization, limit)
}

/// Whether `e` may be gone on the next try.
fn passing(e: &PypiError) -> bool {
    match e {
        PypiError::Status { status, .. } => *status == 429 || *status >= 500,
        PypiError::Net(NetError::Http { .. }) => true,
        _ => false,
    }
}

fn get_once(
    agent: &ureq::Agent,
    url: &str,
    accept: Option<&str>,
    authorization: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, PypiError> {
    let mut request = agent.get(url);
    if let Some(value) = accept {
        request = request.header("Accept", value);
    }
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.call().map_err(|source| NetError::Http {
        url: url.to_owned(),
        source,
    })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(PypiError::Status {
            url: url.to_owned(),
            status,
        });
    }
    Ok(super::read_bounded(url, response, limit)?)
}

/// The project document in `body`, fetched from `url`.
pub fn parse(url: &str, body: &[u8]) -> Result<Project, PypiError> {
    let doc: Document = serde_json::from_slice(body).map_err(|e| PypiError::Json {
        url: url.to_owned(),
        why: e.to_string(),
    })?;
    let mut releases = doc.releases;
    for file in releases.values_mut().flatten() {
        if let Some(relative) = &file.url {
            file.url = join(url, relative);
        }
        if file.filename.is_empty()
            && let Some(url) = &file.url
        {
            let path = url.split(['?', '#']).next().unwrap_or_default();
            path.rsplit('/')
                .next()
                .unwrap_or_default()
                .clone_into(&mut file.filename);
        }
    }
    Ok(Project {
        name: doc.info.name.unwrap_or_default(),
        latest: doc.info.version,
        latest_requires: doc.info.requires_dist.unwrap_or_default(),
        releases,
    })
}

/// `reference` (a file's URL in the document at `base`) made absolute, as a browser
/// resolves a link: kept when absolute, from the host's root when it starts with `/`,
/// else from `base`'s directory, `..` and `.` segments applied. `None` for another scheme.
fn join(base: &str, reference: &str) -> Option<String> {
    if reference.starts_with("https://") || reference.starts_with("http://") {
        return Some(reference.to_owned());
    }
    if reference.contains("://") || reference.starts_with("//") {
        return None;
    }
    let (scheme, rest) = base.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments: Vec<&str> = if reference.starts_with('/') {
        Vec::new()
    } else {
        let mut dir: Vec<&str> = path.split('/').collect();
        dir.pop();
        dir
    };
    for segment in reference.trim_start_matches('/').split('/') {
        match segment {
            ".." => {
                segments.pop();
            }
            "." => {}
            other => segments.push(other),
        }
    }
    Some(format!("{scheme}://{authority}/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers each connection with the next of `answers` (status, body).
    fn serve(answers: Vec<(u16, &'static str)>) -> (String, std::thread::JoinHandle<usize>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pypi/demo/json", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut served = 0;
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let mut stream = stream;
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                served += 1;
            }
            served
        });
        (url, server)
    }

    fn plain_agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    #[test]
    fn a_passing_failure_is_tried_again_and_an_answer_is_not() {
        let (url, server) = serve(vec![(503, "busy"), (429, "slow down"), (200, "{}")]);
        let body = get(&plain_agent(), &url, None, None, 1024).unwrap();
        assert_eq!(body, b"{}");
        assert_eq!(server.join().unwrap(), 3);

        let (url, server) = serve(vec![(404, "no")]);
        let err = get(&plain_agent(), &url, None, None, 1024).unwrap_err();
        assert!(
            matches!(err, PypiError::Status { status: 404, .. }),
            "{err}"
        );
        assert_eq!(server.join().unwrap(), 1);

        let (url, server) = serve(vec![(502, "a"), (502, "b"), (502, "c")]);
        let err = get(&plain_agent(), &url, None, None, 1024).unwrap_err();
        assert!(
            matches!(err, PypiError::Status { status: 502, .. }),
            "{err}"
        );
        assert_eq!(server.join().unwrap(), 3, "three tries, no more");
    }

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

        // pypiserver's document: no name, no dependencies, files as bare URLs.
        let body = br#"{"info": {"version": "2.0"}, "releases": {"2.0": [{"url": "http://127.0.0.1:8/packages/demo-2.0-py3-none-any.whl"}]}}"#;
        let p = parse("u", body).unwrap();
        let f = &p.releases["2.0"][0];
        assert_eq!(f.filename, "demo-2.0-py3-none-any.whl");
        assert_eq!(f.digests.sha256, None);
        assert_eq!(
            f.url.as_deref(),
            Some("http://127.0.0.1:8/packages/demo-2.0-py3-none-any.whl")
        );
        // A mirror's relative links resolve against the document's URL.
        assert_eq!(
            join(
                "https://pypi.org/pypi/uvicorn/json",
                "../../packages/packages/38/0c/u-1-py3-none-any.whl"
            )
            .as_deref(),
            Some("https://pypi.org/packages/packages/38/0c/u-1-py3-none-any.whl")
        );
        assert_eq!(
            join("http://h:1/pypi/x/json", "/p/x.whl").as_deref(),
            Some("http://h:1/p/x.whl")
        );
        assert_eq!(join("http://h/pypi/x/json", "file:///etc/passwd"), None);
    }
}
