//! The dependency layer: the server stack and the app's requirements as wheels for the
//! base's platform and Python, laid out as the virtualenv the Dockerfile route makes at
//! /opt/venv, plus fabuild's runtime files under /opt/fabuild. Cached by everything that
//! goes into it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

use super::BuildError;
use super::fetch;
use super::glibc::{self, Glibc};
use super::sbom::{self, PyDist};
use super::spool::Spool;
use super::wheel::{self, VenvPaths};
use crate::layout::{FABUILD_DIR, VENV_DIR};
use crate::net::pypi::IndexConfig;
use crate::oci::Machine;
use crate::oci::digest::HashingReader;
use crate::oci::writer::Tree;
use crate::plan::Plan;

/// Where the wheels come from.
#[derive(Clone, Debug)]
pub enum WheelSource {
    /// From the index pip is configured for (`pip` is the command): the hash-pinned wheels
    /// fetched directly, in parallel (`fetch`), what needs a resolver by `pip download`.
    Pip(PathBuf),
    /// Every wheel by `pip download`, as fabuild did before it fetched pinned wheels itself.
    PipOnly(PathBuf),
    /// Every `.whl` in this directory, as is (pinned ones are checked against their hash).
    Dir(PathBuf),
}

/// Everything the dependency layer is made from.
pub struct DepsInput<'a> {
    pub plan: &'a Plan,
    pub project: &'a Path,
    pub python: &'a str,
    pub python_version: &'a str,
    /// The base's glibc: pip is asked for every manylinux wheel it can run.
    pub glibc: Glibc,
    /// The machine the wheels are for: the platform being built.
    pub machine: Machine,
    pub source: &'a WheelSource,
    /// fabuild's runtime files: (path in the image, content).
    pub runtime_files: Vec<(String, String)>,
}

/// Which parts of the app's dependencies go to `pip download`.
#[derive(Debug, Default)]
struct PipPlan {
    requirements: bool,
    project: bool,
    lock: bool,
}

