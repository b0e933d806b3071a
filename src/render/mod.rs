//! Plan -> file contents, through minijinja templates that only format what the plan decided.
//!
//! The templates in `templates/` are compiled in; `--templates DIR` replaces any of them
//! with a team's own copy, rendered with the same context (documented in docs/templates.md).

mod quote;

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

pub use quote::dockerfile_str;

use crate::plan::{APP_DIR, Plan, VENV_DIR};

/// One generated file: its name in the output directory, the template behind it and its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub name: &'static str,
    pub template: &'static str,
    pub body: String,
}

/// The files `gen` writes, with the template each comes from.
pub const OUTPUTS: &[(&str, &str)] = &[
    ("Dockerfile", "Dockerfile.j2"),
    ("requirements-server.txt", "requirements-server.txt.j2"),
    (".dockerignore", "dockerignore.j2"),
];

const BUILTIN: &[(&str, &str)] = &[
    (
        "Dockerfile.j2",
        include_str!("../../templates/Dockerfile.j2"),
    ),
    (
        "requirements-server.txt.j2",
        include_str!("../../templates/requirements-server.txt.j2"),
    ),
    (
        "dockerignore.j2",
        include_str!("../../templates/dockerignore.j2"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template {name}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        name: String,
        line: Option<usize>,
        message: String,
    },
}

impl From<minijinja::Error> for RenderError {
    fn from(err: minijinja::Error) -> Self {
        let mut message = err
            .detail()
            .map_or_else(|| err.kind().to_string(), str::to_owned);
        if let Some(source) = std::error::Error::source(&err) {
            message = format!("{message}: {source}");
        }
        Self::Template {
            name: err.name().unwrap_or("?").to_owned(),
            line: err.line(),
            message,
        }
    }
}

/// Paths the Dockerfile uses, relative to the build context (the project directory).
#[derive(Clone, Debug, Serialize)]
pub struct Paths {
    pub server_requirements: String,
    pub app_requirements: Option<String>,
}

/// Everything a template can see. Team templates get exactly this.
#[derive(Serialize)]
struct Context<'a> {
    plan: &'a Plan,
    paths: &'a Paths,
    venv: &'static str,
    app_dir: &'static str,
    fabuild_version: &'static str,
}

/// Renders every output. `templates` is a directory whose files replace the built-in ones.
pub fn render(
    plan: &Plan,
    paths: &Paths,
    templates: Option<&Path>,
) -> Result<Vec<Rendered>, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_filter("dockerfile_str", |s: &str| dockerfile_str(s));
    env.add_filter("exec_form", exec_form);
    for (name, builtin) in BUILTIN {
        let source = match templates.map(|dir| dir.join(name)).filter(|p| p.is_file()) {
            Some(path) => std::fs::read_to_string(&path).map_err(|source| RenderError::Read {
                path: path.display().to_string(),
                source,
            })?,
            None => (*builtin).to_owned(),
        };
        env.add_template_owned(*name, source)?;
    }
    let ctx = Context {
        plan,
        paths,
        venv: VENV_DIR,
        app_dir: APP_DIR,
        fabuild_version: crate::VERSION,
    };
    OUTPUTS
        .iter()
        .map(|(name, template)| {
            let mut body = env
                .get_template(template)?
                .render(minijinja::value::Serde(&ctx))?;
            if !body.ends_with('\n') {
                body.push('\n');
            }
            Ok(Rendered {
                name,
                template,
                body,
            })
        })
        .collect()
}

/// A list as a JSON array, the exec form of CMD and VOLUME.
fn exec_form(value: &Value) -> Result<String, minijinja::Error> {
    let items: Vec<String> = value
        .try_iter()?
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect();
    serde_json::to_string(&items)
        .map(|json| json.replace("\",\"", "\", \""))
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}
