//! The worker model: the worker class, processes, the worker count and keep-alive.

use crate::defaults;
use crate::diagnostic::Severity::{Error, Warning};
use crate::gunicorn::advice::{Advice, Fix, text};
use crate::gunicorn::argparse::Parsed;
use crate::gunicorn::settings::Version;
use crate::rules;

use super::container::development_flags;
use super::{Context, last};

pub(super) fn worker_class(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
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

pub(super) fn processes(parsed: &Parsed, out: &mut Vec<Advice>) {
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

pub(super) fn workers(parsed: &Parsed, out: &mut Vec<Advice>) {
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

pub(super) fn keepalive(parsed: &Parsed, out: &mut Vec<Advice>) {
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
