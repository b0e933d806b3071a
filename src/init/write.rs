//! `AppYaml`: the app.yaml text init writes, every value with a comment saying where it
//! came from, so the reader can check each one against the project.

use super::gunicorn_conf::{Carried, Value};
use crate::spec::Interface;

/// Everything init decided, with the reason for each value.
#[derive(Clone, Debug)]
pub struct AppYaml {
    pub schema_ref: String,
    /// `extends`: a platform file found above the project, and why.
    pub extends: Option<(String, String)>,
    /// Whether that platform file's chain sets `server.cpus` or `server.workers`: then the
    /// worker count is left to it.
    pub platform_sizes_workers: bool,
    pub name: (String, String),
    pub module: (String, String),
    pub interface: (Interface, String),
    pub python: (String, String),
    pub dependencies: DependencyInstall,
    /// `python.build_packages` and `python.system_packages`, for dependencies with no wheel.
    pub apt: Option<super::system_packages::AptKeys>,
    pub port: Option<u16>,
    /// `server` values read from the project's gunicorn.conf.py.
    pub server: Vec<Carried>,
    pub tls: Option<Tls>,
    pub src_layout: bool,
    /// In a uv workspace: the member that holds the app, and what it imports from.
    pub workspace: Option<WorkspaceMember>,
    /// `app.writable`, with why.
    pub writable: Option<(Vec<String>, String)>,
    /// Environment variables the code reads without a default, written as comments.
    pub env_reads: Vec<super::settings::EnvRead>,
    pub django: Option<DjangoYaml>,
}

/// What a Django project's settings add to app.yaml, each with where it was read.
#[derive(Clone, Debug)]
pub struct DjangoYaml {
    /// `DJANGO_SETTINGS_MODULE`.
    pub settings: (String, String),
    /// `STATIC_ROOT` is set: `collectstatic` at build time.
    pub collectstatic: Option<String>,
    /// A variable `SECRET_KEY` is read from without a default.
    pub placeholder: Option<(String, String)>,
    /// The `DATABASES` statement keeping SQLite under `BASE_DIR`.
    pub sqlite: Option<String>,
}

impl From<&super::django::Django> for DjangoYaml {
    fn from(django: &super::django::Django) -> Self {
        let at = |e: &super::detect::Evidence| format!("{}:{}: {}", e.file, e.line, e.text);
        Self {
            settings: (django.settings.clone(), at(&django.settings_from)),
            collectstatic: django.static_root.as_ref().map(at),
            placeholder: django
                .secret_key_env
                .as_ref()
                .filter(|_| django.static_root.is_some())
                .map(|(name, e)| (name.clone(), at(e))),
            sqlite: django.sqlite.as_ref().map(at),
        }
    }
}

impl DjangoYaml {
    /// `app.collectstatic` and its placeholders, inside `app`.
    fn render_app(&self, out: &mut String) {
        let Some(root) = &self.collectstatic else {
            return;
        };
        out.push_str(&format!(
            "  # {} (django.contrib.staticfiles installed)\n",
            comment_safe(root)
        ));
        out.push_str("  # collected while the image builds, as root: the app cannot change them\n");
        out.push_str("  collectstatic: true\n");
        if let Some((name, why)) = &self.placeholder {
            out.push_str(&format!(
                "  # {}: no default, so a placeholder for collectstatic only, never in the image\n",
                comment_safe(why)
            ));
            out.push_str(&format!(
                "  collectstatic_placeholder_env:\n    - {}\n",
                scalar(name)
            ));
        }
    }

    /// Its `env` entries.
    fn render_env(&self, out: &mut String) {
        out.push_str(&format!(
            "  # {}\n  DJANGO_SETTINGS_MODULE: {}\n",
            comment_safe(&self.settings.1),
            scalar(&self.settings.0)
        ));
        if let Some(sqlite) = &self.sqlite {
            let data = format!("{}/{}", crate::layout::APP_DIR, super::django::DATA_DIR);
            out.push_str(&format!(
                "  # {}\n  # keeps SQLite under BASE_DIR, in {}, which the app cannot write. Make the\n  # settings read the path, 'NAME': os.environ.get('{env}', BASE_DIR / 'db.sqlite3'),\n  # then uncomment ({data} must be in app.writable):\n  # {env}: {data}/db.sqlite3\n",
                comment_safe(sqlite),
                crate::layout::APP_DIR,
                env = super::django::SQLITE_ENV,
            ));
        }
    }
}

