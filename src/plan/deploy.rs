//! What the Kubernetes and compose manifests need, derived from the same spec as the image
//! so the two cannot disagree.

use serde::Serialize;

use crate::spec::Spec;

/// Seconds a pod keeps serving after it is marked for deletion, so endpoints controllers
/// and load balancers stop sending it traffic before gunicorn stops accepting.
pub const PRESTOP_SLEEP: u32 = 5;
/// Slack on top of preStop + graceful timeout before the kubelet's SIGKILL.
pub const GRACE_MARGIN: u32 = 5;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeployPlan {
    pub kubernetes: bool,
    pub compose: bool,
    pub image: String,
    pub replicas: u32,
    /// CPU limit and request as a Kubernetes quantity (`1`, `500m`).
    pub cpu: String,
    pub memory: Option<String>,
    /// The same limit in bytes, as compose's `mem_limit` takes it.
    pub memory_bytes: Option<u64>,
    pub tls_secret: String,
    pub prestop_seconds: u32,
    /// >= preStop sleep + gunicorn's graceful timeout + margin: the kubelet SIGKILLs after it.
    pub termination_grace_seconds: u32,
    /// `https` or `http`, the scheme probes and the Service port name use.
    pub scheme: &'static str,
    /// Port the Service exposes: 443 for TLS, 80 otherwise.
    pub service_port: u16,
}

pub fn plan(spec: &Spec) -> DeployPlan {
    let tls = spec.tls.is_some();
    DeployPlan {
        kubernetes: spec.deploy.kubernetes,
        compose: spec.deploy.compose,
        image: spec.deploy.image.clone(),
        replicas: spec.deploy.replicas,
        cpu: cpu_quantity(spec.server.cpus),
        memory: spec.deploy.memory.clone(),
        memory_bytes: spec.server.memory.as_ref().map(|m| m.bytes),
        tls_secret: spec.deploy.tls_secret.clone(),
        prestop_seconds: PRESTOP_SLEEP,
        termination_grace_seconds: PRESTOP_SLEEP + spec.server.graceful_timeout + GRACE_MARGIN,
        scheme: if tls { "https" } else { "http" },
        service_port: if tls { 443 } else { 80 },
    }
}

/// `1.0` -> `1`, `0.5` -> `500m`, `2.25` -> `2250m`.
fn cpu_quantity(cpus: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let millis = (cpus * 1000.0).round() as u64;
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_quantity;

    #[test]
    fn cpu_quantities() {
        assert_eq!(cpu_quantity(1.0), "1");
        assert_eq!(cpu_quantity(0.5), "500m");
        assert_eq!(cpu_quantity(2.25), "2250m");
    }
}
