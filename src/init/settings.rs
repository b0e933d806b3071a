//! Settings the app reads from the environment: `os.environ["X"]` (the app fails without
//! it), `os.getenv("X")` / `os.environ.get("X")` without a default (it gets `None`),
//! pydantic settings fields without a default (`pydantic`), and django-environ's or
//! environs' `env("X")` without one (`environ`). init lists them as commented `env:`
//! entries to fill in, each with where it is read.

mod environ;
mod pydantic;

use super::detect::Sources;
use super::source::string_literal;
use super::write::comment_safe;

/// One variable the app reads, at its first read in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvRead {
    pub name: String,
    /// `true` for a subscript (a `KeyError` when unset); `false` for a lookup without
    /// default (`None` when unset).
    pub required: bool,
    /// `file:line` of the read.
    pub at: String,
    pub kind: ReadKind,
}

/// How the code reads the variable: what the entry's comment says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// `os.environ[...]` (required) or a lookup without a default (optional).
    Os,
    /// A field of a pydantic settings class.
    Pydantic { class: String },
    /// A library's reader: `env.bool(...)` of django-environ.
    Library { call: String, library: &'static str },
}

/// The most variables listed: real apps read tens; a project of thousands of generated
/// reads gets its first `MAX_READS`, each found in bounded time.
pub(super) const MAX_READS: usize = 256;

/// Reads that fail when the variable is unset: `os.environ[` and `environ[`.
const SUBSCRIPTS: &[&str] = &["environ["];
/// Lookups that give `None` when unset and no default is passed.
const LOOKUPS: &[&str] = &["environ.get(", "getenv("];

/// Every variable the project's code reads without a default, required ones first, each
/// once (a required read wins over an optional one).
pub fn env_reads(sources: &Sources) -> Vec<EnvRead> {
    let mut found: Vec<EnvRead> = Vec::new();
    for (file, line) in sources.code_lines() {
        for (required, patterns, close) in [(true, SUBSCRIPTS, ']'), (false, LOOKUPS, ')')] {
            for pattern in patterns {
                for (at, _) in line.text.match_indices(pattern) {
                    // `myenviron[` or `os.environ_copy.get(` are other names.
                    if line.text[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        continue;
                    }
                    let after = line.text[at + pattern.len()..].trim_start();
                    let Some((name, rest)) = string_literal(after) else {
                        continue;
                    };
                    if !rest.trim_start().starts_with(close) || !env_name(&name) {
                        continue;
                    }
                    add(
                        &mut found,
                        EnvRead {
                            name,
                            required,
                            at: format!("{file}:{}", line.number),
                            kind: ReadKind::Os,
                        },
                    );
                }
            }
        }
    }
    for read in pydantic::reads(sources)
        .into_iter()
        .chain(environ::reads(sources))
    {
        add(&mut found, read);
    }
    found.sort_by_key(|r| !r.required);
    found
}

/// Adds a read unless the variable is listed already; a required read replaces an
/// optional one.
fn add(found: &mut Vec<EnvRead>, read: EnvRead) {
    // An alias or a reader's argument may be any string: only a name app.yaml's `env`
    // takes, and that cannot break out of its comment line, is listed. The image sets
    // some variables itself (`PATH`, `HOME`: app.yaml may not), and the worker count is
    // `server.workers`, not `WEB_CONCURRENCY` in env: none of them is the app's to fill.
    if !env_name(&read.name)
        || crate::spec::RESERVED_ENV.contains(&read.name.as_str())
        || read.name == "WEB_CONCURRENCY"
    {
        return;
    }
    let full = found.len() >= MAX_READS;
    match found.iter_mut().find(|r| r.name == read.name) {
        Some(known) if read.required && !known.required => *known = read,
        None if !full => found.push(read),
        Some(_) | None => {}
    }
}

/// A name app.yaml's `env` accepts and a shell can set.
fn env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The reads as commented `env:` entries at the end of app.yaml; under the `env:` init
/// already wrote (`in_env`, whose entries so far are `written`), or under a commented one.
/// A variable init already set (`PYTHONPATH`, `DJANGO_SETTINGS_MODULE`) is not listed
/// again: uncommented, it would be a second key of the same name.
pub fn render(reads: &[EnvRead], in_env: bool, written: &str, out: &mut String) {
    let reads: Vec<&EnvRead> = reads
        .iter()
        .filter(|r| {
            !written.lines().any(|l| {
                l.strip_prefix("  ")
                    .and_then(|l| l.strip_prefix(r.name.as_str()))
                    .is_some_and(|rest| rest.starts_with(':'))
            })
        })
        .collect();
    if reads.is_empty() {
        return;
    }
    out.push_str(if in_env { "" } else { "\n" });
    out.push_str("# Settings the code reads from the environment without a default: fill in and\n# uncomment (secrets belong in the deployment's environment, not in app.yaml).\n");
    if !in_env {
        out.push_str("# env:\n");
    }
    for read in reads {
        let why = match (&read.kind, read.required) {
            (ReadKind::Os, true) => "required: os.environ[...] fails without it,".to_owned(),
            (ReadKind::Os, false) => {
                "optional: read without a default (None when unset),".to_owned()
            }
            (ReadKind::Pydantic { class }, _) => {
                format!(
                    "required: a field of the pydantic settings class {class} without a default,"
                )
            }
            (ReadKind::Library { call, library }, _) => {
                format!("required: {call} ({library}) fails without it,")
            }
        };
        out.push_str(&format!(
            "#   {}: \"\"  # {} at {}\n",
            read.name,
            comment_safe(&why),
            comment_safe(&read.at)
        ));
    }
}
