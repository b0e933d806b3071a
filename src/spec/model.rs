//! `Spec`: a validated app.yaml, with every default filled in and every value typed.

use serde::Serialize;

pub use super::raw::Interface;

/// The Python versions fabuild builds for: what gunicorn 27 supports (>= 3.10) minus the
/// releases past their end of life (3.10 ended in October 2026).
pub const PYTHON_VERSIONS: &[&str] = &["3.11", "3.12", "3.13", "3.14"];
pub const DEFAULT_PYTHON: &str = "3.12";

/// The variable Django reads its settings module from: `python -m django` and the WSGI
/// and ASGI entry points find the project through it.
pub const DJANGO_SETTINGS_MODULE: &str = "DJANGO_SETTINGS_MODULE";

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spec {
    pub name: String,
    pub app: App,
    pub python: Python,
    pub server: Server,
    pub tls: Option<Tls>,
    pub user: User,
    pub labels: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    /// Id of the optional build secret carrying a CA bundle for pip.
    pub ca_secret: Option<String>,
    /// A private index the install step uses, with the build secret holding its netrc.
    pub index: Option<Index>,
    /// `python.pins` as written (relative to the project): the pins file the server stack comes from, when not the
    /// built-in table.
    pub pins_file: Option<String>,
    /// The server stack's pins: the pins file's, or the built-in table.
    #[serde(skip)]
    pub pins: crate::pins::Pins,
    pub healthcheck: Option<Healthcheck>,
    pub deploy: Deploy,
}

/// `build.index_url` and `build.index_secret`: pip and uv install from this index; its
/// credentials come from a netrc file mounted as a build secret in the install step only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Index {
    pub url: String,
    pub secret: String,
}

/// An HTTP(S) GET on the app's own port that must answer 2xx or 3xx.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    pub path: String,
    pub interval: u32,
    pub timeout: u32,
    pub start_period: u32,
    pub retries: u32,
}

/// Deploy manifests to generate next to the image's build files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deploy {
    pub kubernetes: bool,
    pub compose: bool,
    /// The image the manifests run.
    pub image: String,
    pub replicas: u32,
    /// Kubernetes memory quantity for requests and limits, e.g. `512Mi`.
    pub memory: Option<String>,
    /// The Kubernetes secret holding the TLS key and certificate.
    pub tls_secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct App {
    pub module: String,
    pub interface: Interface,
    /// Directories the app writes at run time, absolute (a relative entry is under
    /// [`APP_DIR`](crate::layout::APP_DIR)), in the order written. Owned by the app's user
    /// in the image, an empty volume in the Kubernetes and compose manifests.
    pub writable: Vec<String>,
    /// The command run once per deploy before the new version serves (migrations), as
    /// the argv exec receives: no shell unless the spec names one (`[sh, -c, ...]`).
    pub release: Option<Vec<String>>,
    /// Django's `collectstatic`, run while the image builds (`app.collectstatic`).
    pub collectstatic: Option<Collectstatic>,
}

/// `collectstatic` at build time: as root, after the code is copied, so `STATIC_ROOT` is
/// the image's and read-only to the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Collectstatic {
    /// Variables set to a placeholder for that step only (settings that cannot be imported
    /// without them, a `SECRET_KEY` read from the environment); never in the image's ENV.
    pub placeholder_env: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Python {
    pub version: String,
    pub base_image: ImageRef,
    /// The app's own requirements file, relative to the project directory, `/`-separated.
    pub requirements: Option<String>,
    /// Or the app's `uv.lock` (with its `pyproject.toml` beside it), relative likewise.
    pub lock: Option<String>,
    /// With a uv workspace's lock: the member the app is, and where the workspace's members are.
    pub workspace: Option<Workspace>,
    /// Or the dependencies a `pyproject.toml` declares, resolved while the image builds.
    pub project: Option<Project>,
    /// The requirements file as the image installs it, when that is not the file as it
    /// stands: its includes read in, or a line naming a server package at another version
    /// reduced to the name.
    pub installed_requirements: Option<InstalledRequirements>,
    /// Debian packages installed only where the dependencies are built (`name` or
    /// `name=version`); none of them reaches the final image.
    pub build_packages: Vec<String>,
    /// Debian packages installed in the final image, for the libraries the app loads.
    pub system_packages: Vec<String>,
}

/// A uv workspace whose lock is `python.lock`: the image installs the dependencies of one
/// member (`python.package`) and of the members it depends on, but not the members
/// themselves. Their code is copied with the project and imported from `PYTHONPATH`:
/// installing a member would run its build backend (downloaded unhashed, at build time),
/// and the copy keeps one root-owned, read-only tree under /app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// The member's name, as `uv export --package` takes it.
    pub package: String,
    /// Every member's `pyproject.toml` but the root's, relative to the project, sorted:
    /// `uv export --frozen` reads them to know the workspace.
    pub member_pyprojects: Vec<String>,
    /// Where the image imports the members the app needs from (they are copied with the
    /// project, not installed): what `PYTHONPATH` must hold.
    pub import_dirs: Vec<String>,
}

/// The app's requirements file with what it includes (`-r`, `-c`) read in, and each line
/// that names a server package at a version fabuild does not install reduced to the
/// package's name (extras and marker kept): fabuild's pin is the version installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstalledRequirements {
    /// The app's file, relative to the project directory.
    pub from: String,
    /// Requirement and option lines, in pip's reading order.
    pub requirements: Vec<String>,
    /// The lines of the files included with `-c`.
    pub constraints: Vec<String>,
    /// Read from a pdm.lock (its default group, pinned and hashed, the server stack's
    /// packages left to fabuild), not from a requirements file.
    pub pdm_lock: bool,
}

