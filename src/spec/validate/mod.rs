//! `RawSpec` -> `Spec`: every rule about a single spec, each finding with its rule id,
//! the span of the offending value and a help line.
//!
//! The facts behind each rule are in `docs/rules.md`.

mod app;
mod apt;
mod deploy;
mod metadata;
pub use metadata::RESERVED_ENV;
mod pdm_lock;
mod pins;
mod private_index;
mod python;
mod server;
mod stack;
mod tls;
mod user;

use std::path::Path;

use serde_saphyr::Spanned;

use super::load::span;
use super::model::{Deploy, ImageRef, Memory, Server, Spec};
use super::raw::RawSpec;
use crate::diagnostic::Finding;
use crate::rules::{self, Rule};

struct Validator<'a> {
    text: &'a str,
    findings: Vec<Finding>,
    /// `server.extra_args` names a config file with `--config`.
    config_given: bool,
    /// The server stack the app installs: `python.pins`' table, or the built-in one.
    pins: crate::pins::Pins,
}

/// Validates `raw` (read from `text`); relative paths resolve against `project`.
/// Returns the spec and its warnings, or every finding when any is an error.
pub fn validate(
    raw: &RawSpec,
    text: &str,
    project: &Path,
) -> Result<(Spec, Vec<Finding>), Vec<Finding>> {
    let mut v = Validator {
        text,
        findings: Vec::new(),
        config_given: false,
        pins: crate::pins::Pins::builtin(),
    };
    let spec = v.spec(raw, project);
    if v.findings.iter().any(Finding::is_error) {
        Err(v.findings)
    } else {
        Ok((spec, v.findings))
    }
}

impl Validator<'_> {
    fn error<T>(
        &mut self,
        rule: Rule,
        at: &Spanned<T>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let finding = Finding::error(rule, message)
            .at(span(at, self.text))
            .help(help);
        self.findings.push(finding);
    }

    fn warn<T>(
        &mut self,
        rule: Rule,
        at: &Spanned<T>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let finding = Finding::warning(rule, message)
            .at(span(at, self.text))
            .help(help);
        self.findings.push(finding);
    }

    fn error_count(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }

    /// A string value, refused if it holds a control character (a newline would add a
    /// line, and so an instruction, to a Dockerfile).
    fn text(&mut self, field: &str, value: &Spanned<String>) -> String {
        if let Some(c) = value
            .value
            .chars()
            .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            self.error(
                rules::CONTROL_CHARACTER,
                value,
                format!("{field} contains the control character {c:?}"),
                "remove it: generated files are line-based and a control character would change their meaning",
            );
        }
        value.value.clone()
    }

    fn spec(&mut self, raw: &RawSpec, project: &Path) -> Spec {
        if raw.version.value != 1 {
            self.error(
                rules::SPEC_VERSION,
                &raw.version,
                format!("spec version {} is not supported", raw.version.value),
                "this fabuild reads `version: 1`",
            );
        }
        let name = self.text("name", &raw.name);
        if !valid_image_name(&name) {
            self.error(
                rules::IMAGE_NAME,
                &raw.name,
                format!("`{name}` cannot be used as an image name"),
                "use lowercase letters, digits and single `.`, `_` or `-` between them, at most 128 characters (for example `orders-api`)",
            );
        }
        let app = self.app(raw);
        if let Some(at) = &raw.python.pins {
            self.pins_file(raw, at, project);
        }
        let python = self.python(raw, project);
        let user = self.user(raw);
        let tls = raw.tls.as_ref().and_then(|tls| self.tls(tls));
        if let (Some(tls), Some(entries)) = (&tls, &raw.app.writable) {
            self.writable_beside_tls(&app.writable, entries, &tls.dir);
        }
        let mut server = self.server(&raw.server, &app, tls.is_some(), user, project);
        self.gunicorn_conf(raw, project);
        let labels = self.labels(&raw.labels);
        let env = self.env(&raw.env);
        let ca_secret = self.ca_secret(raw);
        let index = self.index(raw);
        let healthcheck = raw.healthcheck.as_ref().map(|h| self.healthcheck(h));
        let mut deploy = self.deploy(raw.deploy.as_ref(), &name);
        self.one_memory_limit(raw, &mut server, &mut deploy);
        Spec {
            name,
            app,
            python,
            server,
            tls,
            user,
            labels,
            env,
            ca_secret,
            index,
            pins_file: raw.python.pins.as_ref().map(|p| p.value.clone()),
            pins: self.pins.clone(),
            healthcheck,
            deploy,
        }
    }
}

