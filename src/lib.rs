//! fabuild: one declarative `app.yaml` in, a correct, safe and reproducible container build out.
//!
//! The pipeline, one module per stage:
//! `spec` (load and validate) -> `plan` (decide every value once) -> `render` (templates)
//! -> `output` (headers, atomic writes, drift checks). `gunicorn` holds the shared knowledge
//! of gunicorn's settings and how `GUNICORN_CMD_ARGS` is read. `verify` checks a built image
//! against the plan, on top of `oci` (reading image layouts and archives).

pub mod builder;
pub mod diagnostic;
pub mod exit;
pub mod explain;
pub mod generate;
pub mod gunicorn;
pub mod init;
pub mod oci;
pub mod output;
pub mod packaging;
pub mod plan;
pub mod read;
pub mod render;
pub mod rules;
pub mod schema;
pub mod spec;
pub mod verify;

/// The version stamped into every generated file's header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
