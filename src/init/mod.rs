//! `fabuild init`: look at an existing project and write a first app.yaml, saying for
//! every value which file and line it came from.
//!
//! Detection reads files, never runs them: `detect` (the app object), `deps` (where
//! dependencies are declared), `python_version`; `write` renders the commented YAML. The
//! result is validated like any app.yaml before it is written.

mod deps;
mod detect;
mod django;
pub mod gunicorn_conf;
mod imports;
mod own_files;
mod python_version;
mod settings;
mod source;
mod system_packages;
mod workspace;
mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use deps::{Dependencies, Source as DependencySource};
pub use detect::AppCandidate;
use python_version::Hint;
pub use python_version::PythonChoice;
pub use write::{
    AppYaml, DependencyInstall, DjangoYaml, Tls, TlsFlags, WorkspaceMember, comment_safe,
};

use crate::exit::{CommandError, ExitStatus};
use crate::read::ReadError;
use crate::spec::{self, Interface};

/// Where the `$schema` line points unless told otherwise; init writes the schema there.
pub const DEFAULT_SCHEMA_REF: &str = ".fabuild/app.schema.json";

/// Every question init would ask, answered by a flag or left to detection.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub dir: PathBuf,
    pub force: bool,
    pub module: Option<String>,
    pub interface: Option<Interface>,
    pub name: Option<String>,
    pub python: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsFlags>,
    /// A URL, or a path relative to app.yaml; `None` for `DEFAULT_SCHEMA_REF`.
    pub schema_ref: Option<String>,
    /// `app.writable`; empty to detect it.
    pub writable: Vec<String>,
    /// `python.exclude_newer` for a pyproject.toml without a lock; `None` for today.
    pub exclude_newer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path} already exists; not overwriting it")]
    Exists { path: String },
    #[error("found {} candidate apps", candidates.len())]
    Ambiguous { candidates: Vec<AppCandidate> },
    #[error("no app found in {dir}")]
    NotFound { dir: String },
    #[error("cannot tell whether `{module}` is an ASGI or a WSGI app")]
    NoInterface { module: String },
    #[error(transparent)]
    Version(#[from] python_version::VersionError),
    #[error(transparent)]
    Deps(deps::DepsError),
    #[error("the app.yaml init would write is not valid:\n{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: ReadError },
}

impl From<deps::DepsError> for InitError {
    /// A dependency file that could not be read is told like any other project file, with
    /// what to do about a link or a FIFO.
    fn from(err: deps::DepsError) -> Self {
        match err {
            deps::DepsError::Read { file, source } => Self::Read { path: file, source },
            parse @ deps::DepsError::Parse { .. } => Self::Deps(parse),
        }
    }
}

/// The project's file `name` as the user would type it from where they ran init:
/// `gunicorn.conf.py` for the current directory, `svc/gunicorn.conf.py` for `init svc`.
fn shown(root: &Path, name: &str) -> String {
    if root == Path::new(".") || root.as_os_str().is_empty() {
        name.to_owned()
    } else {
        root.join(name).display().to_string()
    }
}

impl CommandError for InitError {
    /// `Error` when the project could not be read, `Failure` when init could not decide or
    /// would overwrite.
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Io { .. } | Self::Read { .. } | Self::Deps(_) => ExitStatus::Error,
            _ => ExitStatus::Failure,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Exists { .. } => Some("pass --force to replace it".to_owned()),
            Self::Ambiguous { candidates } => Some(format!(
                "pick one with --module, for example `fabuild init --module {}`",
                candidates[0].module
            )),
            Self::NotFound { .. } => Some(
                "looked in .py files (not tests, virtualenvs or hidden directories) for a module-level \
                 `app = FastAPI(...)` (or Starlette, Litestar, Quart, Flask, falcon.App, Bottle), a \
                 `def create_app()` factory returning one, and Django's <project>/wsgi.py or asgi.py \
                 `application`; name the app with --module pkg.module:attr --interface asgi|wsgi"
                    .to_owned(),
            ),
            Self::NoInterface { .. } => Some("pass --interface asgi or --interface wsgi".to_owned()),
            Self::Version(_) => Some(format!(
                "pass --python with one of {}",
                spec::PYTHON_VERSIONS.join(", ")
            )),
            Self::Read {
                source: ReadError::OutsideProject { .. },
                ..
            } => Some(
                "init reads only the project's own files: put a copy of the file in place of the \
                 link, or remove the link"
                    .to_owned(),
            ),
            Self::Read {
                source: ReadError::NotAFile,
                ..
            } => Some("put a regular file in its place, or remove it".to_owned()),
            _ => None,
        }
    }
}

