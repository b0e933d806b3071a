//! The gunicorn argv that goes into `GUNICORN_CMD_ARGS`, every flag in `--flag=value` form
//! so that no value can be mistaken for a flag.

use super::workers::Workers;
use crate::spec::Spec;

/// Where gunicorn's worker heartbeat files go: a tmpfs, so a read-only or slow root
/// filesystem cannot stall or kill workers.
pub const WORKER_TMP_DIR: &str = "/dev/shm";

pub fn argv(spec: &Spec, workers: &Workers) -> Vec<String> {
    let server = &spec.server;
    let mut argv = vec![
        format!("--bind=0.0.0.0:{}", server.port),
        format!("--workers={}", workers.count),
        format!("--worker-class={}", workers.class),
    ];
    if let Some(threads) = workers.threads {
        argv.push(format!("--threads={threads}"));
    }
    argv.push(format!("--timeout={}", server.timeout));
    argv.push(format!("--graceful-timeout={}", server.graceful_timeout));
    // The sync worker closes every connection after one request and ignores keep-alive.
    if workers.class != "sync" {
        argv.push(format!("--keep-alive={}", server.keepalive));
    }
    if server.max_requests > 0 {
        argv.push(format!("--max-requests={}", server.max_requests));
        if server.max_requests_jitter > 0 {
            argv.push(format!(
                "--max-requests-jitter={}",
                server.max_requests_jitter
            ));
        }
    }
    if !server.forwarded_allow_ips.is_empty() {
        argv.push(format!(
            "--forwarded-allow-ips={}",
            server.forwarded_allow_ips.join(",")
        ));
    }
    if server.access_log {
        // gunicorn writes no access log at all by default; `-` is stdout.
        argv.push("--access-logfile=-".to_owned());
    }
    argv.push(format!("--worker-tmp-dir={WORKER_TMP_DIR}"));
    // gunicorn >= 25.1 opens a control socket under $HOME; a non-root user with an
    // unwritable HOME (or a read-only root filesystem) gets "Permission denied" at start.
    argv.push("--no-control-socket".to_owned());
    // Checked against gunicorn's parser in spec/extra_args.rs; none repeats a flag above.
    argv.extend(server.extra_args.iter().cloned());
    if let Some(tls) = &spec.tls {
        argv.push(format!("--keyfile={}", tls.keyfile));
        argv.push(format!("--certfile={}", tls.certfile));
        if let Some(ca) = &tls.ca_certs {
            argv.push(format!("--ca-certs={ca}"));
        }
    }
    argv
}
