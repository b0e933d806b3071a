//! How many gunicorn workers, and of which class.
//!
//! The count is always explicit: inside a container `os.cpu_count()` sees the host's CPUs,
//! not the cgroup quota, so gunicorn-side formulas spawn host-sized worker pools in small pods.

use serde::Serialize;

use crate::defaults::ASGI_WORKER_CLASS;
use crate::spec::{Interface, Server};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workers {
    pub count: u32,
    pub class: String,
    pub threads: Option<u32>,
    /// Why this count, for people reading the plan.
    pub reason: String,
    /// What the CPU limit alone would run (`server.cpus`).
    pub by_cpu: u32,
    /// What the memory limit fits at `server.worker_memory` each, when it is known.
    pub by_memory: Option<u32>,
}

pub fn plan(server: &Server, interface: Interface) -> Workers {
    // Round a fractional CPU limit up: half a CPU still runs one worker well.
    let cpus = server.cpus.ceil().clamp(1.0, 256.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let cpus = cpus as u32;
    let by_cpu = match interface {
        Interface::Asgi => cpus.max(2),
        Interface::Wsgi => 2 * cpus + 1,
    };
    // As Heroku's Python buildpack does: no more processes than the memory gives each
    // its share (256 MB there, `server.worker_memory` here), and always one.
    let by_memory = server.memory.as_ref().map(|m| {
        u32::try_from((m.bytes / server.worker_memory.bytes.max(1)).clamp(1, 256)).unwrap_or(1)
    });
    let (count, reason) = match (server.workers, interface) {
        (Some(n), _) => (n, "set in app.yaml".to_owned()),
        (None, _) if by_memory.is_some_and(|m| m < by_cpu) => (
            by_memory.unwrap_or(1),
            format!(
                "the memory limit ({}) fits {} at {} each; the CPUs ({} declared) would run {by_cpu}",
                server.memory.as_ref().map_or("", |m| m.text.as_str()),
                by_memory.unwrap_or(1),
                server.worker_memory.text,
                server.cpus
            ),
        ),
        (None, Interface::Asgi) => (
            by_cpu,
            format!(
                "one event loop per CPU ({} declared), at least 2 so one busy worker does not stall the pod",
                server.cpus
            ),
        ),
        (None, Interface::Wsgi) => (
            by_cpu,
            format!("2 x CPUs + 1 for sync workers ({} declared)", server.cpus),
        ),
    };
    let class = match (interface, server.threads) {
        (Interface::Asgi, _) => ASGI_WORKER_CLASS.to_owned(),
        (Interface::Wsgi, Some(_)) => "gthread".to_owned(),
        (Interface::Wsgi, None) => "sync".to_owned(),
    };
    Workers {
        count,
        class,
        threads: server.threads,
        reason,
        by_cpu,
        by_memory,
    }
}
