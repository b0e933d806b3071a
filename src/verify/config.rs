//! The image config against the plan: user, `GUNICORN_CMD_ARGS`, command, port, volume,
//! labels, working directory and the rest of the environment.

use std::collections::{HashMap, HashSet};

use oci_spec::image::{Config, ImageConfiguration};

use super::Check;
use crate::layout::APP_DIR;
use crate::plan::Plan;

/// The config checks, in report order (used to skip them all when there is no config).
pub const NAMES: [&str; 8] = [
    "user",
    "gunicorn-cmd-args",
    "command",
    "exposed-port",
    "tls-volume",
    "labels",
    "workdir",
    "env",
];

pub fn checks(plan: &Plan, image: &ImageConfiguration) -> Vec<Check> {
    let empty = Config::default();
    let config = image.config().as_ref().unwrap_or(&empty);
    let env = env_of(plan, config);
    vec![
        user(plan, config),
        gunicorn_cmd_args(plan, &env),
        command(plan, config),
        exposed_port(plan, config),
        tls_volume(plan, config),
        labels(plan, config),
        workdir(config),
        other_env(plan, &env),
    ]
}

/// The image's values of the variables the plan sets, later entries winning as they do
/// at run time: one pass over the image's `Env`, however long it is.
fn env_of(plan: &Plan, config: &Config) -> HashMap<String, String> {
    let wanted: HashSet<&str> = plan
        .env
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(["GUNICORN_CMD_ARGS"])
        .collect();
    let mut env = HashMap::new();
    for item in config.env().iter().flatten() {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        if wanted.contains(key) {
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    env
}

fn lookup<'a>(env: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    env.get(key).map(String::as_str)
}

fn user(plan: &Plan, config: &Config) -> Check {
    let want = format!("{}:{}", plan.uid, plan.gid);
    let fix = format!("set `USER {want}` in the Dockerfile's final stage (fabuild gen does)");
    let user = config.user().as_deref().unwrap_or("");
    if user.is_empty() {
        return Check::fail(
            "user",
            format!("User is not set, so the container runs as root; {fix}"),
        );
    }
    let (uid, gid) = user.split_once(':').unwrap_or((user, ""));
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(uid) || !numeric(gid) {
        return Check::fail(
            "user",
            format!(
                "User is \"{user}\", not numeric uid:gid: Kubernetes runAsNonRoot cannot verify a user name, and a missing group falls back to /etc/passwd; {fix}"
            ),
        );
    }
    if uid.parse::<u64>().ok() == Some(0) {
        return Check::fail(
            "user",
            format!("User is \"{user}\": the container runs as root; {fix}"),
        );
    }
    if user != want {
        return Check::fail(
            "user",
            format!("User is \"{user}\", the spec plans \"{want}\"; {fix}"),
        );
    }
    Check::pass("user", format!("{user}, numeric and not root"))
}

fn gunicorn_cmd_args(plan: &Plan, env: &HashMap<String, String>) -> Check {
    let name = "gunicorn-cmd-args";
    let want = &plan.gunicorn_cmd_args;
    let Some(got) = lookup(env, "GUNICORN_CMD_ARGS") else {
        return Check::fail(
            name,
            format!(
                "GUNICORN_CMD_ARGS is not set in the image; the plan has:\n  {want}\nregenerate the Dockerfile with `fabuild gen` and rebuild"
            ),
        );
    };
    if got == want {
        return Check::pass(name, format!("{} bytes, equal to the plan", got.len()));
    }
    let mut detail =
        format!("GUNICORN_CMD_ARGS differs from the plan:\n  planned: {want}\n  image:   {got}\n");
    detail.push_str(&word_diff(want, got));
    detail.push_str("the Dockerfile is out of date or was edited: run `fabuild gen --check`, regenerate, rebuild");
    Check::fail(name, detail)
}

/// The flags that differ, one per line: `- ` planned only, `+ ` image only.
fn word_diff(want: &str, got: &str) -> String {
    let diff = similar::TextDiff::from_words(want, got);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let word = change.value();
        if word.trim().is_empty() {
            continue;
        }
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => continue,
        };
        out.push_str(&format!("  {sign} {word}\n"));
    }
    if out.is_empty() {
        // Same words, different spacing or quoting: show the bytes.
        out = format!("  planned bytes: {want:?}\n  image bytes:   {got:?}\n");
    }
    out
}

