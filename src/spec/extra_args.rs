//! `server.extra_args`: gunicorn flags the spec has no key for, checked with the same
//! parser and rules as `fabuild explain`.
//!
//! Each item is one argv word (`--limit-request-line=8190`). They are parsed together the
//! way gunicorn will read them from `GUNICORN_CMD_ARGS`; a flag the plan already writes is
//! refused with the spec key to use, and so is anything the explain rules call an error in
//! production (`--ssl-version`, `--daemon`, `--reload`, `--check-config`, abbreviations,
//! stray words) or a value gunicorn's validators refuse (`--backlog=-1`), and so is a pid file or error log gunicorn could not create as the uid, or
//! a config file, logging config or directory in the app directory the project lacks.

use std::path::Path;

use serde_saphyr::Spanned;

use super::load::span;
use crate::defaults::ASGI_WORKER_CLASS;
use crate::diagnostic::{Finding, Span};
use crate::gunicorn::argparse::{Occurrence, Parsed, Parser};
use crate::gunicorn::cmd_args::ReadError;
use crate::gunicorn::rules::{
    self as gunicorn_rules, CREATED_AT_START, Context, SCRATCH_DIRS, creatable, last_occurrence,
};
use crate::gunicorn::shlex::Word;
use crate::layout::APP_DIR;
use crate::rules;
use crate::spec::Interface;

