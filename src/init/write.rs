//! `AppYaml`: the app.yaml text init writes, every value with a comment saying where it
//! came from, so the reader can check each one against the project.

use super::gunicorn_conf::Carried;
use crate::spec::Interface;

/// Everything init decided, with the reason for each value.
#[derive(Clone, Debug)]
pub struct AppYaml {
    pub schema_ref: String,
    pub name: (String, String),
    pub module: (String, String),
    pub interface: (Interface, String),
    pub python: (String, String),
    pub dependencies: DependencyInstall,
    pub port: Option<u16>,
    /// `server` values read from the project's gunicorn.conf.py.
    pub server: Vec<Carried>,
    pub tls: Option<TlsFlags>,
    pub src_layout: bool,
    /// `app.writable`, with why.
    pub writable: Option<(Vec<String>, String)>,
}

/// How the image gets the app's dependencies.
#[derive(Clone, Debug)]
pub enum DependencyInstall {
    /// A requirements file.
    Requirements(String),
    /// A uv lock, installed exactly (`python.lock`).
    UvLock(String),
    /// pyproject.toml's declared dependencies, resolved as of a date (`python.project`).
    Project {
        pyproject: String,
        exclude_newer: String,
    },
    None,
}

#[derive(Clone, Debug)]
pub struct TlsFlags {
    pub dir: String,
    pub certfile: String,
    pub keyfile: String,
}

impl AppYaml {
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
        out.push_str(&format!("# {}\n", self.name.1));
        out.push_str(&format!("name: {}\n", scalar(&self.name.0)));
        out.push_str("\napp:\n");
        out.push_str(&format!("  # {}\n", self.module.1));
        out.push_str(&format!("  module: {}\n", scalar(&self.module.0)));
        out.push_str(&format!("  # {}\n", self.interface.1));
        let interface = match self.interface.0 {
            Interface::Asgi => "asgi",
            Interface::Wsgi => "wsgi",
        };
        out.push_str(&format!("  interface: {interface}\n"));
        if let Some((dirs, why)) = &self.writable {
            out.push_str(&format!("  # {why}\n"));
            out.push_str("  # written at run time: owned by the app's user, an empty volume in the manifests\n");
            out.push_str("  writable:\n");
            for dir in dirs {
                out.push_str(&format!("    - {}\n", scalar(dir)));
            }
        }
        out.push_str("\npython:\n");
        out.push_str(&format!("  # {}\n", self.python.1));
        out.push_str(&format!("  version: \"{}\"\n", self.python.0));
        out.push_str(&format!(
            "  # Pin the base image by digest for reproducible builds:\n  # base_image: python:{}-slim@sha256:<digest>\n",
            self.python.0
        ));
        match &self.dependencies {
            DependencyInstall::Requirements(path) => out.push_str(&format!(
                "  # the app's own dependencies, installed after the pinned server stack\n  requirements: {}\n",
                scalar(path)
            )),
            DependencyInstall::UvLock(path) => out.push_str(&format!(
                "  # the app's dependencies exactly as uv.lock pins them, hashes included\n  lock: {}\n",
                scalar(path)
            )),
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
        out.push_str("\nserver:\n");
        let carried = |key: &str| self.server.iter().find(|c| c.key == key);
        match (self.port, carried("port")) {
            (Some(port), _) => out.push_str(&format!("  port: {port}\n")),
            (None, Some(c)) => out.push_str(&format!("  # {}\n  port: {}\n", c.why, c.value)),
            (None, None) => out.push_str(&format!(
                "  # port: {}   # the default\n",
                if self.tls.is_some() { 8443 } else { 8000 }
            )),
        }
        if carried("workers").is_none() {
            out.push_str("  # Set cpus to the container's CPU limit; the worker count follows from it.\n  cpus: 1\n");
        }
        for c in self.server.iter().filter(|c| c.key != "port") {
            out.push_str(&format!("  # {}\n  {}: {}\n", c.why, c.key, c.value));
        }
        if let Some(tls) = &self.tls {
            out.push_str(
                "\n# The key and certificate are mounted here at run time, never built in.\ntls:\n",
            );
            out.push_str(&format!("  dir: {}\n", scalar(&tls.dir)));
            out.push_str(&format!("  certfile: {}\n", scalar(&tls.certfile)));
            out.push_str(&format!("  keyfile: {}\n", scalar(&tls.keyfile)));
        }
        if self.src_layout {
            out.push_str(
                "\nenv:\n  # src/ layout: the package is imported from /app/src, where its code is copied\n  PYTHONPATH: /app/src\n",
            );
        }
        out
    }
}

/// A YAML scalar: plain when it cannot be read as anything but this string, else JSON
/// double-quoted (valid YAML).
fn scalar(value: &str) -> String {
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
        serde_json::to_string(value).unwrap_or_default()
    }
}
