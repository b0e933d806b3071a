//! The rules a gunicorn argv must follow in a container, each traced to a fact in
//! `docs/rules.md` (which cites `deployment-facts.md`).
//!
//! `refusal` explains why gunicorn would not start at all; `check` reviews an argv gunicorn
//! accepts. `explain` and the spec's `server.extra_args` both use them, so the two can
//! never disagree about a flag.

use super::advice::{Advice, Fix, text};
use super::argparse::{Occurrence, ParseError, Parsed, Parser, Value};
use super::cmd_args::ReadError;
use super::settings::{self, Version};
use crate::defaults;
use crate::diagnostic::Severity::{Error, Note, Warning};
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

/// Why gunicorn refuses the argv, as one finding.
pub fn refusal(err: &ReadError, ctx: &Context) -> Advice {
    let (words, error) = match err {
        ReadError::Split(split) => {
            return Advice::new(
                rules::CMD_ARGS_SPLIT,
                Error,
                "GUNICORN_CMD_ARGS",
                text(
                    format!(
                        "shlex.split raises \"{split}\": gunicorn dies with a traceback before reading any flag"
                    ),
                    format!(
                        "shlex.split 报错 \"{split}\"：gunicorn 还没读取任何参数就带着 traceback 退出了"
                    ),
                ),
                text(
                    "close every quote you open; to put a quote inside a value, wrap the value in the other kind of quote; do not end the line with a backslash",
                    "每个引号都要成对闭合；值里需要引号时，用另一种引号把整个值括起来；行尾不要留反斜杠",
                ),
            );
        }
        ReadError::Parse { words, error } => (words, error),
    };
    let token = error.token();
    let written = words.get(token).map_or("", |w| w.text.as_str()).to_owned();
    match error {
        ParseError::Ambiguous { candidates, .. } => Advice::new(
            rules::CMD_ARGS_AMBIGUOUS,
            Error,
            &written,
            text(
                format!("`{written}` is a prefix of several flags ({}); argparse refuses it and gunicorn exits with status 2", candidates.join(", ")),
                format!("`{written}` 是多个参数的前缀（{}），argparse 无法判断，gunicorn 以状态码 2 退出", candidates.join(", ")),
            ),
            text(
                "write the flag out in full",
                "请写出完整的参数名",
            ),
        )
        .at(Some(token)),
        ParseError::Unrecognized { args, tokens } => unrecognized(args, tokens, ctx),
        ParseError::ExpectedArgument { option, .. } => Advice::new(
            rules::CMD_ARGS_MISSING_VALUE,
            Error,
            &written,
            text(
                format!("{option} needs a value, but the next word is missing or looks like a flag; gunicorn exits with status 2"),
                format!("{option} 需要一个值，但后面没有值，或者紧跟的词看起来像另一个参数；gunicorn 以状态码 2 退出"),
            ),
            text(
                format!("write {option}=VALUE; the `=` form also lets a value start with `-`"),
                format!("写成 {option}=VALUE；用 `=` 的写法时，值也可以以 `-` 开头"),
            ),
        )
        .at(Some(token)),
        ParseError::IgnoredExplicit { option, explicit, .. } => Advice::new(
            rules::CMD_ARGS_FLAG_VALUE,
            Error,
            &written,
            text(
                format!("{option} is an on/off flag and takes no value; argparse refuses `{explicit}` and gunicorn exits with status 2"),
                format!("{option} 是开关型参数，不接受值；argparse 拒绝 `{explicit}`，gunicorn 以状态码 2 退出"),
            ),
            text(
                format!("write {option} alone to turn it on, and leave it out to keep it off"),
                format!("要开启就只写 {option}，要关闭就不写"),
            ),
        )
        .at(Some(token)),
        ParseError::InvalidValue { option, type_name, value, .. } => Advice::new(
            rules::CMD_ARGS_BAD_VALUE,
            Error,
            &written,
            text(
                format!("{option} wants an integer ({type_name}), and `{value}` is not one; gunicorn exits with status 2"),
                format!("{option} 需要整数（{type_name}），`{value}` 不是整数；gunicorn 以状态码 2 退出"),
            ),
            text(
                "give a plain number; shell substitutions such as $(nproc) are not run: GUNICORN_CMD_ARGS is split, never evaluated",
                "请写一个普通数字；$(nproc) 之类的命令替换不会被执行：GUNICORN_CMD_ARGS 只会被切分，不会被求值",
            ),
        )
        .at(Some(token)),
        ParseError::Help { option, .. } | ParseError::Version { option, .. } => Advice::new(
            rules::CMD_ARGS_EXITS,
            Error,
            &written,
            text(
                format!("`{written}` means {option}: gunicorn prints it and exits with status 0, so the container stops without serving"),
                format!("`{written}` 会被当作 {option}：gunicorn 打印信息后以状态码 0 退出，容器不提供任何服务就停止了"),
            ),
            text("remove it", "删除它"),
        )
        .at(Some(token)),
    }
}

