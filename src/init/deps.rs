//! `Dependencies`: where the project declares what it needs, and the package names it
//! declares (to tell Django from Django Channels, and to report what was found).
//!
//! Read in this order: `requirements.txt`, `uv.lock`, `pdm.lock`, `pyproject.toml`
//! (`[project]` per PEP 621, then `[tool.poetry]`). A requirements file becomes
//! `python.requirements`, a uv or pdm lock `python.lock`, and pyproject.toml dependencies
//! `python.project`.

use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A pip requirements file, relative to the project.
    Requirements(String),
    /// `uv.lock`: a full lock with hashes; `uv export` turns it into a requirements file.
    UvLock,
    /// `pdm.lock`: its default group, pinned and hashed, is installed as a requirements file.
    PdmLock,
    /// `[tool.poetry]`; `locked` when `poetry.lock` is present.
    Poetry {
        locked: bool,
    },
    /// `[project] dependencies` with no lock next to it.
    Pep621,
    None,
}

#[derive(Clone, Debug)]
pub struct Dependencies {
    pub source: Source,
    /// Normalised names (PEP 503): lowercase, runs of `-_.` as `-`.
    pub names: Vec<String>,
    /// What was read, for the report: `pyproject.toml [project] dependencies (3)`.
    pub evidence: String,
    /// `[project] name` or `[tool.poetry] name`.
    pub project_name: Option<String>,
}

impl Source {
    /// Where the dependencies are declared, for messages.
    pub fn file(&self) -> &str {
        match self {
            Self::Requirements(path) => path,
            Self::UvLock => "uv.lock",
            Self::PdmLock => "pdm.lock",
            Self::Poetry { .. } => "pyproject.toml [tool.poetry.dependencies]",
            Self::Pep621 => "pyproject.toml [project] dependencies",
            Self::None => "no dependency file",
        }
    }
}

pub use crate::packaging::pyproject::PyProject;
pub use crate::packaging::uvlock::Lock as UvLock;

/// A dependency file init could not use; `file` is its path as the user names it.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    /// Not read at all: missing permissions, a link out of the project, a FIFO, too large.
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: crate::read::ReadError,
    },
    /// Read, but not TOML of the shape expected.
    #[error("cannot read {file}: {message}")]
    Parse { file: String, message: String },
}

/// Reads a TOML file if it exists; `None` when it does not.
pub fn read_toml<T: serde::de::DeserializeOwned>(
    root: &Path,
    name: &str,
) -> Result<Option<T>, DepsError> {
    let Some(text) = read(root, name)? else {
        return Ok(None);
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| DepsError::Parse {
            file: super::shown(root, name),
            message: e.message().to_owned(),
        })
}

/// The project's file `name`, if there is one.
fn read(root: &Path, name: &str) -> Result<Option<String>, DepsError> {
    crate::read::project_text(root, &root.join(name), crate::read::MAX_TEXT_BYTES).map_err(
        |source| DepsError::Read {
            file: super::shown(root, name),
            source,
        },
    )
}

