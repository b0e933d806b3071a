//! `fabuild pins refresh` and `fabuild pins check` as library calls: the index's JSON API
//! read through `net`, then `refresh`'s decisions, then an atomic write.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::refresh::{self, Request, Row};
use super::{Pins, PinsError};
use crate::net::pypi_json::{self as pypi, Project, PypiError};
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

/// Every project in `names` from the index.
pub fn fetch(
    options: &IndexOptions,
    names: &[&str],
) -> Result<BTreeMap<String, Project>, IndexError> {
    if index_auth::has_userinfo(&options.base) {
        return Err(IndexError::UrlCredentials);
    }
    let agent = net::agent(&options.net)?;
    let authorization = match &options.netrc {
        Some(netrc) => index_auth::authorization(netrc, &options.base)?,
        None => None,
    };
    let mut out = BTreeMap::new();
    for name in names {
        let project = pypi::project(&agent, &options.base, name, authorization.as_deref())?;
        out.insert((*name).to_owned(), project);
    }
    Ok(out)
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
    let projects = fetch(options, &names)?;
    if upgrade {
        for r in &mut requests {
            if let Some(newest) = refresh::newest(&projects[&r.name]) {
                newest.clone_into(&mut r.version);
            }
        }
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for r in &requests {
        let project = &projects[&r.name];
        let Some(files) = refresh::release(project, &r.version) else {
            problems.push(format!("{} {} is not on the index", r.name, r.version));
            continue;
        };
        match refresh::select(r, files) {
            Ok(chosen) => rows.extend(chosen.into_iter().map(|f| Row {
                name: r.name.clone(),
                version: r.version.clone(),
                role: r.role,
                sha256: f.digests.sha256.clone().unwrap_or_default(),
                wheel: f.filename.clone(),
            })),
            Err(why) => problems.push(why),
        }
    }
    problems.extend(refresh::unmet(&requests, &projects));
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
    let projects = fetch(options, &names)?;
    Ok(pins
        .rows()
        .map(|(pin, _)| {
            let project = &projects[pin.name];
            let files = refresh::release(project, pin.version).unwrap_or_default();
            let yanked = files
                .iter()
                .find(|f| f.yanked)
                .map(|f| f.yanked_reason.clone().unwrap_or_default());
            let unknown_hashes = pin
                .hashes
                .iter()
                .filter(|h| {
                    !files
                        .iter()
                        .any(|f| f.digests.sha256.as_deref() == Some(**h))
                })
                .map(|h| (*h).to_owned())
                .collect();
            Status {
                name: pin.name.to_owned(),
                pinned: pin.version.to_owned(),
                newest: refresh::newest(project).map(str::to_owned),
                yanked,
                unknown_hashes,
            }
        })
        .collect())
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
