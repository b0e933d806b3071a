//! The app: its module, interface and writable directories (docs/rules.md, "The app").

use serde_saphyr::Spanned;

use crate::gunicorn::rules::SCRATCH_DIRS;
use crate::layout::{APP_DIR, FABUILD_DIR, VENV_DIR};
use crate::rules;
use crate::spec::model::{App, Collectstatic, DJANGO_SETTINGS_MODULE as SETTINGS_MODULE};
use crate::spec::raw::{RawRelease, RawSpec};

use super::metadata::valid_env_name;
use super::{Validator, is_clean_absolute, plain_path, under};

impl Validator<'_> {
    pub(super) fn app(&mut self, raw: &RawSpec) -> App {
        let module = self.text("app.module", &raw.app.module);
        if !valid_app_module(&module) {
            self.error(
                rules::APP_MODULE,
                &raw.app.module,
                format!("`{module}` is not a gunicorn app module"),
                "write `package.module:attribute`, for example `main:app`, `orders.api:app` or `orders:create_app()`",
            );
        }
        let writable = match &raw.app.writable {
            Some(entries) => self.writable(entries),
            None => Vec::new(),
        };
        let release = raw.app.release.as_ref().and_then(|r| self.release(r));
        let collectstatic = self.collectstatic(raw);
        App {
            module,
            interface: raw.app.interface.value,
            writable,
            release,
            collectstatic,
        }
    }

    /// `app.collectstatic`: `python -m django` finds the project through
    /// `DJANGO_SETTINGS_MODULE`, so `env` must set it; each placeholder is a variable name.
    fn collectstatic(&mut self, raw: &RawSpec) -> Option<Collectstatic> {
        let placeholders = raw
            .app
            .collectstatic_placeholder_env
            .as_deref()
            .unwrap_or_default();
        let placeholder_env: Vec<String> = placeholders
            .iter()
            .filter_map(|name| {
                let text = self.text("app.collectstatic_placeholder_env", name);
                if valid_env_name(&text) {
                    return Some(text);
                }
                self.error(
                    rules::COLLECTSTATIC,
                    name,
                    format!("`{text}` is not a valid environment variable name"),
                    "name the variable the settings read, for example `DJANGO_SECRET_KEY`",
                );
                None
            })
            .collect();
        let Some(on) = raw.app.collectstatic.as_ref().filter(|on| on.value) else {
            if let Some(first) = placeholders.first() {
                self.error(
                    rules::COLLECTSTATIC,
                    first,
                    "app.collectstatic_placeholder_env without app.collectstatic: true",
                    "the placeholders are set for collectstatic only; set `collectstatic: true` or remove them",
                );
            }
            return None;
        };
        if !raw.env.0.iter().any(|(k, _)| k.value == SETTINGS_MODULE) {
            self.error(
                rules::COLLECTSTATIC,
                on,
                format!("app.collectstatic needs {SETTINGS_MODULE} in env"),
                format!("add the settings module to env, for example `{SETTINGS_MODULE}: mysite.settings` (manage.py and wsgi.py name it)"),
            );
        }
        Some(Collectstatic { placeholder_env })
    }

    /// `app.release`: the argv a container runs once per deploy. Every engine execs it
    /// as given (Kubernetes `command`, compose `entrypoint`, `--entrypoint`), so shell
    /// syntax only works inside an explicit `[sh, -c, SCRIPT]`; anything that reads as
    /// a command line meant for a shell is refused rather than passed on as words.
    fn release(&mut self, raw: &Spanned<RawRelease>) -> Option<Vec<String>> {
        const SPLIT: &str = "write one word per item, for example `release: [flask, --app, orders, init-db]`; for shell syntax say so: `release: [sh, -c, \"alembic upgrade head && flask seed\"]`";
        let words = match &raw.value {
            RawRelease::Line(line) => {
                self.error(
                    rules::RELEASE_COMMAND,
                    raw,
                    format!("app.release `{line}` is one string; no shell splits it"),
                    SPLIT,
                );
                return None;
            }
            RawRelease::Argv(words) => words,
        };
        if words.is_empty() {
            self.error(
                rules::RELEASE_COMMAND,
                raw,
                "app.release names no command",
                "write the command's words, for example `release: [alembic, upgrade, head]`, or remove the key",
            );
            return None;
        }
        if let Some(extra) = words.get(MAX_RELEASE_WORDS) {
            self.error(
                rules::RELEASE_COMMAND,
                extra,
                format!("app.release has {} words; at most {MAX_RELEASE_WORDS} are allowed", words.len()),
                "put the steps in a script in the project and run that: `release: [python, -m, orders.release]`",
            );
            return None;
        }
        let argv: Vec<String> = words.iter().map(|w| self.text("app.release", w)).collect();
        let errors = self.error_count();
        for (word, text) in words.iter().zip(&argv) {
            if text.is_empty() {
                self.error(
                    rules::RELEASE_COMMAND,
                    word,
                    "app.release has an empty word",
                    "remove it: the program would receive an empty argument",
                );
            } else if text.len() > MAX_RELEASE_WORD {
                self.error(
                    rules::RELEASE_COMMAND,
                    word,
                    format!(
                        "an app.release word is {} bytes; Linux takes at most {MAX_RELEASE_WORD}",
                        text.len()
                    ),
                    "put the long text in a file in the project and pass its path",
                );
            }
        }
        let shell_script = is_shell(&argv[0]) && argv.get(1).is_some_and(|w| w == "-c");
        if shell_script && argv.len() < 3 {
            self.error(
                rules::RELEASE_COMMAND,
                &words[1],
                "app.release runs a shell with `-c` and no script",
                "add the script as the next word: `release: [sh, -c, \"flask init-db\"]`",
            );
        }
        if argv[0].contains(char::is_whitespace) {
            self.error(
                rules::RELEASE_COMMAND,
                &words[0],
                format!(
                    "app.release's program `{}` is a whole command line",
                    argv[0]
                ),
                SPLIT,
            );
        }
        let operator = words.iter().zip(&argv).find(|(_, t)| is_shell_operator(t));
        if let Some((word, text)) = operator.filter(|_| !shell_script) {
            self.error(
                rules::RELEASE_COMMAND,
                word,
                format!(
                    "app.release passes `{text}` to the program as an argument; no shell reads it"
                ),
                SPLIT,
            );
        }
        (self.error_count() == errors).then_some(argv)
    }

    /// `app.writable`: each entry as an absolute path (relative ones under the app
    /// directory). Refused: paths that are not clean, the app directory itself (the code
    /// would become writable), system and fabuild directories, `/tmp`, duplicates and one
    /// entry inside another (two volumes would stack).
    pub(super) fn writable(&mut self, entries: &[Spanned<String>]) -> Vec<String> {
        if let Some(extra) = entries.get(MAX_WRITABLE) {
            self.error(
                rules::WRITABLE_PATH,
                extra,
                format!("app.writable has {} entries; at most {MAX_WRITABLE} are allowed", entries.len()),
                "each entry is a volume in the manifests; group what the app writes under a few directories",
            );
            return Vec::new();
        }
        let mut paths: Vec<String> = Vec::new();
        for entry in entries {
            let text = self.text("app.writable", entry);
            let full = writable_path(&text);
            if text.is_empty() || !is_clean_absolute(&full) || text.ends_with('/') {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` is not a clean path"),
                    "write a directory relative to the app (`instance`, `var/uploads`) or an absolute one (`/var/lib/orders`), without `.`, `..`, `//` or a trailing `/`",
                );
                continue;
            }
            if !plain_path(&full) {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` has characters fabuild does not put in a path"),
                    "use letters, digits, `.`, `_`, `-` and `/`",
                );
                continue;
            }
            if let Some(why) = writable_conflict(&full) {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` cannot be used: {why}"),
                    "name the directory the app writes, for example `instance` (Flask) or `/var/lib/orders`",
                );
                continue;
            }
            if let Some(other) = paths.iter().find(|p| under(&full, p) || under(p, &full)) {
                let message = if *other == full {
                    format!("app.writable names `{full}` twice")
                } else {
                    format!("app.writable `{full}` and `{other}` are one inside the other")
                };
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    message,
                    "keep the outer directory only: each entry becomes a volume, and volumes must not stack",
                );
                continue;
            }
            paths.push(full);
        }
        paths
    }

    /// A writable volume and the TLS mount must be apart: neither may hide the other.
    pub(super) fn writable_beside_tls(
        &mut self,
        paths: &[String],
        entries: &[Spanned<String>],
        dir: &str,
    ) {
        for entry in entries {
            let text = &entry.value;
            let full = writable_path(text);
            if paths.contains(&full) && (under(&full, dir) || under(dir, &full)) {
                self.error(
                    rules::WRITABLE_PATH,
                    entry,
                    format!("app.writable `{text}` overlaps the TLS mount `{dir}`"),
                    "keep the directories the app writes apart from the key and certificate, which are mounted read-only",
                );
            }
        }
    }
}