/// One thing init found, and why it believes it.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub what: &'static str,
    pub value: String,
    pub why: String,
}

/// What init decided and the text it wrote (or would write).
#[derive(Debug)]
pub struct Outcome {
    pub app_yaml: PathBuf,
    pub text: String,
    pub notes: Vec<Note>,
    /// The schema file written next to app.yaml, when `$schema` points at a local path.
    pub schema_file: Option<PathBuf>,
    /// Things the user must still do (dependencies not installable yet).
    pub warnings: Vec<String>,
}

/// Detects, renders and validates; writes nothing.
pub fn survey(options: &Options) -> Result<Outcome, InitError> {
    let workspace = workspace::find(&options.dir)?;
    let root = workspace.as_ref().map_or(&options.dir, |w| &w.root);
    let app_yaml = root.join("app.yaml");
    if app_yaml.exists() && !options.force {
        return Err(InitError::Exists {
            path: app_yaml.display().to_string(),
        });
    }
    let pyproject: Option<deps::PyProject> = deps::read_toml(root, "pyproject.toml")?;
    let uv_lock: Option<deps::UvLock> = deps::read_toml(root, "uv.lock")?;
    let dependencies = Dependencies::detect(root, pyproject.as_ref(), uv_lock.as_ref())?;
    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    let sources = detect::Sources::read(root).map_err(|source| InitError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let AppAndMember {
        module,
        interface,
        member,
        src_layout,
        django,
        framework,
    } = app_and_member(
        options,
        root,
        workspace.as_ref(),
        &sources,
        &dependencies,
        &mut notes,
    )?;
    let conf = gunicorn_conf::read(root, interface.0).map_err(|source| InitError::Read {
        path: shown(root, gunicorn_conf::FILE),
        source,
    })?;
    let mut server: Vec<gunicorn_conf::Carried> =
        conf.as_ref().map(|c| c.carried.clone()).unwrap_or_default();
    // --port wins over the file's bind, --tls-dir over its TLS files.
    server.retain(|c| !(c.key == "port" && options.port.is_some()));
    let tls = tls(options, conf.as_ref(), &mut warnings);
    let writable = writable(options, root, &sources, member.as_ref(), django.as_ref())?;
    project_notes(
        django.as_ref(),
        writable.as_ref(),
        &mut notes,
        &mut warnings,
    );
    let python = python(options, root, pyproject.as_ref(), uv_lock.as_ref())?;
    notes.push(Note {
        what: "python",
        value: python.version.clone(),
        why: python.evidence.clone(),
    });
    let deps = dependency_install(options, &dependencies, &mut notes, &mut warnings)?;
    warnings
        .extend(framework.and_then(|(name, at)| dependencies.missing_framework(root, name, &at)));
    let apt = system_packages::for_dependencies(&dependencies.names);
    notes.extend(apt.as_ref().map(system_packages::AptKeys::note));
    warnings.extend(own_files::advice(root));
    let name = name(options, root, &dependencies, member.as_ref());
    notes.push(Note {
        what: "name",
        value: name.0.clone(),
        why: name.1.clone(),
    });
    let schema_ref = options
        .schema_ref
        .clone()
        .unwrap_or_else(|| DEFAULT_SCHEMA_REF.to_owned());
    let schema_file = (!schema_ref.contains("://")).then(|| root.join(&schema_ref));
    let extends = extends(root, &mut notes);
    let mut yaml = AppYaml {
        schema_ref,
        platform_sizes_workers: extends
            .as_ref()
            .is_some_and(|e| platform_sizes_workers(root, &e.0)),
        extends,
        name,
        interface: (interface.0, interface.1),
        module,
        python: (python.version.clone(), python.evidence.clone()),
        apt,
        dependencies: deps,
        port: options.port,
        server,
        tls,
        src_layout,
        workspace: member,
        writable,
        env_reads: settings::env_reads(&sources),
        django: django.as_ref().map(DjangoYaml::from),
    };
    let text = render_checked(&mut yaml, conf.as_ref(), root, &mut notes, &mut warnings)?;
    Ok(Outcome {
        app_yaml,
        text,
        notes,
        schema_file,
        warnings,
    })
}

/// `extends` for the platform file above the project, if there is one, noted.
fn extends(root: &Path, notes: &mut Vec<Note>) -> Option<(String, String)> {
    let path = crate::spec::platform::discover(root)?;
    let why = format!(
        "the platform file above the project ({path}): its keys apply where this file sets none"
    );
    notes.push(Note {
        what: "extends",
        value: path.clone(),
        why: why.clone(),
    });
    Some((path, why))
}

/// Whether the platform chain at `path` (relative to `root`) sets `server.cpus` or
/// `server.workers`: init then leaves the worker count to it instead of writing
/// `cpus: 1`, which would override the team's value in every service.
fn platform_sizes_workers(root: &Path, path: &str) -> bool {
    // The least spec that parses: only the chain it extends is wanted.
    let text = format!(
        "version: 1\nextends: {}\nname: probe\napp:\n  module: main:app\n  interface: asgi\n",
        crate::init::write::scalar(path)
    );
    crate::spec::platform::load_text(&text, &root.join("app.yaml"), "app.yaml", None)
        .is_ok_and(|chain| chain.raw.server.cpus.is_some() || chain.raw.server.workers.is_some())
}

/// How the image installs the dependencies found, noted, with a warning for a lock that
/// is not read.
fn dependency_install(
    options: &Options,
    dependencies: &Dependencies,
    notes: &mut Vec<Note>,
    warnings: &mut Vec<String>,
) -> Result<DependencyInstall, InitError> {
    let deps = match &dependencies.source {
        DependencySource::Requirements(path) => DependencyInstall::Requirements(path.clone()),
        DependencySource::UvLock => DependencyInstall::Lock("uv.lock".to_owned()),
        DependencySource::PdmLock => DependencyInstall::Lock("pdm.lock".to_owned()),
        DependencySource::Pep621 | DependencySource::Poetry { .. } => DependencyInstall::Project {
            pyproject: "pyproject.toml".to_owned(),
            exclude_newer: exclude_newer(options)?,
        },
        DependencySource::None => DependencyInstall::None,
    };
    notes.push(Note {
        what: "dependencies",
        value: match &deps {
            DependencyInstall::Requirements(path) | DependencyInstall::Lock(path) => path.clone(),
            DependencyInstall::Project {
                pyproject,
                exclude_newer,
            } => format!("{pyproject}, resolved as of {exclude_newer}"),
            DependencyInstall::None => "not installed".to_owned(),
        },
        why: dependencies.evidence.clone(),
    });
    if let Some(command) = dependencies.export_command() {
        warnings.push(format!(
        "poetry.lock is not read: the image resolves {} as of the date in python.exclude_newer; to install exactly what the lock pins, run `{command}` and use python.requirements instead of python.project",
        dependencies.source.file()
    ));
    }
    Ok(deps)
}

/// app.yaml's `tls`: from the flags, else from gunicorn.conf.py's TLS files.
fn tls(
    options: &Options,
    conf: Option<&gunicorn_conf::ConfFile>,
    warnings: &mut Vec<String>,
) -> Option<Tls> {
    let from_file = conf.and_then(|c| c.tls.clone());
    let Some(flags) = &options.tls else {
        return from_file;
    };
    if let Some(file) = from_file {
        warnings.push(format!(
            "not carried over, because --tls-dir and its flags decide: {}",
            file.why.join(", ")
        ));
    }
    Some(Tls::from(flags.clone()))
}

/// Writes what `plan` decided: app.yaml, and the schema file when it is local.
pub fn write(outcome: &Outcome) -> Result<(), InitError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| InitError::Io { path, source }
    };
    if let Some(schema) = &outcome.schema_file {
        if let Some(parent) = schema.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(schema, crate::schema::APP_SCHEMA).map_err(io(schema))?;
    }
    std::fs::write(&outcome.app_yaml, &outcome.text).map_err(io(&outcome.app_yaml))
}