/// An unknown flag: one from another gunicorn version, a typo, or a stray word.
fn unrecognized(args: &[String], tokens: &[usize], ctx: &Context) -> Advice {
    let first = args.first().cloned().unwrap_or_default();
    let token = tokens.first().copied();
    let flag = first.split_once('=').map_or(first.as_str(), |(f, _)| f);
    let elsewhere = settings::all()
        .iter()
        .find(|s| s.flags.contains(&flag) && !s.available_in(ctx.version));
    if let Some(setting) = elsewhere {
        let v = ctx.version;
        let (en, zh) = match setting.removed {
            Some(removed) if removed <= v => (
                format!(
                    "{flag} was removed in gunicorn {removed}; gunicorn {v} refuses it (\"unrecognized arguments\") and exits with status 2"
                ),
                format!(
                    "{flag} 已在 gunicorn {removed} 中移除；gunicorn {v} 不认识它（\"unrecognized arguments\"），以状态码 2 退出"
                ),
            ),
            _ => (
                format!(
                    "{flag} exists only from gunicorn {}; gunicorn {v} refuses it (\"unrecognized arguments\") and exits with status 2",
                    setting.since
                ),
                format!(
                    "{flag} 从 gunicorn {} 才有；gunicorn {v} 不认识它（\"unrecognized arguments\"），以状态码 2 退出",
                    setting.since
                ),
            ),
        };
        let fix = match setting.removed {
            Some(_) => text(
                format!("remove it ({})", setting.notes),
                format!("删除它（说明：{}）", setting.notes),
            ),
            None => text(
                format!(
                    "remove it, or target gunicorn >= {} (pin it in requirements and pass --gunicorn-version)",
                    setting.since
                ),
                format!(
                    "删除它，或者改用 gunicorn >= {}（在依赖里固定版本，并传入 --gunicorn-version）",
                    setting.since
                ),
            ),
        };
        return Advice::new(rules::CMD_ARGS_VERSION, Error, &first, text(en, zh), fix).at(token);
    }
    let parser = Parser::new(ctx.version);
    let options: Vec<&str> = parser
        .option_strings()
        .filter(|o| o.starts_with("--"))
        .collect();
    let fix = if !first.starts_with('-') {
        text(
            "gunicorn takes one APP_MODULE, on its command line; a second word here is an error: remove it or pass it as a flag's value",
            "gunicorn 只接受一个 APP_MODULE，而且应写在命令行上；这里多出的词会导致报错：删除它，或者把它作为某个参数的值",
        )
    } else if let Some(near) = crate::spec::suggest(flag, &options) {
        text(
            format!("did you mean {near}?"),
            format!("你是不是想写 {near}？"),
        )
    } else {
        text(
            "remove it; `gunicorn --help` lists every flag",
            "删除它；`gunicorn --help` 会列出所有参数",
        )
    };
    Advice::new(
        rules::CMD_ARGS_UNKNOWN,
        Error,
        &first,
        text(
            format!("gunicorn {} has no `{first}`: argparse stops with \"unrecognized arguments: {}\" and gunicorn exits with status 2", ctx.version, args.join(" ")),
            format!("gunicorn {} 没有 `{first}`：argparse 报错 \"unrecognized arguments: {}\"，gunicorn 以状态码 2 退出", ctx.version, args.join(" ")),
        ),
        fix,
    )
    .at(token)
}

