//! The documents `--format json` prints, one type each, as docs/json.md describes them.
//! `print_json` sorts their keys; an optional field marked `skip_serializing_if` is left
//! out when absent, any other is `null`.

use std::path::Path;

use fabuild::diagnostic::JsonFinding;
use fabuild::exit::CommandError;
use fabuild::init::{AppCandidate, Note};
use fabuild::output::Status;
use fabuild::spec::SpecError;
use fabuild::verify::report::{Check, ImageSummary};
use serde::Serialize;

use super::json_findings;

/// `check`'s document for one spec, and how `gen` and `verify` report a spec that does not
/// stand (they name it under `spec` too).
#[derive(Serialize)]
pub struct SpecReport<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<&'a str>,
    pub file: &'a str,
    pub ok: bool,
    #[serde(flatten)]
    pub outcome: SpecOutcome<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum SpecOutcome<'a> {
    /// The spec was read: its findings (its warnings when it is ok).
    Read { findings: Vec<JsonFinding<'a>> },
    /// The spec could not be read.
    Unread { error: String, help: Option<String> },
}

impl<'a> SpecReport<'a> {
    /// A spec that does not stand: its findings, or the error that stopped the reading.
    pub fn failed(err: &'a SpecError, file: &'a str, spec: Option<&'a str>) -> Self {
        match err {
            SpecError::Invalid { input, findings } => Self {
                spec,
                file: &input.name,
                ok: false,
                outcome: SpecOutcome::Read {
                    findings: json_findings(findings, input, &input.name),
                },
            },
            other => Self {
                spec,
                file,
                ok: false,
                outcome: SpecOutcome::Unread {
                    error: other.to_string(),
                    help: other.help(),
                },
            },
        }
    }
}

/// An error that stopped a command before it had anything else to say.
#[derive(Serialize)]
pub struct Stopped<'a> {
    pub ok: bool,
    pub error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<&'a str>,
}

/// `gen`'s document for one spec it got to render.
#[derive(Serialize)]
pub struct GenReport<'a> {
    pub spec: &'a str,
    pub ok: bool,
    pub files: Vec<GenFile>,
    /// The spec's warnings.
    pub findings: Vec<JsonFinding<'a>>,
    /// A refused overwrite: how many files, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// One output file: what a write does (did) to it, why gen will not overwrite it, and the
/// change as a unified diff.
#[derive(Serialize)]
pub struct GenFile {
    pub path: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// `init`'s document when it wrote app.yaml.
#[derive(Serialize)]
pub struct InitReport<'a> {
    pub ok: bool,
    pub app_yaml: String,
    pub schema: Option<String>,
    pub found: &'a [Note],
    pub warnings: &'a [String],
}

/// `init`'s document when it could not: the apps it found when it cannot tell which one.
#[derive(Serialize)]
pub struct InitFailure<'a> {
    pub ok: bool,
    pub error: String,
    pub help: Option<String>,
    pub candidates: Vec<Candidate<'a>>,
}

#[derive(Serialize)]
pub struct Candidate<'a> {
    pub file: &'a str,
    pub line: usize,
    pub module: &'a str,
    pub framework: &'a str,
}

impl<'a> From<&'a AppCandidate> for Candidate<'a> {
    fn from(c: &'a AppCandidate) -> Self {
        Self {
            file: &c.file,
            line: c.line,
            module: &c.module,
            framework: c.framework,
        }
    }
}

/// `verify`'s document: the image and every check.
#[derive(Serialize)]
pub struct VerifyReport<'a> {
    pub spec: String,
    pub ok: bool,
    pub image: &'a ImageSummary,
    pub checks: &'a [Check],
}

/// A path as documents show it.
pub fn path(path: &Path) -> String {
    path.display().to_string()
}
