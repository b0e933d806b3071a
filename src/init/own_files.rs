//! The project's own build files: a Dockerfile, an ignore file or a manifest that `gen`
//! would write by the same name. init writes none of them; it says how to generate beside
//! them instead.

use std::path::Path;

use crate::output::{Provenance, header};
use crate::render;

/// Every name `gen` can write at the project's root without `--out`.
const GEN_NAMES: &[&str] = &[
    "Dockerfile",
    render::CONTEXT_IGNORE,
    "compose.yaml",
    "kubernetes.yaml",
    "requirements-server.txt",
    render::REQUIREMENTS_APP,
    render::CONSTRAINTS_APP,
    "requirements-uv.txt",
    "requirements-project.in",
    render::PREFLIGHT,
    render::STRIP,
    render::HEALTHCHECK,
];

/// Where init advises `gen --out` to write: inside the project, so it stays the context.
pub const OUT_DIR: &str = "build/fabuild";

/// A generated file is a few KiB; a larger one is the project's whatever its first lines say.
const MAX_READ: u64 = 1024 * 1024;

/// The files at `root` that `gen` would write by name and that fabuild did not generate
/// (or that were edited since), in `GEN_NAMES` order.
fn found(root: &Path) -> Vec<&'static str> {
    GEN_NAMES
        .iter()
        .copied()
        .filter(|name| {
            let path = root.join(name);
            if path.symlink_metadata().is_err() {
                return false;
            }
            // Unreadable, a link or not a file: it is not fabuild's either.
            crate::read::file_text(&path, MAX_READ).map_or(true, |text| {
                header::provenance(&text) != Provenance::Generated
            })
        })
        .collect()
}

/// What to do instead of generating over the project's own files, if it has any.
pub fn advice(root: &Path) -> Option<String> {
    let names = found(root);
    if names.is_empty() {
        return None;
    }
    let ignore = format!("{OUT_DIR}/{}", render::DOCKERFILE_IGNORE);
    Some(format!(
        "the project has its own {}: init left {} untouched, and `fabuild gen` refuses to replace {} without --force; generate beside {}: `fabuild gen --out {OUT_DIR}`, then build from the project's directory with `buildah build -f {OUT_DIR}/Dockerfile .` (or `docker build -f ...`), which reads {ignore} instead of the project's .dockerignore",
        names.join(", "),
        if names.len() == 1 { "it" } else { "them" },
        if names.len() == 1 { "it" } else { "them" },
        if names.len() == 1 { "it" } else { "them" },
    ))
}