/// Reviews an argv gunicorn accepts.
pub fn check(parsed: &Parsed, ctx: &Context) -> Vec<Advice> {
    let mut out = Vec::new();
    syntax(parsed, &mut out);
    worker_class(parsed, ctx, &mut out);
    tls(parsed, ctx, &mut out);
    binding(parsed, ctx, &mut out);
    processes(parsed, &mut out);
    proxies(parsed, &mut out);
    workers(parsed, &mut out);
    non_root(parsed, ctx, &mut out);
    created_files(parsed, ctx, &mut out);
    keepalive(parsed, &mut out);
    out
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

fn syntax(parsed: &Parsed, out: &mut Vec<Advice>) {
    for o in parsed.occurrences.iter().filter(|o| o.abbreviated) {
        out.push(
            Advice::new(
                rules::CMD_ARGS_ABBREVIATED,
                Warning,
                &o.written,
                text(
                    format!("`{}` works only because argparse accepts unique prefixes: gunicorn reads it as {}; a future flag with the same prefix makes it ambiguous and gunicorn stops starting", o.written, o.option),
                    format!("`{}` 能用只是因为 argparse 接受唯一前缀：gunicorn 把它当作 {}；将来只要新增一个同前缀的参数，它就会变得有歧义，gunicorn 将无法启动", o.written, o.option),
                ),
                text(format!("write {} in full", o.option), format!("写全为 {}", o.option)),
            )
            .at(Some(o.token)),
        );
    }
    if !parsed.positionals.is_empty() {
        let words = parsed.positionals.join(" ");
        out.push(
            Advice::new(
                rules::CMD_ARGS_POSITIONAL,
                Warning,
                &words,
                text(
                    format!("`{words}` is not a flag's value; gunicorn ignores positional words in GUNICORN_CMD_ARGS (the APP_MODULE must be on the command line)"),
                    format!("`{words}` 不是任何参数的值；gunicorn 会忽略 GUNICORN_CMD_ARGS 里的位置参数（APP_MODULE 必须写在命令行上）"),
                ),
                text(
                    "remove it and put the app module in CMD: [\"gunicorn\", \"module:app\"]",
                    "删除它，把应用模块写进 CMD：[\"gunicorn\", \"module:app\"]",
                ),
            )
            .at(parsed.positional_tokens.first().copied()),
        );
    }
}

fn worker_class(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
    let Some((token, class)) = last(parsed, "worker_class") else {
        return;
    };
    if let Some(name) = class.strip_prefix("uvicorn.workers.") {
        let new = format!("uvicorn_worker.{name}");
        out.push(
            Advice::new(
                rules::UVICORN_WORKERS_DEPRECATED,
                Warning,
                &class,
                text(
                    format!("{class} is deprecated since uvicorn 0.30.0 (the DeprecationWarning is hidden by default); its maintained successor is the uvicorn-worker package"),
                    format!("{class} 自 uvicorn 0.30.0 起已弃用（默认不显示 DeprecationWarning）；接替它并持续维护的是 uvicorn-worker 包"),
                ),
                text(
                    format!("use --worker-class {new} and add uvicorn-worker (0.4.0 needs uvicorn >= 0.36.0) to your requirements"),
                    format!("改用 --worker-class {new}，并在依赖中加入 uvicorn-worker（0.4.0 需要 uvicorn >= 0.36.0）"),
                ),
            )
            .at(Some(token))
            .edit(Fix::Set("worker_class", new)),
        );
    }
    if class == "eventlet" || class.starts_with("gunicorn.workers.geventlet") {
        let removed = ctx.version >= Version(26, 0, 0);
        out.push(
            Advice::new(
                rules::EVENTLET_REMOVED,
                if removed { Error } else { Warning },
                &class,
                if removed {
                    text(
                        format!("the eventlet worker was removed in gunicorn 26.0.0; gunicorn {} cannot load it and exits", ctx.version),
                        format!("eventlet worker 已在 gunicorn 26.0.0 中移除；gunicorn {} 无法加载它，会直接退出", ctx.version),
                    )
                } else {
                    text(
                        "the eventlet worker is gone from gunicorn 26.0.0 on (eventlet itself is unmaintained)",
                        "从 gunicorn 26.0.0 起 eventlet worker 已被移除（eventlet 本身也已无人维护）",
                    )
                },
                text(
                    "use gevent or gthread for WSGI apps, uvicorn_worker.UvicornWorker (or gunicorn's asgi worker) for ASGI apps",
                    "WSGI 应用请改用 gevent 或 gthread；ASGI 应用请用 uvicorn_worker.UvicornWorker（或 gunicorn 自带的 asgi worker）",
                ),
            )
            .at(Some(token)),
        );
    }
}

// One rule per branch, each with its wording in two languages: long, but read top to bottom.
#[allow(clippy::too_many_lines)]
fn tls(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
    let uvicorn = is_uvicorn(parsed);
    if let Some((token, version)) = last(parsed, "ssl_version") {
        let two = if version.trim() == "2" {
            text(
                " `2` never meant \"TLS 1.2 or newer\": 2 is ssl.PROTOCOL_TLS, the default; Python >= 3.10 already refuses anything below TLS 1.2.",
                "`2` 从来不表示“TLS 1.2 及以上”：2 是 ssl.PROTOCOL_TLS，也就是默认值；Python >= 3.10 本来就拒绝低于 TLS 1.2 的连接。",
            )
        } else {
            text("", "")
        };
        let why = if uvicorn {
            text(
                format!(
                    "under UvicornWorker --ssl-version is not ignored: the raw string goes to ssl.SSLContext() and every worker dies with \"TypeError: 'str' object cannot be interpreted as an integer\"; the master keeps respawning them, so the container looks alive and serves nothing.{}",
                    two.en
                ),
                format!(
                    "在 UvicornWorker 下 --ssl-version 不会被忽略：原始字符串被直接传给 ssl.SSLContext()，每个 worker 都会因 \"TypeError: 'str' object cannot be interpreted as an integer\" 而崩溃；master 不停地重启它们，容器看起来还活着，却不提供任何服务。{}",
                    two.zh
                ),
            )
        } else {
            text(
                format!(
                    "--ssl-version is deprecated since gunicorn 21.0 and ignored by gunicorn's own TLS (it only prints a warning).{}",
                    two.en
                ),
                format!(
                    "--ssl-version 自 gunicorn 21.0 起已弃用，gunicorn 自身的 TLS 会忽略它（只打印一条警告）。{}",
                    two.zh
                ),
            )
        };
        out.push(
            Advice::new(
                rules::SSL_VERSION,
                if uvicorn { Error } else { Warning },
                format!("--ssl-version={version}"),
                why,
                text(
                    "remove --ssl-version; the TLS 1.2 floor comes from Python's defaults; for another floor use ssl_context_factory in a UvicornWorker subclass (uvicorn >= 0.47) or the ssl_context hook in a config file (native workers)",
                    "删除 --ssl-version；TLS 1.2 的下限来自 Python 的默认设置；如需其他下限，在 UvicornWorker 子类中使用 ssl_context_factory（uvicorn >= 0.47），或在配置文件中使用 ssl_context 钩子（gunicorn 自带的 worker）",
                ),
            )
            .at(Some(token))
            .edit(Fix::Drop("ssl_version")),
        );
    }
    let key = last(parsed, "keyfile");
    let cert = last(parsed, "certfile");
    match (&key, &cert) {
        (Some((token, _)), None) | (None, Some((token, _))) => {
            let (given, missing) = if key.is_some() {
                ("--keyfile", "--certfile")
            } else {
                ("--certfile", "--keyfile")
            };
            out.push(
                Advice::new(
                    rules::TLS_HALF_PAIR,
                    Error,
                    given,
                    text(
                        format!("{given} without {missing}: gunicorn turns TLS on but cannot build a certificate chain, so TLS fails to start"),
                        format!("只有 {given} 没有 {missing}：gunicorn 会开启 TLS，却无法组成证书链，TLS 无法启动"),
                    ),
                    text(
                        "give both --keyfile and --certfile, or neither (terminate TLS at the proxy)".to_string(),
                        "同时提供 --keyfile 和 --certfile，或者两者都不给（在代理层终止 TLS）".to_string(),
                    ),
                )
                .at(Some(*token)),
            );
        }
        (Some((token, keyfile)), Some(_)) => {
            let (severity, why, fix) = if ctx.tls_mounted {
                (
                    Warning,
                    text(
                        format!(
                            "the key {keyfile} is mounted, not in the image: gunicorn's master only checks that it exists; the workers (uid {}) read it. Secret volumes are root-owned, and with defaultMode 0400 uid {} cannot read the key; under UvicornWorker the master then respawns workers forever and the container serves nothing",
                            ctx.uid, ctx.uid
                        ),
                        format!(
                            "密钥 {keyfile} 是挂载进来的，不在镜像里：gunicorn 的 master 只检查文件是否存在，真正读取它的是 worker（uid {}）。Secret 卷归 root 所有，若 defaultMode 为 0400，uid {} 读不了密钥；在 UvicornWorker 下 master 会无休止地重启 worker，容器不提供任何服务",
                            ctx.uid, ctx.uid
                        ),
                    ),
                    text(
                        "make the key readable by that uid: set fsGroup to its gid and the mode to 0440 (or 0640); encrypted keys are not supported",
                        "让该 uid 能读取密钥：把 fsGroup 设为它的 gid，并把文件权限设为 0440（或 0640）；不支持加密的私钥",
                    ),
                )
            } else {
                (
                    Note,
                    text(
                        format!(
                            "the workers (uid {}) read {keyfile} themselves; gunicorn's master only checks that it exists. TLS 1.3 is negotiated; clients limited to TLS 1.1 or older are refused",
                            ctx.uid
                        ),
                        format!(
                            "worker（uid {}）会自己读取 {keyfile}；gunicorn 的 master 只检查文件是否存在。握手会协商 TLS 1.3，只支持 TLS 1.1 及更低版本的客户端会被拒绝",
                            ctx.uid
                        ),
                    ),
                    text(
                        "keep the key readable by that uid and unencrypted; if it is mounted at run time, pass --tls-mounted for the checks that apply",
                        "确保该 uid 能读取密钥且密钥未加密；如果密钥是运行时挂载的，请加上 --tls-mounted 以进行相应检查",
                    ),
                )
            };
            out.push(
                Advice::new(rules::TLS_KEY_READABLE, severity, keyfile.clone(), why, fix)
                    .at(Some(*token)),
            );
        }
        (None, None) => {}
    }
}

/// Host and port of a `--bind` value as gunicorn's `parse_address` reads it; `None` for
/// unix sockets and inherited file descriptors.
pub fn bind_address(bind: &str) -> Option<(String, Option<u32>)> {
    if bind.starts_with("unix:") || bind.starts_with("fd://") {
        return None;
    }
    let netloc = bind.strip_prefix("tcp://").unwrap_or(bind);
    let (host, port) = if let (Some(open), Some(close)) = (netloc.find('['), netloc.find(']')) {
        let host = netloc.get(open + 1..close).unwrap_or("");
        (host, netloc.split_once("]:").map_or("8000", |(_, p)| p))
    } else if let Some((host, rest)) = netloc.split_once(':') {
        (host, rest.split(':').next().unwrap_or(""))
    } else {
        (netloc, "8000")
    };
    Some((host.to_ascii_lowercase(), port.parse().ok()))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn binding(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
    let binds: Vec<_> = parsed
        .occurrences
        .iter()
        .filter(|o| o.setting.name == "bind")
        .collect();
    if binds.is_empty() {
        out.push(
            Advice::new(
                rules::BIND_LOOPBACK,
                Warning,
                "--bind",
                text(
                    "no --bind: gunicorn listens on 127.0.0.1:8000, which nothing outside the container can reach (unless PORT is set in the environment, then 0.0.0.0:$PORT)",
                    "没有 --bind：gunicorn 监听 127.0.0.1:8000，容器外部无法访问（除非环境变量里设置了 PORT，那时监听 0.0.0.0:$PORT）",
                ),
                text(
                    format!("bind all interfaces: --bind=0.0.0.0:{} (or :{} with TLS)", defaults::HTTP_PORT, defaults::TLS_PORT),
                    format!("监听所有网卡：--bind=0.0.0.0:{}（使用 TLS 时用 :{}）", defaults::HTTP_PORT, defaults::TLS_PORT),
                ),
            )
            .edit(Fix::Set("bind", format!("0.0.0.0:{}", defaults::HTTP_PORT))),
        );
    }
    for o in binds {
        let bind = o.value.display();
        let Some((host, port)) = bind_address(&bind) else {
            continue;
        };
        let loopback = is_loopback(&host);
        let privileged = port.filter(|p| *p < 1024 && ctx.uid != 0);
        // One replacement for both findings, so fixing one does not undo the other.
        let fixed = {
            let host = match host.as_str() {
                _ if loopback => "0.0.0.0".to_owned(),
                "" => "0.0.0.0".to_owned(),
                h if h.contains(':') => format!("[{h}]"),
                h => h.to_owned(),
            };
            let port = match privileged {
                Some(p) => u32::from(defaults::port(p == 443)),
                None => port.unwrap_or(u32::from(defaults::HTTP_PORT)),
            };
            format!("{host}:{port}")
        };
        if loopback {
            out.push(
                Advice::new(
                    rules::BIND_LOOPBACK,
                    Error,
                    &bind,
                    text(
                        format!("{bind} is a loopback address: inside a container only the container itself can connect, so every request from outside is refused"),
                        format!("{bind} 是回环地址：在容器里只有容器自己能连上，外部的所有请求都会被拒绝"),
                    ),
                    text(format!("bind all interfaces: --bind={fixed}"), format!("监听所有网卡：--bind={fixed}")),
                )
                .at(Some(o.token))
                .edit(Fix::Replace { setting: "bind", from: bind.clone(), to: fixed.clone() }),
            );
        }
        if let Some(port) = privileged {
            let suggested = defaults::port(port == 443);
            out.push(
                Advice::new(
                    rules::PRIVILEGED_PORT_NON_ROOT,
                    Error,
                    &bind,
                    text(
                        format!("port {port} is below 1024: uid {} needs root or CAP_NET_BIND_SERVICE to bind it (Docker's bridge network lowers the limit; host networking and CRI-O do not), otherwise gunicorn fails with \"Permission denied\"", ctx.uid),
                        format!("端口 {port} 小于 1024：uid {} 需要 root 或 CAP_NET_BIND_SERVICE 才能绑定（Docker 的 bridge 网络会放宽这个限制，host 网络和 CRI-O 不会），否则 gunicorn 报 \"Permission denied\"", ctx.uid),
                    ),
                    text(
                        format!("listen on {suggested} (ports >= 1024 need no privilege) and map {port} to it in the Service or load balancer"),
                        format!("改为监听 {suggested}（>= 1024 的端口不需要特权），再在 Service 或负载均衡器上把 {port} 映射过去"),
                    ),
                )
                .at(Some(o.token))
                .edit(Fix::Replace { setting: "bind", from: bind.clone(), to: fixed }),
            );
        }
    }
}

fn processes(parsed: &Parsed, out: &mut Vec<Advice>) {
    if let Some((token, _)) = last(parsed, "daemon") {
        out.push(
            Advice::new(
                rules::DAEMON,
                Error,
                "--daemon",
                text(
                    "--daemon detaches gunicorn from PID 1: the container's main process exits at once and the container stops (or restarts forever)",
                    "--daemon 会让 gunicorn 脱离 PID 1：容器的主进程立刻退出，容器随之停止（或者无限重启）",
                ),
                text(
                    "remove --daemon; the container runtime is the supervisor",
                    "删除 --daemon；容器运行时本身就是进程管理器",
                ),
            )
            .at(Some(token))
            .edit(Fix::Drop("daemon")),
        );
    }
    // Both load the app and exit 0 (gunicorn's `Application.run`), before any bind: the
    // container stops, or restarts forever, without serving a request.
    for (name, flag, what) in [
        (
            "check_config",
            "--check-config",
            ("checks the configuration", "检查配置"),
        ),
        (
            "print_config",
            "--print-config",
            ("prints every setting", "打印所有设置"),
        ),
    ] {
        if let Some((token, _)) = last(parsed, name) {
            out.push(
                Advice::new(
                    rules::CMD_ARGS_EXITS,
                    Error,
                    flag,
                    text(
                        format!("{flag}: gunicorn {}, loads the app and exits with status 0 without binding a port, so the container stops (or restarts forever) without serving", what.0),
                        format!("{flag}：gunicorn 会{}、加载应用，然后不绑定任何端口就以状态码 0 退出，容器不提供任何服务就停止（或者无限重启）", what.1),
                    ),
                    text(
                        format!("remove {flag}; to check a configuration, run gunicorn {flag} as a separate step (a CI job or `podman run IMAGE gunicorn {flag}`)"),
                        format!("删除 {flag}；要检查配置，请把 gunicorn {flag} 作为单独的步骤运行（CI 任务或 `podman run IMAGE gunicorn {flag}`）"),
                    ),
                )
                .at(Some(token))
                .edit(Fix::Drop(name)),
            );
        }
    }
    development_flags(parsed, out);
    if !parsed.values.contains_key("accesslog") {
        out.push(
            Advice::new(
                rules::NO_ACCESS_LOG,
                Warning,
                "--access-logfile",
                text(
                    "no --access-logfile: gunicorn writes no access log at all (also under UvicornWorker), so no request shows up in the container's logs",
                    "没有 --access-logfile：gunicorn 完全不写访问日志（UvicornWorker 下也一样），容器日志里看不到任何请求",
                ),
                text(
                    "add --access-logfile=- (stdout); errors already go to stderr",
                    "加上 --access-logfile=-（输出到 stdout）；错误日志默认已经输出到 stderr",
                ),
            )
            .edit(Fix::Set("accesslog", "-".to_owned())),
        );
    }
}

/// Flags for a developer's machine, not an image; the corrected line drops them.
fn development_flags(parsed: &Parsed, out: &mut Vec<Advice>) {
    let flags = [
        (
            rules::RELOAD,
            "reload",
            "--reload",
            text(
                "--reload is for development: gunicorn watches the code and restarts workers when a file changes, which costs CPU and has nothing to watch in an immutable image",
                "--reload 是开发用的：gunicorn 会监视代码并在文件变化时重启 worker，既耗 CPU，在不可变镜像里也没有东西可监视",
            ),
            text(
                "remove --reload in production; ship a new image instead",
                "生产环境请删除 --reload；改代码就发布新镜像",
            ),
        ),
        (
            rules::SPEW,
            "spew",
            "--spew",
            text(
                "--spew makes every worker print each line of Python it runs to stdout: tens of thousands of lines as each worker boots and hundreds more for each request, which floods the container's log and slows every request",
                "--spew 会让每个 worker 把它执行的每一行 Python 代码打印到 stdout：每个 worker 启动时就有几万行，每个请求还要再打印几百行，会淹没容器日志并拖慢每个请求",
            ),
            text(
                "remove --spew; to trace a problem, add it to a local run of the image",
                "生产环境请删除 --spew；要排查问题，在本地运行镜像时再加上它",
            ),
        ),
    ];
    for (rule, setting, flag, what, fix) in flags {
        if let Some((token, _)) = last(parsed, setting) {
            out.push(
                Advice::new(rule, Warning, flag, what, fix)
                    .at(Some(token))
                    .edit(Fix::Drop(setting)),
            );
        }
    }
}

fn proxies(parsed: &Parsed, out: &mut Vec<Advice>) {
    let Some((token, ips)) = last(parsed, "forwarded_allow_ips") else {
        return;
    };
    for entry in ips.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" {
            out.push(
                Advice::new(
                    rules::FORWARDED_ALLOW_ALL_IPS,
                    Warning,
                    "*",
                    text(
                        "--forwarded-allow-ips '*' trusts X-Forwarded-* headers from every client: anyone who reaches the port directly can fake their address and the scheme (under UvicornWorker both are rewritten)",
                        "--forwarded-allow-ips '*' 会信任所有客户端发来的 X-Forwarded-* 头：任何能直接访问该端口的人都能伪造自己的地址和协议（UvicornWorker 下两者都会被改写）",
                    ),
                    text(
                        "list the proxy's address or network (for example 10.0.0.0/8); keep '*' only if the port is reachable through the proxy alone",
                        "改为列出代理的地址或网段（例如 10.0.0.0/8）；只有当该端口只能经由代理访问时才保留 '*'",
                    ),
                )
                .at(Some(token)),
            );
        } else if let Err(why) = super::network::check(entry) {
            out.push(
                Advice::new(
                    rules::FORWARDED_ALLOW_INVALID,
                    Error,
                    entry,
                    text(
                        format!("`{entry}` in --forwarded-allow-ips {why}; gunicorn validates every entry strictly and refuses to start"),
                        format!("--forwarded-allow-ips 中的 `{entry}` 无效（{}）；gunicorn 会严格校验每一项，并拒绝启动", why_zh(why)),
                    ),
                    text(
                        "give IP addresses or networks with no host bits set, for example 192.168.1.0/24",
                        "请写 IP 地址，或主机位全为 0 的网段，例如 192.168.1.0/24",
                    ),
                )
                .at(Some(token)),
            );
        }
    }
}