/// The uv workspace member that holds the app: `python.package`, and `PYTHONPATH` with
/// every member its import needs (the members are copied with the project, not installed).
#[derive(Clone, Debug)]
pub struct WorkspaceMember {
    pub package: String,
    /// The member's directory, relative to the workspace root (`.` for the root itself).
    pub path: String,
    /// Directories in the image, in the lock's order of members.
    pub pythonpath: Vec<String>,
    pub why: String,
}

/// How the image gets the app's dependencies.
#[derive(Clone, Debug)]
pub enum DependencyInstall {
    /// A requirements file.
    Requirements(String),
    /// A uv or pdm lock, installed exactly (`python.lock`).
    Lock(String),
    /// pyproject.toml's declared dependencies, resolved as of a date (`python.project`).
    Project {
        pyproject: String,
        exclude_newer: String,
    },
    None,
}

/// `--tls-dir`, `--certfile` and `--keyfile`.
#[derive(Clone, Debug)]
pub struct TlsFlags {
    pub dir: String,
    pub certfile: String,
    pub keyfile: String,
}

/// app.yaml's `tls`: where the key and certificate are mounted, from the flags or from the
/// project's gunicorn.conf.py.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    pub dir: String,
    pub certfile: String,
    pub keyfile: String,
    pub ca_certs: Option<String>,
    /// The gunicorn.conf.py lines it was read from; empty when the flags gave it.
    pub why: Vec<String>,
}

impl Tls {
    /// The `tls` section, after a blank line.
    fn render(&self, out: &mut String) {
        out.push_str(
            "\n# The key and certificate are mounted here at run time, never built in.\ntls:\n",
        );
        for why in &self.why {
            out.push_str(&format!("  # {}\n", comment_safe(why)));
        }
        out.push_str(&format!("  dir: {}\n", scalar(&self.dir)));
        out.push_str(&format!("  certfile: {}\n", scalar(&self.certfile)));
        out.push_str(&format!("  keyfile: {}\n", scalar(&self.keyfile)));
        if let Some(ca) = &self.ca_certs {
            out.push_str(&format!("  ca_certs: {}\n", scalar(ca)));
        }
    }
}

impl From<TlsFlags> for Tls {
    fn from(flags: TlsFlags) -> Self {
        Self {
            dir: flags.dir,
            certfile: flags.certfile,
            keyfile: flags.keyfile,
            ca_certs: None,
            why: Vec::new(),
        }
    }
}

