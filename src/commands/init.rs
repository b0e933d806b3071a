//! `fabuild init`: write a first app.yaml for an existing project.

use std::path::PathBuf;

use fabuild::exit::{CommandError, ExitStatus};
use fabuild::init::{self, InitError, Outcome};
use fabuild::spec::Interface;

use super::json::{self, InitFailure, InitReport};
use super::print_json;
use crate::cli::{Format, InitArgs, InterfaceArg};
use crate::console::{eoutln, outln};

pub fn run(args: &InitArgs) -> ExitStatus {
    let options = init::Options {
        dir: args.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        force: args.force,
        module: args.module.clone(),
        interface: args.interface.map(|i| match i {
            InterfaceArg::Asgi => Interface::Asgi,
            InterfaceArg::Wsgi => Interface::Wsgi,
        }),
        name: args.name.clone(),
        python: args.python.clone(),
        port: args.port,
        tls: args.tls_dir.as_ref().map(|dir| init::TlsFlags {
            dir: dir.clone(),
            certfile: args.certfile.clone().unwrap_or_default(),
            keyfile: args.keyfile.clone().unwrap_or_default(),
        }),
        schema_ref: args.schema_ref.clone(),
        writable: args.writable.clone(),
        exclude_newer: args.exclude_newer.clone(),
    };
    let outcome = init::survey(&options).and_then(|outcome| {
        init::write(&outcome)?;
        Ok(outcome)
    });
    match outcome {
        Ok(outcome) => {
            wrote(&outcome, args.format);
            ExitStatus::Success
        }
        Err(err) => {
            failed(&err, args.format);
            err.exit_status()
        }
    }
}

fn wrote(outcome: &Outcome, format: Format) {
    if format == Format::Json {
        print_json(&InitReport {
            ok: true,
            app_yaml: json::path(&outcome.app_yaml),
            schema: outcome.schema_file.as_deref().map(json::path),
            found: &outcome.notes,
            warnings: &outcome.warnings,
        });
        return;
    }
    for note in &outcome.notes {
        outln!(
            "{:>12}: {} ({})",
            note.what,
            init::comment_safe(&note.value),
            init::comment_safe(&note.why)
        );
    }
    for warning in &outcome.warnings {
        eoutln!("warning: {warning}");
    }
    outln!("     wrote {}", outcome.app_yaml.display());
    if let Some(schema) = &outcome.schema_file {
        outln!(
            "     wrote {} (the schema editors check app.yaml against)",
            schema.display()
        );
    }
}

fn failed(err: &InitError, format: Format) {
    let candidates = match err {
        InitError::Ambiguous { candidates } => candidates.as_slice(),
        _ => &[],
    };
    if format == Format::Json {
        print_json(&InitFailure {
            ok: false,
            error: err.to_string(),
            help: err.help(),
            candidates: candidates.iter().map(Into::into).collect(),
        });
        return;
    }
    eoutln!("error: {err}");
    for c in candidates {
        eoutln!("  {}:{}: {} ({})", c.file, c.line, c.module, c.framework);
    }
    if let Some(help) = err.help() {
        eoutln!("help: {help}");
    }
}
