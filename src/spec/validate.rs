//! `RawSpec` -> `Spec`: every rule about a single spec, each finding with its rule id,
//! the span of the offending value and a help line.
//!
//! The facts behind each rule are in `docs/rules.md`.

use std::path::{Component, Path};

use serde_saphyr::Spanned;

use super::load::span;
use super::model::{
    App, DEFAULT_PYTHON, Deploy, Healthcheck, ImageRef, PYTHON_VERSIONS, Project, Python, Server,
    Spec, Tls, User,
};
use super::raw::{
    CaSecret, Interface, RawDeploy, RawHealthcheck, RawServer, RawSpec, RawTls, SpannedMap,
};
use crate::defaults;
use crate::diagnostic::Finding;
use crate::gunicorn::rules::{SCRATCH_DIRS, env_string_overflow, env_too_long_why};
use crate::layout::{APP_DIR, FABUILD_DIR, VENV_DIR};
use crate::packaging::pyproject::PyProject;
use crate::rules::{self, Rule};

/// Variables the generated image sets itself; a spec may not override them.
const RESERVED_ENV: &[&str] = &[
    "GUNICORN_CMD_ARGS",
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "HOME",
];
/// Labels fabuild writes itself.
const RESERVED_LABELS: &[&str] = &[
    "org.opencontainers.image.title",
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.base.digest",
];
/// Directories a TLS mount or a writable volume must never shadow.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
    APP_DIR,
    VENV_DIR,
    FABUILD_DIR,
];
/// At most this many `app.writable` entries: each is a volume in the manifests.
const MAX_WRITABLE: usize = 16;

struct Validator<'a> {
    text: &'a str,
    findings: Vec<Finding>,
    /// `server.extra_args` names a config file with `--config`.
    config_given: bool,
}

/// Validates `raw` (read from `text`); relative paths resolve against `project`.
/// Returns the spec and its warnings, or every finding when any is an error.
pub fn validate(
    raw: &RawSpec,
    text: &str,
    project: &Path,
) -> Result<(Spec, Vec<Finding>), Vec<Finding>> {
    let mut v = Validator {
        text,
        findings: Vec::new(),
        config_given: false,
    };
    let spec = v.spec(raw, project);
    if v.findings.iter().any(Finding::is_error) {
        Err(v.findings)
    } else {
        Ok((spec, v.findings))
    }
}

