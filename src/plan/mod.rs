//! Spec -> Plan: every value the generated files need, decided once, in one place.
//!
//! Templates only format what is here; nothing about gunicorn, users or TLS is decided
//! while rendering.

pub mod apt;
pub mod args;
pub mod clutter;
pub mod collectstatic;
pub mod deploy;
pub mod release;
pub mod workers;

use serde::Serialize;

use crate::gunicorn::shlex;
use crate::spec::{Interface, Spec};
pub use deploy::DeployPlan;
pub use release::ReleasePlan;
pub use workers::Workers;

use crate::layout::{APP_DIR, PATH, VENV_DIR};
use crate::pins::Pin;

/// The Dockerfile's installer cache mount target (`RUN --mount=type=cache`): root's, since
/// the install runs as root, and outside every path the image keeps.
pub const INSTALL_CACHE: &str = "/root/.cache/fabuild";

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub name: String,
    pub module: String,
    pub interface: Interface,
    pub python_version: String,
    /// The FROM line's reference, digest included when pinned.
    pub base_image: String,
    pub uid: u32,
    pub gid: u32,
    pub port: u16,
    pub workers: Workers,
    /// The argv gunicorn reads from `GUNICORN_CMD_ARGS`.
    pub argv: Vec<String>,
    /// `argv` joined so that Python's `shlex.split` gives it back exactly.
    pub gunicorn_cmd_args: String,
    /// The image's environment, in order.
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub tls_dir: Option<String>,
    /// The key, certificate and CA paths gunicorn reads, all under `tls_dir`.
    pub tls: Option<crate::spec::Tls>,
    pub healthcheck: Option<HealthPlan>,
    pub deploy: DeployPlan,
    pub server_pins: Vec<Pin>,
    /// Server-stack distributions whose extension modules lose their debug information
    /// while the image builds (none for a WSGI app).
    pub strip_debug: Vec<&'static str>,
    /// Where the app's own dependencies come from (`app_requirements`, `app_lock` and
    /// `app_project` in the JSON and the template context, at most one of them set).
    #[serde(flatten)]
    pub app_dependencies: AppDependencies,
    /// The app's requirements file as the image installs it, when that is not the file as
    /// it stands (its includes read in, a server package's version left to fabuild):
    /// written as `requirements-app.txt` (and `constraints-app.txt`) and installed instead.
    pub installed_requirements: Option<crate::spec::InstalledRequirements>,
    /// uv (pinned, hashed, removed in the step that uses it) when a lock or a project needs
    /// it; it then installs everything hash-pinned too. Without it pip does, as installing
    /// uv costs more than it saves on a requirements file's few packages (BENCHMARKS.md).
    pub uv: Option<crate::pins::ToolPin>,
    /// Where the Dockerfile's installers keep their caches: a build cache mount (root's, at
    /// build time), never part of the image.
    pub install_cache: &'static str,
    pub ca_secret: Option<String>,
    /// The private index pip and uv install from, and the build secret with its netrc.
    pub index: Option<crate::spec::model::Index>,
    pub cmd: Vec<String>,
    /// Directories the app writes at run time (`app.writable`).
    pub writable: Vec<WritableDir>,
    /// Compilers and headers for the app's dependencies (`python.build_packages`): when set,
    /// the virtualenv is built in a stage of its own that has them, and only the
    /// virtualenv is copied into the image.
    pub build_packages: Option<apt::AptInstall>,
    /// Run-time libraries installed in the image (`python.system_packages`).
    pub system_packages: Option<apt::AptInstall>,
    /// The command run once per deploy (`app.release`), and how each deploy runs it.
    pub release: Option<ReleasePlan>,
    /// Django's `collectstatic` at build time (`app.collectstatic`).
    pub collectstatic: Option<collectstatic::CollectstaticStep>,
    /// Repository clutter the `.dockerignore` leaves out of the context, by reason.
    pub clutter: Vec<clutter::ClutterGroup>,
    /// Clutter names kept because the app imports from them.
    pub clutter_kept: Vec<clutter::KeptClutter>,
}