impl InstalledRequirements {
    /// The requirements as a file for pip: the constraints, if any, are read from
    /// `constraints` beside it.
    pub fn requirements_text(&self, constraints: &str) -> String {
        let mut text = String::new();
        if !self.constraints.is_empty() {
            text.push_str(&format!("-c {constraints}\n"));
        }
        for line in &self.requirements {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    pub fn constraints_text(&self) -> String {
        let mut text = String::new();
        for line in &self.constraints {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// `python.project`: a pyproject.toml's declared dependencies, resolved by uv while the
/// image builds, from the releases uploaded before `exclude_newer`, installed with hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Project {
    /// The pyproject.toml, relative to the project directory, `/`-separated.
    pub pyproject: String,
    /// The table read: `[project] dependencies` or `[tool.poetry.dependencies]`.
    pub table: String,
    /// PEP 508 requirement strings (Poetry's constraints translated).
    pub requirements: Vec<String>,
    /// An RFC 3339 UTC time, as uv's `--exclude-newer` takes it.
    pub exclude_newer: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Server {
    pub port: u16,
    /// Set explicitly in the spec; when `None` the plan derives it from `cpus`.
    pub workers: Option<u32>,
    pub cpus: f64,
    pub threads: Option<u32>,
    pub timeout: u32,
    pub graceful_timeout: u32,
    pub keepalive: u32,
    pub max_requests: u32,
    pub max_requests_jitter: u32,
    pub forwarded_allow_ips: Vec<String>,
    pub access_log: bool,
    /// Checked gunicorn flags the spec has no key for, appended to the argv as given.
    pub extra_args: Vec<String>,
    /// The container's memory limit (`server.memory`), when it is known.
    pub memory: Option<Memory>,
    /// What one worker is expected to use (`server.worker_memory`, 256 MiB by default).
    pub worker_memory: Memory,
}

/// A memory quantity as written (`512Mi`) and in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Memory {
    pub text: String,
    pub bytes: u64,
}

impl Memory {
    /// A Kubernetes memory quantity: digits and an optional suffix (`Ki`..`Ti`, `k`..`T`),
    /// no leading zero.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || text.starts_with('0') {
            return None;
        }
        let unit: u64 = match &text[digits..] {
            "" => 1,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            "Ti" => 1 << 40,
            "k" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "T" => 1_000_000_000_000,
            _ => return None,
        };
        let bytes = text[..digits].parse::<u64>().ok()?.checked_mul(unit)?;
        Some(Self {
            text: text.to_owned(),
            bytes,
        })
    }

    /// `bytes` as people read it: `768Mi`, `1.5Gi`.
    pub fn show(bytes: u64) -> String {
        let mib = bytes.div_ceil(1 << 20);
        if mib >= 1024 && mib.is_multiple_of(512) {
            if mib.is_multiple_of(1024) {
                format!("{}Gi", mib / 1024)
            } else {
                format!("{}.5Gi", mib / 1024)
            }
        } else {
            format!("{mib}Mi")
        }
    }
}

/// What one worker is assumed to use when the spec does not say: Heroku's Python
/// buildpack sizes `WEB_CONCURRENCY` so that every process has at least 256 MB.
pub const DEFAULT_WORKER_MEMORY: &str = "256Mi";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tls {
    /// The mount point, absolute and normalised.
    pub dir: String,
    /// Absolute paths, each under `dir`.
    pub certfile: String,
    pub keyfile: String,
    pub ca_certs: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

/// An image reference: `[registry/]path[:tag][@sha256:hex]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference; `None` if it is not one a builder would accept.
    pub fn parse(text: &str) -> Option<Self> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest.strip_prefix("sha256:")?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return None;
                }
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        // A tag follows the last `:` that comes after the last `/` (a registry may have a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if !valid_name(name) || tag.is_some_and(|t| !valid_tag(t)) {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The last path component: `python` for `docker.io/library/python`.
    pub fn repository(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// Name and tag without the digest, as `org.opencontainers.image.base.name` wants it.
    pub fn without_digest(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{}:{tag}", self.name),
            None => self.name.clone(),
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.without_digest())?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    let mut parts = name.split('/').peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        let is_registry =
            first && parts.peek().is_some() && (part.contains(['.', ':']) || part == "localhost");
        first = false;
        let ok = if is_registry {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        } else {
            valid_path_component(part)
        };
        if !ok {
            return false;
        }
    }
    !name.is_empty() && name.len() <= 255
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`, as the distribution spec says.
fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    if bytes.is_empty()
        || !bytes[0].is_ascii_alphanumeric()
        || !bytes[bytes.len() - 1].is_ascii_alphanumeric()
    {
        return false;
    }
    part.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && part
            .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .filter(|sep| !sep.is_empty())
            .all(|sep| sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-'))
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::ImageRef;

    #[test]
    fn parses_references_builders_accept() {
        let r = ImageRef::parse("python:3.12-slim").unwrap();
        assert_eq!(
            (r.name.as_str(), r.tag.as_deref(), r.digest),
            ("python", Some("3.12-slim"), None)
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!(
            "registry.example.com:5000/team/python:3.12@{digest}"
        ))
        .unwrap();
        assert_eq!(r.name, "registry.example.com:5000/team/python");
        assert_eq!(r.repository(), "python");
        assert_eq!(r.digest.as_deref(), Some(digest.as_str()));
        assert!(ImageRef::parse("localhost/fabuild-e2e/python-base:bookworm").is_some());
    }

    #[test]
    fn rejects_what_builders_reject() {
        for bad in [
            "",
            "Python:3.12",
            "python:",
            "python@sha256:abc",
            "py thon",
            "python:3.12 slim",
            "-python",
            "a//b",
        ] {
            assert!(ImageRef::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
}