type Decided<T> = (T, String);

/// The app init serves, and what it learnt with it.
struct AppAndMember {
    module: Decided<String>,
    interface: Decided<Interface>,
    /// Its uv workspace member, in a workspace.
    member: Option<WorkspaceMember>,
    /// Its package is imported from `src/` (outside a workspace).
    src_layout: bool,
    /// Its Django project, when it is a Django app.
    django: Option<django::Django>,
    /// The framework of the app found, and where (`file:line`).
    framework: Option<(&'static str, String)>,
}

/// The app (`app`), its workspace member (`workspace_member`), and whether it is imported
/// from `src/` outside a workspace.
fn app_and_member(
    options: &Options,
    root: &Path,
    workspace: Option<&workspace::Workspace>,
    sources: &detect::Sources,
    dependencies: &Dependencies,
    notes: &mut Vec<Note>,
) -> Result<AppAndMember, InitError> {
    let candidates = match workspace {
        Some(w) => w.candidates()?,
        None => sources
            .candidates()
            .into_iter()
            .map(|c| (crate::packaging::uvlock::Member::default(), c))
            .collect(),
    };
    let (module, interface, chosen) = app(options, root, candidates, dependencies, notes)?;
    let member = workspace_member(workspace, chosen.as_ref(), options, notes)?;
    let src_layout = member.is_none() && chosen.as_ref().is_some_and(|(_, c)| c.src_layout)
        || options.module.as_ref().is_some_and(|m| {
            member.is_none()
                && !root.join(module_dir(m)).exists()
                && root.join("src").join(module_dir(m)).exists()
        });
    let framework = chosen
        .as_ref()
        .map(|(_, c)| (c.framework, format!("{}:{}", c.file, c.line)));
    let django = chosen
        .filter(|(_, c)| c.framework.starts_with("Django"))
        .and_then(|(_, c)| django::read(sources, &c.file));
    Ok(AppAndMember {
        module,
        interface,
        member,
        src_layout,
        django,
        framework,
    })
}

/// The app's module and interface, and the candidate chosen (with its workspace member;
/// a default member outside a workspace).
fn app(
    options: &Options,
    root: &Path,
    candidates: Vec<(crate::packaging::uvlock::Member, AppCandidate)>,
    dependencies: &Dependencies,
    notes: &mut Vec<Note>,
) -> Result<Chosen, InitError> {
    let chosen: Option<(crate::packaging::uvlock::Member, AppCandidate)> = match &options.module {
        Some(module) => candidates.into_iter().find(|(_, c)| &c.module == module),
        None => Some(pick(candidates, dependencies, root)?),
    };
    let module = match (&options.module, &chosen) {
        (Some(m), _) => (m.clone(), "from --module".to_owned()),
        (None, Some((_, c))) => (
            c.module.clone(),
            format!(
                "{} app at {}:{}: {}",
                c.framework, c.file, c.line, c.evidence
            ),
        ),
        (None, None) => unreachable!("pick returns a candidate or an error"),
    };
    let interface = match (options.interface, &chosen) {
        (Some(i), _) => (i, "from --interface".to_owned()),
        (None, Some((_, c))) => (
            c.interface,
            format!(
                "{} is served as {}",
                c.framework,
                match c.interface {
                    Interface::Asgi => "ASGI (worker: uvicorn_worker.UvicornWorker)",
                    Interface::Wsgi => "WSGI (worker: sync)",
                }
            ),
        ),
        (None, None) => {
            return Err(InitError::NoInterface {
                module: options.module.clone().unwrap_or_default(),
            });
        }
    };
    notes.push(Note {
        what: "app",
        value: module.0.clone(),
        why: module.1.clone(),
    });
    notes.push(Note {
        what: "interface",
        value: format!("{:?}", interface.0).to_lowercase(),
        why: interface.1.clone(),
    });
    Ok((module, interface, chosen))
}

type Chosen = (
    Decided<String>,
    Decided<Interface>,
    Option<(crate::packaging::uvlock::Member, AppCandidate)>,
);

/// In a workspace, the member that holds the app and the directories its import needs.
/// `--module` names a module as imported from a member: outside the candidates found, the
/// member is the one init ran in, and there must be one.
fn workspace_member(
    workspace: Option<&workspace::Workspace>,
    chosen: Option<&(crate::packaging::uvlock::Member, AppCandidate)>,
    options: &Options,
    notes: &mut Vec<Note>,
) -> Result<Option<WorkspaceMember>, InitError> {
    let Some(workspace) = workspace else {
        return Ok(None);
    };
    let member = chosen
        .map(|(m, _)| m.clone())
        .or_else(|| workspace.from_member.clone())
        .ok_or_else(|| {
            InitError::Invalid(format!(
                "`{}` is not an app found in the workspace's members, and init was run at its root: run it inside the member that holds the app",
                options.module.clone().unwrap_or_default()
            ))
        })?;
    let pythonpath = workspace.pythonpath(&member.name);
    let why = format!(
        "uv.lock is a uv workspace's: the app is in the member `{}` ({})",
        member.name, member.path
    );
    let mut said = why.clone();
    if workspace.from_member.is_some() {
        said.push_str(&format!(
            "; app.yaml goes to the workspace root, {}: the build context must hold uv.lock and every member's pyproject.toml",
            workspace.root.display()
        ));
    }
    notes.push(Note {
        what: "workspace",
        value: format!("{} (PYTHONPATH {})", member.name, pythonpath.join(":")),
        why: said,
    });
    Ok(Some(WorkspaceMember {
        package: member.name,
        path: member.path,
        pythonpath,
        why,
    }))
}

/// `app.writable`: the flag's directories, else the instance folder when the code reads
/// `.instance_path` (Flask and Quart put it beside the top-level package: `instance`, or
/// `src/instance` in a src layout; in a workspace, in the app's member), else a data
/// directory for a Django project's SQLite database.
fn writable(
    options: &Options,
    root: &Path,
    sources: &detect::Sources,
    member: Option<&WorkspaceMember>,
    django: Option<&django::Django>,
) -> Result<Option<Decided<Vec<String>>>, InitError> {
    if !options.writable.is_empty() {
        return Ok(Some((
            options.writable.clone(),
            "from --writable".to_owned(),
        )));
    }
    if let Some(sqlite) = django.and_then(|d| d.sqlite.as_ref()) {
        return Ok(Some((
            vec![django::DATA_DIR.to_owned()],
            format!(
                "for the SQLite database of {}:{}, which cannot be written where it is (see env)",
                sqlite.file, sqlite.line
            ),
        )));
    }
    // A member's package is imported from the member's directory: its instance folder is
    // there, and its files are named as that directory's.
    let (member_sources, prefix) = match member.filter(|m| m.path != ".") {
        Some(m) => {
            let dir = root.join(&m.path);
            let read = detect::Sources::read(&dir).map_err(|source| InitError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            (Some(read), format!("{}/", m.path.trim_end_matches('/')))
        }
        None => (None, String::new()),
    };
    let Some(e) = member_sources
        .as_ref()
        .unwrap_or(sources)
        .instance_folder_use()
    else {
        return Ok(None);
    };
    let dir = if e.src_layout {
        "src/instance"
    } else {
        "instance"
    };
    Ok(Some((
        vec![format!("{prefix}{dir}")],
        format!(
            "the app uses its instance folder at {prefix}{}:{}: {}",
            e.file, e.line, e.text
        ),
    )))
}

/// What init found in a Django project's settings and the directories the app writes, and
/// what the user must still do.
/// Notes `app.writable` too: init tells it right after the settings that may explain it.
fn project_notes(
    django: Option<&django::Django>,
    writable: Option<&Decided<Vec<String>>>,
    notes: &mut Vec<Note>,
    warnings: &mut Vec<String>,
) {
    let writable_note = writable.map(|(dirs, why)| Note {
        what: "writable",
        value: dirs.join(", "),
        why: why.clone(),
    });
    let Some(django) = django else {
        notes.extend(writable_note);
        return;
    };
    let at = |e: &detect::Evidence| format!("{}:{}: {}", e.file, e.line, e.text);
    notes.push(Note {
        what: "settings",
        value: django.settings.clone(),
        why: at(&django.settings_from),
    });
    if let Some(root) = &django.static_root {
        notes.push(Note {
            what: "collectstatic",
            value: "at build time".to_owned(),
            why: format!("{} (django.contrib.staticfiles installed)", at(root)),
        });
    }
    notes.extend(writable_note);
    if let Some(sqlite) = &django.sqlite {
        warnings.push(format!(
            "{} keeps the SQLite database in the app's directory, which is read-only to the app in the image: make the settings read its path from {} (env in app.yaml says how), with /app/{} in app.writable",
            at(sqlite),
            django::SQLITE_ENV,
            django::DATA_DIR
        ));
    }
}

/// `python.exclude_newer` for a project without a lock: `--exclude-newer`, else today (UTC),
/// or the day of `SOURCE_DATE_EPOCH` when it is set (reproducible scripts and tests).
fn exclude_newer(options: &Options) -> Result<String, InitError> {
    if let Some(date) = &options.exclude_newer {
        return Ok(date.clone());
    }
    let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => text.trim().parse::<u64>().map_err(|_| {
            InitError::Invalid(format!(
                "SOURCE_DATE_EPOCH={text:?} is not a number of seconds; unset it or pass --exclude-newer YYYY-MM-DD"
            ))
        })?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    Ok(crate::date::civil_date(seconds / 86_400))
}

/// The first path part of a module, `orders` for `orders.api:app`.
fn module_dir(module: &str) -> String {
    module.split([':', '.']).next().unwrap_or("").to_owned()
}

/// One candidate, or the error listing them.
fn pick<M>(
    mut candidates: Vec<(M, AppCandidate)>,
    dependencies: &Dependencies,
    root: &Path,
) -> Result<(M, AppCandidate), InitError> {
    // Every Django project has both wsgi.py and asgi.py: serve WSGI unless the project
    // shows it is an ASGI one (Channels installed or its router in asgi.py).
    let django = |(_, c): &(M, AppCandidate)| c.framework.starts_with("Django");
    if candidates.len() > 1 && candidates.iter().all(django) {
        let package =
            |(_, c): &(M, AppCandidate)| c.module.rsplit_once('.').map(|(p, _)| p.to_owned());
        if candidates
            .iter()
            .all(|c| package(c) == package(&candidates[0]))
        {
            let want_asgi = dependencies.has("channels")
                || candidates
                    .iter()
                    .any(|(_, c)| c.framework == "Django Channels");
            candidates.retain(|(_, c)| (c.interface == Interface::Asgi) == want_asgi);
            if let Some((_, c)) = candidates.first_mut() {
                c.evidence.push_str(if want_asgi {
                    " (asgi.py: channels is a dependency or asgi.py routes protocols)"
                } else {
                    " (wsgi.py, not asgi.py: no channels dependency)"
                });
            }
        }
    }
    match candidates.len() {
        0 => Err(InitError::NotFound {
            dir: root.display().to_string(),
        }),
        1 => Ok(candidates.remove(0)),
        _ => Err(InitError::Ambiguous {
            candidates: candidates.into_iter().map(|(_, c)| c).collect(),
        }),
    }
}

fn python(
    options: &Options,
    root: &Path,
    pyproject: Option<&deps::PyProject>,
    uv_lock: Option<&deps::UvLock>,
) -> Result<PythonChoice, InitError> {
    if let Some(version) = &options.python {
        return Ok(PythonChoice::choose(&[Hint {
            file: "--python".to_owned(),
            text: version.clone(),
            exact: true,
        }])?);
    }
    let mut hints = Vec::new();
    let pin_file = root.join(".python-version");
    let pinned = crate::read::project_text(root, &pin_file, crate::read::MAX_TEXT_BYTES).map_err(
        |source| InitError::Read {
            path: shown(root, ".python-version"),
            source,
        },
    )?;
    if let Some(text) = pinned
        && let Some((i, line)) = text
            .lines()
            .enumerate()
            .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    {
        hints.push(Hint {
            file: format!(".python-version:{}", i + 1),
            text: line.trim().to_owned(),
            exact: true,
        });
    }
    if let Some(text) = pyproject
        .and_then(|p| p.project.as_ref())
        .and_then(|p| p.requires_python.clone())
    {
        hints.push(Hint {
            file: "pyproject.toml [project] requires-python".to_owned(),
            text,
            exact: false,
        });
    }
    if let Some(text) = pyproject
        .and_then(|p| p.tool.as_ref())
        .and_then(|t| t.poetry.as_ref())
        .and_then(|p| p.dependencies.get("python"))
        .and_then(|v| v.as_str())
    {
        hints.push(Hint {
            file: "pyproject.toml [tool.poetry.dependencies] python".to_owned(),
            text: text.to_owned(),
            exact: false,
        });
    }
    if let Some(text) = uv_lock.and_then(|l| l.requires_python.clone()) {
        hints.push(Hint {
            file: "uv.lock requires-python".to_owned(),
            text,
            exact: false,
        });
    }
    Ok(PythonChoice::choose(&hints)?)
}

fn name(
    options: &Options,
    root: &Path,
    dependencies: &Dependencies,
    member: Option<&WorkspaceMember>,
) -> Decided<String> {
    if let Some(name) = &options.name {
        return (name.clone(), "from --name".to_owned());
    }
    if let Some(member) = member {
        return (
            image_name(&member.package),
            format!(
                "the workspace member `{}` that holds the app",
                member.package
            ),
        );
    }
    if let Some(project) = &dependencies.project_name {
        return (
            image_name(project),
            format!("the project name `{project}` in pyproject.toml"),
        );
    }
    let dir = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_owned());
    (image_name(&dir), format!("the directory name `{dir}`"))
}

/// A project or directory name as an image name: lowercase, other characters as `-`.
fn image_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "app".to_owned()
    } else {
        out
    }
}

