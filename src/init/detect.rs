//! `AppCandidate`: an app object gunicorn could serve, found by reading the project's
//! Python files, with the file and line that show it.
//!
//! What counts as an app (documented in docs/init.md):
//! - a module-level assignment whose value is a call to a framework's app class
//!   (`app = FastAPI(...)`, through any import alias), or to a factory found below;
//! - a module-level factory, `def create_app(...)` with no required parameters, whose body
//!   builds an app and returns it, served as `pkg:create_app()`;
//! - Django's `application = get_wsgi_application()` / `get_asgi_application()` /
//!   `ProtocolTypeRouter(...)`.
//!
//! Not seen: apps wrapped in middleware at assignment (`app = Wrap(FastAPI())`), apps built
//! in `if`/`try` blocks, and factories taking required arguments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::imports::Imports;
use super::source::{Line, PySource};
use crate::spec::Interface;

/// Framework app constructors by qualified name.
const CONSTRUCTORS: &[(&str, &str, Interface)] = &[
    ("fastapi.FastAPI", "FastAPI", Interface::Asgi),
    ("fastapi.applications.FastAPI", "FastAPI", Interface::Asgi),
    (
        "starlette.applications.Starlette",
        "Starlette",
        Interface::Asgi,
    ),
    ("litestar.Litestar", "Litestar", Interface::Asgi),
    ("litestar.app.Litestar", "Litestar", Interface::Asgi),
    ("quart.Quart", "Quart", Interface::Asgi),
    ("flask.Flask", "Flask", Interface::Wsgi),
    ("falcon.App", "Falcon", Interface::Wsgi),
    ("falcon.API", "Falcon", Interface::Wsgi),
    ("falcon.asgi.App", "Falcon", Interface::Asgi),
    ("bottle.Bottle", "Bottle", Interface::Wsgi),
    ("bottle.default_app", "Bottle", Interface::Wsgi),
    (
        "django.core.wsgi.get_wsgi_application",
        "Django",
        Interface::Wsgi,
    ),
    (
        "django.core.asgi.get_asgi_application",
        "Django",
        Interface::Asgi,
    ),
    (
        "channels.routing.ProtocolTypeRouter",
        "Django Channels",
        Interface::Asgi,
    ),
];

/// Directories never searched: tests, virtualenvs, build output, tooling.
const SKIP_DIRS: &[&str] = &[
    "__pycache__",
    "node_modules",
    "site-packages",
    "venv",
    "env",
    "build",
    "dist",
    "docs",
    "test",
    "tests",
    "migrations",
];
const MAX_DEPTH: usize = 6;
const MAX_FILES: usize = 5000;
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppCandidate {
    /// gunicorn's `APP_MODULE`: `pkg.mod:attr` or `pkg.mod:factory()`.
    pub module: String,
    pub interface: Interface,
    pub framework: &'static str,
    /// The file, relative to the project, `/`-separated.
    pub file: String,
    pub line: usize,
    /// The statement that shows it, as written (joined onto one line, shortened).
    pub evidence: String,
    /// The file sits under `src/`: its package is imported from there.
    pub src_layout: bool,
}

/// A Python file of the project, read and named as a module.
pub(super) struct PyFile {
    pub(super) rel: String,
    pub(super) module: String,
    pub(super) package: String,
    pub(super) src_layout: bool,
    pub(super) source: PySource,
    pub(super) imports: Imports,
}

/// A factory or assignment before cross-file resolution.
struct Found {
    file: usize,
    name: String,
    factory: bool,
    line: usize,
    evidence: String,
    callee: Vec<String>,
    framework: Option<(&'static str, Interface)>,
    /// The factory this assignment calls sits under `src/`.
    factory_in_src: bool,
}

/// A statement that shows something about the app: where, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The file, relative to the project, `/`-separated.
    pub file: String,
    pub line: usize,
    pub text: String,
    /// The file sits under `src/`.
    pub src_layout: bool,
}

/// The project's importable Python files, walked and parsed once for every question init
/// asks of the code.
pub struct Sources {
    pub(super) files: Vec<PyFile>,
}

impl Sources {
    /// Reads the `.py` files under `root` (see `walk` for what is skipped).
    pub fn read(root: &Path) -> std::io::Result<Self> {
        let mut paths = Vec::new();
        walk(root, 0, &mut paths)?;
        Ok(Self {
            files: paths.iter().filter_map(|p| read(root, p)).collect(),
        })
    }

    /// The first statement in the project that reads a Flask app's instance folder
    /// (`app.instance_path`, `current_app.instance_path`): the app writes there at run time
    /// (the Flask tutorial creates it and keeps its database file in it).
    pub fn instance_folder_use(&self) -> Option<Evidence> {
        self.files.iter().find_map(|file| {
            file.source
                .lines
                .iter()
                .find(|line| {
                    !line.is_string()
                        && line.text.match_indices(".instance_path").any(|(at, m)| {
                            !line.text[at + m.len()..]
                                .chars()
                                .next()
                                .is_some_and(|c| c.is_alphanumeric() || c == '_')
                        })
                })
                .map(|line| Evidence {
                    file: file.rel.clone(),
                    line: line.number,
                    text: shorten(&line.shown()),
                    src_layout: file.src_layout,
                })
        })
    }

