//! Where gunicorn listens and whom it trusts: --bind and --forwarded-allow-ips.

use crate::defaults;
use crate::diagnostic::Severity::{Error, Warning};
use crate::gunicorn::advice::{Advice, Fix, text};
use crate::gunicorn::argparse::Parsed;
use crate::rules;

use super::{Context, last};

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

pub(super) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn binding(parsed: &Parsed, ctx: &Context, out: &mut Vec<Advice>) {
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

pub(super) fn proxies(parsed: &Parsed, out: &mut Vec<Advice>) {
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
        }
    }
}