fn command(plan: &Plan, config: &Config) -> Check {
    let entrypoint = config.entrypoint().clone().unwrap_or_default();
    let cmd = config.cmd().clone().unwrap_or_default();
    let argv: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    let shown = format!("{argv:?}");
    let fix = format!("use the exec form `CMD {:?}`", plan.cmd);
    if argv.is_empty() {
        return Check::fail(
            "command",
            format!("the image has no Entrypoint or Cmd; {fix}"),
        );
    }
    let program = argv[0].rsplit('/').next().unwrap_or("");
    if matches!(program, "sh" | "bash" | "dash") && argv.get(1).is_some_and(|a| a == "-c") {
        return Check::fail(
            "command",
            format!(
                "the command is shell form ({shown}): the shell is PID 1, so gunicorn never gets SIGTERM and is killed at the grace period; {fix}"
            ),
        );
    }
    if program != "gunicorn" {
        return Check::fail(
            "command",
            format!("the command {shown} does not start gunicorn as PID 1; {fix}"),
        );
    }
    if !argv[1..].contains(&plan.module) {
        return Check::fail(
            "command",
            format!(
                "the command {shown} does not run the spec's module `{}`; {fix}",
                plan.module
            ),
        );
    }
    Check::pass("command", format!("exec form {shown}"))
}

fn exposed_port(plan: &Plan, config: &Config) -> Check {
    let ports = config.exposed_ports().clone().unwrap_or_default();
    let want = format!("{}/tcp", plan.port);
    if ports
        .iter()
        .any(|p| *p == want || *p == plan.port.to_string())
    {
        return Check::pass("exposed-port", want);
    }
    let mut have = ports;
    have.sort();
    Check::fail(
        "exposed-port",
        format!(
            "ExposedPorts is [{}], missing {want}; add `EXPOSE {}`",
            have.join(", "),
            plan.port
        ),
    )
}

fn tls_volume(plan: &Plan, config: &Config) -> Check {
    let Some(dir) = &plan.tls_dir else {
        return Check::skip("tls-volume", "the spec has no TLS directory");
    };
    let volumes = config.volumes().clone().unwrap_or_default();
    let want = dir.trim_end_matches('/');
    if volumes.iter().any(|v| v.trim_end_matches('/') == want) {
        return Check::pass("tls-volume", format!("{dir} is a volume"));
    }
    let mut have = volumes;
    have.sort();
    Check::fail(
        "tls-volume",
        format!(
            "Volumes is [{}], missing {dir}: the key and certificate are mounted there at run time; add `VOLUME [\"{dir}\"]`",
            have.join(", ")
        ),
    )
}

fn labels(plan: &Plan, config: &Config) -> Check {
    let have = config.labels().clone().unwrap_or_default();
    let mut problems = Vec::new();
    for (key, want) in &plan.labels {
        match have.get(key) {
            None => problems.push(format!("label {key} is missing (planned \"{want}\")")),
            Some(got) if got != want => {
                problems.push(format!("label {key} is \"{got}\", planned \"{want}\""));
            }
            Some(_) => {}
        }
    }
    Check::from_problems(
        "labels",
        &problems,
        format!("{} planned labels present and equal", plan.labels.len()),
    )
}

fn workdir(config: &Config) -> Check {
    match config.working_dir().as_deref() {
        Some(APP_DIR) => Check::pass("workdir", APP_DIR),
        other => Check::fail(
            "workdir",
            format!(
                "WorkingDir is \"{}\", planned {APP_DIR}: gunicorn imports the module and looks for gunicorn.conf.py there; add `WORKDIR {APP_DIR}`",
                other.unwrap_or("")
            ),
        ),
    }
}

fn other_env(plan: &Plan, env: &HashMap<String, String>) -> Check {
    let mut problems = Vec::new();
    let mut count = 0;
    for (key, want) in plan.env.iter().filter(|(k, _)| k != "GUNICORN_CMD_ARGS") {
        count += 1;
        match lookup(env, key) {
            None => problems.push(format!("{key} is not set (planned \"{want}\")")),
            Some(got) if got != want => {
                problems.push(format!("{key} is \"{got}\", planned \"{want}\""));
            }
            Some(_) => {}
        }
    }
    Check::from_problems(
        "env",
        &problems,
        format!("{count} planned variables set as planned"),
    )
}
