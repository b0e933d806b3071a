//! The `fabuild` binary: parses arguments, calls the library, prints, maps to exit codes.

mod cli;
mod console;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fabuild::diagnostic::{Finding, JsonFinding, Source, render_text};
use fabuild::generate::{self, GenError, Generation};
use fabuild::oci::Platform;
use fabuild::output::{self, Provenance, Status};
use fabuild::spec::{self, ImageRef, SpecError};

use console::{eout, eoutln, out, outln};

use cli::{
    BuildArgs, CheckArgs, Cli, Command, ExplainArgs, Format, GenArgs, ImageFormat, InitArgs,
    InterfaceArg, Language, PlanArgs, VerifyArgs,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Gen(args) => generate(&args),
        Command::Check(args) => check(&args),
        Command::Plan(args) => plan(&args),
        Command::Explain(args) => explain(&args),
        Command::Init(args) => init(&args),
        Command::Schema => {
            console::stdout_raw(fabuild::schema::APP_SCHEMA);
            0
        }
        Command::Verify(args) => verify(&args),
        Command::Build(args) => build(&args),
    };
    ExitCode::from(console::exit_code(code))
}

fn default_specs(specs: &[PathBuf]) -> Vec<PathBuf> {
    if specs.is_empty() {
        vec![PathBuf::from("app.yaml")]
    } else {
        specs.to_vec()
    }
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Findings in the order a reader meets them in the file: by line and column, those about
/// the whole file first. Checks run in an order of their own.
fn in_file_order(findings: &[Finding]) -> Vec<&Finding> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.span.map(|s| (s.line, s.column)));
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
        let mut by_rule = std::collections::BTreeMap::<&str, usize>::new();
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

fn json_findings<'a>(findings: &'a [Finding], file: &'a str) -> Vec<JsonFinding<'a>> {
    in_file_order(findings)
        .into_iter()
        .map(|f| JsonFinding::new(f, file))
        .collect()
}

/// `serde_json` escapes the C0 control characters, `json_safe` the rest; the values read back
/// exactly.
fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    console::stdout_raw(&format!("{}\n", console::json_safe(&text)));
}

/// A spec that does not stand, as tools read it: its findings, or the error that stopped
/// the reading.
fn spec_failure_json(err: &SpecError, file: &str) -> serde_json::Value {
    match err {
        SpecError::Invalid {
            input: source,
            findings,
        } => serde_json::json!({
            "file": source.name, "ok": false, "findings": json_findings(findings, &source.name)
        }),
        other => serde_json::json!({
            "file": file, "ok": false, "error": other.to_string(), "help": other.help()
        }),
    }
}

/// A spec failure for `gen` and `verify`, whose JSON documents also name the spec under
/// `spec`; returns its exit code.
fn spec_failure_of(err: &SpecError, spec: &str, format: Format) -> u8 {
    if format == Format::Text {
        return spec_failure(err, spec, format);
    }
    let mut doc = spec_failure_json(err, spec);
    doc["spec"] = spec.into();
    print_json(&doc);
    err.exit_code()
}

/// An error that stopped a command (not a finding): `error: ...` on stderr, or a JSON
/// document `{"ok": false, "error"}`, with `spec` when one is named.
fn stopped(format: Format, error: &str, spec: Option<&str>) {
    match format {
        Format::Text => eoutln!("error: {error}"),
        Format::Json => {
            let mut doc = serde_json::json!({"ok": false, "error": error});
            if let Some(spec) = spec {
                doc["spec"] = spec.into();
            }
            print_json(&doc);
        }
    }
}

/// Prints a spec failure; returns its exit code.
fn spec_failure(err: &SpecError, file: &str, format: Format) -> u8 {
    match (err, format) {
        (SpecError::Invalid { input, findings }, Format::Text) => report(findings, input),
        (other, Format::Text) => {
            eoutln!("error: {other}");
            if let Some(help) = other.help() {
                eoutln!("help: {help}");
            }
        }
        (_, Format::Json) => print_json(&spec_failure_json(err, file)),
    }
    err.exit_code()
}

