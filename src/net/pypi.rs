//! Python package indexes as pip reaches them: where pip is configured to look (its
//! environment variables and `pip.conf` files), a project's page in the simple API (PEP 691
//! JSON, else PEP 503 HTML), and one file fetched with its sha256 checked while it streams.
//!
//! Everything an index sends is untrusted: a page is read up to `MAX_PAGE_BYTES`, a file up
//! to the caller's limit, each with timeouts; a file whose bytes do not hash to what was
//! asked for never takes its final name.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::{NetError, read_bounded};

/// `PyPI`'s simple API, pip's default index.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";
/// The most bytes of one project page read: `PyPI`'s largest pages (projects with thousands
/// of releases and wheels) are a few tens of MB of JSON.
pub const MAX_PAGE_BYTES: u64 = 64 << 20;
/// How long one file's body may take in all, once the server answered: a stalled download
/// ends, a slow one of a large wheel still finishes.
pub const FILE_BODY_TIMEOUT: Duration = Duration::from_secs(600);
/// The simple API's JSON form first (PEP 691), HTML (PEP 503) from older indexes.
const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Where pip would look for distributions, read from the same places pip reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexConfig {
    /// `index-url` then each `extra-index-url`; empty with `no-index`.
    pub indexes: Vec<String>,
    /// `find-links` directories on this machine.
    pub find_links: Vec<PathBuf>,
    /// `cert`: the CA bundle pip verifies indexes with, besides the system's.
    pub cert: Option<PathBuf>,
    /// A setting this client does not reproduce (a client certificate, an unverified host,
    /// credentials, a proxy option, a remote find-links page): pip must do the downloading.
    pub unsupported: Option<String>,
}

/// pip's settings, merged: the value of a key, from the environment (`PIP_INDEX_URL`), else
/// the `[download]` section, else `[global]`, each file overriding the ones read before it.
#[derive(Debug, Default)]
struct Settings {
    global: BTreeMap<String, String>,
    download: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
}

impl Settings {
    fn get(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .or_else(|| self.download.get(key))
            .or_else(|| self.global.get(key))
            .map(String::as_str)
    }

    /// Reads one INI file as pip's `configparser` does, for the two sections that apply
    /// to `pip download`; keys normalised (`index_url` is `index-url`).
    fn read_file(&mut self, text: &str) {
        let mut section = String::new();
        let mut last: Option<String> = None;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                section = name.trim().to_ascii_lowercase();
                last = None;
                continue;
            }
            let map = match section.as_str() {
                "global" => &mut self.global,
                "download" => &mut self.download,
                _ => continue,
            };
            // An indented line continues the value before it (a list on several lines).
            if line.starts_with([' ', '\t']) {
                if let Some(key) = &last
                    && let Some(value) = map.get_mut(key)
                {
                    value.push('\n');
                    value.push_str(trimmed);
                }
                continue;
            }
            let Some(at) = trimmed.find(['=', ':']) else {
                continue;
            };
            let key = normal_key(&trimmed[..at]);
            map.insert(key.clone(), trimmed[at + 1..].trim().to_owned());
            last = Some(key);
        }
    }
}

fn normal_key(key: &str) -> String {
    key.trim()
        .trim_start_matches("--")
        .to_ascii_lowercase()
        .replace('_', "-")
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "y" | "yes" | "t" | "true" | "on"
    )
}

impl IndexConfig {
    /// What pip (the one at `pip`, whose virtualenv may hold a `pip.conf`) would use: the
    /// configuration files in pip's order (global, user unless `PIP_CONFIG_FILE` names a
    /// file, the virtualenv's, then `PIP_CONFIG_FILE`; none when it is `/dev/null`), then
    /// the `PIP_*` variables of `env`.
    pub fn from_pip(pip: &Path, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut settings = Settings::default();
        for file in config_files(pip, env) {
            // A configuration file is small; a larger one is not pip's.
            if let Ok(text) = read_small(&file) {
                settings.read_file(&text);
            }
        }
        for key in [
            "index-url",
            "extra-index-url",
            "no-index",
            "find-links",
            "cert",
            "client-cert",
            "trusted-host",
            "proxy",
            "keyring-provider",
            "isolated",
        ] {
            let var = format!("PIP_{}", key.to_ascii_uppercase().replace('-', "_"));
            if let Some(value) = env(&var) {
                settings.env.insert(key.to_owned(), value);
            }
        }
        Self::from_settings(&settings)
    }

