//! Plan -> file contents, through minijinja templates that only format what the plan decided.
//!
//! The templates in `templates/` are compiled in; `--templates DIR` replaces any of them
//! with a team's own copy, rendered with the same context (documented in docs/templates.md).

mod quote;

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

pub use quote::dockerfile_str;

use crate::layout::{APP_DIR, FABUILD_DIR, VENV_DIR};
use crate::plan::Plan;

/// One generated file: its name in the output directory, the template behind it and its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub name: &'static str,
    pub template: &'static str,
    pub body: String,
}

/// The files `gen` writes for this plan into the directory `paths` describes, each with the
/// template it comes from.
pub fn outputs(plan: &Plan, paths: &Paths) -> Vec<(&'static str, &'static str)> {
    let mut outputs = vec![
        ("Dockerfile", "Dockerfile.j2"),
        ("requirements-server.txt", "requirements-server.txt.j2"),
        (paths.ignore_name, "dockerignore.j2"),
        (PREFLIGHT, "preflight.py.j2"),
    ];
    if !plan.strip_debug.is_empty() {
        outputs.push((STRIP, "strip.py.j2"));
    }
    if let Some(installed) = &plan.installed_requirements {
        outputs.push((REQUIREMENTS_APP, "requirements-app.txt.j2"));
        if !installed.constraints.is_empty() {
            outputs.push((CONSTRAINTS_APP, "constraints-app.txt.j2"));
        }
    }
    if plan.uv.is_some() {
        outputs.push(("requirements-uv.txt", "requirements-uv.txt.j2"));
    }
    if plan.app_dependencies.project().is_some() {
        outputs.push(("requirements-project.in", "requirements-project.in.j2"));
    }
    if plan.healthcheck.is_some() {
        outputs.push((HEALTHCHECK, "healthcheck.py.j2"));
    }
    if plan.deploy.kubernetes {
        outputs.push(("kubernetes.yaml", "kubernetes.yaml.j2"));
    }
    if plan.deploy.compose {
        outputs.push(("compose.yaml", "compose.yaml.j2"));
    }
    outputs
}

/// The generated preflight, installed in the image as `/opt/fabuild/bin/gunicorn`.
pub const PREFLIGHT: &str = "fabuild-preflight.py";
/// The generated health probe, installed as `/opt/fabuild/healthcheck.py`.
pub const HEALTHCHECK: &str = "fabuild-healthcheck.py";
/// The ignore file every builder reads at the root of the build context.
pub const CONTEXT_IGNORE: &str = ".dockerignore";
/// The ignore file `BuildKit`, buildah (1.28 and later) and podman read beside the
/// Dockerfile `-f` names, in place of the context's: the one for a Dockerfile written
/// outside the context root.
pub const DOCKERFILE_IGNORE: &str = "Dockerfile.dockerignore";
/// The app's requirements as the image installs them, when not its file as it stands
/// (`Plan::installed_requirements`).
pub const REQUIREMENTS_APP: &str = "requirements-app.txt";
/// The constraints its includes (`-c`) hold, beside it.
pub const CONSTRAINTS_APP: &str = "constraints-app.txt";
/// The debug-information stripper the image build runs on the server stack's extension
/// modules; it does not stay in the image.
pub const STRIP: &str = "fabuild-strip.py";

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
    (
        "preflight.py.j2",
        include_str!("../../templates/preflight.py.j2"),
    ),
    ("strip.py.j2", include_str!("../../templates/strip.py.j2")),
    (
        "requirements-app.txt.j2",
        include_str!("../../templates/requirements-app.txt.j2"),
    ),
    (
        "constraints-app.txt.j2",
        include_str!("../../templates/constraints-app.txt.j2"),
    ),
    (
        "requirements-uv.txt.j2",
        include_str!("../../templates/requirements-uv.txt.j2"),
    ),
    (
        "requirements-project.in.j2",
        include_str!("../../templates/requirements-project.in.j2"),
    ),
    (
        "healthcheck.py.j2",
        include_str!("../../templates/healthcheck.py.j2"),
    ),
    (
        "kubernetes.yaml.j2",
        include_str!("../../templates/kubernetes.yaml.j2"),
    ),
    (
        "compose.yaml.j2",
        include_str!("../../templates/compose.yaml.j2"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        source: crate::read::ReadError,
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
    /// The app's requirements file the image installs: the app's own, or
    /// [`REQUIREMENTS_APP`] when gen writes it.
    pub app_requirements: Option<String>,
    /// [`CONSTRAINTS_APP`], relative to the context.
    pub app_constraints: String,
    pub preflight: String,
    pub uv_requirements: String,
    pub project_requirements: String,
    pub healthcheck: String,
    pub strip: String,
    /// The Dockerfile, relative to the build context.
    pub dockerfile: String,
    /// The build context seen from the output directory (`.` or `../..`).
    pub context_from_out: String,
    /// The ignore file's name in the output directory: [`CONTEXT_IGNORE`] at the context
    /// root, else [`DOCKERFILE_IGNORE`].
    #[serde(skip)]
    pub ignore_name: &'static str,
}

impl Paths {
    /// The paths for output written to `out_rel` (relative to the project, `/`-separated,
    /// empty for the project itself), which is also the build context.
    pub fn new(out_rel: &str, app_requirements: Option<String>) -> Self {
        let prefix = if out_rel.is_empty() {
            String::new()
        } else {
            format!("{out_rel}/")
        };
        let depth = out_rel.split('/').filter(|p| !p.is_empty()).count();
        Self {
            server_requirements: format!("{prefix}requirements-server.txt"),
            app_requirements,
            app_constraints: format!("{prefix}{CONSTRAINTS_APP}"),
            preflight: format!("{prefix}{PREFLIGHT}"),
            uv_requirements: format!("{prefix}requirements-uv.txt"),
            project_requirements: format!("{prefix}requirements-project.in"),
            healthcheck: format!("{prefix}{HEALTHCHECK}"),
            strip: format!("{prefix}{STRIP}"),
            dockerfile: format!("{prefix}Dockerfile"),
            context_from_out: if depth == 0 {
                ".".to_owned()
            } else {
                vec![".."; depth].join("/")
            },
            ignore_name: if depth == 0 {
                CONTEXT_IGNORE
            } else {
                DOCKERFILE_IGNORE
            },
        }
    }
}

/// Everything a template can see. Team templates get exactly this.
#[derive(Serialize)]
struct Context<'a> {
    plan: &'a Plan,
    paths: &'a Paths,
    venv: &'static str,
    app_dir: &'static str,
    fabuild_dir: &'static str,
    fabuild_version: &'static str,
}