/// Renders app.yaml and validates it as `fabuild check` would. Values read from
/// gunicorn.conf.py that app.yaml refuses are left out, with a warning; the file itself and
/// app.yaml's own warnings are added to `warnings`.
fn render_checked(
    yaml: &mut AppYaml,
    conf: Option<&gunicorn_conf::ConfFile>,
    root: &Path,
    notes: &mut Vec<Note>,
    warnings: &mut Vec<String>,
) -> Result<String, InitError> {
    let mut text = yaml.render();
    let mut checked = crate::check::check_text(&text, "app.yaml", root);
    if (!yaml.server.is_empty() || yaml.carried_tls().is_some())
        && let Err(spec::SpecError::Invalid { findings, .. }) = &checked
        && findings
            .iter()
            .any(|f| f.is_error() && !about_what_init_chose(f))
    {
        // What the file set is not worth failing init over: leave it out, and say why.
        let refused: Vec<String> = findings
            .iter()
            .filter(|f| f.is_error() && !about_what_init_chose(f))
            .map(one_line)
            .collect();
        let mut read: Vec<&str> = yaml.server.iter().map(|c| c.why.as_str()).collect();
        if let Some(tls) = yaml.carried_tls() {
            read.extend(tls.why.iter().map(String::as_str));
        }
        warnings.push(format!(
            "left out of app.yaml, which refuses them:\n  {}\n  because: {}",
            read.join("\n  "),
            refused.join("\n  because: ")
        ));
        yaml.server.clear();
        if yaml.carried_tls().is_some() {
            yaml.tls = None;
        }
        text = yaml.render();
        checked = crate::check::check_text(&text, "app.yaml", root);
    }
    let findings = validate(checked);
    for carried in &yaml.server {
        notes.push(Note {
            what: "server",
            value: format!("{}: {}", carried.key, carried.value),
            why: carried.why.clone(),
        });
    }
    if let Some(tls) = yaml.carried_tls() {
        let ca = tls
            .ca_certs
            .as_ref()
            .map(|ca| format!(", ca_certs {ca}"))
            .unwrap_or_default();
        notes.push(Note {
            what: "tls",
            value: format!(
                "dir {}, certfile {}, keyfile {}{ca}",
                tls.dir, tls.certfile, tls.keyfile
            ),
            why: tls.why.join("; "),
        });
    }
    if let Some(conf) = conf {
        warnings.push(conf_warning(
            conf,
            &yaml.server,
            yaml.carried_tls().is_some(),
        ));
    }
    for finding in findings? {
        // The file's own warning above says what FAB029 says, and more.
        if conf.is_none() || finding.rule != crate::rules::GUNICORN_CONF {
            warnings.push(one_line(&finding));
        }
    }
    Ok(text)
}

