//! Names, labels, environment and the build secret (docs/rules.md, "Names, labels, environment").

use serde_saphyr::Spanned;

use crate::defaults;
use crate::gunicorn::rules::{env_string_overflow, env_too_long_why};
use crate::rules;
use crate::spec::raw::{CaSecret, RawSpec, SpannedMap};

use super::Validator;
use super::app::valid_identifier;

impl Validator<'_> {
    pub(super) fn labels(&mut self, raw: &SpannedMap) -> Vec<(String, String)> {
        let mut labels = Vec::new();
        for (key, value) in &raw.0 {
            let k = self.text("label key", key);
            let v = self.text("label value", value);
            if RESERVED_LABELS.contains(&k.as_str()) {
                self.error(rules::LABEL_KEY, key, format!("label `{k}` is set by fabuild"), "remove it: fabuild fills it from the spec so it cannot disagree with the image");
            } else if !valid_label_key(&k) {
                self.error(rules::LABEL_KEY, key, format!("`{k}` is not a usable label key"), "use lowercase letters, digits, `.` and `-`, in reverse-DNS form, for example `com.example.team`");
            }
            labels.push((k, v));
        }
        labels
    }

    pub(super) fn env(&mut self, raw: &SpannedMap) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (key, value) in &raw.0 {
            let k = self.text("env name", key);
            let v = self.text("env value", value);
            if let Some(length) = env_string_overflow(&k, &v) {
                self.error(
                    rules::ENV_TOO_LONG,
                    value,
                    env_too_long_why(&k, length),
                    "put data this large in a file the app reads (copied with the project, or mounted), not in the environment",
                );
            }
            if RESERVED_ENV.contains(&k.as_str()) {
                self.error(rules::ENV_NAME, key, format!("`{k}` is set by fabuild"), "remove it; use the server section (or server.extra_args) for gunicorn settings");
            } else if !valid_env_name(&k) {
                self.error(
                    rules::ENV_NAME,
                    key,
                    format!("`{k}` is not a valid environment variable name"),
                    "use letters, digits and `_`, not starting with a digit",
                );
            } else if k == "WEB_CONCURRENCY" && v.trim().parse::<i64>().is_err() {
                self.error(rules::ENV_NAME, value, "WEB_CONCURRENCY must be an integer", "gunicorn reads it with int() at import and crashes before starting; use server.workers instead");
            }
            env.push((k, v));
        }
        env
    }

    /// A build secret id (`build.ca_secret`, `build.index_secret`): refused unless it is
    /// letters, digits, `_`, `-` and `.` (it is a word of a `RUN --mount` flag).
    pub(super) fn secret_id<T>(&mut self, id: &str, at: &Spanned<T>, example: &str) {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            self.error(
                rules::CA_SECRET_ID,
                at,
                format!("`{id}` cannot be a build secret id"),
                format!("use letters, digits, `_`, `-` and `.`, for example `{example}`"),
            );
        }
    }

    pub(super) fn ca_secret(&mut self, raw: &RawSpec) -> Option<String> {
        match raw.build.ca_secret.as_ref() {
            None => Some(defaults::CA_SECRET.to_owned()),
            Some(s) => match &s.value {
                CaSecret::Off => None,
                CaSecret::Id(id) => {
                    self.secret_id(id, s, "pip_ca");
                    Some(id.clone())
                }
            },
        }
    }
}

/// Variables the generated image sets itself; a spec may not override them.
pub const RESERVED_ENV: &[&str] = &[
    "GUNICORN_CMD_ARGS",
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "HOME",
];

/// Labels fabuild writes itself.
pub(super) const RESERVED_LABELS: &[&str] = &[
    "org.opencontainers.image.title",
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.base.digest",
];

pub(super) fn valid_label_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && !key.contains("..")
}

pub(super) fn valid_env_name(name: &str) -> bool {
    valid_identifier(name)
}