/// The Chinese for `network::check`'s reasons.
fn why_zh(why: &str) -> &'static str {
    match why {
        "has host bits set; gunicorn refuses it" => "主机位不为 0",
        "is not an IP address" => "不是 IP 地址",
        "has a prefix length that is not a number" => "前缀长度不是数字",
        _ => "前缀长度超过了地址位数",
    }
}

fn workers(parsed: &Parsed, out: &mut Vec<Advice>) {
    match last(parsed, "workers") {
        None => out.push(Advice::new(
            rules::WORKER_COUNT,
            Warning,
            "--workers",
            text(
                "no --workers: gunicorn starts 1 worker (or int($WEB_CONCURRENCY), which crashes gunicorn at import when empty or not a number); (2 x cores) + 1 from os.cpu_count() would count the host's CPUs, not the container's limit",
                "没有 --workers：gunicorn 只启动 1 个 worker（或取 int($WEB_CONCURRENCY)，该变量为空或不是数字时 gunicorn 在导入时就会崩溃）；而用 os.cpu_count() 算 (2 x 核数) + 1 得到的是宿主机的 CPU 数，不是容器的配额",
            ),
            text(
                "set --workers explicitly from the CPU limit the service declares (about 2 per CPU for async workers, 2 x CPUs + 1 for sync)",
                "根据服务声明的 CPU 配额显式设置 --workers（异步 worker 每个 CPU 约 2 个，同步 worker 为 2 x CPU 数 + 1）",
            ),
        )),
        Some((token, count)) if count == "0" => out.push(
            Advice::new(
                rules::WORKER_COUNT,
                Error,
                "--workers=0",
                text("--workers 0 starts no worker: gunicorn runs and serves nothing", "--workers 0 不会启动任何 worker：gunicorn 在运行，却不处理请求"),
                text("set at least 1 worker", "至少设置 1 个 worker"),
            )
            .at(Some(token)),
        ),
        Some(_) => {}
    }
}

