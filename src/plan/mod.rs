//! Spec -> Plan: every value the generated files need, decided once, in one place.
//!
//! Templates only format what is here; nothing about gunicorn, users or TLS is decided
//! while rendering.

pub mod args;
pub mod pins;
pub mod workers;

use serde::Serialize;

use crate::gunicorn::shlex;
use crate::spec::{Interface, Spec};
pub use pins::Pin;
pub use workers::Workers;

/// Where the virtualenv lives in both stages; copied whole from builder to runtime.
pub const VENV_DIR: &str = "/opt/venv";
/// Where the app's code is copied, root-owned so the server cannot rewrite it.
pub const APP_DIR: &str = "/app";
/// The runtime PATH, written out in full so the image never depends on the base's ENV.
pub const PATH: &str = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub name: String,
    pub module: String,
    pub interface: Interface,
    pub python_version: String,
    /// The FROM line's reference, digest included when pinned.
    pub base_image: String,
    pub uid: u32,
    pub gid: u32,
    pub port: u16,
    pub workers: Workers,
    /// The argv gunicorn reads from `GUNICORN_CMD_ARGS`.
    pub argv: Vec<String>,
    /// `argv` joined so that Python's `shlex.split` gives it back exactly.
    pub gunicorn_cmd_args: String,
    /// The runtime stage's environment, in order.
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub tls_dir: Option<String>,
    pub server_pins: Vec<Pin>,
    /// The app's requirements file, relative to the project directory.
    pub app_requirements: Option<String>,
    pub ca_secret: Option<String>,
    pub cmd: Vec<String>,
}

/// Options that change the plan without changing the spec.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Build on this image instead of the spec's base (a registry mirror, a local base).
    pub base_image: Option<crate::spec::ImageRef>,
}

pub fn plan(spec: &Spec, overrides: &Overrides) -> Plan {
    let workers = workers::plan(&spec.server, spec.app.interface);
    let argv = args::argv(spec, &workers);
    let gunicorn_cmd_args = shlex::join(&argv);
    let base = overrides
        .base_image
        .as_ref()
        .unwrap_or(&spec.python.base_image);

    let mut env = vec![
        ("PATH".to_owned(), PATH.to_owned()),
        ("VIRTUAL_ENV".to_owned(), VENV_DIR.to_owned()),
        ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
        ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
    ];
    env.extend(spec.env.iter().cloned());
    env.push(("GUNICORN_CMD_ARGS".to_owned(), gunicorn_cmd_args.clone()));

    let mut labels = vec![
        (
            "org.opencontainers.image.title".to_owned(),
            spec.name.clone(),
        ),
        (
            "org.opencontainers.image.base.name".to_owned(),
            base.without_digest(),
        ),
    ];
    if let Some(digest) = &base.digest {
        labels.push((
            "org.opencontainers.image.base.digest".to_owned(),
            digest.clone(),
        ));
    }
    labels.extend(spec.labels.iter().cloned());

    Plan {
        name: spec.name.clone(),
        module: spec.app.module.clone(),
        interface: spec.app.interface,
        python_version: spec.python.version.clone(),
        base_image: base.to_string(),
        uid: spec.user.uid,
        gid: spec.user.gid,
        port: spec.server.port,
        workers,
        argv,
        gunicorn_cmd_args,
        env,
        labels,
        tls_dir: spec.tls.as_ref().map(|t| t.dir.clone()),
        server_pins: pins::for_interface(spec.app.interface),
        app_requirements: spec.python.requirements.clone(),
        ca_secret: spec.ca_secret.clone(),
        cmd: vec!["gunicorn".to_owned(), spec.app.module.clone()],
    }
}
