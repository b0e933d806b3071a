//! fabuild: one declarative `app.yaml` in, a correct, safe and reproducible container build out.
//!
//! The pipeline, one module per stage, each looking only down the list:
//!
//! | module | what it holds |
//! | --- | --- |
//! | `exit`, `layout`, `defaults`, `date`, `rules`, `read`, `diagnostic`, `net` | depend on nothing: exit statuses, paths in the image, fabuild's defaults, dates, the rule ids, bounded file reading, findings, HTTP with the system's CA bundle (and on it a registry client and the credentials CI leaves) |
//! | `gunicorn` | gunicorn's settings, how `GUNICORN_CMD_ARGS` is split and parsed, the rules a container deployment must follow |
//! | `packaging`, `pins` | pyproject.toml and uv.lock; the hash-pinned server stack |
//! | `spec` | app.yaml: raw types with spans, loading (with the platform files it `extends`, merged key by key), validation into a typed `Spec` |
//! | `pin` | `python.base_image`'s digest written back into app.yaml as an exact-span edit; image names in manifests replaced by digest |
//! | `plan` | `Spec` -> `Plan`: every value the outputs need, decided once |
//! | `check` | a spec checked whole: `spec`, then the limits only its plan shows and its platform's policy |
//! | `render`, `output`, `generate` | `Plan` -> file contents (templates); headers, atomic writes, drift; `gen` as a library call |
//! | `explain` | the review of a `GUNICORN_CMD_ARGS` value, on top of `gunicorn` |
//! | `oci` | OCI image layouts and archives: reading, writing, digests, tar; pulling from and pushing to registries (`oci::remote`) |
//! | `verify`, `builder`, `init`, `schema` | the later commands: check an image, build one, write a first app.yaml, app.yaml's JSON Schema |
//!
//! The binary (`src/main.rs`, `src/cli.rs`, `src/commands/`, `src/console.rs`) parses
//! arguments, calls these and prints; nothing below it knows about the terminal.

pub mod builder;
pub mod check;
pub mod date;
pub mod defaults;
pub mod diagnostic;
pub mod exit;
pub mod explain;
pub mod generate;
pub mod gunicorn;
pub mod init;
pub mod layout;
pub mod net;
pub mod oci;
pub mod output;
pub mod packaging;
pub mod pin;
pub mod pins;
pub mod plan;
pub mod process;
pub mod read;
pub mod render;
pub mod rules;
pub mod schema;
pub mod spec;
pub mod verify;

/// The version stamped into every generated file's header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