impl DepsInput<'_> {
    /// pip's `--platform` values: what pip inside the base would accept.
    pub fn platforms(&self) -> Vec<String> {
        glibc::manylinux_platforms(self.glibc, self.machine.name())
    }

    fn app_requirements(&self) -> Result<Option<String>, BuildError> {
        let Some(rel) = self.plan.app_dependencies.requirements() else {
            return Ok(None);
        };
        if let Some(installed) = &self.plan.installed_requirements {
            // For the cache key and the choice of hashed install: both files' lines.
            let mut text = installed.requirements_text(crate::render::CONSTRAINTS_APP);
            text.push_str(&installed.constraints_text());
            return Ok(Some(text));
        }
        let path = self.project.join(rel);
        crate::read::text(&path, crate::read::MAX_TEXT_BYTES)
            .map(Some)
            .map_err(|e| BuildError::io(&path, &e))
    }

    fn app_lock(&self) -> Result<Option<String>, BuildError> {
        let Some(lock) = self.plan.app_dependencies.lock() else {
            return Ok(None);
        };
        let path = self.project.join(&lock.lock);
        crate::read::text(&path, crate::read::MAX_TEXT_BYTES)
            .map(Some)
            .map_err(|e| BuildError::io(&path, &e))
    }

    /// The cache key: a change to any input gives another layer.
    pub fn key(&self) -> Result<String, BuildError> {
        let mut text = format!(
            "fabuild {}\nplatform {}\npython {} {}\n",
            crate::VERSION,
            self.platforms().join(" "),
            self.python,
            self.python_version
        );
        for pin in &self.plan.server_pins {
            let _ = writeln!(
                text,
                "pin {} {} {}",
                pin.name,
                pin.version,
                pin.hashes.join(" ")
            );
        }
        let _ = writeln!(text, "strip-debug {}", self.plan.strip_debug.join(" "));
        if let Some(req) = self.app_requirements()? {
            let _ = writeln!(text, "requirements {}", hex(req.as_bytes()));
        }
        if let Some(lock) = self.app_lock()? {
            let _ = writeln!(text, "uv.lock {}", hex(lock.as_bytes()));
        }
        if let Some(project) = self.plan.app_dependencies.project() {
            let _ = writeln!(
                text,
                "project {} {}",
                project.exclude_newer,
                hex(project.requirements.join("\n").as_bytes())
            );
        }
        for (path, content) in &self.runtime_files {
            let _ = writeln!(text, "file {path} {}", hex(content.as_bytes()));
        }
        match self.source {
            // Both routes choose the same wheels: one layer serves both.
            WheelSource::Pip(pip) | WheelSource::PipOnly(pip) => {
                let _ = writeln!(text, "pip {}", pip.display());
            }
            WheelSource::Dir(dir) => {
                for wheel in wheels_in(dir)? {
                    let _ = writeln!(text, "wheel {}", file_hex(&wheel)?);
                }
            }
        }
        Ok(hex(text.as_bytes()))
    }

    /// The wheels to install, downloaded into `scratch` when they come from an index; the
    /// hash-pinned ones are kept in (and taken from) the wheel cache under `cache`.
    pub fn wheels(
        &self,
        scratch: &Path,
        cache: Option<&Path>,
        notes: &mut Vec<String>,
    ) -> Result<Vec<PathBuf>, BuildError> {
        let wheels = match self.source {
            WheelSource::Dir(dir) => wheels_in(dir)?,
            WheelSource::PipOnly(pip) => self.download(pip, scratch)?,
            WheelSource::Pip(pip) => self.fetch(pip, scratch, cache, notes)?,
        };
        self.check_pins(&wheels)?;
        Ok(wheels)
    }

    /// The hash-pinned requirements (the server stack, and the app's when its file or lock
    /// pins every line by hash) fetched from the index directly, in parallel with `pip
    /// download` of what needs resolving. Everything goes to pip when pip is configured
    /// in a way this client does not reproduce (a client certificate, say).
    fn fetch(
        &self,
        pip: &Path,
        scratch: &Path,
        cache: Option<&Path>,
        notes: &mut Vec<String>,
    ) -> Result<Vec<PathBuf>, BuildError> {
        let mut config = IndexConfig::from_pip(pip, &|name| std::env::var(name).ok());
        if let Some(index) = &self.plan.index {
            // build.index_url: pip is given the index and reads its credentials (NETRC);
            // this client does not send credentials, so pip fetches everything.
            config.unsupported = Some(format!(
                "build.index_url {}, whose credentials pip reads from NETRC",
                index.url
            ));
        }
        if let Some(why) = &config.unsupported {
            notes.push(format!(
                "pip is configured with {why}: every wheel is downloaded by pip"
            ));
            return self.download(pip, scratch);
        }
        let mut pinned: Vec<fetch::Pinned> = self
            .plan
            .server_pins
            .iter()
            .map(|p| fetch::Pinned {
                project: wheel::normalise(p.name),
                version: p.version.to_owned(),
                hashes: p.hashes.iter().map(|h| (*h).to_owned()).collect(),
            })
            .collect();
        let mut plan = PipPlan::default();
        if self.app_requirements()?.is_some() {
            match self.pinned_app_requirements()? {
                Some(app) => pinned.extend(app),
                None => plan.requirements = true,
            }
        }
        plan.project = self.plan.app_dependencies.project().is_some();
        if let Some(text) = self.lock_requirements()? {
            match fetch::pinned_requirements(&text) {
                Some(lock) => pinned.extend(lock),
                None => plan.lock = true,
            }
        }
        let fetched_dir = scratch.join("fetched");
        std::fs::create_dir_all(&fetched_dir).map_err(|e| BuildError::io(&fetched_dir, &e))?;
        let platforms = self.platforms();
        let index = fetch::Fetcher {
            config: &config,
            target: fetch::Target {
                python_version: self.python_version,
                platforms: &platforms,
            },
            cache: cache.map(super::cache::Cache::new),
            dest: &fetched_dir,
        };
        // pip resolves on its own thread while the pinned wheels stream in.
        let (got, resolved) = std::thread::scope(|scope| {
            let pip_run = (plan.requirements || plan.project || plan.lock)
                .then(|| scope.spawn(|| self.pip_part(pip, scratch, &plan)));
            let got = index.fetch_all(&pinned);
            let resolved = pip_run.map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BuildError::Deps("pip thread panicked".into())))
            });
            (got, resolved)
        });
        let got = got?;
        notes.extend(got.notes);
        let mut wheels = got.wheels;
        if let Some(resolved) = resolved {
            wheels.extend(resolved?);
        }
        Ok(wheels)
    }

    /// The app's requirements as pinned requirements, when every line is one (and its
    /// constraints, if any, name none of them otherwise).
    fn pinned_app_requirements(&self) -> Result<Option<Vec<fetch::Pinned>>, BuildError> {
        let text = match &self.plan.installed_requirements {
            Some(installed) => installed.requirements.join("\n"),
            None => match self.app_requirements()? {
                Some(text) => text,
                None => return Ok(None),
            },
        };
        let Some(pinned) = fetch::pinned_requirements(&text) else {
            return Ok(None);
        };
        if let Some(installed) = &self.plan.installed_requirements {
            // With --no-deps, pip only checks each constraint against the requirement of
            // the same name: one that is not the same exact version is pip's to report.
            for line in &installed.constraints {
                let Some(c) = crate::packaging::requirements::Requirement::parse(line) else {
                    return Ok(None);
                };
                if let Some(p) = pinned.iter().find(|p| p.project == c.key())
                    && c.specifier != format!("=={}", p.version)
                {
                    return Ok(None);
                }
            }
        }
        Ok(Some(pinned))
    }

    /// The uv.lock's runtime closure as a hashed requirements file.
    fn lock_requirements(&self) -> Result<Option<String>, BuildError> {
        let Some(lock) = self.app_lock()? else {
            return Ok(None);
        };
        // What `uv export --no-dev --no-emit-project --no-emit-package <pins>` gives,
        // read from the lock directly: no uv needed on the build host.
        let pins: Vec<&str> = self.plan.server_pins.iter().map(|p| p.name).collect();
        crate::packaging::uvlock::requirements(
            &lock,
            self.plan
                .app_dependencies
                .lock()
                .and_then(|l| l.package.as_deref()),
            &pins,
        )
        .map(Some)
        .map_err(BuildError::Deps)
    }

    /// `pip download` of the parts `plan` names, into `scratch/resolved`.
    fn pip_part(
        &self,
        pip: &Path,
        scratch: &Path,
        plan: &PipPlan,
    ) -> Result<Vec<PathBuf>, BuildError> {
        let dest = scratch.join("resolved");
        std::fs::create_dir_all(&dest).map_err(|e| BuildError::io(&dest, &e))?;
        let c = self.constraints_file(scratch)?;
        if plan.requirements {
            self.pip_requirements(pip, scratch, &dest, &c)?;
        }
        if plan.project {
            self.pip_project(pip, scratch, &dest, &c)?;
        }
        if plan.lock {
            self.pip_lock(pip, scratch, &dest)?;
        }
        wheels_in(&dest)
    }

    /// The server stack's versions, which the app's own resolution must keep.
    fn constraints_file(&self, scratch: &Path) -> Result<String, BuildError> {
        let constraints = scratch.join("constraints.txt");
        let mut pins = String::new();
        for p in &self.plan.server_pins {
            let _ = writeln!(pins, "{}=={}", p.name, p.version);
        }
        std::fs::write(&constraints, pins).map_err(|e| BuildError::io(&constraints, &e))?;
        Ok(constraints.display().to_string())
    }

    fn download(&self, pip: &Path, scratch: &Path) -> Result<Vec<PathBuf>, BuildError> {
        let server = scratch.join("requirements-server.txt");
        let mut text = String::new();
        for pin in &self.plan.server_pins {
            let _ = write!(text, "{}=={}", pin.name, pin.version);
            for hash in &pin.hashes {
                let _ = write!(text, " --hash=sha256:{hash}");
            }
            text.push('\n');
        }
        std::fs::write(&server, &text).map_err(|e| BuildError::io(&server, &e))?;
        let dest = scratch.join("wheels");
        self.pip(
            pip,
            &dest,
            &["--require-hashes", "--no-deps", "-r"],
            &server,
        )?;
        let c = self.constraints_file(scratch)?;
        self.pip_requirements(pip, scratch, &dest, &c)?;
        self.pip_project(pip, scratch, &dest, &c)?;
        self.pip_lock(pip, scratch, &dest)?;
        wheels_in(&dest)
    }

    /// `pip download` of the app's requirements file (hashed: as it is; not hashed:
    /// resolved within the server stack's versions `c`).
    fn pip_requirements(
        &self,
        pip: &Path,
        scratch: &Path,
        dest: &Path,
        c: &str,
    ) -> Result<(), BuildError> {
        if let Some(req) = self.app_requirements()? {
            let file = match &self.plan.installed_requirements {
                // What gen writes as requirements-app.txt (and constraints-app.txt).
                Some(installed) => {
                    let constraints = scratch.join(crate::render::CONSTRAINTS_APP);
                    std::fs::write(&constraints, installed.constraints_text())
                        .map_err(|e| BuildError::io(&constraints, &e))?;
                    let file = scratch.join(crate::render::REQUIREMENTS_APP);
                    let text = installed.requirements_text(crate::render::CONSTRAINTS_APP);
                    std::fs::write(&file, text).map_err(|e| BuildError::io(&file, &e))?;
                    file
                }
                None => self
                    .project
                    .join(self.plan.app_dependencies.requirements().unwrap_or("")),
            };
            if req.contains("--hash") {
                self.pip(pip, dest, &["--require-hashes", "--no-deps", "-r"], &file)?;
            } else {
                // Not hashed: pip resolves against the index, so this part of the layer is
                // only as reproducible as the index (the cache keeps one resolution).
                self.pip(pip, dest, &["-c", c, "-r"], &file)?;
            }
        }
        Ok(())
    }

    /// `pip download` of `python.project`'s declared ranges, within the server stack's
    /// versions `c`.
    fn pip_project(
        &self,
        pip: &Path,
        scratch: &Path,
        dest: &Path,
        c: &str,
    ) -> Result<(), BuildError> {
        if let Some(project) = self.plan.app_dependencies.project() {
            // pip resolves the declared ranges against the index, kept to the server
            // stack's versions. pip has no --exclude-newer, so this part of the layer is only
            // as reproducible as the index; the cache keeps one resolution.
            let file = scratch.join("requirements-project.in");
            let mut text = project.requirements.join("\n");
            text.push('\n');
            std::fs::write(&file, text).map_err(|e| BuildError::io(&file, &e))?;
            self.pip(pip, dest, &["-c", c, "-r"], &file)?;
        }
        Ok(())
    }

    /// `pip download` of the uv.lock's closure, hashed.
    fn pip_lock(&self, pip: &Path, scratch: &Path, dest: &Path) -> Result<(), BuildError> {
        if let Some(text) = self.lock_requirements()? {
            let file = scratch.join("requirements-lock.txt");
            std::fs::write(&file, text).map_err(|e| BuildError::io(&file, &e))?;
            self.pip(pip, dest, &["--require-hashes", "--no-deps", "-r"], &file)?;
        }
        Ok(())
    }

    fn pip(&self, pip: &Path, dest: &Path, args: &[&str], file: &Path) -> Result<(), BuildError> {
        let platforms = self.platforms();
        // build.index_url: the same index the Dockerfile's install step uses; its
        // credentials come from the netrc file pip finds (`NETRC`), never from fabuild.
        let index = self
            .plan
            .index
            .iter()
            .flat_map(|i| ["--index-url", i.url.as_str()]);
        let output = Command::new(pip)
            .args(["download", "--quiet", "--disable-pip-version-check"])
            .args(index)
            .arg("--only-binary=:all:")
            .args(platforms.iter().flat_map(|p| ["--platform", p.as_str()]))
            .args([
                "--python-version",
                self.python_version,
                "--implementation",
                "cp",
            ])
            .arg("--dest")
            .arg(dest)
            .args(args)
            .arg(file)
            .output()
            .map_err(|e| {
                BuildError::Deps(format!(
                    "cannot run {}: {e} (pass --wheels DIR to install pre-downloaded wheels)",
                    pip.display()
                ))
            })?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("No matching distribution")
            || stderr.contains("Could not find a version")
        {
            format!(
                "\nno wheel for CPython {} on {} with glibc {} ({} down to {}): either the package has no wheel this old a glibc runs, or it is published only as an sdist, which `fabuild build` does not build; use a base with a newer glibc, the Dockerfile route, or build the wheel and pass --wheels DIR",
                self.python_version,
                self.machine,
                self.glibc,
                platforms.first().map_or("", String::as_str),
                platforms.last().map_or("", String::as_str)
            )
        } else {
            String::new()
        };
        Err(BuildError::Deps(format!(
            "pip download -r {} failed:\n{}{hint}",
            file.display(),
            stderr.trim_end()
        )))
    }

    fn check_pins(&self, wheels: &[PathBuf]) -> Result<(), BuildError> {
        for pin in &self.plan.server_pins {
            let found: Vec<&PathBuf> = wheels
                .iter()
                .filter(|w| {
                    file_name(w).and_then(wheel::parse_name).is_some_and(|n| {
                        n.project == wheel::normalise(pin.name) && n.version == pin.version
                    })
                })
                .collect();
            let Some(path) = found.first() else {
                return Err(BuildError::Deps(format!(
                    "no wheel of {} {} among the wheels",
                    pin.name, pin.version
                )));
            };
            let got = file_hex(path)?;
            if !pin.hashes.contains(&got.as_str()) {
                return Err(BuildError::Deps(format!(
                    "{} has sha256 {got}, fabuild pins {}: not a wheel the server stack was verified with",
                    path.display(),
                    pin.hashes.join(" or ")
                )));
            }
        }
        Ok(())
    }

    /// The layer's tree: the virtualenv and fabuild's runtime files. The wheels' members
    /// are unpacked into a spool file in `scratch`, which must outlive the tree.
    pub fn tree(&self, wheels: &[PathBuf], scratch: &Path) -> Result<Tree, BuildError> {
        let mut spool = Spool::create(scratch).map_err(|e| BuildError::io(scratch, &e))?;
        let venv = VenvPaths::new(VENV_DIR, self.python_version);
        let mut tree = Tree::default();
        let home = Path::new(self.python)
            .parent()
            .map_or_else(|| "/usr/bin".to_owned(), |p| p.display().to_string());
        tree.file(
            &format!("{}/pyvenv.cfg", venv.root),
            format!(
                "home = {home}\ninclude-system-site-packages = false\nversion = {}\nexecutable = {}\n",
                self.python_version, self.python
            )
            .into_bytes(),
            false,
        );
        let versioned = format!("python{}", self.python_version);
        tree.symlink(&format!("{}/bin/{versioned}", venv.root), self.python);
        tree.symlink(&format!("{}/bin/python3", venv.root), &versioned);
        tree.symlink(&format!("{}/bin/python", venv.root), &versioned);
        tree.symlink(&format!("{}/lib64", venv.root), "lib");
        tree.dir(&venv.site_packages);

        for (project, path) in &self.chosen(wheels)? {
            let strip_debug = self
                .plan
                .strip_debug
                .iter()
                .any(|name| wheel::normalise(name) == *project);
            wheel::install(path, &venv, strip_debug, &mut tree, &mut spool)
                .map_err(|why| BuildError::Deps(format!("{}: {why}", path.display())))?;
        }
        for (path, content) in &self.runtime_files {
            tree.file(
                path.trim_start_matches('/'),
                content.clone().into_bytes(),
                true,
            );
        }
        tree.dir(&format!("{}/bin", FABUILD_DIR.trim_start_matches('/')));
        Ok(tree)
    }

    /// The wheels `tree` installs, by normalised project name: one per project, the
    /// server pins' version for a pinned one, else the first by file name.
    pub fn chosen(&self, wheels: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>, BuildError> {
        let mut by_project: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut sorted = wheels.to_vec();
        sorted.sort();
        for path in sorted {
            let name = file_name(&path).unwrap_or_default();
            let parsed = wheel::parse_name(name)
                .ok_or_else(|| BuildError::Deps(format!("{name} is not a wheel file name")))?;
            let pinned = self
                .plan
                .server_pins
                .iter()
                .any(|p| wheel::normalise(p.name) == parsed.project);
            if pinned && parsed.version != pin_version(self.plan, &parsed.project) {
                continue;
            }
            by_project.entry(parsed.project).or_insert(path);
        }
        Ok(by_project)
    }

    /// The distributions `tree` installs, for the SBOM: each wheel's METADATA and sha256.
    pub fn dists(&self, wheels: &[PathBuf]) -> Result<Vec<PyDist>, BuildError> {
        let venv = VenvPaths::new(VENV_DIR, self.python_version);
        self.chosen(wheels)?
            .values()
            .map(|path| {
                sbom::wheel_dist(path, &file_hex(path)?, &venv.site_packages)
                    .map_err(|why| BuildError::Deps(format!("{}: {why}", path.display())))
            })
            .collect()
    }
}