/// A finding as one line: message, rule id, and what to do.
fn one_line(finding: &crate::diagnostic::Finding) -> String {
    let help = finding
        .help
        .as_ref()
        .map(|h| format!("; {h}"))
        .unwrap_or_default();
    format!("{} [{}]{help}", finding.message, finding.rule.id)
}

/// What init did with gunicorn.conf.py, and what the user must still do.
fn conf_warning(
    conf: &gunicorn_conf::ConfFile,
    carried: &[gunicorn_conf::Carried],
    tls: bool,
) -> String {
    let file = gunicorn_conf::FILE;
    let mut out =
        format!("{file} would be copied into the image and loaded by gunicorn, unchecked (FAB029)");
    if !carried.is_empty() || tls {
        let mut keys: Vec<String> = carried
            .iter()
            .map(|c| format!("server.{}", c.key))
            .collect();
        if tls {
            keys.push("tls".to_owned());
        }
        out.push_str(&format!("; app.yaml now sets {}", keys.join(", ")));
    }
    if !conf.left.is_empty() {
        out.push_str(&format!("; not carried over from {file}:"));
        for left in &conf.left {
            out.push_str(&format!(
                "\n  line {} ({}): {}",
                left.line, left.what, left.advice
            ));
        }
        if conf.unlisted > 0 {
            let after = conf.left.last().map_or(0, |l| l.line);
            out.push_str(&format!(
                "\n  and {} more statements after line {after}, not listed",
                conf.unlisted
            ));
        }
    }
    out.push_str(&format!(
        "\nthen delete {file}, or rename it and pass it with -c when running locally"
    ));
    out
}