fn non_root(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
    let (severity, who) = if ctx.uid == 0 {
        (Note, text("", ""))
    } else {
        (
            Warning,
            text(
                format!(" (the container runs as uid {})", ctx.uid),
                format!("（容器以 uid {} 运行）", ctx.uid),
            ),
        )
    };
    if !parsed.values.contains_key("worker_tmp_dir") {
        out.push(
            Advice::new(
                rules::WORKER_TMP_DIR,
                severity,
                "--worker-tmp-dir",
                text(
                    format!("no --worker-tmp-dir: worker heartbeat files go to the system temp dir; on a read-only root filesystem or a slow overlay, workers stall or are killed{}", who.en),
                    format!("没有 --worker-tmp-dir：worker 的心跳文件写在系统临时目录；根文件系统只读或 overlay 较慢时，worker 会卡住或被杀掉{}", who.zh),
                ),
                text("add --worker-tmp-dir=/dev/shm (a tmpfs)", "加上 --worker-tmp-dir=/dev/shm（tmpfs）"),
            )
            .edit(Fix::Set("worker_tmp_dir", "/dev/shm".to_owned())),
        );
    }
    let has_socket = settings::by_flag("--no-control-socket", ctx.version).is_some();
    if has_socket
        && !parsed.values.contains_key("control_socket_disable")
        && !parsed.values.contains_key("control_socket")
        && ctx.uid != 0
    {
        out.push(
            Advice::new(
                rules::CONTROL_SOCKET,
                Warning,
                "--no-control-socket",
                text(
                    format!("gunicorn >= 25.1 opens a control socket under $XDG_RUNTIME_DIR or $HOME/.gunicorn; with an unwritable HOME (/nonexistent, a read-only root filesystem, OpenShift's random uid) it logs \"Control server error: [Errno 13] Permission denied\"{}", who.en),
                    format!("gunicorn >= 25.1 会在 $XDG_RUNTIME_DIR 或 $HOME/.gunicorn 下创建控制套接字；HOME 不可写时（/nonexistent、只读根文件系统、OpenShift 的随机 uid）会记录 \"Control server error: [Errno 13] Permission denied\"{}", who.zh),
                ),
                text(
                    "add --no-control-socket (only gunicorn >= 25.1 knows it), or --control-socket with a writable path",
                    "加上 --no-control-socket（只有 gunicorn >= 25.1 认识它），或者用 --control-socket 指定一个可写路径",
                ),
            )
            .edit(Fix::Set("control_socket_disable", String::new())),
        );
    }
}

