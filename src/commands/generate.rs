//! `fabuild gen`: render the build files, write only what changed; `--check` and `--diff`
//! show what a write would change.

use std::path::Path;

use fabuild::exit::{CommandError, ExitStatus};
use fabuild::generate::{self, GenError, Generation};
use fabuild::output::{self, Change, OutputError, Provenance, Status};

use super::json::{self, GenFile, GenReport};
use super::{
    default_specs, json_findings, parse_base, plural, print_json, report, spec_failure, stopped,
};
use crate::cli::{Format, GenArgs};
use crate::console::{eout, eoutln, out, outln};

pub fn run(args: &GenArgs) -> ExitStatus {
    let specs = default_specs(&args.specs);
    if args.out.is_some() && specs.len() > 1 {
        eoutln!(
            "error: --out takes a single spec; each spec's files go next to it when several are given"
        );
        return ExitStatus::Error;
    }
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(b) => b,
        Err(status) => return status,
    };
    let options = generate::Options {
        out: args.out.clone(),
        templates: args.templates.clone(),
        base_image,
    };
    // Every spec rendered and compared first; then the ones to write are written together,
    // with one sync for the batch; then each spec's outcome is printed, in order.
    let mut prepared: Vec<Result<Generation, GenError>> = specs
        .iter()
        .map(|spec_path| generate::prepare(spec_path, &options))
        .collect();
    let mut written: Vec<Option<Result<(), GenError>>> = specs.iter().map(|_| None).collect();
    let writes: Vec<usize> = (0..specs.len())
        .filter(|&i| prepared[i].as_ref().is_ok_and(|g| writes(g, args)))
        .collect();
    if writes.len() == 1 {
        if let Ok(generation) = &mut prepared[writes[0]] {
            written[writes[0]] = Some(generate::write(generation));
        }
    } else if !writes.is_empty() {
        let mut batch: Vec<Generation> = Vec::with_capacity(writes.len());
        for &i in &writes {
            let taken = std::mem::replace(&mut prepared[i], Err(placeholder()));
            if let Ok(generation) = taken {
                batch.push(generation);
            }
        }
        let results = generate::write_many(&mut batch);
        for ((&i, generation), result) in writes.iter().zip(batch).zip(results) {
            prepared[i] = Ok(generation);
            written[i] = Some(result);
        }
    }
    let mut failed = Vec::new();
    let mut worst = ExitStatus::Success;
    for ((spec_path, generation), write) in specs.iter().zip(prepared).zip(written) {
        let status = one(spec_path, generation, write, args);
        if status != ExitStatus::Success {
            failed.push(spec_path.display().to_string());
        }
        worst = worst.max(status);
    }
    // Tools reading JSON get one document per spec and the exit code; people get a tally.
    if specs.len() > 1 && args.format == Format::Text {
        outln!(
            "{} spec(s): {} ok, {} failed{}",
            specs.len(),
            specs.len() - failed.len(),
            failed.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(": {}", failed.join(", "))
            }
        );
    }
    worst
}

/// Whether gen writes `generation`'s files (and so takes its directory's lock and reads
/// them again, even when nothing changed yet): a write run, and nothing it would refuse to
/// overwrite.
fn writes(generation: &Generation, args: &GenArgs) -> bool {
    !(args.check || args.diff)
        && (args.force || generation.changes.iter().all(|c| c.guard.is_none()))
}

/// What stands in a spec's place while its generation is in the batch being written.
fn placeholder() -> GenError {
    GenError::Output(OutputError::ChangedMeanwhile)
}

