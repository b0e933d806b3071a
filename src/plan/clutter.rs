//! Repository clutter: what a project holds beside its code that has no place in `/app`
//! (CI configuration, test suites, documentation, its own container files), left out of
//! the build context by the generated `.dockerignore`, unless the app imports it.

use serde::Serialize;

use crate::layout::APP_DIR;
use crate::spec::{DJANGO_SETTINGS_MODULE, Spec};

/// Top-level paths left out, grouped under the reason the `.dockerignore` gives.
const CLUTTER: &[(&str, &[&str])] = &[
    (
        "CI configuration: it runs beside the image, not in it",
        &[
            ".github",
            ".gitlab",
            ".gitlab-ci.yml",
            ".circleci",
            ".buildkite",
        ],
    ),
    (
        "Test suites and documentation: the server never loads them",
        &["tests", "test", "docs"],
    ),
    (
        "The project's container and editor files: the build reads them, the app does not",
        &[
            "Dockerfile",
            "Containerfile",
            ".dockerignore",
            "compose.yaml",
            "compose.yml",
            "docker-compose.yaml",
            "docker-compose.yml",
            ".idea",
            ".vscode",
        ],
    ),
];

/// Clutter of one kind, and why it is left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClutterGroup {
    pub why: &'static str,
    pub patterns: Vec<&'static str>,
}

/// A clutter name kept in the context because the app imports it from there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptClutter {
    pub pattern: &'static str,
    pub why: String,
}

/// The clutter to leave out, and what is kept because the spec shows the app needs it.
pub fn plan(spec: &Spec) -> (Vec<ClutterGroup>, Vec<KeptClutter>) {
    let needed = imported_top_levels(spec);
    let mut groups = Vec::new();
    let mut kept = Vec::new();
    for (why, patterns) in CLUTTER {
        let mut left_out = Vec::new();
        for pattern in *patterns {
            match needed.iter().find(|(top, _)| top == pattern) {
                Some((_, by)) => kept.push(KeptClutter {
                    pattern,
                    why: by.clone(),
                }),
                None => left_out.push(*pattern),
            }
        }
        groups.push(ClutterGroup {
            why,
            patterns: left_out,
        });
    }
    (groups, kept)
}

/// The top-level names of the context the app imports from, with what says so: the app
/// module's package, the settings module's, and each `PYTHONPATH` directory under `/app`.
fn imported_top_levels(spec: &Spec) -> Vec<(String, String)> {
    let first = |module: &str| module.split([':', '.']).next().unwrap_or("").to_owned();
    let mut needed = vec![(
        first(&spec.app.module),
        format!("app.module `{}` is imported from it", spec.app.module),
    )];
    for (key, value) in &spec.env {
        if key == DJANGO_SETTINGS_MODULE {
            needed.push((
                first(value),
                format!("the settings module `{value}` is imported from it"),
            ));
        } else if key == "PYTHONPATH" {
            for dir in value.split(':') {
                if let Some(rest) = dir.strip_prefix(APP_DIR).and_then(|r| r.strip_prefix('/')) {
                    let top = rest.split('/').next().unwrap_or("").to_owned();
                    needed.push((top, format!("PYTHONPATH `{dir}` imports from it")));
                    // A package on that path is imported from under it, never from the top.
                }
            }
        }
    }
    needed
}
