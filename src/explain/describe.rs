//! `Description`: what one setting does, its default, and what it means in a container.
//!
//! The settings people put in `GUNICORN_CMD_ARGS` get a hand-written description in both
//! languages; the rest are described from the settings table.

use serde::Serialize;

use crate::gunicorn::advice::{Text, text};
use crate::gunicorn::argparse::Value;
use crate::gunicorn::rules::{Context, bind_address};
use crate::gunicorn::settings::Setting;

/// The three things a reader wants to know about a setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Description {
    pub what: Text,
    pub default: Text,
    pub container: Text,
}

/// Describes `setting`, which was given `value`.
// A table of descriptions in two languages; splitting it would only scatter it.
#[allow(clippy::too_many_lines)]
pub fn describe(setting: &Setting, value: &Value, ctx: &Context) -> Description {
    let v = value.display();
    let d = |en: &str, zh: &str| text(en, zh);
    let (what, default, container) = match setting.name {
        "bind" => (
            d(
                "the address(es) gunicorn listens on: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N; repeat the flag for several",
                "gunicorn 监听的地址：HOST:PORT、[IPv6]:PORT、unix:PATH 或 fd://N；需要多个地址时重复这个参数",
            ),
            d(
                "127.0.0.1:8000 (0.0.0.0:$PORT when PORT is set)",
                "127.0.0.1:8000（设置了 PORT 时为 0.0.0.0:$PORT）",
            ),
            bind_in_container(value, ctx),
        ),
        "workers" => (
            d(
                "how many worker processes serve requests",
                "处理请求的 worker 进程数量",
            ),
            d(
                "1 (or int($WEB_CONCURRENCY))",
                "1（或 int($WEB_CONCURRENCY)）",
            ),
            text(
                format!(
                    "{v} processes in this container; size it from the container's CPU limit, since os.cpu_count() reports the host's CPUs"
                ),
                format!(
                    "本容器内运行 {v} 个进程；请按容器的 CPU 配额来定，因为 os.cpu_count() 报告的是宿主机的 CPU 数"
                ),
            ),
        ),
        "worker_class" => (
            d(
                "the worker implementation: sync, gthread, gevent, asgi, or an import path such as uvicorn_worker.UvicornWorker",
                "worker 的实现：sync、gthread、gevent、asgi，或者一个导入路径，例如 uvicorn_worker.UvicornWorker",
            ),
            d("sync", "sync"),
            if v.contains("Uvicorn") {
                d(
                    "runs an ASGI app (FastAPI, Starlette) on uvicorn inside each gunicorn worker; gunicorn passes it keep-alive, max-requests, forwarded-allow-ips, backlog and the TLS files",
                    "在每个 gunicorn worker 里用 uvicorn 运行 ASGI 应用（FastAPI、Starlette）；gunicorn 会把 keep-alive、max-requests、forwarded-allow-ips、backlog 和 TLS 文件传给它",
                )
            } else {
                d(
                    "the package providing the class must be installed in the image",
                    "提供该类的包必须安装在镜像里",
                )
            },
        ),
        "threads" => (
            d(
                "threads per worker (gthread); more than 1 with sync silently switches to gthread",
                "每个 worker 的线程数（gthread）；sync 下设置大于 1 会悄悄切换为 gthread",
            ),
            d("1", "1"),
            d(
                "no effect under ASGI workers; counts toward the CPU and memory limit",
                "对 ASGI worker 无效；会占用容器的 CPU 和内存配额",
            ),
        ),
        "timeout" => (
            d(
                "seconds a worker may stay silent before the master kills and restarts it",
                "worker 无响应多少秒后会被 master 杀掉并重启",
            ),
            d("30", "30"),
            d(
                "under async workers (UvicornWorker) it is a heartbeat that fires only when the event loop is blocked, not a request timeout",
                "在异步 worker（UvicornWorker）下它只是心跳，只有事件循环被阻塞时才会触发，并不是请求超时",
            ),
        ),
        "graceful_timeout" => (
            d(
                "seconds workers get to finish requests after SIGTERM before SIGKILL",
                "收到 SIGTERM 后 worker 完成请求的宽限秒数，超时即 SIGKILL",
            ),
            d("30", "30"),
            d(
                "Kubernetes terminationGracePeriodSeconds (30 by default, preStop included) must exceed it; docker stop waits only 10 s",
                "Kubernetes 的 terminationGracePeriodSeconds（默认 30，含 preStop）必须比它长；docker stop 默认只等 10 秒",
            ),
        ),
        "keepalive" => (
            d(
                "seconds an idle keep-alive connection stays open",
                "空闲的 keep-alive 连接保持打开的秒数",
            ),
            d("2", "2"),
            d(
                "behind a load balancer it must exceed the balancer's idle timeout (AWS ALB: 60 s); UvicornWorker maps it to timeout_keep_alive, the sync worker ignores it",
                "在负载均衡器后面必须比它的空闲超时长（AWS ALB 为 60 秒）；UvicornWorker 会映射为 timeout_keep_alive，sync worker 会忽略它",
            ),
        ),
        "max_requests" => (
            d(
                "restart a worker after this many requests (0: never)",
                "worker 处理这么多请求后重启（0 表示从不）",
            ),
            d("0", "0"),
            d(
                "caps slow memory leaks; add --max-requests-jitter so workers do not all restart at once",
                "可以抑制缓慢的内存泄漏；再加上 --max-requests-jitter，避免所有 worker 同时重启",
            ),
        ),
        "max_requests_jitter" => (
            d(
                "random extra requests added to max_requests per worker",
                "为每个 worker 的 max_requests 增加的随机请求数",
            ),
            d("0", "0"),
            d(
                "spreads worker restarts over time",
                "让 worker 的重启在时间上错开",
            ),
        ),
        "keyfile" | "certfile" | "ca_certs" => (
            match setting.name {
                "keyfile" => d(
                    "the TLS private key (PEM, unencrypted)",
                    "TLS 私钥（PEM 格式，不能加密）",
                ),
                "certfile" => d("the TLS certificate chain (PEM)", "TLS 证书链（PEM 格式）"),
                _ => d(
                    "CA certificates to verify client certificates",
                    "用于校验客户端证书的 CA 证书",
                ),
            },
            d("none (no TLS)", "无（不启用 TLS）"),
            text(
                format!(
                    "{v} must exist when gunicorn starts and be readable by the worker uid ({}); with a Kubernetes secret mind defaultMode and fsGroup",
                    ctx.uid
                ),
                format!(
                    "gunicorn 启动时 {v} 必须存在，并且 worker 的 uid（{}）能读取；使用 Kubernetes Secret 时注意 defaultMode 和 fsGroup",
                    ctx.uid
                ),
            ),
        ),
        "ssl_version" => (
            d(
                "the old way to pick an SSL protocol; deprecated since gunicorn 21.0",
                "旧的 SSL 协议选择方式；自 gunicorn 21.0 起已弃用",
            ),
            d(
                "2 (ssl.PROTOCOL_TLS: negotiate the best version)",
                "2（ssl.PROTOCOL_TLS：协商可用的最高版本）",
            ),
            d(
                "ignored by gunicorn's TLS; fatal under UvicornWorker (see the findings)",
                "gunicorn 自身的 TLS 会忽略它；在 UvicornWorker 下则是致命的（见下方问题列表）",
            ),
        ),
        "accesslog" => (
            d(
                "where to write the access log; - is stdout",
                "访问日志写到哪里；- 表示 stdout",
            ),
            d("none: no access log at all", "无：完全不写访问日志"),
            if v == "-" {
                d(
                    "stdout, where the container runtime collects logs",
                    "写到 stdout，由容器运行时收集",
                )
            } else {
                d(
                    "a file inside the container: lost with the container and invisible to `docker logs`; use -",
                    "写到容器内的文件：容器删除即丢失，`docker logs` 也看不到；建议用 -",
                )
            },
        ),
        "errorlog" => (
            d(
                "where to write gunicorn's error log; - is stderr",
                "gunicorn 错误日志写到哪里；- 表示 stderr",
            ),
            d("- (stderr)", "-（stderr）"),
            d(
                "keep - so the container runtime collects it",
                "保持 -，让容器运行时收集",
            ),
        ),
        "loglevel" => (
            d(
                "the error log's level: debug, info, warning, error, critical",
                "错误日志的级别：debug、info、warning、error、critical",
            ),
            d("info", "info"),
            d(
                "an unknown level is silently treated as info",
                "写错的级别会被悄悄当作 info",
            ),
        ),
        "forwarded_allow_ips" => (
            d(
                "proxies whose X-Forwarded-* headers are trusted (IPs, CIDRs or *)",
                "信任哪些代理发来的 X-Forwarded-* 头（IP、CIDR 或 *）",
            ),
            d("127.0.0.1,::1", "127.0.0.1,::1"),
            d(
                "in a container the proxy is rarely on loopback: list its address or network; under UvicornWorker it drives the proxy-headers middleware",
                "在容器里代理很少在回环地址上：请列出它的地址或网段；UvicornWorker 下它决定 proxy-headers 中间件的行为",
            ),
        ),
        "worker_tmp_dir" => (
            d(
                "directory for the workers' heartbeat files",
                "worker 心跳文件所在目录",
            ),
            d("the system temp dir", "系统临时目录"),
            d(
                "/dev/shm (tmpfs) keeps heartbeats working on read-only or slow filesystems",
                "/dev/shm（tmpfs）能让心跳在只读或较慢的文件系统上正常工作",
            ),
        ),
        "control_socket_disable" => (
            d(
                "turns off the control socket gunicorn >= 25.1 opens",
                "关闭 gunicorn >= 25.1 打开的控制套接字",
            ),
            d("off (the socket is opened)", "关闭（即会打开套接字）"),
            d(
                "avoids \"Permission denied\" when HOME is not writable by the container's uid",
                "避免容器 uid 无法写 HOME 时出现 \"Permission denied\"",
            ),
        ),
        "preload_app" => (
            d(
                "import the app in the master before forking workers",
                "在 fork worker 之前由 master 先导入应用",
            ),
            d("off", "关闭"),
            d(
                "saves memory and surfaces import errors at start; code reload then needs a full restart",
                "节省内存，启动时就能暴露导入错误；但代码更新需要完整重启",
            ),
        ),
        "daemon" => (
            d(
                "detach gunicorn into the background",
                "让 gunicorn 转入后台运行",
            ),
            d("off", "关闭"),
            d(
                "never in a container: PID 1 exits and the container stops",
                "容器里绝不能用：PID 1 退出，容器随之停止",
            ),
        ),
        "reload" => (
            d("restart workers when code changes", "代码变化时重启 worker"),
            d("off", "关闭"),
            d("development only", "仅用于开发"),
        ),
        "user" | "group" => (
            d(
                "switch workers to this user or group after binding",
                "绑定端口后把 worker 切换到这个用户或组",
            ),
            d("the current uid/gid", "当前的 uid/gid"),
            d(
                "needs root to start; in a container set USER 10001:10001 in the image instead",
                "需要以 root 启动才有效；在容器里应在镜像中设置 USER 10001:10001",
            ),
        ),
        "proxy_protocol" => (
            d(
                "accept the PROXY protocol header (off, v1, v2, auto; bare flag = auto)",
                "接受 PROXY 协议头（off、v1、v2、auto；只写参数名即 auto）",
            ),
            d("off", "off"),
            d(
                "only when the load balancer sends PROXY headers; a following word is taken as its mode",
                "只在负载均衡器发送 PROXY 头时使用；紧跟的词会被当成它的模式",
            ),
        ),
        _ => generic(setting),
    };
    Description {
        what,
        default,
        container,
    }
}