/// One spec's outcome, printed: its rendering `prepared`, and `written`, the result of
/// writing its files when gen wrote them (`None`: nothing to write, or not a write run).
fn one(
    spec_path: &Path,
    prepared: Result<Generation, GenError>,
    written: Option<Result<(), GenError>>,
    args: &GenArgs,
) -> ExitStatus {
    let json = args.format == Format::Json;
    let spec_name = spec_path.display().to_string();
    let generation = match prepared {
        Ok(g) => g,
        Err(GenError::Spec(err)) => return spec_failure(&err, &spec_name, args.format, true),
        Err(err) => {
            stopped(args.format, &err.to_string(), Some(&spec_name));
            return err.exit_status();
        }
    };
    if !json {
        report(&generation.checked.warnings, &generation.checked.source);
    }
    let drifted: Vec<&Change> = generation
        .changes
        .iter()
        .filter(|c| c.status != Status::Unchanged)
        .collect();
    if args.check || args.diff {
        return preview(&generation, &drifted, args);
    }
    let guarded: Vec<&Change> = drifted
        .iter()
        .copied()
        .filter(|c| c.guard.is_some())
        .collect();
    if !guarded.is_empty() && !args.force {
        return refuse(&generation, &guarded, json);
    }
    match written.unwrap_or(Ok(())) {
        Ok(()) => {}
        // A file changed while gen ran: refused as a hand edit is, nothing written.
        Err(GenError::Output(OutputError::ChangedMeanwhile)) => {
            let changed: Vec<&Change> = generation
                .changes
                .iter()
                .filter(|c| c.guard.is_some())
                .collect();
            return refuse(&generation, &changed, json);
        }
        Err(err) => {
            stopped(
                args.format,
                &format!("{err}; nothing was changed"),
                Some(&spec_name),
            );
            return ExitStatus::Error;
        }
    }
    if json {
        print_json(&document(&generation, true, false));
    } else {
        for change in &generation.changes {
            let status = match change.status {
                Status::Created => "created",
                Status::Updated => "updated",
                Status::Unchanged => "unchanged",
            };
            outln!("{status:>9} {}", change.path.display());
        }
    }
    ExitStatus::Success
}

/// `gen --check` and `gen --diff`: what a write would change; writes nothing.
fn preview(generation: &Generation, drifted: &[&Change], args: &GenArgs) -> ExitStatus {
    let ok = !args.check || drifted.is_empty();
    if args.format == Format::Json {
        print_json(&document(generation, ok, true));
        return ExitStatus::failure_if(!ok);
    }
    for change in drifted {
        out!("{}", output::diff(change, &generation.label(change)));
    }
    if args.check {
        for change in drifted {
            let what = if change.old.is_none() {
                "missing"
            } else {
                "out of date"
            };
            eoutln!(
                "drift: {} is {what}; run `fabuild gen {}` to update it",
                change.path.display(),
                generation.checked.source.name
            );
        }
    }
    ExitStatus::failure_if(!ok)
}

/// Files gen will not overwrite without `--force`: says which and why.
fn refuse(generation: &Generation, guarded: &[&Change], json: bool) -> ExitStatus {
    let help = format!(
        "move the change into app.yaml (or a template with --templates), then rerun; \
         or pass --force to overwrite. Nothing was written for {}.",
        generation.checked.source.name
    );
    if json {
        let mut doc = document(generation, false, true);
        doc.error = Some(format!(
            "{} not overwritten: edited by hand or not generated by fabuild",
            plural(guarded.len(), "file")
        ));
        doc.help = Some(help);
        print_json(&doc);
        return ExitStatus::Failure;
    }
    for change in guarded {
        eoutln!(
            "error: {} {}; not overwriting it",
            change.path.display(),
            guard_why(change.guard)
        );
        eout!("{}", output::diff(change, &generation.label(change)));
    }
    eoutln!("help: {help}");
    ExitStatus::Failure
}

/// What a tool reads for one spec gen got to render: the files with what a write does
/// (did) to each, with `diff` the change of each that is not unchanged, and the warnings.
fn document(generation: &Generation, ok: bool, diff: bool) -> GenReport<'_> {
    let spec = &generation.checked.source.name;
    let files = generation
        .changes
        .iter()
        .map(|change| GenFile {
            path: json::path(&change.path),
            status: change.status,
            guard: change.guard.map(|guard| match guard {
                Provenance::HandEdited => "hand-edited",
                _ => "not-generated",
            }),
            diff: (diff && change.status != Status::Unchanged)
                .then(|| output::diff(change, &generation.label(change))),
        })
        .collect();
    GenReport {
        spec,
        ok,
        files,
        findings: json_findings(
            &generation.checked.warnings,
            &generation.checked.source,
            spec,
        ),
        error: None,
        help: None,
    }
}

fn guard_why(guard: Option<Provenance>) -> &'static str {
    match guard {
        Some(Provenance::HandEdited) => "was edited by hand since fabuild generated it",
        _ => "was not generated by fabuild",
    }
}