impl Dependencies {
    pub fn detect(
        root: &Path,
        pyproject: Option<&PyProject>,
        uv_lock: Option<&UvLock>,
    ) -> Result<Self, DepsError> {
        let project = pyproject.and_then(|p| p.project.as_ref());
        let poetry = pyproject
            .and_then(|p| p.tool.as_ref())
            .and_then(|t| t.poetry.as_ref());
        let project_name = project
            .and_then(|p| p.name.clone())
            .or_else(|| poetry.and_then(|p| p.name.clone()));
        let requirements = read(root, "requirements.txt")?;
        if let Some(text) = requirements {
            let names: Vec<String> = text.lines().filter_map(requirement_name).collect();
            return Ok(Self {
                source: Source::Requirements("requirements.txt".to_owned()),
                evidence: format!("requirements.txt lists {}", packages(names.len())),
                names,
                project_name,
            });
        }
        if let Some(lock) = uv_lock {
            let names: Vec<String> = lock.package.iter().map(|p| normalise(&p.name)).collect();
            return Ok(Self {
                source: Source::UvLock,
                evidence: format!("uv.lock locks {}", packages(names.len())),
                names,
                project_name,
            });
        }
        if let Some(lock) = read_toml::<crate::packaging::pdmlock::Lock>(root, "pdm.lock")? {
            let mut names: Vec<String> = lock.package.iter().map(|p| normalise(&p.name)).collect();
            names.dedup();
            return Ok(Self {
                source: Source::PdmLock,
                evidence: format!("pdm.lock locks {}", packages(names.len())),
                names,
                project_name,
            });
        }
        if let Some(dependencies) = project
            .and_then(|p| p.dependencies.as_ref())
            .filter(|d| !d.is_empty())
        {
            let names: Vec<String> = dependencies
                .iter()
                .filter_map(|d| requirement_name(d))
                .collect();
            return Ok(Self {
                source: Source::Pep621,
                evidence: format!(
                    "pyproject.toml [project] dependencies lists {}",
                    packages(names.len())
                ),
                names,
                project_name,
            });
        }
        if let Some(poetry) = poetry {
            let names: Vec<String> = poetry
                .dependencies
                .keys()
                .filter(|k| k.as_str() != "python")
                .map(|k| normalise(k))
                .collect();
            let locked = root.join("poetry.lock").is_file();
            return Ok(Self {
                source: Source::Poetry { locked },
                evidence: format!(
                    "pyproject.toml [tool.poetry.dependencies] lists {}{}",
                    packages(names.len()),
                    if locked { " and poetry.lock" } else { "" }
                ),
                names,
                project_name,
            });
        }
        Ok(Self {
            source: Source::None,
            names: Vec::new(),
            evidence: "no requirements.txt, uv.lock or pyproject.toml dependencies".to_owned(),
            project_name,
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The command that writes a hashed requirements.txt from a lock init does not install
    /// from (Poetry's): the way to install exactly what it pins.
    pub fn export_command(&self) -> Option<&'static str> {
        match self.source {
            Source::Poetry { locked: true } => {
                Some("poetry export --only main -f requirements.txt -o requirements.txt")
            }
            _ => None,
        }
    }
}

/// The distributions that provide a framework's import: any one of them is enough
/// (`fastapi` brings Starlette; Django Channels needs `django` and `channels`).
const FRAMEWORK_PACKAGES: &[(&str, &[&str])] = &[
    ("FastAPI", &["fastapi"]),
    ("Starlette", &["starlette", "fastapi"]),
    ("Litestar", &["litestar"]),
    ("Quart", &["quart"]),
    ("Flask", &["flask"]),
    ("Falcon", &["falcon"]),
    ("Bottle", &["bottle"]),
    ("Django", &["django"]),
    ("Django Channels", &["channels"]),
];

impl Dependencies {
    /// A warning when the app's framework is in none of the names the dependency file
    /// declares: the image installs only what it declares, so every worker would stop at
    /// the framework's import. Not said when the file includes others (`-r base.txt`),
    /// whose names init does not read, or when there is no dependency file (said apart).
    pub fn missing_framework(&self, root: &Path, framework: &str, at: &str) -> Option<String> {
        let (_, wanted) = FRAMEWORK_PACKAGES.iter().find(|(f, _)| *f == framework)?;
        if matches!(self.source, Source::None) || wanted.iter().any(|w| self.has(w)) {
            return None;
        }
        if let Source::Requirements(path) = &self.source {
            let text = read(root, path).ok().flatten().unwrap_or_default();
            let includes = text.lines().any(|l| {
                let l = l.trim_start();
                ["-r", "-c", "--requirement", "--constraint"]
                    .iter()
                    .any(|o| l.starts_with(o))
            });
            if includes {
                return None;
            }
        }
        Some(format!(
            "the app is a {framework} app ({at}), but {} does not name {}: the image installs only what it declares, so every worker would fail to import it; add {} there, unless a package it names depends on it",
            self.source.file(),
            wanted.join(" or "),
            wanted[0]
        ))
    }
}

fn packages(n: usize) -> String {
    format!("{n} package{}", if n == 1 { "" } else { "s" })
}

/// The package name a requirement line or PEP 508 string starts with; `None` for options
/// (`-r`, `--hash`), URLs and comments.
fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() || line.starts_with('-') || line.contains("://") {
        return None;
    }
    let end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    (end > 0).then(|| normalise(&line[..end]))
}

use crate::packaging::is_name_char;
pub use crate::packaging::normalise;

#[cfg(test)]
mod tests {
    use super::{normalise, requirement_name};

    #[test]
    fn names_from_requirement_lines() {
        assert_eq!(
            requirement_name("Django>=5.0 ; python_version>'3'").as_deref(),
            Some("django")
        );
        assert_eq!(
            requirement_name("channels[daphne]==4.1").as_deref(),
            Some("channels")
        );
        assert_eq!(requirement_name("-r base.txt"), None);
        assert_eq!(requirement_name("  # comment"), None);
        assert_eq!(normalise("Typing_Extensions"), "typing-extensions");
    }
}
