//! A spec checked whole: loaded and validated by `spec`, then held to what only its plan
//! shows: the planned `GUNICORN_CMD_ARGS` fits in one environment string (the spec's own
//! `env` entries are measured while validating), and a `--base-image` given instead of
//! `python.base_image` is held to `python.version`. Every command that reads a spec calls this.

use std::path::Path;

use crate::diagnostic::Finding;
use crate::gunicorn::rules::{env_string_overflow, env_too_long_why};
use crate::plan::{self, Overrides, Plan};
use crate::rules;
use crate::spec::{self, Checked, ImageRef, Memory, SpecError, base_python};

mod policy;

/// Loads, validates and plans the spec at `path`. `display` names it in messages; relative
/// paths inside the spec resolve against the directory holding it.
pub fn check(path: &Path, display: &str) -> Result<Checked, SpecError> {
    planned(spec::validate_file(path, display)?, &Overrides::default())
}

/// `check`, planned with `overrides` (`gen --base-image`, `check --base-image`).
pub fn check_with(path: &Path, display: &str, overrides: &Overrides) -> Result<Checked, SpecError> {
    planned(spec::validate_file(path, display)?, overrides)
}

/// `check` for spec text that is not on disk (tests, fuzzing); `project` is where relative
/// paths resolve.
pub fn check_text(text: &str, name: &str, project: &Path) -> Result<Checked, SpecError> {
    planned(
        spec::validate_text(text, name, project)?,
        &Overrides::default(),
    )
}

/// `checked`, or its warnings and the error that its plan does not fit.
fn planned(mut checked: Checked, overrides: &Overrides) -> Result<Checked, SpecError> {
    if let Some(base) = &overrides.base_image {
        checked.warnings.extend(override_python(&checked, base));
    }
    let plan = plan::plan(&checked.spec, overrides);
    checked.warnings.extend(sizing(&checked, &plan));
    let broken = policy::held_to(&checked, &plan, overrides);
    if !broken.is_empty() {
        let mut findings = checked.warnings;
        findings.extend(broken);
        return Err(SpecError::Invalid {
            input: checked.source,
            findings,
        });
    }
    let Some(length) = env_string_overflow("GUNICORN_CMD_ARGS", &plan.gunicorn_cmd_args) else {
        return Ok(checked);
    };
    let finding = Finding::error(
        rules::ENV_TOO_LONG,
        format!(
            "the planned {}",
            env_too_long_why("GUNICORN_CMD_ARGS", length)
        ),
    )
    .help("keep server.extra_args to the flags gunicorn needs; long settings belong in a config file given with --config")
    .at(spec::longest_extra_arg(checked.source.first_text()));
    let mut findings = checked.warnings;
    findings.push(finding);
    Err(SpecError::Invalid {
        input: checked.source,
        findings,
    })
}

/// The worker count against the memory limit: a warning when the memory, not the CPUs,
/// decides the count, or when a count set in the spec does not fit in the memory.
fn sizing(checked: &Checked, plan: &Plan) -> Option<Finding> {
    let server = &checked.spec.server;
    let memory = server.memory.as_ref()?;
    let by_memory = plan.workers.by_memory?;
    let each = &server.worker_memory.text;
    let at = |key: &str| {
        checked
            .origins
            .get(key)
            .or_else(|| checked.origins.get("deploy.memory"))
            .or_else(|| checked.origins.get("name"))
    };
    let need = |n: u32| Memory::show(u64::from(n) * server.worker_memory.bytes);
    if let Some(n) = server.workers {
        return (n > by_memory).then(|| {
            Finding::warning(
                rules::WORKER_MEMORY,
                format!(
                    "{n} workers at {each} each need {}; the memory limit is {}",
                    need(n),
                    memory.text
                ),
            )
            .help(format!(
                "the container is killed when it runs out of memory: run {by_memory} workers, raise server.memory to {}, or set server.worker_memory to what one worker really uses",
                need(n)
            ))
            .at(checked.origins.get("server.workers"))
        });
    }
    let by_cpu = plan.workers.by_cpu;
    (by_memory < by_cpu).then(|| {
        Finding::warning(
            rules::WORKER_MEMORY,
            format!(
                "{} workers planned: the memory limit {} fits {by_memory} at {each} each, where {} CPU(s) would run {by_cpu}",
                by_memory, memory.text, server.cpus
            ),
        )
        .help(format!(
            "give the container {} to use its CPUs, or lower server.cpus; set server.worker_memory to what one worker really uses if {each} is not it",
            need(by_cpu)
        ))
        .at(at("server.memory"))
    })
}

/// A base given on the command line that is not known to have `python.version`: a
/// warning (the spec's own `python.base_image` is judged while validating), pointing at
/// `python.version` when the spec writes it.
fn override_python(checked: &Checked, base: &ImageRef) -> Option<Finding> {
    let version = &checked.spec.python.version;
    let (message, help) = base_python::disagreement(base, version)?;
    Some(
        Finding::warning(
            rules::BASE_PYTHON_UNKNOWN,
            format!("--base-image: {message}"),
        )
        .help(help)
        .at(checked.origins.get("python.version")),
    )
}
