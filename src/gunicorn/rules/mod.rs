//! The rules a gunicorn argv must follow in a container, each traced to a fact in
//! `docs/rules.md` (which cites `deployment-facts.md`).
//!
//! `refusal` explains why gunicorn would not start at all; `check` reviews an argv gunicorn
//! accepts. `explain` and the spec's `server.extra_args` both use them, so the two can
//! never disagree about a flag.

mod binding;
mod container;
mod refused;
mod tls;
mod validated;
mod workers;

pub use binding::bind_address;
pub use container::{CREATED_AT_START, CreatedFile, SCRATCH_DIRS, creatable};
pub use refused::refusal;

use crate::defaults;
use crate::diagnostic::Severity::Error;
use crate::gunicorn::advice::{Advice, text};
use crate::gunicorn::argparse::{Occurrence, Parsed, Value};
use crate::gunicorn::settings::{self, Version};
use crate::rules;

/// What the argv will run under; each of these changes some verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// The uid the container runs gunicorn as.
    pub uid: u32,
    pub version: Version,
    /// The key and certificate are mounted at run time (a secret, a bind mount), read-only
    /// and owned by someone else, rather than copied into the image.
    pub tls_mounted: bool,
}

impl Default for Context {
    fn default() -> Self {
        Self {
            uid: defaults::UID,
            version: settings::DEFAULT_VERSION,
            tls_mounted: false,
        }
    }
}

/// The longest `NAME=value` string Linux passes to a new process, in bytes without the
/// terminating NUL: `MAX_ARG_STRLEN` is 32 pages (131,072 bytes) with the NUL, and execve
/// fails with E2BIG ("Argument list too long") on a longer one.
pub const MAX_ENV_STRING: usize = 131_071;

/// The length of `NAME=value`, when it is longer than Linux passes to a process (FAB129).
pub fn env_string_overflow(name: &str, value: &str) -> Option<usize> {
    let length = name.len() + 1 + value.len();
    (length > MAX_ENV_STRING).then_some(length)
}

/// Why a variable shown as `shown` cannot be set, being `length` bytes as `NAME=value`.
pub fn env_too_long_why(shown: &str, length: usize) -> String {
    format!(
        "{shown}=... is {length} bytes; Linux passes at most {MAX_ENV_STRING} in one environment string, so the container's process cannot be started (execve: Argument list too long)"
    )
}

/// A `GUNICORN_CMD_ARGS` value no process can be started with, if `value` is one.
pub fn too_long(value: &str) -> Option<Advice> {
    env_string_overflow("GUNICORN_CMD_ARGS", value).map(|length| {
        Advice::new(
            rules::ENV_TOO_LONG,
            Error,
            "GUNICORN_CMD_ARGS",
            text(
                env_too_long_why("GUNICORN_CMD_ARGS", length),
                format!(
                    "GUNICORN_CMD_ARGS=... 共 {length} 字节；Linux 单个环境变量字符串最多传递 {MAX_ENV_STRING} 字节，容器进程无法启动（execve：Argument list too long）"
                ),
            ),
            text(
                "keep the value to the flags gunicorn needs; long settings belong in a config file given with --config",
                "只保留 gunicorn 需要的参数；较长的设置放进配置文件，用 --config 指定",
            ),
        )
    })
}

/// Reviews an argv gunicorn accepts.
pub fn check(parsed: &Parsed, ctx: &Context) -> Vec<Advice> {
    let mut out = Vec::new();
    validated::refused(parsed, &mut out);
    container::syntax(parsed, &mut out);
    workers::worker_class(parsed, ctx, &mut out);
    tls::tls(parsed, ctx, &mut out);
    binding::binding(parsed, ctx, &mut out);
    workers::processes(parsed, &mut out);
    binding::proxies(parsed, &mut out);
    workers::workers(parsed, &mut out);
    container::non_root(parsed, ctx, &mut out);
    container::created_files(parsed, ctx, &mut out);
    workers::keepalive(parsed, &mut out);
    out
}

/// Whether `advice` is a value gunicorn's validators refuse (gunicorn exits 1).
pub fn is_validator_refusal(advice: &Advice) -> bool {
    advice.severity == Error
        && [rules::VALUE_REFUSED, rules::FORWARDED_ALLOW_INVALID].contains(&advice.rule)
}

/// A setting's last occurrence: the one gunicorn keeps.
pub fn last_occurrence<'a>(parsed: &'a Parsed, name: &str) -> Option<&'a Occurrence> {
    parsed
        .occurrences
        .iter()
        .rev()
        .find(|o| o.setting.name == name)
}

/// The token and text of a setting's last occurrence.
fn last(parsed: &Parsed, name: &str) -> Option<(usize, String)> {
    last_occurrence(parsed, name).map(|o| (o.token, o.value.display()))
}

fn str_value<'a>(parsed: &'a Parsed, name: &str) -> Option<&'a str> {
    match parsed.values.get(name) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn is_uvicorn(parsed: &Parsed) -> bool {
    str_value(parsed, "worker_class").is_some_and(|c| c.contains("Uvicorn"))
}
