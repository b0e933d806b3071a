//! `Django`: what a Django project's settings tell init about the image it needs: the
//! settings module gunicorn must load, a SQLite database kept in the (read-only) code
//! directory, and static files to collect at build time.
//!
//! Read, never run: the settings module named by `DJANGO_SETTINGS_MODULE` in the app's own
//! wsgi.py/asgi.py (else manage.py), followed through `from .base import *` into the files
//! of a settings package, a later assignment replacing an earlier one as in Python.

use super::detect::{Evidence, PyFile, Sources, absolute, shorten};
use super::source::Line;
use crate::spec::DJANGO_SETTINGS_MODULE;

/// The directory `app.writable` gives a SQLite database kept under `BASE_DIR`.
pub const DATA_DIR: &str = "data";
/// The variable init asks the settings to read the database's path from.
pub const SQLITE_ENV: &str = "SQLITE_PATH";

/// How many settings files one chain of star imports is followed through.
const MAX_SETTINGS_FILES: usize = 8;

/// What init learnt from a Django project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Django {
    /// The value of `DJANGO_SETTINGS_MODULE`, `mysite.settings`.
    pub settings: String,
    /// The statement that sets it.
    pub settings_from: Evidence,
    /// `DATABASES` with the SQLite engine and a file under `BASE_DIR`.
    pub sqlite: Option<Evidence>,
    /// `STATIC_ROOT` set (not `None`) while `django.contrib.staticfiles` is installed.
    pub static_root: Option<Evidence>,
    /// `SECRET_KEY` read from an environment variable without a default: the variable,
    /// and the statement.
    pub secret_key_env: Option<(String, Evidence)>,
}

/// The Django project whose app is in `app_file` (relative, `/`-separated), if it is one.
pub fn read(sources: &Sources, app_file: &str) -> Option<Django> {
    let files = &sources.files;
    let app = files.iter().find(|f| f.rel == app_file);
    let manage = files.iter().find(|f| f.module == "manage");
    let (settings, settings_from) = app.into_iter().chain(manage).find_map(settings_module)?;
    let mut found = Settings::default();
    let mut seen = Vec::new();
    if let Some(file) = files.iter().find(|f| f.module == settings) {
        found.read(files, file, &mut seen);
    }
    Some(Django {
        settings,
        settings_from,
        sqlite: found.sqlite,
        static_root: found.static_root.filter(|_| found.staticfiles),
        secret_key_env: found.secret_key_env,
    })
}

/// `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")` in `file`.
fn settings_module(file: &PyFile) -> Option<(String, Evidence)> {
    file.source.lines.iter().find_map(|line| {
        let text = line.text.as_str();
        let at = text.find("setdefault(")?;
        let args = strings(&text[at..]);
        match args.as_slice() {
            [name, value, ..] if name == DJANGO_SETTINGS_MODULE && dotted(value) => {
                Some((value.clone(), evidence(file, line)))
            }
            _ => None,
        }
    })
}

/// The settings that matter here, as the last assignment left them.
#[derive(Default)]
struct Settings {
    sqlite: Option<Evidence>,
    static_root: Option<Evidence>,
    staticfiles: bool,
    secret_key_env: Option<(String, Evidence)>,
}

impl Settings {
    /// Reads `file` statement by statement, a star import of another settings file read in
    /// its place.
    fn read<'a>(&mut self, files: &'a [PyFile], file: &'a PyFile, seen: &mut Vec<&'a str>) {
        if seen.len() >= MAX_SETTINGS_FILES || seen.contains(&file.rel.as_str()) {
            return;
        }
        seen.push(&file.rel);
        for line in file.source.lines.iter().filter(|l| l.indent == 0) {
            let text = line.text.as_str();
            if let Some(module) = star_import(text) {
                let module = absolute(module, &file.package);
                if let Some(next) = files.iter().find(|f| f.module == module) {
                    self.read(files, next, seen);
                }
                continue;
            }
            let Some((name, op, value)) = assignment(text) else {
                continue;
            };
            match (name, op) {
                ("DATABASES", "=") => {
                    self.sqlite = sqlite_in_code_dir(value).then(|| evidence(file, line));
                }
                ("STATIC_ROOT", "=") => {
                    self.static_root = (value != "None").then(|| evidence(file, line));
                }
                ("INSTALLED_APPS", "=") => {
                    self.staticfiles = value.contains("django.contrib.staticfiles");
                }
                ("INSTALLED_APPS", "+=") => {
                    self.staticfiles |= value.contains("django.contrib.staticfiles");
                }
                ("SECRET_KEY", "=") => {
                    self.secret_key_env = required_env(value).map(|v| (v, evidence(file, line)));
                }
                _ => {}
            }
        }
    }
}