fn check(args: &CheckArgs) -> u8 {
    let mut worst = 0;
    for path in default_specs(&args.specs) {
        let display = path.display().to_string();
        let code = match spec::check(&path, &display) {
            Ok(checked) => {
                match args.format {
                    Format::Text => {
                        report(&checked.warnings, &checked.source);
                        let n = checked.warnings.len();
                        let tail = if n == 0 {
                            String::new()
                        } else {
                            format!(" ({})", plural(n, "warning"))
                        };
                        outln!("{display}: ok{tail}");
                    }
                    Format::Json => print_json(&serde_json::json!({
                        "file": display, "ok": true, "findings": json_findings(&checked.warnings, &display)
                    })),
                }
                0
            }
            Err(err) => spec_failure(&err, &display, args.format),
        };
        worst = worst.max(code);
    }
    worst
}

fn plan(args: &PlanArgs) -> u8 {
    let (path, base_image) = match spec_and_base(args.spec.as_ref(), args.base_image.as_deref()) {
        Ok(both) => both,
        Err(code) => return code,
    };
    match spec::check(&path, &path.display().to_string()) {
        Ok(checked) => {
            let plan = fabuild::plan::plan(&checked.spec, &fabuild::plan::Overrides { base_image });
            print_json(&serde_json::to_value(&plan).unwrap_or_default());
            0
        }
        Err(err) => spec_failure(&err, &path.display().to_string(), Format::Text),
    }
}

/// The spec path (default `app.yaml`) and the parsed `--base-image` of `plan` and `verify`.
fn spec_and_base(
    spec: Option<&PathBuf>,
    base: Option<&str>,
) -> Result<(PathBuf, Option<ImageRef>), u8> {
    let path = spec.cloned().unwrap_or_else(|| PathBuf::from("app.yaml"));
    Ok((path, parse_base(base)?))
}

fn parse_base(text: Option<&str>) -> Result<Option<ImageRef>, u8> {
    match text {
        None => Ok(None),
        Some(t) => ImageRef::parse(t).map(Some).ok_or_else(|| {
            eoutln!("error: --base-image `{t}` is not a valid image reference (write `name:tag`, optionally `@sha256:<digest>`)");
            2
        }),
    }
}

