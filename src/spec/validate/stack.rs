//! The server stack in the app's own dependencies (docs/rules.md, FAB090 and FAB056):
//! every requirements file the spec names (and what it includes), every pyproject.toml
//! dependency and every uv.lock package that names gunicorn or, for an ASGI app, the rest
//! of the stack, is held to the version fabuild installs.

use std::path::Path;

use serde_saphyr::Spanned;

use crate::diagnostic::Finding;
use crate::packaging::pyproject::PyProject;
use crate::packaging::requirements::{local_source, read_tree};
use crate::packaging::stack::{Verdict, judge, relock_command};
use crate::rules;
use crate::spec::load::span;
use crate::spec::model::{InstalledRequirements, Project, Workspace};
use crate::spec::raw::Interface;

use super::Validator;

impl Validator<'_> {
    /// The requirements file `path` as the image installs it: `None` when that is the file
    /// as it stands (no includes, no server package at another version). `at` is the spec's
    /// `python.requirements`, absent when requirements.txt was found by default.
    pub(super) fn requirements_stack(
        &mut self,
        path: &str,
        at: Option<&Spanned<String>>,
        project: &Path,
        interface: Interface,
    ) -> Option<InstalledRequirements> {
        let where_ = at.and_then(|a| span(a, self.text));
        let tree = match read_tree(project, path) {
            Ok(tree) => tree,
            Err(why) => {
                self.findings.push(
                    Finding::error(rules::REQUIREMENTS_FILE, format!("`{path}`: {why}"))
                        .at(where_)
                        .help("every file a requirements file includes (-r, -c) must be a file inside the project: the image build reads them there"),
                );
                return None;
            }
        };
        let pins = self.pins.for_interface(interface);
        let mut installed = InstalledRequirements {
            from: path.to_owned(),
            requirements: Vec::new(),
            constraints: Vec::new(),
            pdm_lock: false,
        };
        let mut relaxed = false;
        for line in &tree.lines {
            let place = format!("{}:{}", line.file, line.number);
            if self.local_source(&line.text, &place, where_) {
                continue;
            }
            let text = match judge(&line.text, &pins) {
                Verdict::Keep => Some(line.text.clone()),
                Verdict::Relax {
                    package,
                    pinned,
                    wanted,
                    relaxed: kept,
                } => {
                    relaxed = true;
                    let (kind, installs) = if line.constraint {
                        ("constrains", "the constraint is left out".to_owned())
                    } else {
                        ("asks for", format!("`{kept}` is installed instead"))
                    };
                    self.findings.push(
                        Finding::warning(
                            rules::SERVER_PIN_RELAXED,
                            format!("{place} {kind} {wanted}; fabuild installs {package} {pinned}, so {installs}"),
                        )
                        .at(where_)
                        .help(format!(
                            "the server stack is fabuild's: remove the version from {place} (or the line: fabuild installs {package} {pinned} with its hashes)"
                        )),
                    );
                    (!line.constraint).then_some(kept)
                }
                Verdict::Refuse {
                    package,
                    pinned,
                    wanted,
                } => {
                    let file_text = tree
                        .files
                        .iter()
                        .find(|(f, _)| *f == line.file)
                        .map_or("", |(_, t)| t.as_str());
                    let command = relock_command(
                        &line.file,
                        file_text,
                        package,
                        pinned,
                        poetry_beside(project, &line.file),
                    );
                    let help = match command {
                        Some(command) => format!(
                            "the lock's other packages were resolved against {wanted}: relock with fabuild's version, `{command}`"
                        ),
                        None => format!(
                            "the lock's other packages were resolved against {wanted}: pin {package}=={pinned} where {} is generated from and regenerate it with hashes",
                            line.file
                        ),
                    };
                    self.findings.push(
                        Finding::error(
                            rules::LOCK_CONFLICT,
                            format!("{place} locks {wanted}; fabuild installs {package} {pinned}"),
                        )
                        .at(where_)
                        .help(help),
                    );
                    Some(line.text.clone())
                }
            };
            if let Some(text) = text {
                if line.constraint {
                    installed.constraints.push(text);
                } else {
                    installed.requirements.push(text);
                }
            }
        }
        (relaxed || tree.files.len() > 1).then_some(installed)
    }

    /// FAB065 for a requirements line that installs from this machine's files: `true`
    /// when `text` is one (it is reported, and nothing of it can be installed).
    fn local_source(
        &mut self,
        text: &str,
        place: &str,
        at: Option<crate::diagnostic::Span>,
    ) -> bool {
        let Some(source) = local_source(text) else {
            return false;
        };
        self.findings.push(
            Finding::error(
                rules::LOCAL_REQUIREMENT,
                format!("{place} installs `{source}` from this machine's files; the image build copies only the requirements files, so pip cannot find it there"),
            )
            .at(at)
            .help("code inside the project is copied to /app and imported from there: remove the line and list that code's own dependencies instead; or build it as a wheel, publish it to an index, and require it by name and version"),
        );
        true
    }

    /// `python.project`'s dependencies as the image resolves them: one naming a server
    /// package at another version is reduced to its name (there is no lock, so nothing
    /// else was resolved against it).
    pub(super) fn project_stack(
        &mut self,
        declared: &mut Project,
        text: &str,
        at: &Spanned<String>,
        interface: Interface,
    ) {
        let pins = self.pins.for_interface(interface);
        for requirement in &mut declared.requirements {
            if let Verdict::Relax {
                package,
                pinned,
                wanted,
                relaxed,
            } = judge(requirement, &pins)
            {
                let place = line_of(text, requirement, package).map_or_else(
                    || declared.pyproject.clone(),
                    |n| format!("{}:{n}", declared.pyproject),
                );
                self.warn(
                    rules::SERVER_PIN_RELAXED,
                    at,
                    format!(
                        "{place} asks for {wanted} in {}; fabuild installs {package} {pinned}, so `{relaxed}` is resolved instead",
                        declared.table
                    ),
                    format!(
                        "the server stack is fabuild's: remove the version from {place} (or the dependency: fabuild installs {package} {pinned} with its hashes)"
                    ),
                );
                *requirement = relaxed;
            }
        }
    }

    /// `python.lock` pinning a server package at another version (FAB056): refused, with
    /// the line and the command that relocks it, run where uv.lock is (in a workspace, its
    /// root: one lock for every member).
    pub(super) fn lock_stack(
        &mut self,
        path: &str,
        lock: &crate::packaging::uvlock::Lock,
        workspace: Option<&Workspace>,
        at: &Spanned<String>,
        project: &Path,
        interface: Interface,
    ) {
        let conflicts: Vec<_> = self
            .pins
            .for_interface(interface)
            .into_iter()
            .filter_map(|pin| {
                lock.version_of(pin.name)
                    .filter(|v| *v != pin.version)
                    .map(|v| (pin, v.to_owned()))
            })
            .collect();
        if conflicts.is_empty() {
            return;
        }
        let text =
            crate::read::text(&project.join(path), crate::read::MAX_TEXT_BYTES).unwrap_or_default();
        // Where a dependency is declared: the root's pyproject.toml (no `--package`), then
        // each member's, named as `uv add --package` takes it.
        let mut declared: Vec<(Option<String>, Vec<String>)> = vec![(
            None,
            declared_requirements(project, &Path::new(path).with_file_name("pyproject.toml")),
        )];
        let members = lock.members();
        for pyproject in workspace.map_or(&[][..], |w| &w.member_pyprojects[..]) {
            let dir = Path::new(pyproject).parent().unwrap_or(Path::new(""));
            let name = members
                .iter()
                .find(|m| {
                    Path::new(path)
                        .parent()
                        .unwrap_or(Path::new(""))
                        .join(&m.path)
                        == dir
                })
                .map(|m| m.name.clone());
            declared.push((name, declared_requirements(project, Path::new(pyproject))));
        }
        let pins = self.pins.for_interface(interface);
        for (pin, locked) in conflicts {
            // A direct dependency that excludes fabuild's version must change in its
            // pyproject.toml (`uv add`); anything else only needs relocking.
            let declared_by = declared.iter().find(|(_, requirements)| {
                requirements.iter().any(|r| {
                    matches!(judge(r, &pins), Verdict::Relax { package, .. } if package == pin.name)
                })
            });
            let command = match declared_by {
                Some((Some(member), _)) => {
                    format!("uv add --package {member} {}=={}", pin.name, pin.version)
                }
                Some((None, _)) => format!("uv add {}=={}", pin.name, pin.version),
                None => format!("uv lock --upgrade-package {}=={}", pin.name, pin.version),
            };
            let run_where = if workspace.is_some() {
                "run at the workspace root, where uv.lock is"
            } else {
                "run where the project's pyproject.toml is"
            };
            self.lock_conflict(
                at,
                (path, &text),
                &pin,
                &locked,
                &format!("`{command}` ({run_where})"),
            );
        }
    }

    /// FAB056 for a lock file (`path`, whose text is `text`) that pins `pin`'s package at
    /// `locked`: the message names the package's line, the help the command that relocks.
    pub(super) fn lock_conflict(
        &mut self,
        at: &Spanned<String>,
        (path, text): (&str, &str),
        pin: &crate::pins::Pin,
        locked: &str,
        relock: &str,
    ) {
        let header = format!("name = \"{}\"", pin.name);
        let place = text
            .lines()
            .position(|l| l.trim() == header)
            .map_or_else(|| path.to_owned(), |i| format!("{path}:{}", i + 1));
        self.error(
            rules::LOCK_CONFLICT,
            at,
            format!(
                "{place} locks {} {locked}; fabuild installs {} {}",
                pin.name, pin.name, pin.version
            ),
            format!(
                "the lock's other packages were resolved against {} {locked}: relock with fabuild's version, {relock}",
                pin.name
            ),
        );
    }
}