/// `from .base import *` -> `.base`.
fn star_import(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("from ")?;
    let (module, names) = rest.split_once(" import ")?;
    (names.trim() == "*").then(|| module.trim())
}

/// `NAME = value` or `NAME += value` -> (name, operator, value).
fn assignment(text: &str) -> Option<(&str, &str, &str)> {
    let (target, value) = text.split_once('=')?;
    let (name, op) = match target.strip_suffix('+') {
        Some(name) => (name, "+="),
        None => (target, "="),
    };
    let name = name.trim();
    (!value.starts_with('=')
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
    .then(|| (name, op, value.trim()))
}

/// A `DATABASES` value whose database is an SQLite file under `BASE_DIR` (Django's
/// default, `BASE_DIR / 'db.sqlite3'`), not one whose path or URL comes from the
/// environment.
fn sqlite_in_code_dir(value: &str) -> bool {
    value.contains("django.db.backends.sqlite3")
        && value.contains("BASE_DIR")
        && !["environ", "getenv", "env(", "config("]
            .iter()
            .any(|read| value.contains(read))
}

/// The variable a `SECRET_KEY` value reads with no default: `os.environ["X"]`,
/// `os.environ.get("X")`, `os.getenv("X")`, `env("X")` or `config("X")`.
fn required_env(value: &str) -> Option<String> {
    let readers = [
        "os.environ[",
        "os.environ.get(",
        "os.getenv(",
        "environ[",
        "env(",
        "env.str(",
        "config(",
    ];
    let reader = readers.iter().find(|r| value.starts_with(**r))?;
    let args = &value[reader.len()..];
    let name = strings(args).into_iter().next()?;
    // One argument only: a second one (a default) needs no placeholder.
    let after_name = args.find(&name).map(|at| &args[at + name.len() + 1..])?;
    let closed = after_name.trim_start().starts_with([')', ']']);
    (closed && !name.contains('.') && dotted(&name)).then_some(name)
}

/// The string literals in `text`, in order, without their quotes (no escapes: the names
/// and modules read here have none).
fn strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['"', '\'']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        let body = &rest[open + 1..];
        let Some(close) = body.find(quote) else { break };
        out.push(body[..close].to_owned());
        rest = &body[close + 1..];
    }
    out
}

fn dotted(module: &str) -> bool {
    !module.is_empty()
        && module.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn evidence(file: &PyFile, line: &Line) -> Evidence {
    Evidence {
        file: file.rel.clone(),
        line: line.number,
        text: shorten(&line.shown()),
        src_layout: file.src_layout,
    }
}

#[cfg(test)]
mod tests {
    use super::{assignment, required_env, sqlite_in_code_dir, star_import};

    #[test]
    fn settings_statements() {
        assert_eq!(star_import("from .base import *"), Some(".base"));
        assert_eq!(star_import("from .base import X"), None);
        assert_eq!(
            assignment("INSTALLED_APPS += ['x']"),
            Some(("INSTALLED_APPS", "+=", "['x']"))
        );
        assert_eq!(assignment("DEBUG == True"), None);
        assert!(sqlite_in_code_dir(
            "{'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': BASE_DIR / 'db.sqlite3'}}"
        ));
        assert!(!sqlite_in_code_dir(
            "{'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.environ.get('DB', BASE_DIR / 'db.sqlite3')}}"
        ));
        assert_eq!(
            required_env("os.environ['DJANGO_SECRET_KEY']").as_deref(),
            Some("DJANGO_SECRET_KEY")
        );
        assert_eq!(required_env("os.getenv(\"KEY\")").as_deref(), Some("KEY"));
        assert_eq!(required_env("os.environ.get('KEY', 'dev')"), None);
        assert_eq!(required_env("'django-insecure-abc'"), None);
    }
}