fn generate(args: &GenArgs) -> u8 {
    let specs = default_specs(&args.specs);
    if args.out.is_some() && specs.len() > 1 {
        eoutln!(
            "error: --out takes a single spec; each spec's files go next to it when several are given"
        );
        return 2;
    }
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let options = generate::Options {
        out: args.out.clone(),
        templates: args.templates.clone(),
        base_image,
    };
    let mut failed = Vec::new();
    let mut worst = 0;
    for spec_path in &specs {
        let code = gen_one(spec_path, &options, args);
        if code != 0 {
            failed.push(spec_path.display().to_string());
        }
        worst = worst.max(code);
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

fn gen_one(spec_path: &Path, options: &generate::Options, args: &GenArgs) -> u8 {
    let json = args.format == Format::Json;
    let spec_name = spec_path.display().to_string();
    let generation = match generate::prepare(spec_path, options) {
        Ok(g) => g,
        Err(GenError::Spec(err)) => return spec_failure_of(&err, &spec_name, args.format),
        Err(err) => {
            stopped(args.format, &err.to_string(), Some(&spec_name));
            return err.exit_code();
        }
    };
    if !json {
        report(&generation.checked.warnings, &generation.checked.source);
    }
    let drifted: Vec<_> = generation
        .changes
        .iter()
        .filter(|c| c.status != Status::Unchanged)
        .collect();
    if args.check || args.diff {
        return gen_preview(&generation, &drifted, args);
    }
    let guarded: Vec<_> = drifted.iter().filter(|c| c.guard.is_some()).collect();
    if !guarded.is_empty() && !args.force {
        return gen_refuse(&generation, &guarded, json);
    }
    let mut generation = generation;
    match generate::write(&mut generation) {
        Ok(()) => {}
        Err(GenError::Output(output::OutputError::ChangedMeanwhile)) => {
            let changed: Vec<_> = generation
                .changes
                .iter()
                .filter(|c| c.guard.is_some())
                .collect();
            return gen_refuse(&generation, &changed.iter().collect::<Vec<_>>(), json);
        }
        Err(err) => {
            stopped(
                args.format,
                &format!("{err}; nothing was changed"),
                Some(&spec_name),
            );
            return 2;
        }
    }
    if json {
        print_json(&gen_document(&generation, true, false));
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
    0
}

/// `gen --check` and `gen --diff`: what a write would change; writes nothing.
fn gen_preview(generation: &Generation, drifted: &[&output::Change], args: &GenArgs) -> u8 {
    let ok = !args.check || drifted.is_empty();
    if args.format == Format::Json {
        print_json(&gen_document(generation, ok, true));
        return u8::from(!ok);
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
    u8::from(!ok)
}

/// Files gen will not overwrite without `--force`: says which and why; exit 1.
fn gen_refuse(generation: &Generation, guarded: &[&&output::Change], json: bool) -> u8 {
    let help = format!(
        "move the change into app.yaml (or a template with --templates), then rerun; \
         or pass --force to overwrite. Nothing was written for {}.",
        generation.checked.source.name
    );
    if json {
        let mut doc = gen_document(generation, false, true);
        doc["error"] = format!(
            "{} not overwritten: edited by hand or not generated by fabuild",
            plural(guarded.len(), "file")
        )
        .into();
        doc["help"] = help.into();
        print_json(&doc);
        return 1;
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
    1
}

/// What a tool reads for one spec gen got to render: the files with what a write does (did)
/// to each, and the spec's warnings.
fn gen_document(generation: &Generation, ok: bool, diff: bool) -> serde_json::Value {
    let spec = &generation.checked.source.name;
    serde_json::json!({
        "spec": spec,
        "ok": ok,
        "files": json_files(generation, diff),
        "findings": json_findings(&generation.checked.warnings, spec),
    })
}

fn guard_why(guard: Option<Provenance>) -> &'static str {
    match guard {
        Some(Provenance::HandEdited) => "was edited by hand since fabuild generated it",
        _ => "was not generated by fabuild",
    }
}

/// Each output file as `gen --format json` reports it: its path, what a write does to it,
/// why gen will not overwrite it (`guard`), and with `diff` the change as a unified diff.
fn json_files(generation: &Generation, diff: bool) -> Vec<serde_json::Value> {
    generation
        .changes
        .iter()
        .map(|change| {
            let mut file = serde_json::json!({
                "path": change.path.display().to_string(),
                "status": change.status,
            });
            if let Some(guard) = change.guard {
                file["guard"] = match guard {
                    Provenance::HandEdited => "hand-edited",
                    _ => "not-generated",
                }
                .into();
            }
            if diff && change.status != Status::Unchanged {
                file["diff"] = output::diff(change, &generation.label(change)).into();
            }
            file
        })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn explain(args: &ExplainArgs) -> u8 {
    use fabuild::explain::dockerfile;
    use fabuild::gunicorn::advice::Lang;
    use fabuild::gunicorn::rules::Context;
    use fabuild::gunicorn::settings::Version;

    // Nothing to explain: said as the chosen format says things; exit 2.
    let fail = |error: String| {
        stopped(args.format, &error, None);
        2
    };
    let Some(version) = Version::parse(&args.gunicorn_version) else {
        return fail(format!(
            "--gunicorn-version `{}` is not a version like 27.0.1",
            args.gunicorn_version
        ));
    };
    let (input, source) = if args.env {
        match std::env::var("GUNICORN_CMD_ARGS") {
            Ok(value) => (value, "$GUNICORN_CMD_ARGS".to_owned()),
            Err(_) => return fail("--env: GUNICORN_CMD_ARGS is not set (or not UTF-8)".into()),
        }
    } else if let Some(path) = &args.dockerfile {
        let text = match fabuild::read::text(path, fabuild::read::MAX_TEXT_BYTES) {
            Ok(text) => text,
            Err(err) => return fail(format!("cannot read {}: {err}", path.display())),
        };
        match dockerfile::find_env(&text, "GUNICORN_CMD_ARGS") {
            Ok(found) => (found.value, format!("{}:{}", path.display(), found.line)),
            Err(err) => return fail(format!("{}: {err}", path.display())),
        }
    } else {
        match args.args.as_slice() {
            [] => {
                return fail(
                    "give the value to review (fabuild explain '--bind=0.0.0.0:8443 --workers=3'), or --env, or --dockerfile FILE".into(),
                );
            }
            [one] => (one.clone(), "argument".to_owned()),
            many => (fabuild::gunicorn::shlex::join(many), "arguments".to_owned()),
        }
    };
    let ctx = Context {
        uid: args.uid,
        version,
        tls_mounted: args.tls_mounted,
    };
    let lang = match args.lang {
        Language::En => Lang::En,
        Language::Zh => Lang::Zh,
    };
    let explanation = fabuild::explain::explain(&input, &source, &ctx);
    match args.format {
        Format::Text => out!("{}", explanation.render_text(lang)),
        Format::Json => print_json(&explanation.to_json(lang)),
    }
    u8::from(explanation.has_errors())
}

fn init(args: &InitArgs) -> u8 {
    let options = fabuild::init::Options {
        dir: args.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        force: args.force,
        module: args.module.clone(),
        interface: args.interface.map(|i| match i {
            InterfaceArg::Asgi => fabuild::spec::Interface::Asgi,
            InterfaceArg::Wsgi => fabuild::spec::Interface::Wsgi,
        }),
        name: args.name.clone(),
        python: args.python.clone(),
        port: args.port,
        tls: args.tls_dir.as_ref().map(|dir| fabuild::init::TlsFlags {
            dir: dir.clone(),
            certfile: args.certfile.clone().unwrap_or_default(),
            keyfile: args.keyfile.clone().unwrap_or_default(),
        }),
        schema_ref: args.schema_ref.clone(),
        writable: args.writable.clone(),
        exclude_newer: args.exclude_newer.clone(),
    };
    let outcome = fabuild::init::plan(&options).and_then(|outcome| {
        fabuild::init::write(&outcome)?;
        Ok(outcome)
    });
    match (outcome, args.format) {
        (Ok(outcome), Format::Text) => {
            for note in &outcome.notes {
                outln!(
                    "{:>12}: {} ({})",
                    note.what,
                    fabuild::init::printable(&note.value),
                    fabuild::init::printable(&note.why)
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
            0
        }
        (Ok(outcome), Format::Json) => {
            print_json(&serde_json::json!({
                "ok": true,
                "app_yaml": outcome.app_yaml.display().to_string(),
                "schema": outcome.schema_file.as_ref().map(|s| s.display().to_string()),
                "found": outcome.notes,
                "warnings": outcome.warnings,
            }));
            0
        }
        (Err(err), Format::Text) => {
            eoutln!("error: {err}");
            if let fabuild::init::InitError::Ambiguous { candidates } = &err {
                for c in candidates {
                    eoutln!("  {}:{}: {} ({})", c.file, c.line, c.module, c.framework);
                }
            }
            if let Some(help) = err.help() {
                eoutln!("help: {help}");
            }
            err.exit_code()
        }
        (Err(err), Format::Json) => {
            let candidates = match &err {
                fabuild::init::InitError::Ambiguous { candidates } => candidates
                    .iter()
                    .map(|c| serde_json::json!({"file": c.file, "line": c.line, "module": c.module, "framework": c.framework}))
                    .collect(),
                _ => Vec::new(),
            };
            print_json(&serde_json::json!({
                "ok": false, "error": err.to_string(), "help": err.help(), "candidates": candidates,
            }));
            err.exit_code()
        }
    }
}

/// `--image` with an optional skopeo-style transport prefix removed.
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

fn verify(args: &VerifyArgs) -> u8 {
    let (path, base_image) = match spec_and_base(args.spec.as_ref(), args.base_image.as_deref()) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let platform = match args.platform.as_deref().map(Platform::parse).transpose() {
        Ok(p) => p,
        Err(err) => {
            eoutln!("error: {err}");
            return 2;
        }
    };
    let checked = match spec::check(&path, &path.display().to_string()) {
        Ok(checked) => checked,
        Err(err) => {
            // The image cannot be judged against a spec that does not stand.
            spec_failure_of(&err, &path.display().to_string(), args.format);
            return 2;
        }
    };
    let plan = fabuild::plan::plan(&checked.spec, &fabuild::plan::Overrides { base_image });
    let options = fabuild::verify::Options { platform };
    match fabuild::verify::verify(&plan, &image_path(&args.image), &options) {
        Ok(report) => {
            match args.format {
                Format::Text => out!("{}", report.to_text()),
                Format::Json => print_json(&serde_json::json!({
                    "spec": path.display().to_string(),
                    "ok": report.ok(),
                    "image": report.image,
                    "checks": report.checks,
                })),
            }
            report.exit_code()
        }
        Err(err) => {
            stopped(args.format, &err.to_string(), None);
            2
        }
    }
}

fn default_cache() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|dir| dir.join("fabuild"))
}

fn build(args: &BuildArgs) -> u8 {
    use fabuild::builder::{self as build, OutFormat, WheelSource};
    let spec_path = args
        .spec
        .clone()
        .unwrap_or_else(|| PathBuf::from("app.yaml"));
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let options = build::Options {
        base: image_path(&args.base),
        out: args.out.clone(),
        format: match args.format {
            ImageFormat::Oci => OutFormat::Oci,
            ImageFormat::OciArchive => OutFormat::OciArchive,
        },
        base_image,
        wheels: args
            .wheels
            .clone()
            .map_or_else(|| WheelSource::Pip(args.pip.clone()), WheelSource::Dir),
        cache: if args.no_cache {
            None
        } else {
            args.cache_dir.clone().or_else(default_cache)
        },
        tag: args.tag.clone(),
        source_date_epoch: None,
    };
    let built = match build::build(&spec_path, &options) {
        Ok(built) => built,
        Err(build::BuildError::Gen(GenError::Spec(err))) => {
            return spec_failure(&err, &spec_path.display().to_string(), Format::Text);
        }
        Err(err) => {
            eoutln!("error: {err}");
            return err.exit_code();
        }
    };
    let kind = match options.format {
        OutFormat::Oci => "OCI layout",
        OutFormat::OciArchive => "oci-archive",
    };
    outln!(
        "built {} ({kind}, tag {}) on base {} with {} (Python {}), SOURCE_DATE_EPOCH {}",
        built.out.display(),
        options.tag,
        built.base_manifest_digest,
        built.python,
        built.python_version,
        built.source_date_epoch
    );
    for layer in &built.layers {
        let cached = if layer.role == "dependencies" && built.deps_cached {
            " (cached)"
        } else {
            ""
        };
        outln!(
            "  {:<13} {} {:>10} bytes{cached}",
            layer.role,
            layer.layer.digest,
            layer.layer.size
        );
    }
    outln!("  config        {}", built.config_digest);
    outln!("manifest {}", built.manifest_digest);
    for note in &built.notes {
        eoutln!("note: {note}");
    }
    if args.check_reproducible {
        return check_reproducible(args, &spec_path, &built.out);
    }
    0
}

/// Builds again with another umask and time zone and an empty cache; compares the images.
fn check_reproducible(args: &BuildArgs, spec: &Path, first: &Path) -> u8 {
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eoutln!("error: cannot make a temp dir: {e}");
            return 2;
        }
    };
    let second = scratch.path().join("image");
    let Ok(exe) = std::env::current_exe() else {
        eoutln!("error: cannot find the fabuild binary to run the second build");
        return 2;
    };
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("umask 077 && exec \"$0\" \"$@\"")
        .arg(exe)
        .arg("build")
        .arg(spec)
        .arg("--base")
        .arg(&args.base)
        .arg("--out")
        .arg(&second)
        .arg("--cache-dir")
        .arg(scratch.path().join("cache"))
        .arg("--tag")
        .arg(&args.tag)
        .arg("--pip")
        .arg(&args.pip)
        .args([
            "--format",
            match args.format {
                ImageFormat::Oci => "oci",
                ImageFormat::OciArchive => "oci-archive",
            },
        ])
        .env("TZ", "Pacific/Chatham");
    if let Some(b) = &args.base_image {
        cmd.arg("--base-image").arg(b);
    }
    if let Some(w) = &args.wheels {
        cmd.arg("--wheels").arg(w);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        _ => {
            eoutln!("error: the second build (umask 077, TZ=Pacific/Chatham, empty cache) failed");
            return 2;
        }
    }
    match fabuild::builder::compare::images(first, &second) {
        Ok(diffs) if diffs.is_empty() => {
            outln!(
                "reproducible: a second build with umask 077, TZ=Pacific/Chatham and an empty cache gave the same manifest digest"
            );
            0
        }
        Ok(diffs) => {
            eoutln!(
                "NOT reproducible: a second build (umask 077, TZ=Pacific/Chatham, empty cache) differs:"
            );
            for d in diffs {
                eoutln!("  {d}");
            }
            1
        }
        Err(e) => {
            eoutln!("error: cannot compare the two builds: {e}");
            2
        }
    }
}