/// The dependencies the pyproject.toml at `path` (in the project) declares; none when it
/// cannot be read.
fn declared_requirements(project: &Path, path: &Path) -> Vec<String> {
    crate::read::text(&project.join(path), crate::read::MAX_TEXT_BYTES)
        .ok()
        .and_then(|t| PyProject::parse(&t).ok())
        .and_then(|p| p.declared().ok())
        .map(|d| d.requirements)
        .unwrap_or_default()
}

/// Whether the file `file`'s directory holds a Poetry project (its pyproject.toml has a
/// `[tool.poetry]` table): the lock beside it is then Poetry's export.
fn poetry_beside(project: &Path, file: &str) -> bool {
    let pyproject = Path::new(file).with_file_name("pyproject.toml");
    crate::read::project_text(
        project,
        &project.join(pyproject),
        crate::read::MAX_TEXT_BYTES,
    )
    .ok()
    .flatten()
    .and_then(|t| PyProject::parse(&t).ok())
    .is_some_and(|p| p.tool.and_then(|t| t.poetry).is_some())
}

/// The line (from 1) of `text` where `needle` is written, else where a line starts with
/// the key `name` (a Poetry dependency, `gunicorn = "^22"`).
fn line_of(text: &str, needle: &str, name: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .position(|l| l.contains(needle))
        .or_else(|| {
            lines.iter().position(|l| {
                let key = l.trim_start().trim_start_matches(['"', '\'']);
                key.strip_prefix(name).is_some_and(|rest| {
                    rest.trim_start_matches(['"', '\''])
                        .trim_start()
                        .starts_with('=')
                })
            })
        })
        .map(|i| i + 1)
}