/// Directories a TLS mount or a writable volume must never shadow.
pub(super) const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
    APP_DIR,
    VENV_DIR,
    FABUILD_DIR,
];

/// At most this many words in `app.release`: a longer sequence belongs in a script.
pub(super) const MAX_RELEASE_WORDS: usize = 256;
/// Linux's `MAX_ARG_STRLEN`: exec refuses a longer argument with E2BIG.
pub(super) const MAX_RELEASE_WORD: usize = 131_071;

/// A program that reads its own command line as shell syntax after `-c`.
fn is_shell(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    matches!(name, "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh")
}

/// A word that only means something to a shell: exec hands it to the program as is.
fn is_shell_operator(word: &str) -> bool {
    matches!(
        word,
        "&&" | "||" | "|" | ";" | "&" | ">" | ">>" | "<" | "2>&1" | "2>" | "&>" | "|&"
    )
}

/// At most this many `app.writable` entries: each is a volume in the manifests.
pub(super) const MAX_WRITABLE: usize = 16;

pub(super) fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `pkg.mod:attr` or `pkg.mod:factory()`, the forms gunicorn's `APP_MODULE` takes.
pub(super) fn valid_app_module(module: &str) -> bool {
    let Some((path, attr)) = module.split_once(':') else {
        return false;
    };
    let attr = attr.strip_suffix("()").unwrap_or(attr);
    path.split('.').all(valid_identifier) && valid_identifier(attr)
}

