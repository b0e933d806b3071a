//! fabuild's defaults, each decided once here: the user the image runs as, the ports it
//! listens on, the keep-alive it proposes and why, the worker class for ASGI apps. Depends
//! on nothing; the spec, the rules, `explain` and the CLI read them from here.

/// The numeric user and group the image runs as unless the spec says otherwise: above the
/// ranges distributions give system and login users, so it owns nothing in the base.
pub const UID: u32 = 10001;

/// The port gunicorn listens on with TLS, unprivileged (443 needs root or a capability).
pub const TLS_PORT: u16 = 8443;
/// The port gunicorn listens on without TLS; also gunicorn's own default.
pub const HTTP_PORT: u16 = 8000;

/// The port for a server that does (not) serve TLS.
pub const fn port(tls: bool) -> u16 {
    if tls { TLS_PORT } else { HTTP_PORT }
}

/// Common load balancers' idle timeout (AWS ALB: 60 s): gunicorn's keep-alive must exceed
/// it, so the balancer, not gunicorn, closes idle connections and no request races a close.
pub const LB_IDLE_SECONDS: i64 = 60;
/// The keep-alive fabuild sets and proposes: above the balancer's idle timeout.
pub const KEEPALIVE: u32 = 75;

/// gunicorn's worker timeout and graceful timeout, in seconds: gunicorn's own defaults.
pub const TIMEOUT: u32 = 30;
pub const GRACEFUL_TIMEOUT: u32 = 30;

/// The id of the build secret that carries a CA bundle for pip (a proxy or a private index).
pub const CA_SECRET: &str = "pip_ca";
/// The build secret holding a private index's netrc file (`build.index_secret`).
pub const INDEX_SECRET: &str = "index_netrc";

/// The worker class ASGI apps run with: uvicorn-worker's, which replaced the deprecated
/// `uvicorn.workers.UvicornWorker`.
pub const ASGI_WORKER_CLASS: &str = "uvicorn_worker.UvicornWorker";