/// Who decides a setting `server.extra_args` may not carry.
enum Owner {
    /// The spec key that sets it; the plan writes the flag.
    Key(&'static str),
    /// Nothing may set it in the image, for this reason.
    Never(&'static str),
}

/// Settings the plan decides or the image cannot have, and why.
const OWNED: &[(&str, Owner)] = &[
    ("bind", Owner::Key("server.port")),
    ("workers", Owner::Key("server.workers (or server.cpus)")),
    ("worker_class", Owner::Key("app.interface")),
    ("threads", Owner::Key("server.threads")),
    ("timeout", Owner::Key("server.timeout")),
    ("graceful_timeout", Owner::Key("server.graceful_timeout")),
    ("keepalive", Owner::Key("server.keepalive")),
    ("max_requests", Owner::Key("server.max_requests")),
    (
        "max_requests_jitter",
        Owner::Key("server.max_requests_jitter"),
    ),
    (
        "forwarded_allow_ips",
        Owner::Key("server.forwarded_allow_ips"),
    ),
    ("accesslog", Owner::Key("server.access_log")),
    ("keyfile", Owner::Key("tls.keyfile")),
    ("certfile", Owner::Key("tls.certfile")),
    ("ca_certs", Owner::Key("tls.ca_certs")),
    ("user", Owner::Key("user.uid (the image runs as that user)")),
    ("group", Owner::Key("user.gid")),
    (
        "worker_tmp_dir",
        Owner::Never("fabuild always sets it to /dev/shm"),
    ),
    (
        "control_socket_disable",
        Owner::Never("fabuild always turns the control socket off"),
    ),
    (
        "daemon",
        Owner::Never("a container's main process must stay in the foreground"),
    ),
    (
        "paste",
        Owner::Never(
            "the image starts gunicorn with app.module, and with --paste in GUNICORN_CMD_ARGS gunicorn reads that module as a PasteDeploy URI, so every worker fails to boot; name the app with app.module",
        ),
    ),
];

/// Findings for the flags in `OWNED`.
fn owned(parsed: &Parsed, at: &dyn Fn(usize) -> Option<Span>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for o in &parsed.occurrences {
        let Some((_, owner)) = OWNED.iter().find(|(name, _)| *name == o.setting.name) else {
            continue;
        };
        let finding = match owner {
            Owner::Key(key) => Finding::error(
                rules::EXTRA_ARGS_OWNED,
                format!("{} is decided by the spec, not server.extra_args", o.option),
            )
            .help(format!(
                "set it with {key}; a second {} would conflict with the one fabuild writes",
                o.option
            )),
            Owner::Never(why) => Finding::error(
                rules::EXTRA_ARGS_OWNED,
                format!("{} has no place in server.extra_args", o.option),
            )
            .help(format!("remove it: {why}")),
        };
        findings.push(finding.at(at(o.token)));
    }
    findings
}

/// A finding for `--pid` or `--error-logfile` naming a file gunicorn could not create as the
/// uid: the deployments fabuild writes keep the root filesystem read-only, with mounts at
/// `/tmp`, `/dev/shm` and each `app.writable` entry (`writable`, absolute).
fn created_outside_writable(o: &Occurrence, uid: u32, writable: &[String]) -> Option<Finding> {
    let file = CREATED_AT_START
        .iter()
        .find(|f| f.setting == o.setting.name)?;
    let mut dirs: Vec<&str> = SCRATCH_DIRS.to_vec();
    dirs.extend(writable.iter().map(String::as_str));
    let value = o.value.display();
    if creatable(&value, Some(APP_DIR), &dirs) {
        return None;
    }
    let dirs = dirs.join(", ");
    Some(
        Finding::error(
            rules::FILE_OUTSIDE_WRITABLE,
            format!(
                "{} `{value}` is {}, which gunicorn creates before it serves; uid {uid} can create files only directly inside {dirs} (the deployments fabuild writes keep the root filesystem read-only), so gunicorn would exit with status 1",
                o.option, file.what.0
            ),
        )
        .help(format!(
            "drop {} ({}), or name a file directly inside {dirs}",
            o.option, file.without.0
        )),
    )
}

/// A file or directory gunicorn opens at start, named by a flag.
struct Opened {
    setting: &'static str,
    what: &'static str,
    /// A directory, not a file.
    dir: bool,
    /// What gunicorn does when it is missing (verified against gunicorn 27.0.1).
    missing: &'static str,
}

/// The files gunicorn opens at start. `config` is read from the working directory before
/// `chdir` applies, `chdir` against it, and the logging configs after it.
const OPENED: &[Opened] = &[
    Opened {
        setting: "config",
        what: "the config file",
        dir: false,
        missing: "gunicorn exits with status 1 (`Error: '...' doesn't exist`)",
    },
    Opened {
        setting: "chdir",
        what: "the directory gunicorn changes to",
        dir: true,
        missing: "gunicorn exits with status 1 (`Error: can't chdir to '...'`)",
    },
    Opened {
        setting: "logconfig",
        what: "the logging config",
        dir: false,
        missing: "gunicorn exits with status 1 (`Error: log config '...' not found`)",
    },
    Opened {
        setting: "logconfig_json",
        what: "the JSON logging config",
        dir: false,
        missing: "gunicorn ignores a missing file without a word and logs with its defaults",
    },
];

/// `value` as an absolute, normalised path in the image, read against `cwd`.
fn in_image(value: &str, cwd: &str) -> String {
    let joined = if value.starts_with('/') {
        value.to_owned()
    } else {
        format!("{cwd}/{value}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The part of an in-image path below the app directory, where the project is copied
/// (`""` for the directory itself); `None` elsewhere.
fn in_app_dir(path: &str) -> Option<&str> {
    if path == APP_DIR {
        return Some("");
    }
    path.strip_prefix(APP_DIR)?.strip_prefix('/')
}

/// Findings for the files gunicorn opens at start that the image will not have: paths
/// inside the app directory must be in the project (copied there by the Dockerfile), unless
/// an `app.writable` mount covers them. Paths elsewhere may be mounts; they are not judged.
fn missing_from_project(
    parsed: &Parsed,
    project: &Path,
    writable: &[String],
    at: &dyn Fn(usize) -> Option<Span>,
) -> Vec<(&'static str, Finding)> {
    let chdir = last_occurrence(parsed, "chdir").map(|o| in_image(&o.value.display(), APP_DIR));
    let mut findings = Vec::new();
    for file in OPENED {
        let Some(o) = last_occurrence(parsed, file.setting) else {
            continue;
        };
        let value = o.value.display();
        let path = match file.setting {
            "config" if value.starts_with("python:") => continue,
            "config" => value.strip_prefix("file:").unwrap_or(&value),
            _ => &value,
        };
        let cwd = match file.setting {
            "logconfig" | "logconfig_json" => chdir.as_deref().unwrap_or(APP_DIR),
            _ => APP_DIR,
        };
        let full = in_image(path, cwd);
        let Some(rest) = in_app_dir(&full) else {
            continue;
        };
        let mounted = writable
            .iter()
            .any(|w| full == *w || full.starts_with(&format!("{w}/")));
        let local = project.join(rest);
        if mounted || (file.dir && local.is_dir()) || (!file.dir && local.is_file()) {
            continue;
        }
        let kind = if file.dir { "directory" } else { "file" };
        findings.push((
            file.setting,
            Finding::error(
                rules::OPENED_FILE_MISSING,
                format!(
                    "{} `{value}` names {} {full}, but the project has no {kind} `{rest}` to copy there: {}",
                    o.option, file.what, file.missing
                ),
            )
            .at(at(o.value_token.unwrap_or(o.token)))
            .help(format!(
                "add the {kind} to the project, which the image copies to {APP_DIR}, or fix the path (a relative path is read against {cwd})"
            )),
        ));
    }
    findings
}

/// `--config`: the file gunicorn loads instead of the project's `gunicorn.conf.py`, whose
/// settings (hooks, daemon, pidfile, `check_config`, ...) fabuild does not check.
fn config_loaded(parsed: &Parsed, at: &dyn Fn(usize) -> Option<Span>) -> Option<Finding> {
    let o = last_occurrence(parsed, "config")?;
    Some(
        Finding::warning(
            rules::GUNICORN_CONF,
            format!(
                "{} `{}` is loaded by gunicorn at start (instead of any gunicorn.conf.py): GUNICORN_CMD_ARGS overrides the settings it also sets, and the rest (hooks, daemon, pidfile, check_config, ...) apply without fabuild's checks",
                o.option,
                o.value.display()
            ),
        )
        .at(at(o.value_token.unwrap_or(o.token)))
        .help("move its settings to app.yaml (server.*, server.extra_args) and drop --config"),
    )
}

/// What the checks made of `server.extra_args`.
#[derive(Debug, Default)]
pub struct Checked {
    /// The items, to append to the argv (empty when they do not parse).
    pub items: Vec<String>,
    pub findings: Vec<Finding>,
    /// `--config` is given, so gunicorn does not look for `gunicorn.conf.py`.
    pub config: bool,
}

/// Checks the items. `writable` is the spec's `app.writable`, as absolute paths; `project`
/// is the directory the image copies to the app directory.
pub fn check(
    items: &[Spanned<String>],
    text: &str,
    uid: u32,
    interface: Interface,
    writable: &[String],
    project: &Path,
) -> Checked {
    let mut findings = Vec::new();
    let at = |i: usize| items.get(i).and_then(|item| span(item, text));
    for item in items {
        if let Some(c) = item.value.chars().find(|c| c.is_control()) {
            findings.push(
                Finding::error(
                    rules::CONTROL_CHARACTER,
                    format!("server.extra_args item contains the control character {c:?}"),
                )
                .at(span(item, text))
                .help("remove it: GUNICORN_CMD_ARGS is one line in the Dockerfile"),
            );
        }
    }
    let argv: Vec<&str> = items.iter().map(|i| i.value.as_str()).collect();
    let ctx = Context {
        uid,
        ..Context::default()
    };
    let parsed = match Parser::new(ctx.version).parse(&argv) {
        Ok(parsed) => parsed,
        Err(error) => {
            let token = error.token();
            let words = argv
                .iter()
                .map(|w| Word {
                    text: (*w).to_owned(),
                    offset: 0,
                })
                .collect();
            let advice = gunicorn_rules::refusal(&ReadError::Parse { words, error }, &ctx);
            findings.push(
                Finding::error(advice.rule, advice.why.en)
                    .at(at(token))
                    .help(advice.fix.en),
            );
            return Checked {
                findings,
                ..Checked::default()
            };
        }
    };
    findings.extend(owned(&parsed, &at));
    for o in &parsed.occurrences {
        if let Some(finding) = created_outside_writable(o, uid, writable) {
            findings.push(finding.at(at(o.value_token.unwrap_or(o.token))));
        }
    }
    let missing = missing_from_project(&parsed, project, writable, &at);
    if !missing.iter().any(|(setting, _)| *setting == "config") {
        findings.extend(config_loaded(&parsed, &at));
    }
    findings.extend(missing.into_iter().map(|(_, finding)| finding));
    if let Some(&token) = parsed.positional_tokens.first() {
        findings.push(
            Finding::error(
                rules::CMD_ARGS_POSITIONAL,
                "server.extra_args item is not a flag or a flag's value; gunicorn would ignore it",
            )
            .at(at(token))
            .help("write each flag with its value, --flag=value; the app module is app.module"),
        );
    }
    // The explain rules that judge single flags; those about what is missing do not apply
    // (the plan supplies bind, workers, access log, tmp dir and control socket).
    let relevant = [
        rules::CMD_ARGS_EXITS,
        rules::CMD_ARGS_ABBREVIATED,
        rules::SSL_VERSION,
        rules::RELOAD,
        rules::SPEW,
        rules::VALUE_REFUSED,
    ];
    // Judge the flags next to the worker class the plan will write: `--ssl-version` is
    // ignored by gunicorn's own workers but kills every UvicornWorker.
    let advices = match interface {
        Interface::Asgi => {
            let class = format!("--worker-class={ASGI_WORKER_CLASS}");
            let mut with_class = argv.clone();
            with_class.push(&class);
            match Parser::new(ctx.version).parse(&with_class) {
                Ok(p) => gunicorn_rules::check(&p, &ctx),
                Err(_) => gunicorn_rules::check(&parsed, &ctx),
            }
        }
        Interface::Wsgi => gunicorn_rules::check(&parsed, &ctx),
    };
    for advice in advices.into_iter().filter(|a| relevant.contains(&a.rule)) {
        // In a spec these are all errors: a production image should not carry them, and
        // the spec is the place to fix them before an image exists.
        findings.push(
            Finding::error(advice.rule, advice.why.en)
                .at(advice.token.and_then(at))
                .help(advice.fix.en),
        );
    }
    Checked {
        items: items.iter().map(|i| i.value.clone()).collect(),
        findings,
        config: last_occurrence(&parsed, "config").is_some(),
    }
}