impl AppYaml {
    /// `tls` when it was read from gunicorn.conf.py (not given by the flags).
    pub fn carried_tls(&self) -> Option<&Tls> {
        self.tls.as_ref().filter(|t| !t.why.is_empty())
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "# yaml-language-server: $schema={}\n",
            self.schema_ref
        ));
        out.push_str(
            "# Written by `fabuild init`; each value says where it came from. Check them,\n",
        );
        out.push_str("# then run `fabuild gen`. Every key and its default: docs/spec.md.\n");
        out.push_str("version: 1\n");
        if let Some((path, why)) = &self.extends {
            out.push_str(&format!("# {}\n", comment_safe(why)));
            out.push_str(&format!("extends: {}\n", scalar(path)));
        }
        out.push_str(&format!("# {}\n", comment_safe(&self.name.1)));
        out.push_str(&format!("name: {}\n", scalar(&self.name.0)));
        out.push_str("\napp:\n");
        out.push_str(&format!("  # {}\n", comment_safe(&self.module.1)));
        out.push_str(&format!("  module: {}\n", scalar(&self.module.0)));
        out.push_str(&format!("  # {}\n", comment_safe(&self.interface.1)));
        let interface = match self.interface.0 {
            Interface::Asgi => "asgi",
            Interface::Wsgi => "wsgi",
        };
        out.push_str(&format!("  interface: {interface}\n"));
        if let Some((dirs, why)) = &self.writable {
            out.push_str(&format!("  # {}\n", comment_safe(why)));
            out.push_str("  # written at run time: owned by the app's user, an empty volume in the manifests\n");
            out.push_str("  writable:\n");
            for dir in dirs {
                out.push_str(&format!("    - {}\n", scalar(dir)));
            }
        }
        if let Some(django) = &self.django {
            django.render_app(&mut out);
        }
        out.push_str("\npython:\n");
        out.push_str(&format!("  # {}\n", comment_safe(&self.python.1)));
        out.push_str(&format!("  version: \"{}\"\n", self.python.0));
        out.push_str(&format!(
            "  # Pin the base image by digest for reproducible builds:\n  # base_image: python:{}-slim@sha256:<digest>\n",
            self.python.0
        ));
        self.render_dependencies(&mut out);
        if let Some(apt) = &self.apt {
            apt.render(&mut out);
        }
        // The section is written only when it sets a key: `server:` over comments alone
        // is null, which the spec refuses.
        let mut server = String::new();
        let carried = |key: &str| self.server.iter().find(|c| c.key == key);
        match (self.port, carried("port")) {
            (Some(port), _) => server.push_str(&format!("  port: {port}\n")),
            (None, Some(c)) => {
                server.push_str(&format!(
                    "  # {}\n  port: {}\n",
                    comment_safe(&c.why),
                    c.value
                ));
            }
            (None, None) => server.push_str(&format!(
                "  # port: {}   # the default\n",
                crate::defaults::port(self.tls.is_some())
            )),
        }
        if self.platform_sizes_workers && carried("workers").is_none() {
            server.push_str("  # The worker count comes from the platform file's server.cpus or workers;\n  # set cpus here (the container's CPU limit) to override it for this service.\n");
        } else if carried("workers").is_none() {
            server.push_str("  # Set cpus to the container's CPU limit; the worker count follows from it.\n  cpus: 1\n");
        }
        for c in self.server.iter().filter(|c| c.key != "port") {
            server.push_str(&format!("  # {}\n  {}:", comment_safe(&c.why), c.key));
            match &c.value {
                Value::List(items) => {
                    server.push('\n');
                    for item in items {
                        server.push_str(&format!("    - {}\n", scalar(item)));
                    }
                }
                other => server.push_str(&format!(" {other}\n")),
            }
        }
        if server.lines().any(|l| !l.trim_start().starts_with('#')) {
            out.push_str("\nserver:\n");
            out.push_str(&server);
        } else {
            out.push_str("\n# server:\n");
            out.push_str(&server);
        }
        if let Some(tls) = &self.tls {
            tls.render(&mut out);
        }
        self.render_env(&mut out);
        out
    }

    /// The `env` section, when the app needs one.
    fn render_env(&self, out: &mut String) {
        let open = self.workspace.is_some() || self.src_layout || self.django.is_some();
        if open {
            out.push_str("\nenv:\n");
        }
        let start = out.len();
        if let Some(member) = &self.workspace {
            out.push_str(&format!(
                "  # the workspace members the app imports, copied with the project (root-owned, read-only)\n  PYTHONPATH: {}\n",
                scalar(&member.pythonpath.join(":"))
            ));
        } else if self.src_layout {
            out.push_str(
                "  # src/ layout: the package is imported from /app/src, where its code is copied\n  PYTHONPATH: /app/src\n",
            );
        }
        if let Some(django) = &self.django {
            django.render_env(out);
        }
        let written = out[start..].to_owned();
        super::settings::render(&self.env_reads, open, &written, out);
    }
}

impl AppYaml {
    /// python's dependency keys: where the app's dependencies come from.
    fn render_dependencies(&self, out: &mut String) {
        match &self.dependencies {
        DependencyInstall::Requirements(path) => out.push_str(&format!(
            "  # the app's own dependencies, installed after the pinned server stack\n  requirements: {}\n",
            scalar(path)
        )),
        DependencyInstall::Lock(path) => {
            out.push_str(&format!(
                "  # the app's dependencies exactly as {} pins them, hashes included\n  lock: {}\n",
                comment_safe(path),
                scalar(path)
            ));
            if let Some(member) = &self.workspace {
                out.push_str(&format!(
                    "  # {}\n  # its dependencies are installed; the members' own code is imported from PYTHONPATH\n  package: {}\n",
                    comment_safe(&member.why),
                    scalar(&member.package)
                ));
            }
        }
        DependencyInstall::Project {
            pyproject,
            exclude_newer,
        } => out.push_str(&format!(
            "  # the dependencies pyproject.toml declares (no lock), resolved while the image builds\n  project: {}\n  # only releases uploaded before this date: every build resolves the same\n  exclude_newer: \"{exclude_newer}\"\n",
            scalar(pyproject)
        )),
        DependencyInstall::None => out.push_str(
            "  # no dependency file found; list the app's packages in requirements.txt\n  # requirements: requirements.txt\n",
        ),
    }
    }
}