/// An `app.writable` entry as an absolute path: relative ones are under the app directory.
pub(super) fn writable_path(entry: &str) -> String {
    match entry {
        "." => APP_DIR.to_owned(),
        _ if entry.starts_with('/') => entry.to_owned(),
        _ => format!("{APP_DIR}/{entry}"),
    }
}

/// Why a writable volume at `full` (clean, absolute) would break the image, if it would.
pub(super) fn writable_conflict(full: &str) -> Option<String> {
    if full == APP_DIR {
        return Some(format!(
            "it is the whole app directory; the code in `{APP_DIR}` stays root-owned so the server cannot rewrite it"
        ));
    }
    if full == "/" {
        return Some("a volume at `/` would hide the whole image".to_owned());
    }
    if let Some(scratch) = SCRATCH_DIRS.iter().find(|s| under(full, s)) {
        return Some(format!(
            "`{scratch}` is writable already (a volume of its own in the manifests)"
        ));
    }
    // Inside the app directory is the point; the app directory itself was refused above.
    let system = SYSTEM_DIRS
        .iter()
        .find(|s| **s != APP_DIR && (under(full, s) || under(s, full)))?;
    Some(if under(system, full) {
        format!("a volume at `{full}` would hide `{system}`")
    } else {
        format!("it is inside `{system}`, which the image needs")
    })
}