/// Directories a non-root uid can create files in when the root filesystem is read-only, as
/// the deployments fabuild writes mount them (tmpfs or emptyDir): volumes of their own, so
/// another volume may sit inside one, but not on it.
pub const SCRATCH_DIRS: &[&str] = &["/tmp", "/dev/shm"];

/// A setting naming a file gunicorn creates before it binds (it exits with status 1 when it
/// cannot: the pid file through a temporary file beside it).
pub struct CreatedFile {
    pub setting: &'static str,
    /// What the file is, in English and Chinese.
    pub what: (&'static str, &'static str),
    /// What leaving the flag out does.
    pub without: (&'static str, &'static str),
}

pub const CREATED_AT_START: &[CreatedFile] = &[
    CreatedFile {
        setting: "pidfile",
        what: ("the pid file", " pid 文件"),
        without: ("a container needs no pid file", "容器不需要 pid 文件"),
    },
    CreatedFile {
        setting: "errorlog",
        what: ("the error log", "错误日志"),
        without: (
            "errors then go to stderr, the container's log",
            "错误日志会输出到 stderr，即容器日志",
        ),
    },
];

/// Whether a file setting's `value` is stderr (`-`) or a file directly inside one of `dirs`;
/// a relative value is read against `cwd`, or is not when the directory is unknown. A path
/// with `.`, `..` or empty components is not.
pub fn creatable(value: &str, cwd: Option<&str>, dirs: &[&str]) -> bool {
    if value == "-" {
        return true;
    }
    let path = match (value.starts_with('/'), cwd) {
        (true, _) => value.to_owned(),
        (false, Some(cwd)) => format!("{cwd}/{value}"),
        (false, None) => return false,
    };
    let clean = !path[1..].split('/').any(|c| matches!(c, "" | "." | ".."));
    clean
        && path
            .rsplit_once('/')
            .is_some_and(|(dir, _)| dirs.contains(&dir))
}

