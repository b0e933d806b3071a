//! One file per command: each turns its parsed arguments into library calls and prints the
//! outcome. What several commands print the same way (findings, spec failures, an error
//! that stopped the run) lives here; the JSON documents they print are typed in `json`.

mod build;
mod check;
mod explain;
mod generate;
mod init;
mod json;
mod pin;
mod pins;
mod plan;
mod registry;
mod resolve;
mod verify;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use fabuild::diagnostic::{Finding, JsonFinding, Source, render_text};
use fabuild::exit::{CommandError, ExitStatus};
use fabuild::spec::{ImageRef, SpecError};
use serde::Serialize;

use crate::cli::{Command, Format};
use crate::console::{self, eoutln};

/// Runs one command to its verdict.
pub fn run(command: Command) -> ExitStatus {
    match command {
        Command::Gen(args) => generate::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Schema(args) => {
            console::stdout_raw(if args.platform {
                fabuild::schema::PLATFORM_SCHEMA
            } else {
                fabuild::schema::APP_SCHEMA
            });
            ExitStatus::Success
        }
        Command::Verify(args) => verify::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Pins(command) => pins::run(&command),
        Command::Pin(args) => pin::run(&args),
        Command::Push(args) => push(&args),
        Command::Resolve(args) => resolve::run(&args),
    }
}

/// `fabuild push LAYOUT REF`.
fn push(args: &crate::cli::PushArgs) -> ExitStatus {
    use fabuild::net::registry::Reference;
    let parse = |text: &str, what: &str| {
        Reference::parse(text).map_err(|why| {
            eoutln!("error: {what}: {why}");
            ExitStatus::Error
        })
    };
    let target = match parse(&args.reference, "REF") {
        Ok(t) => t,
        Err(s) => return s,
    };
    let from = match args
        .mount_from
        .as_deref()
        .map(|m| parse(m, "--mount-from"))
        .transpose()
    {
        Ok(f) => f,
        Err(s) => return s,
    };
    build::push_image(
        &build::Push {
            given: &args.reference,
            digest_file: args.digest_file.as_deref(),
            registry_ca: args.registry_ca.as_deref(),
        },
        &image_path(&args.layout),
        &target,
        from.as_ref(),
    )
}

/// The specs a command was given, or `app.yaml` in the current directory.
fn default_specs(specs: &[PathBuf]) -> Vec<PathBuf> {
    if specs.is_empty() {
        vec![default_spec(None)]
    } else {
        specs.to_vec()
    }
}

/// The one spec a command was given, or `app.yaml` in the current directory.
fn default_spec(spec: Option<&PathBuf>) -> PathBuf {
    spec.cloned().unwrap_or_else(|| PathBuf::from("app.yaml"))
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Findings in the order a reader meets them in the file: by line and column, those about
/// the whole file first. Checks run in an order of their own.
fn in_file_order(findings: &[Finding]) -> Vec<&Finding> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    // By offset: a spec's own lines first, then each platform file's (`extends`).
    sorted.sort_by_key(|f| f.span.map(|s| s.offset));
    sorted
}

/// At most this many findings are drawn as text: thousands of them (a list of bad items)
/// would bury the first, which is the one to read. The note points at `check --format
/// json`, which lists every one, because `plan` draws them too and has no `--format`.
const MAX_DRAWN: usize = 50;

/// Draws findings with a caret under the value, to stderr (`render_text` shows input safely
/// and colours the rest); past `MAX_DRAWN`, counts the rest by rule.
fn report(findings: &[Finding], source: &Source) {
    let color = color();
    let ordered = in_file_order(findings);
    for finding in ordered.iter().take(MAX_DRAWN) {
        console::stderr_raw(&format!("{}\n", render_text(finding, source, color)));
    }
    let rest = ordered.get(MAX_DRAWN..).unwrap_or_default();
    if !rest.is_empty() {
        let mut by_rule = BTreeMap::<&str, usize>::new();
        for finding in rest {
            *by_rule.entry(finding.rule.id).or_default() += 1;
        }
        let counts: Vec<String> = by_rule.iter().map(|(id, n)| format!("{id} {n}")).collect();
        eoutln!(
            "note: {} not shown ({}); `fabuild check --format json` lists every one",
            plural(rest.len(), "more finding"),
            counts.join(", ")
        );
    }
}

fn json_findings<'a>(
    findings: &'a [Finding],
    source: &'a Source,
    file: &'a str,
) -> Vec<JsonFinding<'a>> {
    in_file_order(findings)
        .into_iter()
        .map(|f| JsonFinding::new(f, source, file))
        .collect()
}

/// Prints one JSON document. Keys come out sorted, as every document always has, whatever
/// the order of the fields of the type. `serde_json` escapes the C0 control characters,
/// `json_safe` the rest; the values read back exactly.
fn print_json(document: &impl Serialize) {
    let text = serde_json::to_value(document)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_default();
    console::stdout_raw(&format!("{}\n", console::json_safe(&text)));
}

/// Prints a spec failure: the findings drawn, or the error and its help; or as a JSON
/// document, naming the spec under `spec` when `named` (gen and verify do).
fn spec_failure(err: &SpecError, file: &str, format: Format, named: bool) -> ExitStatus {
    match (err, format) {
        (SpecError::Invalid { input, findings }, Format::Text) => report(findings, input),
        (other, Format::Text) => {
            eoutln!("error: {other}");
            if let Some(help) = other.help() {
                eoutln!("help: {help}");
            }
        }
        (_, Format::Json) => {
            print_json(&json::SpecReport::failed(err, file, named.then_some(file)));
        }
    }
    err.exit_status()
}

/// An error that stopped a command (not a finding): `error: ...` on stderr, or a JSON
/// document `{"ok": false, "error"}`, with `spec` when one is named.
fn stopped(format: Format, error: &str, spec: Option<&str>) {
    match format {
        Format::Text => eoutln!("error: {error}"),
        Format::Json => print_json(&json::Stopped {
            ok: false,
            error,
            spec,
        }),
    }
}

/// Parses `--base-image`; a reference that is not one is a usage error.
fn parse_base(text: Option<&str>) -> Result<Option<ImageRef>, ExitStatus> {
    match text {
        None => Ok(None),
        Some(t) => ImageRef::parse(t).map(Some).ok_or_else(|| {
            eoutln!("error: --base-image `{t}` is not a valid image reference (write `name:tag`, optionally `@sha256:<digest>`)");
            ExitStatus::Error
        }),
    }
}

/// `--image` or `--base` with an optional skopeo-style transport prefix removed.
fn image_path(given: &Path) -> PathBuf {
    let text = given.to_string_lossy();
    for prefix in ["oci-archive:", "docker-archive:", "oci:"] {
        if let Some(rest) = text.strip_prefix(prefix)
            && !given.exists()
        {
            return PathBuf::from(rest);
        }
    }
    given.to_path_buf()
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
