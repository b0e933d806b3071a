//! The server: gunicorn's settings, extra arguments and config file (docs/rules.md, "The server").

use std::path::Path;

use serde_saphyr::Spanned;

use crate::defaults;
use crate::diagnostic::Finding;
use crate::layout::APP_DIR;
use crate::rules;
use crate::spec::load::span;
use crate::spec::model::{App, DEFAULT_WORKER_MEMORY, Memory, Server, User};
use crate::spec::raw::{Interface, RawServer, RawSpec};

use super::Validator;

impl Validator<'_> {
    // One server setting after another, each with its own rule.
    #[allow(clippy::too_many_lines)]
    pub(super) fn server(
        &mut self,
        raw: &RawServer,
        app: &App,
        tls: bool,
        user: User,
        project: &Path,
    ) -> Server {
        let interface = app.interface;
        let port = match &raw.port {
            Some(p) if !(1..=65535).contains(&p.value) => {
                self.error(
                    rules::PORT_RANGE,
                    p,
                    format!("port {} is out of range", p.value),
                    format!(
                        "use a port from 1024 to 65535, for example {} for TLS or {}",
                        defaults::TLS_PORT,
                        defaults::HTTP_PORT
                    ),
                );
                0
            }
            Some(p) if p.value < 1024 => {
                self.error(
                    rules::PRIVILEGED_PORT,
                    p,
                    format!("port {} needs root or CAP_NET_BIND_SERVICE, and the server runs as uid {}", p.value, user.uid),
                    format!("listen on a port >= 1024 ({} for TLS, {} for HTTP) and map it to 443/80 in the Service or load balancer", defaults::TLS_PORT, defaults::HTTP_PORT),
                );
                u16::try_from(p.value).unwrap_or(0)
            }
            Some(p) => u16::try_from(p.value).unwrap_or(0),
            None => defaults::port(tls),
        };
        let workers = raw.workers.as_ref().map(|w| {
            if !(1..=256).contains(&w.value) {
                self.error(rules::WORKERS, w, format!("{} workers is out of range", w.value), "use 1 to 256 workers; or leave workers out and set server.cpus to the container's CPU limit");
            }
            u32::try_from(w.value.clamp(1, 256)).unwrap_or(1)
        });
        let cpus = match &raw.cpus {
            Some(c) if !(c.value > 0.0 && c.value <= 256.0) => {
                self.error(
                    rules::WORKERS,
                    c,
                    format!("cpus {} is out of range", c.value),
                    "set server.cpus to the container's CPU limit, for example 1 or 0.5",
                );
                1.0
            }
            Some(c) => c.value,
            None => 1.0,
        };
        let threads = raw.threads.as_ref().map(|t| {
            if interface == Interface::Asgi {
                self.error(rules::THREADS_ASGI, t, "threads only apply to WSGI apps", "remove server.threads: an ASGI worker runs one event loop; scale with workers instead");
            } else if !(1..=1024).contains(&t.value) {
                self.error(rules::WORKERS, t, format!("{} threads is out of range", t.value), "use 1 to 1024 threads per worker");
            }
            u32::try_from(t.value.clamp(1, 1024)).unwrap_or(1)
        });
        let seconds =
            |v: &mut Self, field: &str, value: Option<&Spanned<i64>>, default: u32| match value {
                Some(s) if !(0..=86_400).contains(&s.value) => {
                    v.error(
                        rules::INVALID_VALUE,
                        s,
                        format!("{field} {} is out of range", s.value),
                        "give a number of seconds from 0 to 86400",
                    );
                    default
                }
                Some(s) => u32::try_from(s.value).unwrap_or(default),
                None => default,
            };
        let timeout = seconds(
            self,
            "server.timeout",
            raw.timeout.as_ref(),
            defaults::TIMEOUT,
        );
        if let Some(t) = raw.timeout.as_ref().filter(|t| t.value == 0) {
            self.warn(rules::TIMEOUT_ZERO, t, "timeout 0 turns off gunicorn's worker heartbeat", "a hung worker is then never restarted; keep a timeout (it is a heartbeat, not a request timeout, under async workers)");
        }
        let graceful_timeout = seconds(
            self,
            "server.graceful_timeout",
            raw.graceful_timeout.as_ref(),
            defaults::GRACEFUL_TIMEOUT,
        );
        let keepalive = seconds(
            self,
            "server.keepalive",
            raw.keepalive.as_ref(),
            defaults::KEEPALIVE,
        );
        if let Some(k) = raw
            .keepalive
            .as_ref()
            .filter(|k| (0..=defaults::LB_IDLE_SECONDS).contains(&k.value))
        {
            self.warn(
                rules::KEEPALIVE_SHORT,
                k,
                format!("keep-alive {} s is not longer than a load balancer's idle timeout (AWS ALB: 60 s)", k.value),
                format!("behind a load balancer, use a keep-alive above its idle timeout (fabuild's default is {}); otherwise gunicorn closes connections the balancer still uses and clients see sporadic 502s", defaults::KEEPALIVE),
            );
        }
        let count = |v: &mut Self, field: &str, value: Option<&Spanned<i64>>| match value {
            Some(s) if !(0..=10_000_000).contains(&s.value) => {
                v.error(
                    rules::INVALID_VALUE,
                    s,
                    format!("{field} {} is out of range", s.value),
                    "give a count from 0 to 10000000 (0 turns it off)",
                );
                0
            }
            Some(s) => u32::try_from(s.value).unwrap_or(0),
            None => 0,
        };
        let max_requests = count(self, "server.max_requests", raw.max_requests.as_ref());
        let max_requests_jitter = count(
            self,
            "server.max_requests_jitter",
            raw.max_requests_jitter.as_ref(),
        );
        if let Some(j) = raw
            .max_requests_jitter
            .as_ref()
            .filter(|j| j.value > 0 && max_requests == 0)
        {
            self.warn(
                rules::JITTER_WITHOUT_MAX_REQUESTS,
                j,
                "max_requests_jitter has no effect without max_requests",
                "set server.max_requests, or remove the jitter",
            );
        }
        let forwarded_allow_ips = raw
            .forwarded_allow_ips
            .iter()
            .flatten()
            .map(|entry| {
                let text = self.text("server.forwarded_allow_ips", entry);
                if text == "*" {
                    self.warn(rules::FORWARDED_ALLOW_ALL, entry, "`*` trusts X-Forwarded-* headers from any client", "list the proxy's address or network instead; `*` is safe only when the port is reachable through the proxy alone");
                } else if let Err(why) = crate::gunicorn::network::check(&text) {
                    self.error(rules::FORWARDED_ALLOW_IPS, entry, format!("`{text}` {why}"), "give an IP address or a network in CIDR form with no host bits set, for example 10.0.0.0/8");
                }
                text
            })
            .collect();
        let access_log = raw.access_log.as_ref().is_none_or(|a| a.value);
        let extra_args = crate::spec::extra_args::check(
            raw.extra_args.as_deref().unwrap_or_default(),
            self.text,
            user.uid,
            interface,
            &app.writable,
            project,
        );
        self.findings.extend(extra_args.findings);
        self.config_given = extra_args.config;
        let extra_args = extra_args.items;
        let mut quantity = |field: &str, value: Option<&Spanned<String>>| {
            let value = value?;
            let text = self.text(field, value);
            let memory = Memory::parse(&text);
            if memory.is_none() {
                self.error(
                    rules::DEPLOY_MEMORY,
                    value,
                    format!("`{text}` is not a memory quantity"),
                    "write a whole number with a binary suffix, for example `512Mi` or `1Gi`",
                );
            }
            memory
        };
        let memory = quantity("server.memory", raw.memory.as_ref());
        let worker_memory = quantity("server.worker_memory", raw.worker_memory.as_ref())
            .unwrap_or_else(|| Memory::parse(DEFAULT_WORKER_MEMORY).expect("a quantity"));
        if let (Some(m), Some(at)) = (&memory, &raw.memory)
            && m.bytes < worker_memory.bytes
        {
            self.error(
                rules::WORKER_MEMORY,
                at,
                format!(
                    "server.memory {} is less than one worker's estimate ({})",
                    m.text, worker_memory.text
                ),
                "raise server.memory, or set server.worker_memory to what one worker really uses (its RSS under load)",
            );
        }
        Server {
            port,
            workers,
            cpus,
            threads,
            timeout,
            graceful_timeout,
            keepalive,
            max_requests,
            max_requests_jitter,
            forwarded_allow_ips,
            access_log,
            extra_args,
            memory,
            worker_memory,
        }
    }

    /// The image copies the project to the app directory, gunicorn's working directory, and
    /// gunicorn loads `./gunicorn.conf.py` from there before `GUNICORN_CMD_ARGS`: whatever
    /// the variable does not set (daemon, pidfile, `check_config`, hooks) comes from the file.
    /// (With `--config` in `server.extra_args` the file is not read, and that config is
    /// warned about instead.)
    pub(super) fn gunicorn_conf(&mut self, raw: &RawSpec, project: &Path) {
        if self.config_given || !project.join("gunicorn.conf.py").exists() {
            return;
        }
        self.findings.push(
            Finding::warning(
                rules::GUNICORN_CONF,
                format!("gunicorn.conf.py is copied to {APP_DIR} and gunicorn loads it at start: GUNICORN_CMD_ARGS overrides the settings it also sets, and the rest (hooks, daemon, pidfile, check_config, ...) apply without fabuild's checks"),
            )
            .at(span(&raw.app.module, self.text))
            .help("move its settings to app.yaml (server.*, server.extra_args) and delete the file; keep a development-only config under another name and pass it with -c"),
        );
    }
}
