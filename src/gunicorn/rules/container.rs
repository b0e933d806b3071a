//! What a container changes: spelling, development flags, a non-root user, and the files
//! gunicorn creates at start.

use crate::diagnostic::Severity::{Note, Warning};
use crate::gunicorn::advice::{Advice, Fix, text};
use crate::gunicorn::argparse::Parsed;
use crate::gunicorn::settings::{self};
use crate::rules;

use super::{Context, last, last_occurrence};

pub(super) fn syntax(parsed: &Parsed, out: &mut Vec<Advice>) {
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

/// Flags for a developer's machine, not an image; the corrected line drops them.
pub(super) fn development_flags(parsed: &Parsed, out: &mut Vec<Advice>) {
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

pub(super) fn non_root(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
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
pub(super) fn created_files(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
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
