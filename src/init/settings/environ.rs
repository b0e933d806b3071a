//! Reads through django-environ's `environ.Env` and environs' `Env`: `env("SECRET_KEY")`,
//! `env.bool("DEBUG")`, `env.db()` (which reads `DATABASE_URL`). Without a default, both
//! raise when the variable is unset (django-environ's `ImproperlyConfigured`, environs'
//! `EnvError`).
//!
//! Where each takes its default: django-environ's `env(var, cast, default)` and
//! `list`/`tuple`/`dict(var, cast, default)` take it third, its other methods second, and
//! the scheme given to `Env(DEBUG=(bool, False))` gives one too; environs takes it second
//! everywhere. `default=` by name in both. Reads are matched in the file that makes the
//! `Env`, through the name it is bound to.

use super::{EnvRead, MAX_READS, ReadKind};
use crate::init::detect::{PyFile, Sources};
use crate::init::source::{call_arguments, keyword_argument, string_literal};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Library {
    DjangoEnviron,
    Environs,
}

impl Library {
    fn name(self) -> &'static str {
        match self {
            Self::DjangoEnviron => "django-environ",
            Self::Environs => "environs",
        }
    }
}

const CLASSES: &[(&str, Library)] = &[
    ("environ.Env", Library::DjangoEnviron),
    ("environ.environ.Env", Library::DjangoEnviron),
    ("environs.Env", Library::Environs),
];

/// django-environ's methods that read a URL variable, with the variable they read when
/// called without one.
const URL_DEFAULTS: &[(&str, &str)] = &[
    ("db", "DATABASE_URL"),
    ("db_url", "DATABASE_URL"),
    ("cache", "CACHE_URL"),
    ("cache_url", "CACHE_URL"),
    ("email", "EMAIL_URL"),
    ("email_url", "EMAIL_URL"),
    ("search_url", "SEARCH_URL"),
    ("channels", "CHANNELS_URL"),
    ("channels_url", "CHANNELS_URL"),
];

/// Methods that read a variable (the rest, such as `read_env`, do not).
const READERS: &[&str] = &[
    "str",
    "bytes",
    "bool",
    "int",
    "float",
    "decimal",
    "json",
    "list",
    "tuple",
    "dict",
    "url",
    "path",
    "date",
    "datetime",
    "time",
    "timedelta",
    "uuid",
    "log_level",
    "enum",
    "dj_db_url",
    "dj_cache_url",
    "dj_email_url",
];

/// An `Env` the file binds to a name, with the variables its scheme gives a default.
struct Instance {
    name: String,
    library: Library,
    scheme_defaults: Vec<String>,
}

pub fn reads(sources: &Sources) -> Vec<EnvRead> {
    let mut found = Vec::new();
    for file in &sources.files {
        let instances = instances(file);
        if instances.is_empty() {
            continue;
        }
        for line in file.source.lines.iter().filter(|l| !l.is_string()) {
            for instance in &instances {
                reads_in_line(file, &line.text, line.number, instance, &mut found);
            }
            if found.len() >= MAX_READS {
                found.truncate(MAX_READS);
                return found;
            }
        }
    }
    found
}

/// `env = environ.Env(DEBUG=(bool, False))` and the like, anywhere in the file.
fn instances(file: &PyFile) -> Vec<Instance> {
    let mut found = Vec::new();
    for line in &file.source.lines {
        let Some((target, value)) = line.text.split_once('=') else {
            continue;
        };
        let name = target.trim();
        if value.starts_with('=') || !is_identifier(name) {
            continue;
        }
        let Some((callee, after)) = value.trim().split_once('(') else {
            continue;
        };
        let Some(library) = file.imports.resolve(callee.trim()).iter().find_map(|q| {
            CLASSES
                .iter()
                .find(|(class, _)| class == q)
                .map(|(_, library)| *library)
        }) else {
            continue;
        };
        let scheme_defaults = call_arguments(after)
            .map(|(arguments, _)| {
                arguments
                    .iter()
                    .filter_map(|a| keyword_argument(a))
                    .filter(|(_, v)| v.starts_with('(') && tuple_items(v) >= 2)
                    .map(|(k, _)| k.to_owned())
                    .collect()
            })
            .unwrap_or_default();
        found.push(Instance {
            name: name.to_owned(),
            library,
            scheme_defaults,
        });
    }
    found
}

/// The items of a tuple display `(a, b)`.
fn tuple_items(value: &str) -> usize {
    value
        .strip_prefix('(')
        .and_then(call_arguments)
        .map_or(0, |(items, _)| items.len())
}

fn reads_in_line(
    file: &PyFile,
    text: &str,
    number: usize,
    instance: &Instance,
    found: &mut Vec<EnvRead>,
) {
    for (at, _) in text.match_indices(instance.name.as_str()) {
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            continue;
        }
        let after = &text[at + instance.name.len()..];
        let (method, after) = match after.strip_prefix('.') {
            Some(rest) => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (Some(&rest[..end]), &rest[end..])
            }
            None => (None, after),
        };
        let Some(after) = after.strip_prefix('(') else {
            continue;
        };
        let Some((arguments, _)) = call_arguments(after) else {
            continue;
        };
        let url_default = method.and_then(|m| URL_DEFAULTS.iter().find(|(name, _)| *name == m));
        if let Some(m) = method
            && !READERS.contains(&m)
            && url_default.is_none()
        {
            continue;
        }
        let positional: Vec<&str> = arguments
            .iter()
            .copied()
            .filter(|a| keyword_argument(a).is_none())
            .collect();
        let keyword = |key: &str| {
            arguments
                .iter()
                .filter_map(|a| keyword_argument(a))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v)
        };
        let variable = match positional.first().copied().or_else(|| keyword("var")) {
            Some(first) => match string_literal(first) {
                Some((name, rest)) if rest.trim().is_empty() => name,
                _ => continue,
            },
            None => match (instance.library, url_default) {
                (Library::DjangoEnviron, Some((_, variable))) => (*variable).to_owned(),
                _ => continue,
            },
        };
        // The position of the default among positional arguments.
        let default_at = match (instance.library, method) {
            (Library::DjangoEnviron, None | Some("list" | "tuple" | "dict")) => 2,
            _ => 1,
        };
        if positional.len() > default_at
            || keyword("default").is_some()
            || instance.scheme_defaults.contains(&variable)
        {
            continue;
        }
        let call = match method {
            Some(m) => format!("{}.{m}(...)", instance.name),
            None => format!("{}(...)", instance.name),
        };
        found.push(EnvRead {
            name: variable,
            required: true,
            at: format!("{}:{number}", file.rel),
            kind: ReadKind::Library {
                call,
                library: instance.library.name(),
            },
        });
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
