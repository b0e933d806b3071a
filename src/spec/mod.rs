//! app.yaml: the raw types with spans, loading, and validation into a typed `Spec`.

pub mod base_python;
mod extra_args;
pub mod load;
pub mod model;
pub mod raw;
mod validate;

use std::path::{Path, PathBuf};

pub use load::{MAX_SPEC_BYTES, parse, suggest};
pub use model::*;

use crate::diagnostic::{Finding, Source};
use crate::exit::{CommandError, ExitStatus};

/// Why a spec could not be turned into a `Spec`.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit} bytes; an app.yaml is a few hundred bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}:{line}:{column}: app.yaml must be UTF-8 text")]
    NotUtf8 {
        path: String,
        line: u64,
        column: u64,
    },
    #[error("{} has {} error(s)", input.name, findings.iter().filter(|f| f.is_error()).count())]
    Invalid {
        input: Source,
        findings: Vec<Finding>,
    },
}

impl CommandError for SpecError {
    /// `Error` when the file could not be read as YAML at all, `Failure` when it was read
    /// and its content is wrong.
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Invalid { findings, .. }
                if !findings.iter().any(|f| f.rule == crate::rules::YAML_SYNTAX) =>
            {
                ExitStatus::Failure
            }
            _ => ExitStatus::Error,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Some(
                "`fabuild init` writes one from what it finds in the project; or pass the path of an \
                 existing spec"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// A spec that passed validation, the text it came from, and its warnings.
#[derive(Debug)]
pub struct Checked {
    pub spec: Spec,
    pub source: Source,
    pub warnings: Vec<Finding>,
}

/// Loads and validates the spec at `path` (`check::check` adds the plan's limits). `display` names it in messages.
///
/// Relative paths inside the spec (the requirements file) are resolved against the
/// directory holding it.
pub(crate) fn validate_file(path: &Path, display: &str) -> Result<Checked, SpecError> {
    let (source, raw) = load::load(path, display)?;
    let project = project_dir(path);
    let findings = validate::validate(&raw, &source.text, &project);
    match findings {
        Ok((spec, warnings)) => Ok(Checked {
            spec,
            source,
            warnings,
        }),
        Err(findings) => Err(SpecError::Invalid {
            input: source,
            findings,
        }),
    }
}

/// Validates spec text that is not on disk (`check::check_text` adds the plan's limits); `project` is where relative
/// paths resolve.
pub(crate) fn validate_text(text: &str, name: &str, project: &Path) -> Result<Checked, SpecError> {
    let source = Source::new(name, text);
    let raw = parse(text).map_err(|f| SpecError::Invalid {
        input: source.clone(),
        findings: vec![*f],
    })?;
    match validate::validate(&raw, text, project) {
        Ok((spec, warnings)) => Ok(Checked {
            spec,
            source,
            warnings,
        }),
        Err(findings) => Err(SpecError::Invalid {
            input: source,
            findings,
        }),
    }
}

/// Where the longest `server.extra_args` item of spec `text` is written: what to shorten
/// when the planned `GUNICORN_CMD_ARGS` is too long.
pub(crate) fn longest_extra_arg(text: &str) -> Option<crate::diagnostic::Span> {
    let raw = parse(text).ok()?;
    let longest = raw
        .server
        .extra_args
        .iter()
        .flatten()
        .max_by_key(|item| item.value.len())?;
    load::span(longest, text)
}

/// Where `python.version` is written in spec `text`, if it is.
pub(crate) fn python_version_span(text: &str) -> Option<crate::diagnostic::Span> {
    load::span(parse(text).ok()?.python.version.as_ref()?, text)
}

/// The directory a spec's relative paths are resolved against: the one that holds it.
pub fn project_dir(spec_path: &Path) -> PathBuf {
    match spec_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