    fn from_settings(settings: &Settings) -> Self {
        let list = |key: &str| -> Vec<String> {
            settings
                .get(key)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut config = Self::default();
        let no_index = settings.get("no-index").is_some_and(truthy);
        if !no_index {
            config.indexes.push(
                settings
                    .get("index-url")
                    .filter(|v| !v.trim().is_empty())
                    .unwrap_or(DEFAULT_INDEX)
                    .trim()
                    .to_owned(),
            );
            config.indexes.extend(list("extra-index-url"));
        }
        let mut unsupported = Vec::new();
        for link in list("find-links") {
            if let Some(path) = link.strip_prefix("file://") {
                config.find_links.push(PathBuf::from(path));
            } else if link.contains("://") {
                unsupported.push(format!("find-links {link} (a page, not a directory)"));
            } else {
                config.find_links.push(PathBuf::from(link));
            }
        }
        config.cert = settings
            .get("cert")
            .filter(|v| !v.trim().is_empty())
            .map(|v| PathBuf::from(v.trim()));
        for key in ["client-cert", "trusted-host", "proxy"] {
            if settings.get(key).is_some_and(|v| !v.trim().is_empty()) {
                unsupported.push(key.to_owned());
            }
        }
        if let Some(provider) = settings.get("keyring-provider")
            && !matches!(provider.trim(), "" | "disabled" | "auto")
        {
            unsupported.push(format!("keyring-provider {}", provider.trim()));
        }
        for index in &config.indexes {
            if credentials(index) {
                unsupported.push("an index URL with credentials".to_owned());
            } else if !(index.starts_with("https://") || index.starts_with("http://")) {
                unsupported.push(format!("index {index}"));
            }
        }
        if !unsupported.is_empty() {
            config.unsupported = Some(unsupported.join(", "));
        }
        config
    }
}

/// Whether `url` carries `user:password@` (pip sends it, with netrc and keyring lookups
/// this client does not make).
fn credentials(url: &str) -> bool {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

fn read_small(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(1 << 20)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// pip's configuration files, in the order their values override one another.
fn config_files(pip: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let named = env("PIP_CONFIG_FILE").filter(|v| !v.is_empty());
    if named.as_deref() == Some("/dev/null") {
        return Vec::new();
    }
    let mut files = Vec::new();
    let xdg_dirs = env("XDG_CONFIG_DIRS")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/etc/xdg".to_owned());
    for dir in xdg_dirs.split(':').filter(|d| !d.is_empty()) {
        files.push(Path::new(dir).join("pip/pip.conf"));
    }
    files.push(PathBuf::from("/etc/pip.conf"));
    let named_exists = named.as_ref().is_some_and(|n| Path::new(n).exists());
    if !named_exists && let Some(home) = env("HOME") {
        files.push(Path::new(&home).join(".pip/pip.conf"));
        let config = env("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map_or_else(|| Path::new(&home).join(".config"), PathBuf::from);
        files.push(config.join("pip/pip.conf"));
    }
    // The site file: the virtualenv of the pip that would run (`VENV/bin/pip`).
    let venv = env("VIRTUAL_ENV").map(PathBuf::from).or_else(|| {
        let bin = pip.parent().filter(|p| !p.as_os_str().is_empty())?;
        let root = bin.parent()?;
        root.join("pyvenv.cfg")
            .is_file()
            .then(|| root.to_path_buf())
    });
    if let Some(venv) = venv {
        files.push(venv.join("pip.conf"));
    }
    if let Some(named) = named {
        files.push(PathBuf::from(named));
    }
    files
}

/// One file a project page lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute, without the fragment.
    pub url: String,
    /// Lower-case hex, when the index gives it.
    pub sha256: Option<String>,
    /// The Python versions the file is for (`>=3.9`), when the index says.
    pub requires_python: Option<String>,
}

/// The files the index at `index` lists for `project` (a normalised name). A project the
/// index does not have is an empty list.
pub fn project_files(
    agent: &ureq::Agent,
    index: &str,
    project: &str,
) -> Result<Vec<IndexFile>, NetError> {
    let url = format!("{}/{project}/", index.trim_end_matches('/'));
    let response = agent
        .get(&url)
        .header("Accept", ACCEPT)
        .call()
        .map_err(|source| NetError::Http {
            url: url.clone(),
            source,
        })?;
    let status = response.status().as_u16();
    if status == 404 {
        return Ok(Vec::new());
    }
    if status != 200 {
        return Err(NetError::Http {
            url,
            source: ureq::Error::StatusCode(status),
        });
    }
    let json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = read_bounded(&url, response, MAX_PAGE_BYTES)?;
    Ok(if json {
        parse_json(&url, &body)
    } else {
        parse_html(&url, &String::from_utf8_lossy(&body))
    })
}

#[derive(serde::Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(serde::Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
}

/// A PEP 691 page; one that does not parse lists nothing.
pub fn parse_json(page_url: &str, body: &[u8]) -> Vec<IndexFile> {
    let Ok(page) = serde_json::from_slice::<JsonPage>(body) else {
        return Vec::new();
    };
    page.files
        .into_iter()
        .map(|f| IndexFile {
            url: join(page_url, strip_fragment(&f.url)),
            sha256: f.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
            requires_python: f.requires_python.filter(|r| !r.trim().is_empty()),
            filename: f.filename,
        })
        .collect()
}

/// A PEP 503 page: each `<a href="URL#sha256=HEX">FILENAME</a>`.
pub fn parse_html(page_url: &str, text: &str) -> Vec<IndexFile> {
    let lower = text.to_ascii_lowercase();
    let mut files = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<a").map(|i| i + at) {
        let Some(end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let tag = &text[start..end];
        let Some(close) = lower[end..].find("</a").map(|i| i + end) else {
            break;
        };
        at = close;
        let Some(href) = attribute(tag, "href") else {
            continue;
        };
        let href = unescape(&href);
        let (url, fragment) = href.split_once('#').unwrap_or((href.as_str(), ""));
        let sha256 = fragment
            .strip_prefix("sha256=")
            .map(str::to_ascii_lowercase);
        let filename = unescape(text[end + 1..close].trim());
        let requires_python = attribute(tag, "data-requires-python")
            .map(|r| unescape(&r))
            .filter(|r| !r.trim().is_empty());
        files.push(IndexFile {
            filename,
            url: join(page_url, url),
            sha256,
            requires_python,
        });
    }
    files
}

/// The value of `name="..."` (or `'...'`) in an HTML tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| i + from) {
        from = i + name.len();
        let before_ok = i == 0 || lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let inner = &rest[1..];
            return inner.find(quote).map(|j| inner[..j].to_owned());
        }
        return Some(
            rest.split(|c: char| c.is_ascii_whitespace())
                .next()?
                .to_owned(),
        );
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(u, _)| u)
}