fn pin_version(plan: &Plan, project: &str) -> String {
    plan.server_pins
        .iter()
        .find(|p| wheel::normalise(p.name) == project)
        .map(|p| p.version.to_owned())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|n| n.to_str())
}

fn hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The sha256 of the file at `path`, read through a fixed buffer: a wheel can be large.
fn file_hex(path: &Path) -> Result<String, BuildError> {
    std::fs::File::open(path)
        .and_then(|file| HashingReader::new(file).finish_draining())
        .map(|sum| sum.sha256)
        .map_err(|e| BuildError::io(path, &e))
}

/// The `.whl` files of `dir`, sorted; anything that looks like an sdist is an error.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // the name is lower-cased
fn wheels_in(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BuildError::io(dir, &e))?;
    let mut wheels = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| BuildError::io(dir, &e))?.path();
        let name = file_name(&path).unwrap_or_default().to_ascii_lowercase();
        if name.ends_with(".whl") {
            wheels.push(path);
        } else if name.ends_with(".tar.gz") || name.ends_with(".zip") || name.ends_with(".tar.bz2")
        {
            return Err(BuildError::Deps(format!(
                "{name} is a source distribution: `fabuild build` installs wheels only, it never runs a package's build; build the wheel first or use the Dockerfile route"
            )));
        }
    }
    wheels.sort();
    Ok(wheels)
}
