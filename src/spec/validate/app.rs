//! The app: its module, interface and writable directories (docs/rules.md, "The app").

use serde_saphyr::Spanned;

use crate::gunicorn::rules::SCRATCH_DIRS;
use crate::layout::{APP_DIR, FABUILD_DIR, VENV_DIR};
use crate::rules;
use crate::spec::model::App;
use crate::spec::raw::RawSpec;

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
        App {
            module,
            interface: raw.app.interface.value,
            writable,
        }
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