/// `--pid` and `--error-logfile` as a non-root uid: only warned about, because which
/// directories that uid can write depends on the image (`fabuild gen` knows and refuses).
fn created_files(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
    if ctx.uid == 0 {
        return;
    }
    for file in CREATED_AT_START {
        let Some(o) = last_occurrence(parsed, file.setting) else {
            continue;
        };
        let value = o.value.display();
        if creatable(&value, None, SCRATCH_DIRS) {
            continue;
        }
        let (flag, uid) = (o.option, ctx.uid);
        let (what_en, what_zh) = file.what;
        out.push(
            Advice::new(
                rules::FILE_OUTSIDE_WRITABLE,
                Warning,
                format!("{flag}={value}"),
                text(
                    format!("{flag} `{value}` is {what_en}, which gunicorn creates before it serves: if uid {uid} cannot create files there (an image's directories are root-owned; a read-only root filesystem allows none outside /tmp and /dev/shm mounts), gunicorn exits with status 1"),
                    format!("{flag} `{value}` 是{what_zh}，gunicorn 在开始服务之前创建它：如果 uid {uid} 不能在那里创建文件（镜像里的目录属于 root；只读根文件系统上只有挂载的 /tmp 和 /dev/shm 可写），gunicorn 以状态码 1 退出"),
                ),
                text(
                    format!("drop {flag} ({}), or name a file directly inside /tmp or /dev/shm", file.without.0),
                    format!("删除 {flag}（{}），或者把文件直接放在 /tmp 或 /dev/shm 下", file.without.1),
                ),
            )
            .at(Some(o.value_token.unwrap_or(o.token)))
            .edit(Fix::Drop(file.setting)),
        );
    }
}