/// A finding of the platform's policy that init cannot settle: a label only the service's
/// owners know, a base image, uid or worker count the team chose. The app.yaml is
/// written, and the finding is a warning saying what to change before `fabuild check`
/// passes. (A forbidden flag or too many workers carried over from gunicorn.conf.py are
/// left out first, as any value app.yaml refuses.)
fn left_to_the_user(finding: &crate::diagnostic::Finding) -> bool {
    use crate::rules;
    about_what_init_chose(finding)
        || [rules::POLICY_EXTRA_ARG, rules::POLICY_WORKERS].contains(&finding.rule)
}

/// A policy finding about what init chose, not what it carried over from the project.
fn about_what_init_chose(finding: &crate::diagnostic::Finding) -> bool {
    use crate::rules;
    [
        rules::POLICY_BASE_IMAGE,
        rules::POLICY_LABEL,
        rules::POLICY_UID,
    ]
    .contains(&finding.rule)
}

/// The warnings of the app.yaml init would write. It must pass `fabuild check` (with the
/// platform file it extends): a flag with a bad value fails here, as `Invalid` with the
/// validator's own message, before anything is written. What only the user can settle of
/// the platform's policy (`left_to_the_user`) is a warning instead.
fn validate(
    checked: Result<spec::Checked, spec::SpecError>,
) -> Result<Vec<crate::diagnostic::Finding>, InitError> {
    match checked {
        Ok(checked) => Ok(checked.warnings),
        Err(spec::SpecError::Invalid { input, findings })
            if findings
                .iter()
                .any(|f| f.is_error() && !left_to_the_user(f)) =>
        {
            Err(InitError::Invalid(
                findings
                    .iter()
                    .filter(|f| f.is_error() && !left_to_the_user(f))
                    .map(|f| crate::diagnostic::render_text(f, &input, false))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ))
        }
        Err(spec::SpecError::Invalid { findings, .. }) => Ok(findings
            .into_iter()
            .map(|mut f| {
                if left_to_the_user(&f) {
                    f.severity = crate::diagnostic::Severity::Warning;
                }
                f
            })
            .collect()),
        Err(other) => Err(InitError::Invalid(other.to_string())),
    }
}