impl Validator<'_> {
    fn error<T>(
        &mut self,
        rule: Rule,
        at: &Spanned<T>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let finding = Finding::error(rule, message)
            .at(span(at, self.text))
            .help(help);
        self.findings.push(finding);
    }

    fn warn<T>(
        &mut self,
        rule: Rule,
        at: &Spanned<T>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let finding = Finding::warning(rule, message)
            .at(span(at, self.text))
            .help(help);
        self.findings.push(finding);
    }

    /// A string value, refused if it holds a control character (a newline would add a
    /// line, and so an instruction, to a Dockerfile).
    fn text(&mut self, field: &str, value: &Spanned<String>) -> String {
        if let Some(c) = value
            .value
            .chars()
            .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            self.error(
                rules::CONTROL_CHARACTER,
                value,
                format!("{field} contains the control character {c:?}"),
                "remove it: generated files are line-based and a control character would change their meaning",
            );
        }
        value.value.clone()
    }

    fn spec(&mut self, raw: &RawSpec, project: &Path) -> Spec {
        if raw.version.value != 1 {
            self.error(
                rules::SPEC_VERSION,
                &raw.version,
                format!("spec version {} is not supported", raw.version.value),
                "this fabuild reads `version: 1`",
            );
        }
        let name = self.text("name", &raw.name);
        if !valid_image_name(&name) {
            self.error(
                rules::IMAGE_NAME,
                &raw.name,
                format!("`{name}` cannot be used as an image name"),
                "use lowercase letters, digits and single `.`, `_` or `-` between them, at most 128 characters (for example `orders-api`)",
            );
        }
        let app = self.app(raw);
        let python = self.python(raw, project);
        let user = self.user(raw);
        let tls = raw.tls.as_ref().and_then(|tls| self.tls(tls));
        if let (Some(tls), Some(entries)) = (&tls, &raw.app.writable) {
            self.writable_beside_tls(&app.writable, entries, &tls.dir);
        }
        let server = self.server(&raw.server, &app, tls.is_some(), user, project);
        self.gunicorn_conf(raw, project);
        let labels = self.labels(&raw.labels);
        let env = self.env(&raw.env);
        let ca_secret = self.ca_secret(raw);
        let healthcheck = raw.healthcheck.as_ref().map(|h| self.healthcheck(h));
        let deploy = self.deploy(raw.deploy.as_ref(), &name);
        Spec {
            name,
            app,
            python,
            server,
            tls,
            user,
            labels,
            env,
            ca_secret,
            healthcheck,
            deploy,
        }
    }

    fn app(&mut self, raw: &RawSpec) -> App {
        let module = self.text("app.module", &raw.app.module);
        if !valid_app_module(&module) {
            self.error(
                rules::APP_MODULE,
                &raw.app.module,
                format!("`{module}` is not a gunicorn app module"),
                "write `package.module:attribute`, for example `main:app`, `orders.api:app` or `orders:create_app()`",
            );
        }
        let writable = match &raw.app.writable {
            Some(entries) => self.writable(entries),
            None => Vec::new(),
        };
        App {
            module,
            interface: raw.app.interface.value,
            writable,
        }
    }

    /// `app.writable`: each entry as an absolute path (relative ones under the app
    /// directory). Refused: paths that are not clean, the app directory itself (the code
    /// would become writable), system and fabuild directories, `/tmp`, duplicates and one
    /// entry inside another (two volumes would stack).
    fn writable(&mut self, entries: &[Spanned<String>]) -> Vec<String> {
        if let Some(extra) = entries.get(MAX_WRITABLE) {
            self.error(
                rules::WRITABLE_PATH,
                extra,
                format!("app.writable has {} entries; at most {MAX_WRITABLE} are allowed", entries.len()),
                "each entry is a volume in the manifests; group what the app writes under a few directories",
            );
            return Vec::new();
        }
        let mut paths: Vec<String> = Vec::new();
        for entry in entries {
            let text = self.text("app.writable", entry);
            let full = writable_path(&text);
            if text.is_empty() || !is_clean_absolute(&full) || text.ends_with('/') {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` is not a clean path"),
                    "write a directory relative to the app (`instance`, `var/uploads`) or an absolute one (`/var/lib/orders`), without `.`, `..`, `//` or a trailing `/`",
                );
                continue;
            }
            if !plain_path(&full) {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` has characters fabuild does not put in a path"),
                    "use letters, digits, `.`, `_`, `-` and `/`",
                );
                continue;
            }
            if let Some(why) = writable_conflict(&full) {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` cannot be used: {why}"),
                    "name the directory the app writes, for example `instance` (Flask) or `/var/lib/orders`",
                );
                continue;
            }
            if let Some(other) = paths.iter().find(|p| under(&full, p) || under(p, &full)) {
                let message = if *other == full {
                    format!("app.writable names `{full}` twice")
                } else {
                    format!("app.writable `{full}` and `{other}` are one inside the other")
                };
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    message,
                    "keep the outer directory only: each entry becomes a volume, and volumes must not stack",
                );
                continue;
            }
            paths.push(full);
        }
        paths
    }

    /// A writable volume and the TLS mount must be apart: neither may hide the other.
    fn writable_beside_tls(&mut self, paths: &[String], entries: &[Spanned<String>], dir: &str) {
        for entry in entries {
            let text = &entry.value;
            let full = writable_path(text);
            if paths.contains(&full) && (under(&full, dir) || under(dir, &full)) {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` overlaps the TLS mount `{dir}`"),
                    "keep the directories the app writes apart from the key and certificate, which are mounted read-only",
                );
            }
        }
    }

    fn python(&mut self, raw: &RawSpec, project: &Path) -> Python {
        let py = &raw.python;
        let version = match &py.version {
            Some(v) => {
                let version = self.text("python.version", v);
                if !PYTHON_VERSIONS.contains(&version.as_str()) {
                    self.error(
                        rules::PYTHON_VERSION,
                        v,
                        format!("Python {version} is not supported"),
                        format!(
                            "use one of {}; gunicorn 27 needs Python >= 3.10 and 3.10 reached its end of life in October 2026",
                            PYTHON_VERSIONS.join(", ")
                        ),
                    );
                }
                version
            }
            None => DEFAULT_PYTHON.to_owned(),
        };
        let base_image = match &py.base_image {
            Some(b) => {
                let text = self.text("python.base_image", b);
                match ImageRef::parse(&text) {
                    Some(image) => {
                        self.check_base_python(&image, &version, b, py.version.is_some());
                        if image.digest.is_none() {
                            self.warn(
                                rules::BASE_IMAGE_DIGEST,
                                b,
                                format!("base image `{text}` is not pinned by digest"),
                                "append `@sha256:<digest>` (keep the tag so update bots still work); without it the same app.yaml builds different images over time",
                            );
                        }
                        image
                    }
                    None => {
                        self.error(
                            rules::BASE_IMAGE_REFERENCE,
                            b,
                            format!("`{text}` is not a valid image reference"),
                            "write `name:tag`, optionally with `@sha256:<64 hex digits>`, for example `python:3.12-slim`",
                        );
                        default_base(&version)
                    }
                }
            }
            None => default_base(&version),
        };
        let lock = py.lock.as_ref().map(|l| {
            let path = self.text("python.lock", l);
            self.lock(&path, l, project, raw.app.interface.value);
            path
        });
        let pyproject = py.project.as_ref().and_then(|p| {
            let path = self.text("python.project", p);
            self.pyproject(&path, p, py.exclude_newer.as_ref(), project)
        });
        if let (Some(at), None) = (&py.exclude_newer, &py.project) {
            self.error(
                rules::EXCLUDE_NEWER,
                at,
                "python.exclude_newer without python.project",
                "it dates the resolution of python.project; requirements files and locks are pinned already, so remove it",
            );
        }
        let sources = [
            py.requirements.as_ref().map(|r| (r, "python.requirements")),
            py.lock.as_ref().map(|l| (l, "python.lock")),
            py.project.as_ref().map(|p| (p, "python.project")),
        ];
        let mut given = sources.iter().flatten();
        if let (Some((_, first)), Some((at, second))) = (given.next(), given.next()) {
            self.error(
                rules::DEPENDENCY_SOURCES,
                *at,
                format!("{first} and {second} both name the app's dependencies"),
                "keep one: a lock (exact and hashed), a requirements file, or the project's pyproject.toml",
            );
        }
        // Only one source is used; when several are given the error above stands.
        let sole = py.lock.is_none() && py.project.is_none();
        let requirements = match &py.requirements {
            Some(r) if sole => {
                let path = self.text("python.requirements", r);
                self.project_file(&path, r, project);
                Some(path)
            }
            None if sole => project
                .join("requirements.txt")
                .is_file()
                .then(|| "requirements.txt".to_owned()),
            _ => None,
        };
        Python {
            version,
            base_image,
            requirements,
            lock,
            project: pyproject,
        }
    }

    /// `python.project`: a pyproject.toml inside the project whose dependencies can be
    /// resolved from an index, and the date that makes the resolution repeatable.
    fn pyproject(
        &mut self,
        path: &str,
        at: &Spanned<String>,
        exclude_newer: Option<&Spanned<String>>,
        project: &Path,
    ) -> Option<Project> {
        if Path::new(path)
            .file_name()
            .is_none_or(|n| n != "pyproject.toml")
        {
            self.error(
                rules::PROJECT_FILE,
                at,
                format!("`{path}` is not a pyproject.toml"),
                "python.project takes the project's pyproject.toml; for a requirements file use python.requirements",
            );
            return None;
        }
        let before = self.findings.len();
        self.project_file(path, at, project);
        if self.findings.len() > before {
            return None;
        }
        let declared = crate::read::text(&project.join(path), crate::read::MAX_TEXT_BYTES)
            .map_err(|e| format!("cannot be read: {e}"))
            .and_then(|text| PyProject::parse(&text))
            .and_then(|p| p.declared());
        let declared = match declared {
            Ok(d) => d,
            Err(why) => {
                self.error(
                    rules::PROJECT_FILE,
                    at,
                    format!("`{path}` {why}"),
                    "fix the project's dependencies, or lock them (`uv lock`, then python.lock) or export a hashed requirements file (python.requirements)",
                );
                return None;
            }
        };
        let Some(at_date) = exclude_newer else {
            self.error(
                rules::EXCLUDE_NEWER,
                at,
                format!("python.project `{path}` has ranges, not pins, and no python.exclude_newer"),
                "add `exclude_newer: \"YYYY-MM-DD\"` under python (today's date, say): the image build then resolves from the releases uploaded before it, so every build resolves the same",
            );
            return None;
        };
        let date = self.text("python.exclude_newer", at_date);
        let Some(exclude_newer) = rfc3339(&date) else {
            self.error(
                rules::EXCLUDE_NEWER,
                at_date,
                format!("python.exclude_newer `{date}` is not a date"),
                "write a date as `YYYY-MM-DD`, or a UTC time as `YYYY-MM-DDTHH:MM:SSZ`",
            );
            return None;
        };
        Some(Project {
            pyproject: path.to_owned(),
            table: declared.table.to_owned(),
            requirements: declared.requirements,
            exclude_newer,
        })
    }

    fn check_base_python(
        &mut self,
        image: &ImageRef,
        version: &str,
        at: &Spanned<String>,
        version_given: bool,
    ) {
        let Some(tag) = image.tag.as_deref() else {
            return;
        };
        if image.repository() != "python" {
            return;
        }
        let tag_version: String = tag
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap_or("")
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        if tag_version.contains('.') && tag_version != version {
            let help = if version_given {
                format!(
                    "use a `python:{version}-...` base image, or set python.version to {tag_version}"
                )
            } else {
                format!("set python.version to {tag_version} (the default is {DEFAULT_PYTHON})")
            };
            self.error(
                rules::BASE_IMAGE_PYTHON,
                at,
                format!(
                    "base image `{tag}` is Python {tag_version}, but the spec says Python {version}"
                ),
                help,
            );
        }
    }

    /// `python.lock`: a `uv.lock` inside the project, its `pyproject.toml` beside it, and no
    /// pin that contradicts the server stack fabuild installs.
    fn lock(&mut self, path: &str, at: &Spanned<String>, project: &Path, interface: Interface) {
        if Path::new(path).file_name().is_none_or(|n| n != "uv.lock") {
            return self.error(
                rules::LOCK_FILE,
                at,
                format!("`{path}` is not a uv.lock"),
                "python.lock takes a uv lock file; export other locks to a hashed requirements file (poetry export, pip-compile --generate-hashes) and use python.requirements",
            );
        }
        let before = self.findings.len();
        self.project_file(path, at, project);
        if self.findings.len() > before {
            return;
        }
        let pyproject = Path::new(path).with_file_name("pyproject.toml");
        if !project.join(&pyproject).is_file() {
            return self.error(
                rules::LOCK_FILE,
                at,
                format!("`{path}` has no pyproject.toml beside it"),
                "uv exports a lock together with its project: keep pyproject.toml next to uv.lock",
            );
        }
        let lock = match crate::packaging::uvlock::read(&project.join(path)) {
            Ok(lock) => lock,
            Err(why) => {
                return self.error(
                    rules::LOCK_FILE,
                    at,
                    format!("`{path}` {why}"),
                    "regenerate it with `uv lock`",
                );
            }
        };
        for pin in crate::pins::for_interface(interface) {
            if let Some(locked) = lock.version_of(pin.name).filter(|v| *v != pin.version) {
                self.error(
                    rules::LOCK_CONFLICT,
                    at,
                    format!("`{path}` pins {} {locked}; fabuild installs {} {}", pin.name, pin.name, pin.version),
                    format!(
                        "align the project: `uv add {}=={}` (or drop it from the project's dependencies and let fabuild provide it), then `uv lock`",
                        pin.name, pin.version
                    ),
                );
            }
        }
    }

    fn project_file(&mut self, path: &str, at: &Spanned<String>, project: &Path) {
        let p = Path::new(path);
        let escapes = p.is_absolute()
            || p.components().any(|c| {
                matches!(
                    c,
                    Component::ParentDir | Component::Prefix(_) | Component::RootDir
                )
            });
        if escapes {
            return self.error(
                rules::REQUIREMENTS_FILE,
                at,
                format!("`{path}` is outside the project"),
                "give a path relative to the directory holding app.yaml; the build context cannot reach anything else",
            );
        }
        if !plain_path(path) {
            return self.error(
                rules::REQUIREMENTS_FILE,
                at,
                format!("`{path}` has characters fabuild does not put in a Dockerfile path"),
                "rename it using letters, digits, `.`, `_`, `-` and `/`",
            );
        }
        let full = project.join(p);
        match (full.canonicalize(), project.canonicalize()) {
            (Ok(file), Ok(root)) if file.starts_with(&root) && file.is_file() => {}
            (Ok(file), Ok(root)) if file.starts_with(&root) => self.error(
                rules::REQUIREMENTS_FILE,
                at,
                format!("`{path}` is not a file"),
                "give the path of a file, such as requirements.txt",
            ),
            (Ok(file), Ok(root)) if !file.starts_with(&root) => self.error(
                rules::REQUIREMENTS_FILE,
                at,
                format!("`{path}` is a link to a file outside the project"),
                "copy the file into the project; the build context cannot follow links out of it",
            ),
            _ => self.error(
                rules::REQUIREMENTS_FILE,
                at,
                format!("`{path}` does not exist"),
                format!(
                    "create it next to app.yaml (in {}) or fix the path",
                    project.display()
                ),
            ),
        }
    }

    fn user(&mut self, raw: &RawSpec) -> User {
        let uid = self.id("user.uid", raw.user.uid.as_ref());
        let gid = self.id("user.gid", raw.user.gid.as_ref());
        User { uid, gid }
    }

    fn id(&mut self, field: &str, value: Option<&Spanned<i64>>) -> u32 {
        let Some(value) = value else {
            return defaults::UID;
        };
        match value.value {
            0 => self.error(
                rules::ROOT_USER,
                value,
                format!("{field} 0 is root"),
                format!("pick a numeric id above 0, for example {}; running as root is what fabuild exists to prevent", defaults::UID),
            ),
            n if !(1..=2_147_483_646).contains(&n) => self.error(
                rules::ID_RANGE,
                value,
                format!("{field} {n} is out of range"),
                "use an id from 1 to 2147483646",
            ),
            n => return u32::try_from(n).unwrap_or(defaults::UID),
        }
        defaults::UID
    }

    fn tls(&mut self, raw: &RawTls) -> Option<Tls> {
        let dir = self.text("tls.dir", &raw.dir);
        let dir_ok = self.tls_dir(&dir, &raw.dir);
        let certfile = raw
            .certfile
            .as_ref()
            .map(|c| (self.text("tls.certfile", c), c));
        let keyfile = raw
            .keyfile
            .as_ref()
            .map(|k| (self.text("tls.keyfile", k), k));
        let ca_certs = raw
            .ca_certs
            .as_ref()
            .map(|c| (self.text("tls.ca_certs", c), c));
        let (certfile, keyfile) = match (certfile, keyfile) {
            (Some(c), Some(k)) => (c, k),
            (Some((_, at)), None) => {
                self.error(
                    rules::TLS_PAIR,
                    at,
                    "certfile without keyfile",
                    "add `keyfile:`; gunicorn needs both to serve TLS",
                );
                return None;
            }
            (None, Some((_, at))) => {
                self.error(
                    rules::TLS_PAIR,
                    at,
                    "keyfile without certfile",
                    "add `certfile:`; gunicorn needs both to serve TLS",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    rules::TLS_PAIR,
                    &raw.dir,
                    "tls has neither keyfile nor certfile",
                    "add `certfile:` and `keyfile:` (file names inside tls.dir), or remove the tls section to serve plain HTTP",
                );
                return None;
            }
        };
        if !dir_ok {
            // Where the files are cannot be judged against a directory that is itself wrong.
            return None;
        }
        let certfile = self.tls_file("tls.certfile", &dir, certfile);
        let keyfile = self.tls_file("tls.keyfile", &dir, keyfile);
        let ca_certs = ca_certs.map(|c| self.tls_file("tls.ca_certs", &dir, c));
        Some(Tls {
            dir,
            certfile,
            keyfile,
            ca_certs,
        })
    }

    fn tls_dir(&mut self, dir: &str, at: &Spanned<String>) -> bool {
        if !is_clean_absolute(dir) {
            self.error(
                rules::TLS_DIR_LOCATION,
                at,
                format!("tls.dir `{dir}` is not a clean absolute path"),
                "write an absolute directory without `.`, `..`, `//` or a trailing `/`, for example `/opt/key`",
            );
            return false;
        }
        if SCRATCH_DIRS.contains(&dir) {
            self.error(
                rules::TLS_DIR_LOCATION,
                at,
                format!("tls.dir `{dir}` cannot be used: the manifests mount a writable volume of their own there"),
                "mount the key and certificate in a directory of their own, for example `/opt/key`",
            );
            return false;
        }
        if let Some(system) = SYSTEM_DIRS
            .iter()
            .find(|s| dir == "/" || under(dir, s) || under(s, dir))
        {
            let why = if dir == "/" || under(system, dir) {
                format!("a volume at `{dir}` would hide `{system}`")
            } else if *system == APP_DIR {
                "it is inside the app directory: the keys would sit with the code and could be copied into the image".to_owned()
            } else {
                format!("it is inside `{system}`, which the image needs")
            };
            self.error(
                rules::TLS_DIR_LOCATION,
                at,
                format!("tls.dir `{dir}` cannot be used: {why}"),
                "mount the key and certificate in a directory of their own, for example `/opt/key`",
            );
            return false;
        }
        true
    }

    fn tls_file(
        &mut self,
        field: &str,
        dir: &str,
        (name, at): (String, &Spanned<String>),
    ) -> String {
        let full = if name.starts_with('/') {
            name.clone()
        } else {
            format!("{dir}/{name}")
        };
        if !is_clean_absolute(&full) || !under(&full, dir) || full == dir {
            self.error(
                rules::TLS_FILE_OUTSIDE_DIR,
                at,
                format!("{field} `{name}` is not under the TLS mount `{dir}`"),
                format!("give a file name inside {dir}; only that directory is mounted, and nothing else may hold key material"),
            );
        } else if !plain_path(&full) {
            self.error(
                rules::TLS_FILE_OUTSIDE_DIR,
                at,
                format!("{field} `{name}` has characters fabuild does not put in a path"),
                "rename it using letters, digits, `.`, `_`, `-`",
            );
        }
        full
    }

    // One server setting after another, each with its own rule.
    #[allow(clippy::too_many_lines)]
    fn server(
        &mut self,
        raw: &RawServer,
        app: &App,
        tls: bool,
        user: User,
        project: &Path,
    ) -> Server {
        let interface = app.interface;
        let port = match &raw.port {
            Some(p) if !(1..=65535).contains(&p.value) => {
                self.error(
                    rules::PORT_RANGE,
                    p,
                    format!("port {} is out of range", p.value),
                    format!(
                        "use a port from 1024 to 65535, for example {} for TLS or {}",
                        defaults::TLS_PORT,
                        defaults::HTTP_PORT
                    ),
                );
                0
            }
            Some(p) if p.value < 1024 => {
                self.error(
                    rules::PRIVILEGED_PORT,
                    p,
                    format!("port {} needs root or CAP_NET_BIND_SERVICE, and the server runs as uid {}", p.value, user.uid),
                    format!("listen on a port >= 1024 ({} for TLS, {} for HTTP) and map it to 443/80 in the Service or load balancer", defaults::TLS_PORT, defaults::HTTP_PORT),
                );
                u16::try_from(p.value).unwrap_or(0)
            }
            Some(p) => u16::try_from(p.value).unwrap_or(0),
            None => defaults::port(tls),
        };
        let workers = raw.workers.as_ref().map(|w| {
            if !(1..=256).contains(&w.value) {
                self.error(rules::WORKERS, w, format!("{} workers is out of range", w.value), "use 1 to 256 workers; or leave workers out and set server.cpus to the container's CPU limit");
            }
            u32::try_from(w.value.clamp(1, 256)).unwrap_or(1)
        });
        let cpus = match &raw.cpus {
            Some(c) if !(c.value > 0.0 && c.value <= 256.0) => {
                self.error(
                    rules::WORKERS,
                    c,
                    format!("cpus {} is out of range", c.value),
                    "set server.cpus to the container's CPU limit, for example 1 or 0.5",
                );
                1.0
            }
            Some(c) => c.value,
            None => 1.0,
        };
        let threads = raw.threads.as_ref().map(|t| {
            if interface == Interface::Asgi {
                self.error(rules::THREADS_ASGI, t, "threads only apply to WSGI apps", "remove server.threads: an ASGI worker runs one event loop; scale with workers instead");
            } else if !(1..=1024).contains(&t.value) {
                self.error(rules::WORKERS, t, format!("{} threads is out of range", t.value), "use 1 to 1024 threads per worker");
            }
            u32::try_from(t.value.clamp(1, 1024)).unwrap_or(1)
        });
        let seconds =
            |v: &mut Self, field: &str, value: Option<&Spanned<i64>>, default: u32| match value {
                Some(s) if !(0..=86_400).contains(&s.value) => {
                    v.error(
                        rules::INVALID_VALUE,
                        s,
                        format!("{field} {} is out of range", s.value),
                        "give a number of seconds from 0 to 86400",
                    );
                    default
                }
                Some(s) => u32::try_from(s.value).unwrap_or(default),
                None => default,
            };
        let timeout = seconds(
            self,
            "server.timeout",
            raw.timeout.as_ref(),
            defaults::TIMEOUT,
        );
        if let Some(t) = raw.timeout.as_ref().filter(|t| t.value == 0) {
            self.warn(rules::TIMEOUT_ZERO, t, "timeout 0 turns off gunicorn's worker heartbeat", "a hung worker is then never restarted; keep a timeout (it is a heartbeat, not a request timeout, under async workers)");
        }
        let graceful_timeout = seconds(
            self,
            "server.graceful_timeout",
            raw.graceful_timeout.as_ref(),
            defaults::GRACEFUL_TIMEOUT,
        );
        let keepalive = seconds(
            self,
            "server.keepalive",
            raw.keepalive.as_ref(),
            defaults::KEEPALIVE,
        );
        if let Some(k) = raw
            .keepalive
            .as_ref()
            .filter(|k| (0..=defaults::LB_IDLE_SECONDS).contains(&k.value))
        {
            self.warn(
                rules::KEEPALIVE_SHORT,
                k,
                format!("keep-alive {} s is not longer than a load balancer's idle timeout (AWS ALB: 60 s)", k.value),
                format!("behind a load balancer, use a keep-alive above its idle timeout (fabuild's default is {}); otherwise gunicorn closes connections the balancer still uses and clients see sporadic 502s", defaults::KEEPALIVE),
            );
        }
        let count = |v: &mut Self, field: &str, value: Option<&Spanned<i64>>| match value {
            Some(s) if !(0..=10_000_000).contains(&s.value) => {
                v.error(
                    rules::INVALID_VALUE,
                    s,
                    format!("{field} {} is out of range", s.value),
                    "give a count from 0 to 10000000 (0 turns it off)",
                );
                0
            }
            Some(s) => u32::try_from(s.value).unwrap_or(0),
            None => 0,
        };
        let max_requests = count(self, "server.max_requests", raw.max_requests.as_ref());
        let max_requests_jitter = count(
            self,
            "server.max_requests_jitter",
            raw.max_requests_jitter.as_ref(),
        );
        if let Some(j) = raw
            .max_requests_jitter
            .as_ref()
            .filter(|j| j.value > 0 && max_requests == 0)
        {
            self.warn(
                rules::JITTER_WITHOUT_MAX_REQUESTS,
                j,
                "max_requests_jitter has no effect without max_requests",
                "set server.max_requests, or remove the jitter",
            );
        }
        let forwarded_allow_ips = raw
            .forwarded_allow_ips
            .iter()
            .flatten()
            .map(|entry| {
                let text = self.text("server.forwarded_allow_ips", entry);
                if text == "*" {
                    self.warn(rules::FORWARDED_ALLOW_ALL, entry, "`*` trusts X-Forwarded-* headers from any client", "list the proxy's address or network instead; `*` is safe only when the port is reachable through the proxy alone");
                } else if let Err(why) = crate::gunicorn::network::check(&text) {
                    self.error(rules::FORWARDED_ALLOW_IPS, entry, format!("`{text}` {why}"), "give an IP address or a network in CIDR form with no host bits set, for example 10.0.0.0/8");
                }
                text
            })
            .collect();
        let access_log = raw.access_log.as_ref().is_none_or(|a| a.value);
        let extra_args = super::extra_args::check(
            raw.extra_args.as_deref().unwrap_or_default(),
            self.text,
            user.uid,
            interface,
            &app.writable,
            project,
        );
        self.findings.extend(extra_args.findings);
        self.config_given = extra_args.config;
        let extra_args = extra_args.items;
        Server {
            port,
            workers,
            cpus,
            threads,
            timeout,
            graceful_timeout,
            keepalive,
            max_requests,
            max_requests_jitter,
            forwarded_allow_ips,
            access_log,
            extra_args,
        }
    }

    /// The image copies the project to the app directory, gunicorn's working directory, and
    /// gunicorn loads `./gunicorn.conf.py` from there before `GUNICORN_CMD_ARGS`: whatever
    /// the variable does not set (daemon, pidfile, `check_config`, hooks) comes from the file.
    /// (With `--config` in `server.extra_args` the file is not read, and that config is
    /// warned about instead.)
    fn gunicorn_conf(&mut self, raw: &RawSpec, project: &Path) {
        if self.config_given || !project.join("gunicorn.conf.py").exists() {
            return;
        }
        self.findings.push(
            Finding::warning(
                rules::GUNICORN_CONF,
                format!("gunicorn.conf.py is copied to {APP_DIR} and gunicorn loads it at start: GUNICORN_CMD_ARGS overrides the settings it also sets, and the rest (hooks, daemon, pidfile, check_config, ...) apply without fabuild's checks"),
            )
            .at(span(&raw.app.module, self.text))
            .help("move its settings to app.yaml (server.*, server.extra_args) and delete the file; keep a development-only config under another name and pass it with -c"),
        );
    }

    fn labels(&mut self, raw: &SpannedMap) -> Vec<(String, String)> {
        let mut labels = Vec::new();
        for (key, value) in &raw.0 {
            let k = self.text("label key", key);
            let v = self.text("label value", value);
            if RESERVED_LABELS.contains(&k.as_str()) {
                self.error(rules::LABEL_KEY, key, format!("label `{k}` is set by fabuild"), "remove it: fabuild fills it from the spec so it cannot disagree with the image");
            } else if !valid_label_key(&k) {
                self.error(rules::LABEL_KEY, key, format!("`{k}` is not a usable label key"), "use lowercase letters, digits, `.` and `-`, in reverse-DNS form, for example `com.example.team`");
            }
            labels.push((k, v));
        }
        labels
    }

    fn env(&mut self, raw: &SpannedMap) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (key, value) in &raw.0 {
            let k = self.text("env name", key);
            let v = self.text("env value", value);
            if let Some(length) = env_string_overflow(&k, &v) {
                self.error(
                    rules::ENV_TOO_LONG,
                    value,
                    env_too_long_why(&k, length),
                    "put data this large in a file the app reads (copied with the project, or mounted), not in the environment",
                );
            }
            if RESERVED_ENV.contains(&k.as_str()) {
                self.error(rules::ENV_NAME, key, format!("`{k}` is set by fabuild"), "remove it; use the server section (or server.extra_args) for gunicorn settings");
            } else if !valid_env_name(&k) {
                self.error(
                    rules::ENV_NAME,
                    key,
                    format!("`{k}` is not a valid environment variable name"),
                    "use letters, digits and `_`, not starting with a digit",
                );
            } else if k == "WEB_CONCURRENCY" && v.trim().parse::<i64>().is_err() {
                self.error(rules::ENV_NAME, value, "WEB_CONCURRENCY must be an integer", "gunicorn reads it with int() at import and crashes before starting; use server.workers instead");
            }
            env.push((k, v));
        }
        env
    }

    fn healthcheck(&mut self, raw: &RawHealthcheck) -> Healthcheck {
        let path = self.text("healthcheck.path", &raw.path);
        let path_ok = path.starts_with('/')
            && path.len() <= 1024
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/?=&%+:@,".contains(&b));
        if !path_ok {
            self.error(
                rules::HEALTHCHECK_PATH,
                &raw.path,
                format!("healthcheck path `{path}` cannot be probed"),
                "give an absolute URL path such as `/healthz` (letters, digits and `-._~/?=&%+:@,`)",
            );
        }
        self.findings.push(
            Finding::warning(rules::HEALTHCHECK_OCI, "the Dockerfile's HEALTHCHECK only survives Docker-format builds")
                .at(span(&raw.path, self.text))
                .help("OCI image configs have no healthcheck: buildah and podman drop it unless you build with `--format docker`; Kubernetes ignores it either way and uses the generated probes"),
        );
        let mut timing =
            |field: &str, value: Option<&Spanned<i64>>, default: u32, max: i64| match value {
                Some(v) if !(1..=max).contains(&v.value) => {
                    self.error(
                        rules::HEALTHCHECK_TIMING,
                        v,
                        format!("healthcheck.{field} {} is out of range", v.value),
                        format!("use 1 to {max}"),
                    );
                    default
                }
                Some(v) => u32::try_from(v.value).unwrap_or(default),
                None => default,
            };
        let interval = timing("interval", raw.interval.as_ref(), 30, 3600);
        let timeout = timing("timeout", raw.timeout.as_ref(), 5, 600);
        let start_period = timing("start_period", raw.start_period.as_ref(), 10, 3600);
        let retries = timing("retries", raw.retries.as_ref(), 3, 100);
        Healthcheck {
            path,
            interval,
            timeout,
            start_period,
            retries,
        }
    }

    fn deploy(&mut self, raw: Option<&RawDeploy>, name: &str) -> Deploy {
        let mut deploy = Deploy {
            kubernetes: false,
            compose: false,
            image: format!("{name}:latest"),
            replicas: 2,
            memory: None,
            tls_secret: format!("{name}-tls"),
        };
        let Some(raw) = raw else { return deploy };
        deploy.kubernetes = raw.kubernetes.as_ref().is_some_and(|k| k.value);
        deploy.compose = raw.compose.as_ref().is_some_and(|c| c.value);
        if let Some(image) = &raw.image {
            let text = self.text("deploy.image", image);
            if ImageRef::parse(&text).is_none() {
                self.error(
                    rules::DEPLOY_IMAGE,
                    image,
                    format!("`{text}` is not a valid image reference"),
                    "write the reference your registry serves, for example `registry.example.com/team/orders-api:1.4.2`",
                );
            }
            deploy.image = text;
        }
        if let Some(r) = &raw.replicas {
            if !(1..=1000).contains(&r.value) {
                self.error(
                    rules::DEPLOY_REPLICAS,
                    r,
                    format!("{} replicas is out of range", r.value),
                    "use 1 to 1000",
                );
            }
            deploy.replicas = u32::try_from(r.value.clamp(1, 1000)).unwrap_or(1);
        }
        if let Some(m) = &raw.memory {
            let text = self.text("deploy.memory", m);
            if !valid_memory(&text) {
                self.error(
                    rules::DEPLOY_MEMORY,
                    m,
                    format!("`{text}` is not a memory quantity"),
                    "write a whole number with a binary suffix, for example `512Mi` or `1Gi`",
                );
            }
            deploy.memory = Some(text);
        }
        if let Some(s) = &raw.tls_secret {
            let text = self.text("deploy.tls_secret", s);
            if !valid_dns_subdomain(&text) {
                self.error(
                    rules::DEPLOY_SECRET_NAME,
                    s,
                    format!("`{text}` is not a Kubernetes object name"),
                    "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
                );
            }
            deploy.tls_secret = text;
        }
        deploy
    }

    fn ca_secret(&mut self, raw: &RawSpec) -> Option<String> {
        match raw.build.ca_secret.as_ref() {
            None => Some(defaults::CA_SECRET.to_owned()),
            Some(s) => match &s.value {
                CaSecret::Off => None,
                CaSecret::Id(id) => {
                    let ok = !id.is_empty()
                        && id.len() <= 64
                        && id
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
                    if !ok {
                        self.error(
                            rules::CA_SECRET_ID,
                            s,
                            format!("`{id}` cannot be a build secret id"),
                            "use letters, digits, `_`, `-` and `.`, for example `pip_ca`",
                        );
                    }
                    Some(id.clone())
                }
            },
        }
    }
}