    /// Every logical line of code (not a docstring), with its file, in file order.
    pub fn code_lines(&self) -> impl Iterator<Item = (&str, &super::source::Line)> {
        self.files.iter().flat_map(|file| {
            file.source
                .lines
                .iter()
                .filter(|line| !line.is_string())
                .map(move |line| (file.rel.as_str(), line))
        })
    }

    /// Every app candidate in the project, in file order.
    pub fn candidates(&self) -> Vec<AppCandidate> {
        let files = &self.files;
        let mut found: Vec<Found> = Vec::new();
        for (index, file) in files.iter().enumerate() {
            scan(index, file, &mut found);
        }
        // A factory's result assigned elsewhere (`app = create_app()` in wsgi.py) is the entry
        // point the project already chose; the factory then is not a second candidate.
        let factories: Vec<(String, &'static str, Interface, bool)> = found
            .iter()
            .filter(|f| f.factory)
            .filter_map(|f| {
                let file = &files[f.file];
                f.framework.map(|(fw, i)| {
                    (
                        format!("{}.{}", file.module, f.name),
                        fw,
                        i,
                        file.src_layout,
                    )
                })
            })
            .collect();
        let mut used_factories = BTreeSet::new();
        for f in found
            .iter_mut()
            .filter(|f| !f.factory && f.framework.is_none())
        {
            let file = &files[f.file];
            for callee in &f.callee {
                let qualified = absolute(callee, &file.package);
                if let Some((name, fw, i, src)) = factories.iter().find(|(q, _, _, _)| {
                    *q == qualified || *q == format!("{}.{}", file.module, callee)
                }) {
                    f.framework = Some((fw, *i));
                    // `app = create_app()` beside src/ (Flask's celery example): the factory's
                    // package is imported from src/, so the app needs it on the path too.
                    f.factory_in_src = *src;
                    used_factories.insert(name.clone());
                    break;
                }
            }
        }
        let mut candidates = Vec::new();
        for f in &found {
            let Some((framework, interface)) = f.framework else {
                continue;
            };
            let file = &files[f.file];
            if f.factory && used_factories.contains(&format!("{}.{}", file.module, f.name)) {
                continue;
            }
            let attr = if f.factory {
                format!("{}()", f.name)
            } else {
                f.name.clone()
            };
            candidates.push(AppCandidate {
                module: format!("{}:{attr}", file.module),
                interface,
                framework,
                file: file.rel.clone(),
                line: f.line,
                evidence: f.evidence.clone(),
                src_layout: file.src_layout || f.factory_in_src,
            });
        }
        prefer_conventional_names(&candidates)
    }
}

/// Several apps in one file are usually a main app and sub-apps mounted on it: keep the
/// one named `app` or `application` when there is one.
fn prefer_conventional_names(candidates: &[AppCandidate]) -> Vec<AppCandidate> {
    let conventional =
        |c: &AppCandidate| c.module.ends_with(":app") || c.module.ends_with(":application");
    // The files with a conventional name, gathered once: asking for each candidate made a
    // file of thousands of factories quadratic.
    let settled: std::collections::HashSet<&str> = candidates
        .iter()
        .filter(|c| conventional(c))
        .map(|c| c.file.as_str())
        .collect();
    candidates
        .iter()
        .filter(|c| conventional(c) || !settled.contains(c.file.as_str()))
        .cloned()
        .collect()
}

/// `.app.create_app` inside package `pkg` -> `pkg.app.create_app`.
pub(super) fn absolute(name: &str, package: &str) -> String {
    let dots = name.len() - name.trim_start_matches('.').len();
    if dots == 0 {
        return name.to_owned();
    }
    let mut parts: Vec<&str> = package.split('.').filter(|p| !p.is_empty()).collect();
    for _ in 1..dots {
        parts.pop();
    }
    parts.push(&name[dots..]);
    parts.join(".")
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES || dir.join("pyvenv.cfg").exists() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        // Follow no links: a link can lead out of the project or round in a circle.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(&path, depth + 1, out)?;
            }
        } else if meta.is_file()
            && std::path::Path::new(&name)
                .extension()
                .is_some_and(|e| e == "py")
            && !name.starts_with("test_")
            && name != "conftest.py"
            && name != "setup.py"
            && meta.len() <= MAX_FILE_BYTES
        {
            out.push(path);
        }
    }
    Ok(())
}

