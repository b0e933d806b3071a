//! Python and the base image: the version, requirements, lock or project, the base
//! (docs/rules.md, "Python and the base image").

use std::path::{Component, Path};

use serde_saphyr::Spanned;

use crate::packaging::pyproject::PyProject;
use crate::rules;
use crate::spec::base_python::{self, Told};
use crate::spec::model::{
    DEFAULT_PYTHON, ImageRef, InstalledRequirements, PYTHON_VERSIONS, Project, Python, Workspace,
};
use crate::spec::raw::{Interface, RawSpec};

use super::{Validator, plain_path};

/// What `python.lock` gave: a uv workspace's member, or a pdm lock's requirements.
#[derive(Default)]
pub(super) struct Locked {
    workspace: Option<Workspace>,
    pdm: Option<InstalledRequirements>,
}

impl Validator<'_> {
    pub(super) fn python(&mut self, raw: &RawSpec, project: &Path) -> Python {
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
        let (lock, locked) = self.lock_and_package(raw, project);
        let pyproject = py.project.as_ref().and_then(|p| {
            let path = self.text("python.project", p);
            self.pyproject(
                &path,
                p,
                py.exclude_newer.as_ref(),
                project,
                raw.app.interface.value,
            )
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
        let (requirements, installed_requirements) = match locked.pdm {
            Some(installed) => (Some(installed.from.clone()), Some(installed)),
            None => self.requirements(raw, project, raw.app.interface.value),
        };
        let workspace = locked.workspace;
        let build_packages = self.apt_packages("python.build_packages", py.build_packages.as_ref());
        let system_packages =
            self.apt_packages("python.system_packages", py.system_packages.as_ref());
        Python {
            version,
            base_image,
            requirements,
            lock,
            workspace,
            project: pyproject,
            installed_requirements,
            build_packages,
            system_packages,
        }
    }

    /// `python.lock`, and with a workspace's lock `python.package`.
    fn lock_and_package(&mut self, raw: &RawSpec, project: &Path) -> (Option<String>, Locked) {
        let py = &raw.python;
        let mut locked = Locked::default();
        let lock = py.lock.as_ref().map(|l| {
            let path = self.text("python.lock", l);
            locked = self.lock(
                &path,
                l,
                py.package.as_ref(),
                project,
                raw.app.interface.value,
            );
            path
        });
        if let (Some(at), None) = (&py.package, &py.lock) {
            self.error(
                rules::LOCK_FILE,
                at,
                "python.package without python.lock",
                "it names the member of a uv workspace whose dependencies python.lock installs; remove it, or add `lock: uv.lock`",
            );
        }
        if locked.pdm.is_some() {
            // Installed as the requirements file it becomes, not exported by uv.
            return (None, locked);
        }
        (lock, locked)
    }

    /// `python.requirements` (or requirements.txt found beside app.yaml), and the
    /// requirements as the image installs them when that is not the file as it stands.
    fn requirements(
        &mut self,
        raw: &RawSpec,
        project: &Path,
        interface: Interface,
    ) -> (Option<String>, Option<InstalledRequirements>) {
        let py = &raw.python;
        // Only one source is used; when several are given the error above stands.
        let sole = py.lock.is_none() && py.project.is_none();
        let before = self.findings.len();
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
        let installed_requirements = match &requirements {
            Some(path) if self.findings.len() == before => {
                self.requirements_stack(path, py.requirements.as_ref(), project, interface)
            }
            _ => None,
        };
        (requirements, installed_requirements)
    }

    /// `python.project`: a pyproject.toml inside the project whose dependencies can be
    /// resolved from an index, and the date that makes the resolution repeatable.
    pub(super) fn pyproject(
        &mut self,
        path: &str,
        at: &Spanned<String>,
        exclude_newer: Option<&Spanned<String>>,
        project: &Path,
        interface: Interface,
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
        let text = crate::read::text(&project.join(path), crate::read::MAX_TEXT_BYTES)
            .map_err(|e| format!("cannot be read: {e}"));
        let declared = text
            .as_deref()
            .map_err(Clone::clone)
            .and_then(PyProject::parse)
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
        let mut declared = Project {
            pyproject: path.to_owned(),
            table: declared.table.to_owned(),
            requirements: declared.requirements,
            exclude_newer,
        };
        self.project_stack(
            &mut declared,
            text.as_deref().unwrap_or_default(),
            at,
            interface,
        );
        Some(declared)
    }

    pub(super) fn check_base_python(
        &mut self,
        image: &ImageRef,
        version: &str,
        at: &Spanned<String>,
        version_given: bool,
    ) {
        match base_python::told(image) {
            Told::Version(tag_version) if tag_version != version => {
                let help = if version_given {
                    format!(
                        "use a `python:{version}-...` base image, or set python.version to {tag_version}"
                    )
                } else {
                    format!("set python.version to {tag_version} (the default is {DEFAULT_PYTHON})")
                };
                let tag = image.tag.as_deref().unwrap_or_default();
                self.error(
                    rules::BASE_IMAGE_PYTHON,
                    at,
                    format!(
                        "base image `{tag}` is Python {tag_version}, but the spec says Python {version}"
                    ),
                    help,
                );
            }
            _ => {
                if let Some((message, help)) = base_python::disagreement(image, version) {
                    self.warn(rules::BASE_PYTHON_UNKNOWN, at, message, help);
                }
            }
        }
    }

    /// `python.lock`: a `uv.lock` inside the project, its `pyproject.toml` beside it, and no
    /// pin that contradicts the server stack fabuild installs. A workspace's lock needs
    /// `python.package`, one of its members, and every member's pyproject.toml in the project.
    pub(super) fn lock(
        &mut self,
        path: &str,
        at: &Spanned<String>,
        package: Option<&Spanned<String>>,
        project: &Path,
        interface: Interface,
    ) -> Locked {
        let pdm = Path::new(path).file_name().is_some_and(|n| n == "pdm.lock");
        if !pdm && Path::new(path).file_name().is_none_or(|n| n != "uv.lock") {
            self.error(
                rules::LOCK_FILE,
                at,
                format!("`{path}` is not a uv.lock or a pdm.lock"),
                "python.lock takes a uv or pdm lock file; export other locks to a hashed requirements file (poetry export, pip-compile --generate-hashes) and use python.requirements",
            );
            return Locked::default();
        }
        let before = self.findings.len();
        self.project_file(path, at, project);
        if self.findings.len() > before {
            return Locked::default();
        }
        if pdm {
            return Locked {
                workspace: None,
                pdm: self.pdm_lock(path, at, project, interface),
            };
        }
        let pyproject = Path::new(path).with_file_name("pyproject.toml");
        if !project.join(&pyproject).is_file() {
            self.error(
                rules::LOCK_FILE,
                at,
                format!("`{path}` has no pyproject.toml beside it"),
                "uv exports a lock together with its project: keep pyproject.toml next to uv.lock",
            );
            return Locked::default();
        }
        let lock = match crate::packaging::uvlock::read(&project.join(path)) {
            Ok(lock) => lock,
            Err(why) => {
                self.error(
                    rules::LOCK_FILE,
                    at,
                    format!("`{path}` {why}"),
                    "regenerate it with `uv lock`",
                );
                return Locked::default();
            }
        };
        let workspace = self.workspace(path, &lock, package, at, project);
        self.lock_stack(path, &lock, workspace.as_ref(), at, project, interface);
        Locked {
            workspace,
            pdm: None,
        }
    }

    /// A workspace lock's member (`python.package`) and its members' pyproject.toml files.
    fn workspace(
        &mut self,
        path: &str,
        lock: &crate::packaging::uvlock::Lock,
        package: Option<&Spanned<String>>,
        at: &Spanned<String>,
        project: &Path,
    ) -> Option<Workspace> {
        let members = lock.members();
        let names = || {
            members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = match (package, lock.is_workspace()) {
            (None, false) => return None,
            (Some(p), false) => {
                self.error(
                    rules::LOCK_FILE,
                    p,
                    format!("python.package names a workspace member, but `{path}` is not a uv workspace's lock"),
                    "remove python.package: the lock's own project is installed",
                );
                return None;
            }
            (None, true) => {
                self.error(
                    rules::LOCK_FILE,
                    at,
                    format!("`{path}` is a uv workspace's lock (members {}), and python.package does not say which member is the app", names()),
                    "add `package: <member>` under python, the member whose module app.module names (`fabuild init` at the workspace root finds it)",
                );
                return None;
            }
            (Some(p), true) => (self.text("python.package", p), p),
        };
        let Some(member) = members
            .iter()
            .find(|m| m.name == crate::packaging::normalise(&name.0))
            .filter(|m| crate::packaging::is_name(&m.name))
        else {
            self.error(
                rules::LOCK_FILE,
                name.1,
                format!("`{path}` has no workspace member `{}`", name.0),
                format!("name one of its members: {}", names()),
            );
            return None;
        };
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        let mut member_pyprojects = Vec::new();
        for member in members.iter().filter(|m| m.path != ".") {
            let pyproject = dir.join(&member.path).join("pyproject.toml");
            let pyproject = pyproject.to_string_lossy().replace('\\', "/");
            let before = self.findings.len();
            self.project_file(&pyproject, at, project);
            if self.findings.len() > before {
                return None;
            }
            member_pyprojects.push(pyproject);
        }
        Some(Workspace {
            package: member.name.clone(),
            member_pyprojects,
        })
    }

    pub(super) fn project_file(&mut self, path: &str, at: &Spanned<String>, project: &Path) {
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
}

pub(super) fn default_base(version: &str) -> ImageRef {
    ImageRef {
        name: "python".to_owned(),
        tag: Some(format!("{version}-slim")),
        digest: None,
    }
}

/// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`, as uv's `--exclude-newer` takes it.
pub(super) fn rfc3339(text: &str) -> Option<String> {
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