fn default_base(version: &str) -> ImageRef {
    ImageRef {
        name: "python".to_owned(),
        tag: Some(format!("{version}-slim")),
        digest: None,
    }
}

fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `pkg.mod:attr` or `pkg.mod:factory()`, the forms gunicorn's `APP_MODULE` takes.
fn valid_app_module(module: &str) -> bool {
    let Some((path, attr)) = module.split_once(':') else {
        return false;
    };
    let attr = attr.strip_suffix("()").unwrap_or(attr);
    path.split('.').all(valid_identifier) && valid_identifier(attr)
}

fn valid_image_name(name: &str) -> bool {
    name.len() <= 128
        && ImageRef::parse(name)
            .is_some_and(|r| r.tag.is_none() && r.digest.is_none() && !r.name.contains('/'))
}

fn valid_label_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && !key.contains("..")
}

/// `512Mi`, `1Gi`, `1G`, `1000000`: a Kubernetes quantity fit for memory.
fn valid_memory(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &text[digits..];
    digits > 0
        && text.as_bytes()[0] != b'0'
        && ["", "Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"].contains(&suffix)
}

/// A DNS-1123 subdomain, what Kubernetes accepts as an object name.
fn valid_dns_subdomain(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
}

fn valid_env_name(name: &str) -> bool {
    valid_identifier(name)
}