fn read(root: &Path, path: &Path) -> Option<PyFile> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let src_layout = parts.len() > 1 && parts[0] == "src";
    let mut module_parts: Vec<String> = parts[usize::from(src_layout)..].to_vec();
    let last = module_parts.pop()?;
    let stem = last.strip_suffix(".py")?;
    let package = module_parts.join(".");
    if stem != "__init__" {
        module_parts.push(stem.to_owned());
    }
    if module_parts.is_empty() || !module_parts.iter().all(|p| is_identifier(p)) {
        // Not importable under its path (`my-scripts/run.py`): gunicorn could not load it.
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let source = PySource::parse(&text);
    let imports = Imports::collect(source.lines.iter().map(|l| l.text.as_str()));
    Some(PyFile {
        rel: parts.join("/"),
        module: module_parts.join("."),
        package: if stem == "__init__" {
            module_parts.join(".")
        } else {
            package
        },
        src_layout,
        source,
        imports,
    })
}

fn scan(index: usize, file: &PyFile, found: &mut Vec<Found>) {
    let lines = &file.source.lines;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if line.indent != 0 {
            i += 1;
            continue;
        }
        if let Some((name, params)) = def(&line.text) {
            let body_end = lines[i + 1..]
                .iter()
                .position(|l| l.indent == 0)
                .map_or(lines.len(), |p| i + 1 + p);
            if params_optional(params)
                && let Some(framework) = factory_body(file, &lines[i + 1..body_end])
            {
                found.push(Found {
                    file: index,
                    name: name.to_owned(),
                    factory: true,
                    line: line.number,
                    evidence: shorten(&line.shown()),
                    callee: Vec::new(),
                    framework: Some(framework),
                    factory_in_src: false,
                });
            }
            i = body_end;
            continue;
        }
        if let Some((name, callee)) = assignment(&line.text) {
            let resolved = file.imports.resolve(callee);
            found.push(Found {
                file: index,
                name: name.to_owned(),
                factory: false,
                line: line.number,
                evidence: shorten(&line.shown()),
                framework: constructor(&resolved),
                callee: resolved,
                factory_in_src: false,
            });
        }
        i += 1;
    }
}

fn constructor(qualified: &[String]) -> Option<(&'static str, Interface)> {
    qualified.iter().find_map(|q| {
        CONSTRUCTORS
            .iter()
            .find(|(name, _, _)| name == q)
            .map(|(_, fw, i)| (*fw, *i))
    })
}

/// A factory body builds an app (`x = Flask(...)` or `return Flask(...)`) and returns it.
fn factory_body(file: &PyFile, body: &[Line]) -> Option<(&'static str, Interface)> {
    let mut built: Vec<(String, (&'static str, Interface))> = Vec::new();
    for line in body {
        let text = line.text.as_str();
        if let Some(value) = text.strip_prefix("return ") {
            let value = value.trim();
            if let Some(fw) = built.iter().find(|(v, _)| v == value).map(|(_, fw)| *fw) {
                return Some(fw);
            }
            if let Some(callee) = call_target(value)
                && let Some(fw) = constructor(&file.imports.resolve(callee))
            {
                return Some(fw);
            }
        } else if let Some((name, callee)) = assignment(text)
            && let Some(fw) = constructor(&file.imports.resolve(callee))
        {
            built.push((name.to_owned(), fw));
        }
    }
    None
}

/// `def name(params):` or `async def ...` -> (name, params).
fn def(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("def ")
        .or_else(|| text.strip_prefix("async def "))?;
    let (name, rest) = rest.split_once('(')?;
    let params = rest.rsplit_once(')').map_or(rest, |(p, _)| p);
    is_identifier(name.trim()).then_some((name.trim(), params))
}

/// gunicorn calls a factory with no arguments: every parameter needs a default.
fn params_optional(params: &str) -> bool {
    params
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "*" && *p != "/")
        .all(|p| p.contains('=') || p.starts_with('*'))
}

/// `name = callee(...)` or `name: Type = callee(...)` -> (name, callee).
fn assignment(text: &str) -> Option<(&str, &str)> {
    let (target, value) = text.split_once('=')?;
    if value.starts_with('=')
        || target.ends_with(['!', '<', '>', '+', '-', '*', '/', '%', '|', '&'])
    {
        return None;
    }
    let name = target.split(':').next()?.trim();
    if !is_identifier(name) {
        return None;
    }
    Some((name, call_target(value.trim())?))
}

/// `a.b.C(...)` -> `a.b.C`.
fn call_target(value: &str) -> Option<&str> {
    let (callee, _) = value.split_once('(')?;
    let callee = callee.trim();
    (!callee.is_empty() && callee.split('.').all(is_identifier)).then_some(callee)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX - 3).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::{absolute, assignment, params_optional};

    #[test]
    fn assignments_and_factories() {
        assert_eq!(assignment("app = FastAPI()"), Some(("app", "FastAPI")));
        assert_eq!(
            assignment("app: Flask = flask.Flask(__name__)"),
            Some(("app", "flask.Flask"))
        );
        assert_eq!(assignment("app == FastAPI()"), None);
        assert_eq!(assignment("x += f()"), None);
        assert!(params_optional("config=None, *, debug: bool = False"));
        assert!(!params_optional("config"));
        assert_eq!(absolute(".app.create_app", "pkg"), "pkg.app.create_app");
        assert_eq!(absolute("..x", "a.b"), "a.x");
    }
}