impl Validator<'_> {
    /// `server.memory` and `deploy.memory` are one limit: the manifests carry the one the
    /// workers are sized for, and a limit written only under `deploy` sizes them too.
    fn one_memory_limit(&mut self, raw: &RawSpec, server: &mut Server, deploy: &mut Deploy) {
        let written = raw.deploy.as_ref().and_then(|d| d.memory.as_ref());
        match (&server.memory, &deploy.memory) {
            (Some(m), None) => deploy.memory = Some(m.text.clone()),
            (Some(m), Some(d)) => {
                if let (Some(at), Some(d)) = (written, Memory::parse(d))
                    && d.bytes != m.bytes
                {
                    self.error(
                        rules::DEPLOY_MEMORY,
                        at,
                        format!("deploy.memory {} is not server.memory {}", d.text, m.text),
                        "the manifests' limit must be the one the workers are sized for: remove deploy.memory (server.memory sets it)",
                    );
                }
            }
            (None, Some(d)) => server.memory = Memory::parse(d),
            (None, None) => {}
        }
    }
}

fn valid_image_name(name: &str) -> bool {
    name.len() <= 128
        && ImageRef::parse(name)
            .is_some_and(|r| r.tag.is_none() && r.digest.is_none() && !r.name.contains('/'))
}

fn is_clean_absolute(path: &str) -> bool {
    path.starts_with('/')
        && (path == "/" || !path.ends_with('/'))
        && path[1..]
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Only characters fabuild writes into a Dockerfile or manifest path unquoted: letters,
/// digits, `.`, `_`, `-` and `/`.
fn plain_path(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

/// `path` is `dir` or inside it.
fn under(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::app::valid_app_module;
    use super::*;

    #[test]
    fn app_modules() {
        for ok in ["main:app", "orders.api:app", "pkg:create_app()", "_x.y_2:z"] {
            assert!(valid_app_module(ok), "{ok}");
        }
        for bad in [
            "main",
            "main:",
            ":app",
            "main:app:x",
            "1main:app",
            "main.:app",
            "main:app(1)",
            "main:app()()",
            "ma in:app",
        ] {
            assert!(!valid_app_module(bad), "{bad}");
        }
    }

    /// The release argv a user means, accepted as written; what only a shell would
    /// read, refused (`check.trycmd` shows the messages).
    #[test]
    fn release_commands() {
        let release = |words: &str| {
            let text = format!(
                "version: 1\nname: orders\napp:\n  module: main:app\n  interface: wsgi\n  release: {words}\n"
            );
            crate::spec::validate_text(&text, "app.yaml", Path::new("."))
                .map(|c| c.spec.app.release.unwrap())
                .map_err(|e| e.to_string())
        };
        for (words, argv) in [
            (
                "[alembic, upgrade, head]",
                vec!["alembic", "upgrade", "head"],
            ),
            (
                "[sh, -c, 'alembic upgrade head && flask seed']",
                vec!["sh", "-c", "alembic upgrade head && flask seed"],
            ),
            ("[psql, -c, 'select 1;']", vec!["psql", "-c", "select 1;"]),
            (
                "[/bin/bash, -c, 'echo $HOME', release]",
                vec!["/bin/bash", "-c", "echo $HOME", "release"],
            ),
            (
                "[python, manage.py, migrate, --noinput]",
                vec!["python", "manage.py", "migrate", "--noinput"],
            ),
        ] {
            assert_eq!(
                release(words),
                Ok(argv.iter().map(|w| (*w).to_owned()).collect()),
                "{words}"
            );
        }
        for bad in [
            "alembic upgrade head",
            "[]",
            "['flask init-db']",
            "[flask, init-db, '&&', flask, seed]",
            "[flask, '', init-db]",
            "[sh, -c]",
            "[bash, -c]",
        ] {
            assert!(release(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn paths() {
        assert!(is_clean_absolute("/opt/key"));
        for bad in [
            "opt/key",
            "/opt/key/",
            "/opt//key",
            "/opt/../etc",
            "/opt/./key",
            "",
        ] {
            assert!(!is_clean_absolute(bad), "{bad}");
        }
        assert!(under("/opt/key/a.pem", "/opt/key"));
        assert!(!under("/opt/keys/a.pem", "/opt/key"));
    }
}