fn is_clean_absolute(path: &str) -> bool {
    path.starts_with('/')
        && (path == "/" || !path.ends_with('/'))
        && path[1..]
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`, as uv's `--exclude-newer` takes it.
fn rfc3339(text: &str) -> Option<String> {
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (text, None),
    };
    let field = |s: &str, len: usize, max: u32| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some()
        || field(y, 4, 9999)? < 1970
        || field(m, 2, 12)? == 0
        || field(day, 2, 31)? == 0
    {
        return None;
    }
    let time = match time {
        None => "00:00:00".to_owned(),
        Some(clock) => {
            let mut parts = clock.split(':');
            let (hour, minute, second) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            field(hour, 2, 23)?;
            field(minute, 2, 59)?;
            field(second, 2, 59)?;
            clock.to_owned()
        }
    };
    Some(format!("{date}T{time}Z"))
}

/// An `app.writable` entry as an absolute path: relative ones are under the app directory.
fn writable_path(entry: &str) -> String {
    match entry {
        "." => APP_DIR.to_owned(),
        _ if entry.starts_with('/') => entry.to_owned(),
        _ => format!("{APP_DIR}/{entry}"),
    }
}

/// Why a writable volume at `full` (clean, absolute) would break the image, if it would.
fn writable_conflict(full: &str) -> Option<String> {
    if full == APP_DIR {
        return Some(format!(
            "it is the whole app directory; the code in `{APP_DIR}` stays root-owned so the server cannot rewrite it"
        ));
    }
    if full == "/" {
        return Some("a volume at `/` would hide the whole image".to_owned());
    }
    if let Some(scratch) = SCRATCH_DIRS.iter().find(|s| under(full, s)) {
        return Some(format!(
            "`{scratch}` is writable already (a volume of its own in the manifests)"
        ));
    }
    // Inside the app directory is the point; the app directory itself was refused above.
    let system = SYSTEM_DIRS
        .iter()
        .find(|s| **s != APP_DIR && (under(full, s) || under(s, full)))?;
    Some(if under(system, full) {
        format!("a volume at `{full}` would hide `{system}`")
    } else {
        format!("it is inside `{system}`, which the image needs")
    })
}

/// Only characters fabuild writes into a Dockerfile or manifest path unquoted: letters,
/// digits, `.`, `_`, `-` and `/`.
fn plain_path(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

/// `path` is `dir` or inside it.
fn under(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_modules() {
        for ok in ["main:app", "orders.api:app", "pkg:create_app()", "_x.y_2:z"] {
            assert!(valid_app_module(ok), "{ok}");
        }
        for bad in [
            "main",
            "main:",
            ":app",
            "main:app:x",
            "1main:app",
            "main.:app",
            "main:app(1)",
            "main:app()()",
            "ma in:app",
        ] {
            assert!(!valid_app_module(bad), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert!(is_clean_absolute("/opt/key"));
        for bad in [
            "opt/key",
            "/opt/key/",
            "/opt//key",
            "/opt/../etc",
            "/opt/./key",
            "",
        ] {
            assert!(!is_clean_absolute(bad), "{bad}");
        }
        assert!(under("/opt/key/a.pem", "/opt/key"));
        assert!(!under("/opt/keys/a.pem", "/opt/key"));
    }
}