fn keepalive(parsed: &Parsed, out: &mut Vec<Advice>) {
    let given = last(parsed, "keepalive");
    let seconds: Option<i64> = given.as_ref().and_then(|(_, v)| v.parse().ok());
    if seconds.is_some_and(|s| s > defaults::LB_IDLE_SECONDS) {
        return;
    }
    let shown = given.as_ref().map_or_else(
        || "gunicorn's default keep-alive of 2 s".to_owned(),
        |(_, v)| format!("keep-alive {v} s"),
    );
    let shown_zh = given.as_ref().map_or_else(
        || "gunicorn 默认的 keep-alive 为 2 秒".to_owned(),
        |(_, v)| format!("keep-alive 为 {v} 秒"),
    );
    out.push(
        Advice::new(
            rules::KEEPALIVE_BELOW_LB,
            Warning,
            given.as_ref().map_or_else(|| "--keep-alive".to_owned(), |(_, v)| format!("--keep-alive={v}")),
            text(
                format!("{shown} is not longer than a load balancer's idle timeout (AWS ALB: 60 s): gunicorn closes connections the balancer still reuses and clients see sporadic 502s (the sync worker ignores keep-alive; UvicornWorker maps it to timeout_keep_alive)"),
                format!("{shown_zh}，不比负载均衡器的空闲超时长（AWS ALB 为 60 秒）：gunicorn 会关掉负载均衡器仍在复用的连接，客户端会偶发 502（sync worker 忽略 keep-alive；UvicornWorker 会把它映射为 timeout_keep_alive）"),
            ),
            text(
                format!("behind a load balancer use --keep-alive={}, above its idle timeout", defaults::KEEPALIVE),
                format!("在负载均衡器后面请用 --keep-alive={}，比它的空闲超时更长", defaults::KEEPALIVE),
            ),
        )
        .at(given.map(|(t, _)| t))
        .edit(Fix::Set("keepalive", defaults::KEEPALIVE.to_string())),
    );
}
