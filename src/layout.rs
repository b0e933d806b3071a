//! Where things are in the image fabuild makes. Depends on nothing: every layer, from the
//! spec's checks to the templates and `verify`, reads the same paths from here.

/// Where the virtualenv lives in both stages; copied whole from builder to runtime.
pub const VENV_DIR: &str = "/opt/venv";
/// Where the app's code is copied, root-owned so the server cannot rewrite it.
pub const APP_DIR: &str = "/app";
/// fabuild's own runtime files: the preflight that becomes `gunicorn`, the health probe.
pub const FABUILD_DIR: &str = "/opt/fabuild";
/// The runtime PATH, written out in full so the image never depends on the base's ENV.
/// `/opt/fabuild/bin` comes first: its `gunicorn` is the preflight, which execs the real one.
pub const PATH: &str =
    "/opt/fabuild/bin:/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
