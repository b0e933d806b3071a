//! `fabuild pins refresh` and `fabuild pins check` as library calls: the index's JSON API
//! read through `net`, then `refresh`'s decisions, then an atomic write.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::refresh::{self, Request, Row};
use super::{Pins, PinsError};
use sha2::Digest as _;

use crate::net::pypi_json::{self as pypi, File, Project, PypiError};
use crate::net::{self, index_auth};

/// Where the index is and how to reach it.
#[derive(Clone, Debug)]
pub struct IndexOptions {
    /// The JSON API's base (`https://pypi.org/pypi`): a project is `{base}/{name}/json`.
    pub base: String,
    /// A netrc file with the index's credentials (sent as HTTP Basic).
    pub netrc: Option<PathBuf>,
    pub net: net::Options,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            base: pypi::PYPI_JSON.to_owned(),
            netrc: None,
            net: net::Options::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Net(#[from] net::NetError),
    #[error(transparent)]
    Index(#[from] PypiError),
    #[error(transparent)]
    Auth(#[from] index_auth::AuthError),
    /// The URL is not repeated: it holds a password.
    #[error(
        "the index URL carries credentials (`user:password@`): put them in a netrc file (--netrc) instead"
    )]
    UrlCredentials,
    #[error("{path}: {source}")]
    Pins { path: String, source: PinsError },
    #[error("{0}")]
    Refused(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The most bytes of one wheel refresh downloads to hash it, when the index gives no
/// sha256 (pypiserver): uv's wheels, the largest of the stack, are about 20 MB.
pub const MAX_WHEEL_BYTES: u64 = 128 * 1024 * 1024;

/// The most bytes of a wheel's METADATA read for its `Requires-Dist` lines.
const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;

/// The index, reached: its JSON API, and its files with the credentials the netrc gives
/// for each file's own host (none for a host it does not name).
struct Client<'a> {
    options: &'a IndexOptions,
    agent: ureq::Agent,
}

impl<'a> Client<'a> {
    fn open(options: &'a IndexOptions) -> Result<Self, IndexError> {
        if index_auth::has_userinfo(&options.base) {
            return Err(IndexError::UrlCredentials);
        }
        Ok(Self {
            options,
            agent: net::agent(&options.net)?,
        })
    }

    fn authorization(&self, url: &str) -> Result<Option<String>, IndexError> {
        Ok(match &self.options.netrc {
            Some(netrc) => index_auth::authorization(netrc, url)?,
            None => None,
        })
    }

    fn projects(&self, names: &[&str]) -> Result<BTreeMap<String, Project>, IndexError> {
        let authorization = self.authorization(&self.options.base)?;
        let mut out = BTreeMap::new();
        for name in names {
            let project = pypi::project(
                &self.agent,
                &self.options.base,
                name,
                authorization.as_deref(),
            )?;
            out.insert((*name).to_owned(), project);
        }
        Ok(out)
    }

    /// Release `version`'s `Requires-Dist`, from the per-release JSON document; `None`
    /// when the index has none (404: pypiserver, some mirrors).
    fn requires(&self, name: &str, version: &str) -> Result<Option<Vec<String>>, IndexError> {
        let authorization = self.authorization(&self.options.base)?;
        match pypi::requires(
            &self.agent,
            &self.options.base,
            name,
            version,
            authorization.as_deref(),
        ) {
            Ok(declared) => Ok(Some(declared)),
            Err(PypiError::Status { status: 404, .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// The wheel `file`, downloaded whole (at most `MAX_WHEEL_BYTES`): its sha256 and
    /// its `Requires-Dist` lines.
    fn wheel(&self, file: &File) -> Result<(String, Vec<String>), IndexError> {
        let Some(url) = file
            .url
            .as_deref()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        else {
            return Err(IndexError::Refused(format!(
                "{}: the index gives neither its sha256 nor an http(s) URL to download it from",
                file.filename
            )));
        };
        let authorization = self.authorization(url)?;
        let body = pypi::get(
            &self.agent,
            url,
            None,
            authorization.as_deref(),
            MAX_WHEEL_BYTES,
        )?;
        let sha256 = format!("{:x}", sha2::Sha256::digest(&body));
        let requires = wheel_requires(&body)
            .map_err(|why| IndexError::Refused(format!("{}: not a wheel: {why}", file.filename)))?;
        Ok((sha256, requires))
    }
}

/// The `Requires-Dist` lines of the wheel in `bytes`: its `*.dist-info/METADATA`'s
/// headers (up to the first blank line), read at most `MAX_METADATA_BYTES`.
fn wheel_requires(bytes: &[u8]) -> Result<Vec<String>, String> {
    use std::io::Read as _;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let name = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|n| {
            n.strip_suffix(".dist-info/METADATA")
                .is_some_and(|dir| !dir.is_empty() && !dir.contains('/'))
        })
        .map(std::borrow::Cow::into_owned)
        .ok_or("it has no .dist-info/METADATA")?;
    let entry = archive.by_name(&name).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    entry
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_METADATA_BYTES {
        return Err(format!("its METADATA is over {MAX_METADATA_BYTES} bytes"));
    }
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
        .map(|r| r.trim().to_owned())
        .collect())
}

/// Every project in `names` from the index.
pub fn fetch(
    options: &IndexOptions,
    names: &[&str],
) -> Result<BTreeMap<String, Project>, IndexError> {
    Client::open(options)?.projects(names)
}

/// What refresh did.
#[derive(Debug)]
pub struct Refreshed {
    pub text: String,
    /// `name old -> new` for each want whose version changed.
    pub changed: Vec<String>,
    pub rows: usize,
}

/// The pins file's new text: the wants of `current` (a pins file's text, its rows not
/// trusted; the built-in table's when `None`), with `set` applied (`name==version` of a
/// wanted package), or every want moved to its newest release with `upgrade`; each want's
/// wheels read from the index. Refused, naming why, when a release is missing or yanked,
/// lacks a wheel for a supported Python and machine, a dependency is not wanted, or the
/// result is outside what fabuild's rules assume.
pub fn refresh(
    current: Option<&'static str>,
    set: &[(String, String)],
    upgrade: bool,
    options: &IndexOptions,
) -> Result<Refreshed, IndexError> {
    let table = match current {
        Some(text) => Pins::parse_unchecked(text).map_err(|source| IndexError::Pins {
            path: "the pins file".into(),
            source,
        })?,
        None => Pins::builtin(),
    };
    let mut requests: Vec<Request> = table
        .wants()
        .iter()
        .map(|w| Request {
            name: w.name.to_owned(),
            version: w.version.to_owned(),
            role: w.role,
        })
        .collect();
    if requests.is_empty() {
        return Err(IndexError::Refused(
            "the pins file has no `want` lines: refresh reads the versions it asks for there"
                .into(),
        ));
    }
    let before: Vec<String> = requests.iter().map(|r| r.version.clone()).collect();
    for (name, version) in set {
        let key = crate::packaging::normalise(name);
        let Some(r) = requests.iter_mut().find(|r| r.name == key) else {
            return Err(IndexError::Refused(format!(
                "{name} is not wanted by the pins file: add a `want {key}=={version} ROLE` line"
            )));
        };
        version.clone_into(&mut r.version);
    }
    let names: Vec<&str> = requests.iter().map(|r| r.name.as_str()).collect();
    let client = Client::open(options)?;
    let projects = client.projects(&names)?;
    if upgrade {
        for r in &mut requests {
            if let Some(newest) = refresh::newest(&projects[&r.name]) {
                newest.clone_into(&mut r.version);
            }
        }
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    // Each wanted release's own dependencies, by name.
    let mut requires = BTreeMap::new();
    for r in &requests {
        match wanted_release(&client, r, &projects[&r.name])? {
            Ok((release_rows, declared)) => {
                rows.extend(release_rows);
                requires.insert(r.name.clone(), declared);
            }
            Err(why) => problems.push(why),
        }
    }
    problems.extend(refresh::unmet(&requests, &requires));
    let text = refresh::render(&requests, &rows);
    if problems.is_empty() {
        let written =
            Pins::parse(super::intern(text.clone())).map_err(|source| IndexError::Pins {
                path: "the refreshed file".into(),
                source,
            })?;
        for (name, version, range) in written.unassumed() {
            problems.push(format!(
                "{name} {version} is outside what this fabuild's rules assume ({name}{range})"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(IndexError::Refused(problems.join("\n")));
    }
    let changed = requests
        .iter()
        .zip(&before)
        .filter(|(r, old)| r.version != **old)
        .map(|(r, old)| format!("{} {old} -> {}", r.name, r.version))
        .collect();
    Ok(Refreshed {
        text,
        changed,
        rows: rows.len(),
    })
}

/// A wanted release's rows and the dependencies it declares, or why it cannot be pinned.
type Wanted = Result<(Vec<Row>, Vec<String>), String>;

/// The rows of wanted release `r` of `project` and the dependencies it declares; the
/// inner `Err` names why the release cannot be pinned.
fn wanted_release(
    client: &Client<'_>,
    r: &Request,
    project: &Project,
) -> Result<Wanted, IndexError> {
    let Some(files) = refresh::release(project, &r.version) else {
        return Ok(Err(format!("{} {} is not on the index", r.name, r.version)));
    };
    let chosen = match refresh::select(r, files) {
        Ok(chosen) => chosen,
        Err(why) => return Ok(Err(why)),
    };
    let mut rows = Vec::new();
    let mut from_wheel = None;
    for f in &chosen {
        let sha256 = match &f.digests.sha256 {
            Some(h) => h.clone(),
            // No hash from the index (pypiserver): the wheel itself, downloaded.
            None => {
                let (sha256, declared) = client.wheel(f)?;
                from_wheel.get_or_insert(declared);
                sha256
            }
        };
        rows.push(Row {
            name: r.name.clone(),
            version: r.version.clone(),
            role: r.role,
            sha256,
            wheel: f.filename.clone(),
        });
    }
    // Where the release's dependencies are declared: the wheel already downloaded, the
    // project document (its newest release only), the per-release document, or, when
    // the index has none, the METADATA of one of its wheels.
    let declared = match from_wheel {
        Some(declared) => declared,
        None if refresh::same_version(&project.latest, &r.version) => {
            project.latest_requires.clone()
        }
        None => match client.requires(&r.name, &r.version)? {
            Some(declared) => declared,
            None => match chosen.first() {
                Some(f) => client.wheel(f)?.1,
                None => Vec::new(),
            },
        },
    };
    Ok(Ok((rows, declared)))
}

/// One pinned package as the index sees it now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub name: String,
    pub pinned: String,
    pub newest: Option<String>,
    /// The pinned release is yanked (with the reason given, possibly empty).
    pub yanked: Option<String>,
    /// Pinned sha256s no file of the pinned release has.
    pub unknown_hashes: Vec<String>,
}

impl Status {
    pub fn outdated(&self) -> bool {
        self.newest.as_deref().is_some_and(|n| {
            crate::packaging::version::Version::parse(n)
                > crate::packaging::version::Version::parse(&self.pinned)
        })
    }

    /// Yanked, or pinning a wheel the index does not have: the build would fail or
    /// install what the team did not review.
    pub fn broken(&self) -> bool {
        self.yanked.is_some() || !self.unknown_hashes.is_empty()
    }
}

/// Every pin of `pins` against the index.
pub fn check(pins: &Pins, options: &IndexOptions) -> Result<Vec<Status>, IndexError> {
    let names: Vec<&str> = pins.rows().map(|(p, _)| p.name).collect();
    let client = Client::open(options)?;
    let projects = client.projects(&names)?;
    let mut out = Vec::new();
    for (pin, role) in pins.rows() {
        let project = &projects[pin.name];
        let files = refresh::release(project, pin.version).unwrap_or_default();
        let yanked = files
            .iter()
            .find(|f| f.yanked)
            .map(|f| f.yanked_reason.clone().unwrap_or_default());
        let mut known: Vec<String> = files
            .iter()
            .filter_map(|f| f.digests.sha256.clone())
            .collect();
        // An index without hashes (pypiserver): the wheels refresh would keep, hashed.
        if yanked.is_none() && files.iter().any(|f| f.digests.sha256.is_none()) {
            let request = refresh::Request {
                name: pin.name.to_owned(),
                version: pin.version.to_owned(),
                role,
            };
            for f in refresh::select(&request, files).unwrap_or_default() {
                if f.digests.sha256.is_none() {
                    known.push(client.wheel(f)?.0);
                }
            }
        }
        let unknown_hashes = pin
            .hashes
            .iter()
            .filter(|h| !known.iter().any(|k| k == **h))
            .map(|h| (*h).to_owned())
            .collect();
        out.push(Status {
            name: pin.name.to_owned(),
            pinned: pin.version.to_owned(),
            newest: refresh::newest(project).map(str::to_owned),
            yanked,
            unknown_hashes,
        });
    }
    Ok(out)
}

/// Writes `text` to `path` whole or not at all: a temporary file beside it, flushed to
/// disk, renamed over it (two concurrent writers: the last rename wins, and either file is
/// complete; killed midway: the old file stays, and a `.fabuild-*.tmp` may be left).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".fabuild-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