/// A directory the app writes at run time. In the image it is created owned by the app's
/// user (the code around it stays root's); the manifests mount an empty volume there,
/// because their root filesystem is read-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WritableDir {
    /// Absolute path in the container.
    pub path: String,
    /// The same directory in the build context (the project), when it is under the app
    /// directory: left out of the context, so a developer's local state (a database file, an
    /// uploads folder) never reaches the image.
    pub context_path: Option<String>,
    /// The volume's name in kubernetes.yaml: `writable-1`, `writable-2`, ... in spec order.
    pub volume: String,
}

/// Where the app's own dependencies come from: the spec allows one source at most
/// (FAB059 otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppDependencies {
    /// The server stack alone.
    None,
    /// The app's requirements file, relative to the project directory.
    Requirements(String),
    /// The app's uv lock, exported and installed with hashes while building.
    Lock(AppLock),
    /// The app's pyproject.toml dependencies, resolved while building.
    Project(AppProject),
}

impl AppDependencies {
    fn of(python: &crate::spec::Python) -> Self {
        if let Some(lock) = &python.lock {
            Self::Lock(AppLock {
                lock: lock.clone(),
                pyproject: std::path::Path::new(lock)
                    .with_file_name("pyproject.toml")
                    .to_string_lossy()
                    .into_owned(),
                package: python.workspace.as_ref().map(|w| w.package.clone()),
                members: python
                    .workspace
                    .as_ref()
                    .map(|w| LockMember::all(lock, &w.member_pyprojects))
                    .unwrap_or_default(),
            })
        } else if let Some(p) = &python.project {
            Self::Project(AppProject {
                pyproject: p.pyproject.clone(),
                table: p.table.clone(),
                requirements: p.requirements.clone(),
                exclude_newer: p.exclude_newer.clone(),
            })
        } else if let Some(requirements) = &python.requirements {
            Self::Requirements(requirements.clone())
        } else {
            Self::None
        }
    }

    pub fn requirements(&self) -> Option<&str> {
        match self {
            Self::Requirements(path) => Some(path),
            _ => None,
        }
    }

    pub fn lock(&self) -> Option<&AppLock> {
        match self {
            Self::Lock(lock) => Some(lock),
            _ => None,
        }
    }

    pub fn project(&self) -> Option<&AppProject> {
        match self {
            Self::Project(project) => Some(project),
            _ => None,
        }
    }
}

/// As three keys, `null` but for the one in use: what the plan's JSON and the templates'
/// context (docs/templates.md) have always had.
impl Serialize for AppDependencies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("app_requirements", &self.requirements())?;
        map.serialize_entry("app_lock", &self.lock())?;
        map.serialize_entry("app_project", &self.project())?;
        map.end()
    }
}

/// A `uv.lock` project: uv (pinned, hashed, never left in the image) exports the lock to a hashed
/// requirements list, leaving out the packages the server stack already pins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppLock {
    pub lock: String,
    pub pyproject: String,
    /// In a uv workspace, the member whose dependencies are installed (`uv export
    /// --package`); the members themselves never are (`--no-emit-workspace`).
    pub package: Option<String>,
    /// In a uv workspace, the other members' pyproject.toml, which `uv export` reads.
    pub members: Vec<LockMember>,
}

/// A workspace member's pyproject.toml: where it is in the project, and where it goes
/// beside the lock in the image's copy of the project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockMember {
    pub pyproject: String,
    /// Relative to the lock's directory.
    pub to: String,
}

impl LockMember {
    fn all(lock: &str, pyprojects: &[String]) -> Vec<Self> {
        let dir = std::path::Path::new(lock)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        pyprojects
            .iter()
            .map(|p| Self {
                pyproject: p.clone(),
                to: std::path::Path::new(p).strip_prefix(dir).map_or_else(
                    |_| p.clone(),
                    |rel| rel.to_string_lossy().replace('\\', "/"),
                ),
            })
            .collect()
    }
}

/// A pyproject.toml's declared dependencies: written to `requirements-project.in`, resolved
/// by uv while building, from the releases uploaded before `exclude_newer`, leaving
/// out the server stack, and installed with the hashes uv records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppProject {
    pub pyproject: String,
    pub table: String,
    pub requirements: Vec<String>,
    pub exclude_newer: String,
}