fn generic(setting: &Setting) -> (Text, Text, Text) {
    let what = text(
        format!(
            "gunicorn's `{}` setting (type: {})",
            setting.name, setting.value_type
        ),
        format!(
            "gunicorn 的 `{}` 设置（类型：{}）",
            setting.name, setting.value_type
        ),
    );
    let default = text(setting.default, setting.default);
    let container = if setting.notes.is_empty() {
        text(
            "nothing specific to containers",
            "在容器中没有特别需要注意的地方",
        )
    } else {
        text(
            setting.notes,
            format!("gunicorn 设置表中的说明（英文原文）：{}", setting.notes),
        )
    };
    (what, default, container)
}

fn bind_in_container(value: &Value, ctx: &Context) -> Text {
    let v = value.display();
    let first = match value {
        Value::List(items) => items.last().map(Value::display).unwrap_or_default(),
        other => other.display(),
    };
    match bind_address(&first) {
        Some((host, Some(port)))
            if port >= 1024
                && !host.starts_with("127.")
                && host != "localhost"
                && host != "::1" =>
        {
            text(
                format!(
                    "reachable from outside the container on port {port}; {port} >= 1024 needs no root, so uid {} can bind it",
                    ctx.uid
                ),
                format!(
                    "容器外可以通过端口 {port} 访问；{port} >= 1024，不需要 root，uid {} 可以直接绑定",
                    ctx.uid
                ),
            )
        }
        Some((_, Some(port))) if port < 1024 => text(
            format!("port {port} < 1024 needs root or CAP_NET_BIND_SERVICE"),
            format!("端口 {port} < 1024，需要 root 或 CAP_NET_BIND_SERVICE"),
        ),
        Some(_) => text(
            format!("{v}: a loopback or unusual address; check the findings"),
            format!("{v}：回环地址或不常见的地址；请查看下方问题列表"),
        ),
        None => text(
            "a unix socket or inherited descriptor: only reachable inside the container or a shared volume",
            "unix 套接字或继承的文件描述符：只能在容器内部或通过共享卷访问",
        ),
    }
}
