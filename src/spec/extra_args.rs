//! `server.extra_args`: gunicorn flags the spec has no key for, checked with the same
//! parser and rules as `fabuild explain`.
//!
//! Each item is one argv word (`--limit-request-line=8190`). They are parsed together the
//! way gunicorn will read them from `GUNICORN_CMD_ARGS`; a flag the plan already writes is
//! refused with the spec key to use, and so is anything the explain rules call an error in
//! production (`--ssl-version`, `--daemon`, `--reload`, `--check-config`, abbreviations,
//! stray words), and so is a pid file or error log gunicorn could not create as the uid.

use serde_saphyr::Spanned;

use super::load::span;
use crate::diagnostic::Finding;
use crate::gunicorn::argparse::{Occurrence, Parser};
use crate::gunicorn::cmd_args::ReadError;
use crate::gunicorn::rules::{
    self as gunicorn_rules, CREATED_AT_START, Context, SCRATCH_DIRS, creatable,
};
use crate::gunicorn::shlex::Word;
use crate::plan::APP_DIR;
use crate::plan::workers::ASGI_WORKER_CLASS;
use crate::rules;
use crate::spec::Interface;

/// Settings the plan decides, and the spec key that decides each.
const OWNED: &[(&str, &str)] = &[
    ("bind", "server.port"),
    ("workers", "server.workers (or server.cpus)"),
    ("worker_class", "app.interface"),
    ("threads", "server.threads"),
    ("timeout", "server.timeout"),
    ("graceful_timeout", "server.graceful_timeout"),
    ("keepalive", "server.keepalive"),
    ("max_requests", "server.max_requests"),
    ("max_requests_jitter", "server.max_requests_jitter"),
    ("forwarded_allow_ips", "server.forwarded_allow_ips"),
    ("accesslog", "server.access_log"),
    (
        "worker_tmp_dir",
        "nothing: fabuild always sets it to /dev/shm",
    ),
    (
        "control_socket_disable",
        "nothing: fabuild always turns the control socket off",
    ),
    ("keyfile", "tls.keyfile"),
    ("certfile", "tls.certfile"),
    ("ca_certs", "tls.ca_certs"),
    ("user", "user.uid (the image runs as that user)"),
    ("group", "user.gid"),
    (
        "daemon",
        "nothing: a container's main process must stay in the foreground",
    ),
];

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

/// Checks the items; returns them (to append to the argv) and the findings. `writable` is
/// the spec's `app.writable`, as absolute paths.
pub fn check(
    items: &[Spanned<String>],
    text: &str,
    uid: u32,
    interface: Interface,
    writable: &[String],
) -> (Vec<String>, Vec<Finding>) {
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
            return (Vec::new(), findings);
        }
    };
    for o in &parsed.occurrences {
        if let Some((_, key)) = OWNED.iter().find(|(name, _)| *name == o.setting.name) {
            findings.push(
                Finding::error(
                    rules::EXTRA_ARGS_OWNED,
                    format!("{} is decided by the spec, not server.extra_args", o.option),
                )
                .at(at(o.token))
                .help(format!(
                    "set it with {key}; a second {} would conflict with the one fabuild writes",
                    o.option
                )),
            );
        }
    }
    for o in &parsed.occurrences {
        if let Some(finding) = created_outside_writable(o, uid, writable) {
            findings.push(finding.at(at(o.value_token.unwrap_or(o.token))));
        }
    }
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
    (items.iter().map(|i| i.value.clone()).collect(), findings)
}
