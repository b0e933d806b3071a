//! app.yaml: the raw types with spans, loading, and validation into a typed `Spec`.

pub mod base_python;
mod extra_args;
pub mod load;
pub mod model;
pub mod platform;
pub mod raw;
mod validate;
pub use validate::RESERVED_ENV;

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
            // A platform file that cannot be read is like a spec that cannot: nothing was checked.
            Self::Invalid { findings, .. }
                if !findings.iter().any(|f| {
                    f.rule == crate::rules::YAML_SYNTAX || f.rule == crate::rules::PLATFORM_FILE
                }) =>
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
    /// Where each value was written (the spec or a platform file it extends).
    pub origins: platform::Origins,
    /// The policy of the platform files it extends, held to the plan by `check`.
    pub policy: platform::Policy,
}

/// Loads and validates the spec at `path` (`check::check` adds the plan's limits). `display` names it in messages.
///
/// Relative paths inside the spec (the requirements file) are resolved against the
/// directory holding it.
///
/// The spec's `extends` chain is read and merged first, then `FABUILD_PLATFORM`'s file
/// (see `platform`).
pub(crate) fn validate_file(path: &Path, display: &str) -> Result<Checked, SpecError> {
    let env = platform_env();
    validate_chain(
        platform::load(path, display, env.as_deref().map(Path::new))?,
        &project_dir(path),
    )
}

/// Validates spec text that is not on disk (`check::check_text` adds the plan's limits);
/// `project` is where relative paths resolve, `extends` included: the text is checked as
/// the file `project/name` would be, platform files and `FABUILD_PLATFORM` too.
pub(crate) fn validate_text(text: &str, name: &str, project: &Path) -> Result<Checked, SpecError> {
    let env = platform_env();
    validate_chain(
        platform::load_text(
            text,
            &project.join(name),
            name,
            env.as_deref().map(Path::new),
        )?,
        project,
    )
}

fn platform_env() -> Option<std::ffi::OsString> {
    std::env::var_os(platform::PLATFORM_ENV).filter(|v| !v.is_empty())
}

/// The merged chain validated, its findings placed in the file each points into.
fn validate_chain(chain: platform::Chain, project: &Path) -> Result<Checked, SpecError> {
    let source = chain.source;
    let origins = platform::origins(&chain.raw, &chain.policy, &source);
    let (policy, policy_findings) = platform::policy(&chain.policy, &source);
    let localize = |mut findings: Vec<Finding>| {
        if !source.parts.is_empty() {
            for f in &mut findings {
                f.span = f.span.map(|s| source.localize(s));
            }
        }
        findings
    };
    match validate::validate(&chain.raw, &source.text, project) {
        Ok((spec, warnings)) if policy_findings.is_empty() => Ok(Checked {
            spec,
            warnings: localize(warnings),
            source,
            origins,
            policy,
        }),
        Ok((_, findings)) | Err(findings) => {
            // The policy's findings were placed in their own files already.
            let mut findings = localize(findings);
            findings.extend(policy_findings);
            Err(SpecError::Invalid {
                input: source,
                findings,
            })
        }
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

/// The directory a spec's relative paths are resolved against: the one that holds it.
pub fn project_dir(spec_path: &Path) -> PathBuf {
    match spec_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
