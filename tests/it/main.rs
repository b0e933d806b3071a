//! fabuild's integration tests: one binary (linking one is much faster than many), one
//! module per topic.

// clippy.toml keeps the binary's printing in src/console.rs; a test's progress lines are
// for the person running it.
#![allow(clippy::disallowed_macros)]

mod attack;
mod base_python;
mod build;
mod build_bounded;
mod build_robust;
mod bytecode;
mod cli;
mod clutter;
mod django;
mod dockerignore;
mod e2e_harness;
mod every_rule;
mod examples;
mod explain;
mod extra_args;
mod fetch;
mod fleet;
mod gen_batch;
mod gen_races;
mod gunicorn_conf;
mod hostile;
mod image_writer;
mod init;
mod json_output;
mod local_requirements;
mod manifests;
mod manylinux;
mod multiarch;
mod oracle;
mod oracle_quoting;
mod pdm_lock;
mod pins_file;
mod pipelines;
mod poetry_oracle;
mod preflight;
mod private_index;
mod properties;
mod regenerate;
mod registry;
mod rules_doc;
mod sbom;
mod schema;
mod server_pins;
mod settings_oracle;
mod strip;
mod system_packages;
mod templates;
mod terminal;
mod util;
mod uv_workspace;
mod verify;