/// `reference` resolved against `base` (RFC 3986, for the forms indexes use: absolute,
/// scheme-relative, absolute path, relative path with `..`).
pub fn join(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    let path = &rest[host_end..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let joined = if reference.starts_with('/') {
        reference.to_owned()
    } else {
        let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
        format!("{dir}{reference}")
    };
    let (joined, query) = joined
        .split_once('?')
        .map_or((joined.as_str(), None), |(p, q)| (p, Some(q)));
    let mut parts: Vec<&str> = Vec::new();
    let segments: Vec<&str> = joined.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {}
            ".." => {
                if parts.len() > 1 {
                    parts.pop();
                }
            }
            s => {
                if i == 0 || !s.is_empty() || i == segments.len() - 1 {
                    parts.push(s);
                }
            }
        }
    }
    let mut out = format!("{scheme}://{host}{}", parts.join("/"));
    if !out[scheme.len() + 3 + host.len()..].starts_with('/') {
        out.insert(scheme.len() + 3 + host.len(), '/');
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Why a file could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: the file is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: the file has sha256 {got}, {expected} was asked for; not used")]
    Hash {
        url: String,
        expected: String,
        got: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Streams `url` into `dest` through a temporary file beside it, hashing as it goes:
/// `dest` appears only when the bytes are whole, at most `limit` of them, and hash to
/// `sha256`. Returns the size.
pub fn download(
    agent: &ureq::Agent,
    url: &str,
    sha256: &str,
    dest: &Path,
    limit: u64,
) -> Result<u64, FetchError> {
    let response = agent
        .get(url)
        .config()
        .timeout_recv_body(Some(FILE_BODY_TIMEOUT))
        .build()
        .call()
        .map_err(|source| NetError::Http {
            url: url.to_owned(),
            source,
        })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    let io = |source| FetchError::Io {
        path: dest.to_owned(),
        source,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io)?;
    let mut body = response.into_body().into_reader().take(limit + 1);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(NetError::Http {
                    url: url.to_owned(),
                    source: ureq::Error::Io(e),
                }
                .into());
            }
        };
        size += n as u64;
        if size > limit {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(io)?;
    }
    let got = format!("{:x}", hasher.finalize());
    if got != sha256 {
        return Err(FetchError::Hash {
            url: url.to_owned(),
            expected: sha256.to_owned(),
            got,
        });
    }
    tmp.persist(dest).map_err(|e| io(e.error))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(files: &[&str], env: &[(&str, &str)]) -> IndexConfig {
        let mut s = Settings::default();
        for text in files {
            s.read_file(text);
        }
        for (k, v) in env {
            s.env.insert((*k).to_owned(), (*v).to_owned());
        }
        IndexConfig::from_settings(&s)
    }

    #[test]
    fn pip_settings_override_in_pips_order() {
        let c = settings(&[], &[]);
        assert_eq!(c.indexes, vec![DEFAULT_INDEX.to_owned()]);
        assert_eq!(c.unsupported, None);
        let file = "[global]\nindex_url = https://mirror.example/simple\nextra-index-url =\n  https://a.example/simple\n  https://b.example/simple\ncert = /etc/ca.pem\n[install]\nindex-url = https://not-for-download.example/\n";
        let c = settings(&[file], &[]);
        assert_eq!(
            c.indexes,
            [
                "https://mirror.example/simple",
                "https://a.example/simple",
                "https://b.example/simple"
            ]
        );
        assert_eq!(c.cert, Some(PathBuf::from("/etc/ca.pem")));
        let later = "[download]\nindex-url = https://download.example/simple\n";
        assert_eq!(
            settings(&[file, later], &[]).indexes[0],
            "https://download.example/simple"
        );
        let c = settings(
            &[file, later],
            &[("index-url", "https://env.example/simple")],
        );
        assert_eq!(c.indexes[0], "https://env.example/simple");
        let c = settings(&[file], &[("no-index", "1"), ("find-links", "/w /x")]);
        assert!(c.indexes.is_empty());
        assert_eq!(c.find_links, [PathBuf::from("/w"), PathBuf::from("/x")]);
    }

    #[test]
    fn what_only_pip_does_is_left_to_pip() {
        for (key, value) in [
            ("client-cert", "/k.pem"),
            ("trusted-host", "mirror.example"),
            ("proxy", "http://proxy:3128"),
            ("index-url", "https://user:secret@mirror.example/simple"),
            ("find-links", "https://example.com/wheels/"),
        ] {
            let c = settings(&[], &[(key, value)]);
            assert!(c.unsupported.is_some(), "{key}");
        }
    }

    #[test]
    fn pages_in_both_forms_give_absolute_urls_and_hashes() {
        let page = "https://pypi.org/simple/demo/";
        let json = br#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
            {"filename":"demo-1.0-py3-none-any.whl","url":"https://files.example/d/demo-1.0-py3-none-any.whl","hashes":{"sha256":"AB12"}},
            {"filename":"demo-1.0.tar.gz","url":"../../packages/demo-1.0.tar.gz#sha256=ff","hashes":{}}]}"#;
        let files = parse_json(page, json);
        assert_eq!(files[0].sha256.as_deref(), Some("ab12"));
        assert_eq!(files[1].url, "https://pypi.org/packages/demo-1.0.tar.gz");
        assert_eq!(files[1].sha256, None);
        let html = "<html><body><h1>demo</h1>\n<A HREF='../../p/demo-1.0-py3-none-any.whl#sha256=CD34' data-requires-python=\"&gt;=3.8\">demo-1.0-py3-none-any.whl</a><br/>\n<a data-x=\"1\" href=\"/p/demo-2.0.tar.gz?x=1&amp;y=2#md5=00\">demo-2.0.tar.gz</a>\n</body></html>";
        let files = parse_html(page, html);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].url, "https://pypi.org/p/demo-1.0-py3-none-any.whl");
        assert_eq!(files[0].sha256.as_deref(), Some("cd34"));
        assert_eq!(files[0].filename, "demo-1.0-py3-none-any.whl");
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(files[1].requires_python, None);
        assert_eq!(files[1].url, "https://pypi.org/p/demo-2.0.tar.gz?x=1&y=2");
        assert_eq!(files[1].sha256, None);
    }

    #[test]
    fn urls_join_as_browsers_do() {
        let base = "http://127.0.0.1:8080/simple/demo/";
        assert_eq!(
            join(base, "x.whl"),
            "http://127.0.0.1:8080/simple/demo/x.whl"
        );
        assert_eq!(join(base, "../../f/x.whl"), "http://127.0.0.1:8080/f/x.whl");
        assert_eq!(join(base, "/f/x.whl"), "http://127.0.0.1:8080/f/x.whl");
        assert_eq!(
            join(base, "//cdn.example/x.whl"),
            "http://cdn.example/x.whl"
        );
        assert_eq!(
            join(base, "../../../../x.whl"),
            "http://127.0.0.1:8080/x.whl"
        );
        assert_eq!(join(base, "https://a.example/x"), "https://a.example/x");
    }
}