/// Renders every output. `templates` is a directory whose files replace the built-in ones.
pub fn render(
    plan: &Plan,
    paths: &Paths,
    templates: Option<&Path>,
) -> Result<Vec<Rendered>, RenderError> {
    if let Some(dir) = templates.filter(|d| !d.is_dir()) {
        // A mistyped --templates must not fall back to the built-in templates unnoticed.
        return Err(RenderError::Read {
            path: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory").into(),
        });
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_filter("dockerfile_str", |s: &str| dockerfile_str(s));
    env.add_filter("exec_form", exec_form);
    env.add_filter("py_str", |v: &Value| literal(v));
    env.add_filter("yaml_str", |v: &Value| literal(v));
    env.add_filter("basename", |s: &str| {
        s.rsplit('/').next().unwrap_or(s).to_owned()
    });
    let outputs = outputs(plan, paths);
    for (name, builtin) in BUILTIN {
        // Present in the directory at all (a dangling link included) means: use it, or fail
        // (even when this spec does not use it: a team's broken template is reported early).
        let custom = templates
            .map(|dir| dir.join(name))
            .filter(|p| p.symlink_metadata().is_ok());
        let source = match custom {
            Some(path) => read_template(&path)?,
            // Built-in templates this spec does not render are not compiled at all.
            None if !outputs.iter().any(|(_, t)| t == name) => continue,
            None => (*builtin).to_owned(),
        };
        env.add_template_owned(*name, source)?;
    }
    let ctx = Context {
        plan,
        paths,
        venv: VENV_DIR,
        fabuild_dir: FABUILD_DIR,
        app_dir: APP_DIR,
        fabuild_version: crate::VERSION,
    };
    outputs
        .into_iter()
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

/// Templates are small; anything larger is refused before it is read whole.
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

fn read_template(path: &Path) -> Result<String, RenderError> {
    crate::read::file_text(path, MAX_TEMPLATE_BYTES).map_err(|source| RenderError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A string as a JSON string literal, which is also a valid Python string literal and a
/// YAML double-quoted scalar; `none` becomes `None`. Used for every value that comes from
/// the spec, so no value can change the surrounding syntax.
fn literal(value: &Value) -> Result<String, minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Ok("None".to_owned());
    }
    let text = value.as_str().ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("expected a string, got {value}"),
        )
    })?;
    serde_json::to_string(text)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
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