/// The container's own health probe and the Kubernetes probes made from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthPlan {
    pub path: String,
    /// What the in-image probe requests: the server's own port on loopback.
    pub url: String,
    pub interval: u32,
    pub timeout: u32,
    pub start_period: u32,
    pub retries: u32,
    /// Verify the server against its own certificate (the probe dials 127.0.0.1, which the
    /// certificate does not name, so the host name is not checked).
    pub certfile: Option<String>,
}

/// Options that change the plan without changing the spec.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Build on this image instead of the spec's base (a registry mirror, a local base).
    pub base_image: Option<crate::spec::ImageRef>,
}

pub fn plan(spec: &Spec, overrides: &Overrides) -> Plan {
    let workers = workers::plan(&spec.server, spec.app.interface);
    let argv = args::argv(spec, &workers);
    let gunicorn_cmd_args = shlex::join(&argv);
    let server_pins = spec.pins.for_interface(spec.app.interface);
    let base = overrides
        .base_image
        .as_ref()
        .unwrap_or(&spec.python.base_image);

    let mut env = vec![
        ("PATH".to_owned(), PATH.to_owned()),
        ("VIRTUAL_ENV".to_owned(), VENV_DIR.to_owned()),
        ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
        ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
    ];
    env.extend(spec.env.iter().cloned());
    env.push(("GUNICORN_CMD_ARGS".to_owned(), gunicorn_cmd_args.clone()));

    let mut labels = vec![
        (
            "org.opencontainers.image.title".to_owned(),
            spec.name.clone(),
        ),
        (
            "org.opencontainers.image.base.name".to_owned(),
            base.without_digest(),
        ),
    ];
    if let Some(digest) = &base.digest {
        labels.push((
            "org.opencontainers.image.base.digest".to_owned(),
            digest.clone(),
        ));
    }
    labels.extend(spec.labels.iter().cloned());

    let (clutter, clutter_kept) = clutter::plan(spec);
    Plan {
        name: spec.name.clone(),
        module: spec.app.module.clone(),
        interface: spec.app.interface,
        python_version: spec.python.version.clone(),
        base_image: base.to_string(),
        uid: spec.user.uid,
        gid: spec.user.gid,
        port: spec.server.port,
        workers,
        argv,
        gunicorn_cmd_args,
        env,
        labels,
        tls_dir: spec.tls.as_ref().map(|t| t.dir.clone()),
        tls: spec.tls.clone(),
        healthcheck: spec.healthcheck.as_ref().map(|h| HealthPlan {
            url: format!(
                "{}://127.0.0.1:{}{}",
                if spec.tls.is_some() { "https" } else { "http" },
                spec.server.port,
                h.path
            ),
            path: h.path.clone(),
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            retries: h.retries,
            certfile: spec.tls.as_ref().map(|t| t.certfile.clone()),
        }),
        deploy: deploy::plan(spec),
        strip_debug: crate::pins::with_debug_info(&server_pins),
        server_pins,
        app_dependencies: AppDependencies::of(&spec.python),
        installed_requirements: spec.python.installed_requirements.clone(),
        uv: (spec.python.lock.is_some() || spec.python.project.is_some())
            .then(|| spec.pins.uv())
            .flatten(),
        install_cache: INSTALL_CACHE,
        ca_secret: spec.ca_secret.clone(),
        index: spec.index.clone(),
        cmd: vec!["gunicorn".to_owned(), spec.app.module.clone()],
        writable: spec
            .app
            .writable
            .iter()
            .enumerate()
            .map(|(i, path)| WritableDir {
                path: path.clone(),
                context_path: path
                    .strip_prefix(APP_DIR)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .map(str::to_owned),
                volume: format!("writable-{}", i + 1),
            })
            .collect(),
        build_packages: apt::AptInstall::of(&spec.python.build_packages),
        system_packages: apt::AptInstall::of(&spec.python.system_packages),
        release: release::plan(spec),
        collectstatic: collectstatic::plan(spec),
        clutter,
        clutter_kept,
    }
}