/// A YAML scalar: plain when it cannot be read as anything but this string, else JSON
/// double-quoted (valid YAML).
pub(super) fn scalar(value: &str) -> String {
    let plain = value.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'(' | b')')
    }) && value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'/');
    let ambiguous = matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
    );
    if plain && !ambiguous && !value.ends_with(':') {
        value.to_owned()
    } else {
        // JSON escapes control characters but not the rest of what YAML cannot take raw.
        let mut quoted = String::with_capacity(value.len() + 2);
        for c in serde_json::to_string(value).unwrap_or_default().chars() {
            if unreadable_in_yaml(c) {
                quoted.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                quoted.push(c);
            }
        }
        quoted
    }
}

/// Characters a YAML reader does not take as text: control characters (a line break would
/// end a comment and start YAML of the project's making), the noncharacters U+FFFE and
/// U+FFFF, which YAML 1.2 excludes from a stream, and U+2028 and U+2029, which YAML 1.1
/// readers take as line breaks (U+0085, the third, is a control character).
fn unreadable_in_yaml(c: char) -> bool {
    c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}')
}

/// Text from the project (a name, a line of gunicorn.conf.py) as one line of text, for a
/// YAML comment or a terminal: every character a YAML reader could not take as text (a
/// terminal control sequence starts with one of them) shown as `?`.
pub fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| if unreadable_in_yaml(c) { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_text;
    use std::path::Path;

    /// An app.yaml whose every comment quotes `why`.
    fn app_yaml(why: &str) -> AppYaml {
        let why = || why.to_owned();
        AppYaml {
            schema_ref: "schema.json".to_owned(),
            extends: None,
            platform_sizes_workers: false,
            name: ("svc".to_owned(), why()),
            module: ("main:app".to_owned(), why()),
            interface: (Interface::Asgi, why()),
            python: ("3.12".to_owned(), why()),
            dependencies: DependencyInstall::None,
            apt: None,
            port: None,
            server: vec![Carried {
                key: "timeout",
                value: Value::Number(60),
                why: why(),
            }],
            tls: None,
            src_layout: false,
            workspace: None,
            writable: Some((vec!["instance".to_owned()], why())),
            env_reads: Vec::new(),
            django: None,
        }
    }

    #[test]
    fn project_text_in_a_comment_cannot_end_the_comment() {
        // A pyproject.toml name (TOML strings take escapes) that would write YAML of its own.
        let injected = "the project name `svc\nserver:\n  port: 9999\n#` in pyproject.toml";
        for why in [
            injected,
            "a\r\nport: 1",
            "x\u{85}y",
            "x\u{2028}y\u{2029}",
            "x\u{ffff}",
        ] {
            let text = app_yaml(why).render();
            let checked = check_text(&text, "app.yaml", Path::new("/"))
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(checked.spec.server.port, 8000, "{text}");
            assert_eq!(checked.spec.server.timeout, 60, "{text}");
        }
        assert!(
            app_yaml(injected)
                .render()
                .contains("# the project name `svc?server:?  port: 9999?#` in pyproject.toml\n")
        );
    }

    #[test]
    fn a_carried_list_reads_back_item_for_item() {
        let items = [
            "10.0.0.0/8",
            "::1",
            "fe80::1",
            "*",
            "#not-a-comment",
            "a: b",
            "- c",
        ];
        let mut yaml = app_yaml("gunicorn.conf.py:1");
        yaml.server.push(Carried {
            key: "forwarded_allow_ips",
            value: Value::List(items.iter().map(|s| (*s).to_owned()).collect()),
            why: "gunicorn.conf.py:2".to_owned(),
        });
        let text = yaml.render();
        let read: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            read["server"]["forwarded_allow_ips"],
            serde_json::json!(items),
            "{text}"
        );
        assert_eq!(read["server"]["timeout"], 60, "{text}");
    }

    #[test]
    fn quoted_scalars_read_back_as_written() {
        for value in [
            "data\u{ffff}",
            "a\u{2028}b",
            "tab\there",
            "del\u{7f}",
            "nel\u{85}",
            "é/漢",
        ] {
            let yaml = scalar(value);
            assert!(yaml.starts_with('"'), "{yaml}");
            let read: String =
                serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(read, value);
        }
        assert_eq!(scalar("var/uploads"), "var/uploads");
    }
}
