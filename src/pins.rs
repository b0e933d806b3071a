//! The pinned server stack: gunicorn for every app; uvicorn and uvicorn-worker (with their
//! dependencies, and uvloop and httptools, which uvicorn uses on its own when present) for
//! ASGI apps; and the build tools (uv, for locked and pyproject apps), which are removed in
//! the step that uses them. The table is data (`pins.txt`), refreshed by
//! `scripts/refresh-pins.sh` from the real wheels on `PyPI`.

use serde::Serialize;

use crate::spec::Interface;

pub mod index;
pub mod refresh;

const TABLE: &str = include_str!("pins.txt");

/// The first line of every pins file: the format, so a later fabuild can read old files.
pub const FORMAT_LINE: &str = "# fabuild pins 1";
/// The most bytes read from a pins file (the built-in table is 3 KB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The supported Python versions and Linux machines a compiled package needs a wheel for.
pub const TARGET_PYTHONS: &[&str] = crate::spec::model::PYTHON_VERSIONS;
pub const TARGET_MACHINES: &[&str] = &["x86_64", "aarch64"];

/// What fabuild's rules and templates were verified against (docs/pins.md): the settings
/// table and the rules are gunicorn 27's; `uvicorn_worker.UvicornWorker` is uvicorn-worker
/// 0.4's class, and it needs uvicorn >= 0.36; the TLS advice names uvicorn >= 0.47.
pub const ASSUMED: &[(&str, &str)] = &[
    ("gunicorn", "==27.*"),
    ("uvicorn-worker", ">=0.4,<0.5"),
    ("uvicorn", ">=0.47,<1"),
];

/// One package at one version, with the sha256 of every wheel fabuild accepts for it: one
/// for a pure-Python wheel, one per Python version and Linux platform for a compiled one
/// (pip accepts whichever matches the image).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub name: &'static str,
    pub version: &'static str,
    pub hashes: Vec<&'static str>,
}

/// Who installs a pin: every app (`all`), ASGI apps (`asgi`), or the build alone (`tool`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Role {
    All,
    Asgi,
    Tool,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Self::All),
            "asgi" => Some(Self::Asgi),
            "tool" => Some(Self::Tool),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Asgi => "asgi",
            Self::Tool => "tool",
        }
    }
}

/// A `want` line: the version a team asks for (Renovate updates these), and the role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Want {
    pub name: &'static str,
    pub version: &'static str,
    pub role: Role,
    /// 1-based line in the file.
    pub line: usize,
}

/// A pin table: the built-in one, or a pins file a spec names (`python.pins`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pins {
    pins: Vec<(Pin, Role)>,
    wants: Vec<Want>,
}

/// Why a pins file cannot be used; `line` is 1-based, 0 for the file as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if *line == 0 { String::new() } else { format!("line {line}: ") })]
pub struct PinsError {
    pub line: usize,
    pub message: String,
}

fn bad(line: usize, message: impl Into<String>) -> PinsError {
    PinsError {
        line,
        message: message.into(),
    }
}

impl Pins {
    /// The table compiled into fabuild (`src/pins.txt`): the tested default.
    pub fn builtin() -> Self {
        static BUILTIN: std::sync::OnceLock<Pins> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(|| Self::parse(TABLE).expect("src/pins.txt is a valid pins file"))
            .clone()
    }

    /// A pins file's table. The file is read whole (bounded) and kept for the life of the
    /// process, once per distinct content: a fleet's services share one file.
    pub fn load(path: &std::path::Path) -> Result<Self, PinsError> {
        Self::parse(read_text(path)?)
    }

    /// Reads a pins file's text: a format line, `want` lines, and rows of
    /// `name version role sha256 [wheel file name]`, one group of rows per package.
    pub fn parse(text: &'static str) -> Result<Self, PinsError> {
        let table = Self::parse_unchecked(text)?;
        if let Some(why) = table.stale().first() {
            return Err(bad(0, why.clone()));
        }
        Ok(table)
    }

    /// `parse` without holding the rows to the `want` lines: what refresh reads.
    pub fn parse_unchecked(text: &'static str) -> Result<Self, PinsError> {
        let mut pins: Vec<(Pin, Role)> = Vec::new();
        let mut wants: Vec<Want> = Vec::new();
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, first)) if first.trim_end() == FORMAT_LINE => {}
            _ => return Err(bad(1, format!("the first line must be `{FORMAT_LINE}`"))),
        }
        for (number, line) in lines {
            let content = line.split_once('#').map_or(line, |(before, _)| before);
            let fields: Vec<&'static str> = content.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            if fields[0] == "want" {
                let [_, requirement, role] = fields[..] else {
                    return Err(bad(number, "a want line is `want NAME==VERSION ROLE`"));
                };
                let Some((name, version)) = requirement.split_once("==") else {
                    return Err(bad(number, format!("`{requirement}` is not NAME==VERSION")));
                };
                let role = parse_role(number, role)?;
                check_name_version(number, name, version)?;
                if wants.iter().any(|w| w.name == name) {
                    return Err(bad(number, format!("{name} is wanted twice")));
                }
                wants.push(Want {
                    name,
                    version,
                    role,
                    line: number,
                });
                continue;
            }
            let ([name, version, role, sha256] | [name, version, role, sha256, _]) = fields[..]
            else {
                return Err(bad(number, "a row is `NAME VERSION ROLE SHA256 [WHEEL]`"));
            };
            let role = parse_role(number, role)?;
            check_name_version(number, name, version)?;
            if sha256.len() != 64
                || !sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad(
                    number,
                    format!("`{sha256}` is not a sha256 (64 lowercase hex digits)"),
                ));
            }
            match pins.last_mut() {
                Some((pin, r)) if pin.name == name && pin.version == version && *r == role => {
                    if pin.hashes.contains(&sha256) {
                        return Err(bad(number, format!("{name}: sha256 {sha256} twice")));
                    }
                    pin.hashes.push(sha256);
                }
                _ => {
                    if pins.iter().any(|(p, _)| p.name == name) {
                        return Err(bad(
                            number,
                            format!("{name} is pinned twice: keep one version's rows together"),
                        ));
                    }
                    pins.push((
                        Pin {
                            name,
                            version,
                            hashes: vec![sha256],
                        },
                        role,
                    ));
                }
            }
        }
        Ok(Self { pins, wants })
    }

    /// Where the `want` lines and the rows disagree: a want changed (by hand or by Renovate)
    /// without `fabuild pins refresh`. Empty for a consistent table, and for one without
    /// want lines.
    pub fn stale(&self) -> Vec<String> {
        if self.wants.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for want in &self.wants {
            match self.pins.iter().find(|(p, _)| p.name == want.name) {
                Some((pin, role)) if pin.version == want.version && *role == want.role => {}
                Some((pin, role)) => out.push(format!(
                    "line {}: {}=={} {} is wanted but the rows pin {} {} {}: run `fabuild pins refresh`",
                    want.line,
                    want.name,
                    want.version,
                    want.role.as_str(),
                    pin.name,
                    pin.version,
                    role.as_str()
                )),
                None => out.push(format!(
                    "line {}: {}=={} is wanted but has no rows: run `fabuild pins refresh`",
                    want.line, want.name, want.version
                )),
            }
        }
        out
    }

    /// The `want` lines, in file order.
    pub fn wants(&self) -> &[Want] {
        &self.wants
    }

    /// Every pin with its role, in file order.
    pub fn rows(&self) -> impl Iterator<Item = (&Pin, Role)> {
        self.pins.iter().map(|(p, r)| (p, *r))
    }

    /// The pins an app with this interface installs, in file order (name order).
    pub fn for_interface(&self, interface: Interface) -> Vec<Pin> {
        self.pins
            .iter()
            .filter(|(_, role)| {
                *role == Role::All || (*role == Role::Asgi && interface == Interface::Asgi)
            })
            .map(|(pin, _)| pin.clone())
            .collect()
    }

    /// The pinned `uv`, if the table has it.
    pub fn uv(&self) -> Option<ToolPin> {
        self.pins
            .iter()
            .find(|(p, role)| *role == Role::Tool && p.name == "uv")
            .map(|(p, _)| p.clone())
    }

    /// The pinned version of one package, if the table pins it.
    pub fn version_of(&self, name: &str) -> Option<&'static str> {
        self.pins
            .iter()
            .find(|(pin, _)| pin.name == name)
            .map(|(pin, _)| pin.version)
    }

    /// The packages the stack needs that the table lacks, for an app with `interface`
    /// (and `uv`, when the build uses it).
    pub fn missing(&self, interface: Interface, needs_uv: bool) -> Vec<&'static str> {
        let mut needed = vec!["gunicorn"];
        if interface == Interface::Asgi {
            needed.extend(["uvicorn", "uvicorn-worker"]);
        }
        let mut missing: Vec<&'static str> = needed
            .into_iter()
            .filter(|name| {
                !self
                    .for_interface(interface)
                    .iter()
                    .any(|p| p.name == *name)
            })
            .collect();
        if needs_uv && self.uv().is_none() {
            missing.push("uv");
        }
        missing
    }

    /// The pins outside what fabuild's rules assume (`ASSUMED`), as
    /// `(name, version, the range assumed)`.
    pub fn unassumed(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        ASSUMED
            .iter()
            .filter_map(|(name, range)| {
                let version = self.version_of(name)?;
                let parsed = crate::packaging::version::Version::parse(version)?;
                (crate::packaging::version::satisfies(&parsed, range) != Some(true))
                    .then_some((*name, version, *range))
            })
            .collect()
    }
}

/// A pins file's text, bounded, kept for the life of the process (see `intern`).
pub fn read_text(path: &std::path::Path) -> Result<&'static str, PinsError> {
    let text = crate::read::file_text(path, MAX_FILE_BYTES)
        .map_err(|e| bad(0, format!("cannot be read: {e}")))?;
    Ok(intern(text))
}

fn parse_role(line: usize, text: &str) -> Result<Role, PinsError> {
    Role::parse(text)
        .ok_or_else(|| bad(line, format!("role `{text}` is not one of all, asgi, tool")))
}

fn check_name_version(line: usize, name: &str, version: &str) -> Result<(), PinsError> {
    if !crate::packaging::is_name(name) || crate::packaging::normalise(name) != name {
        return Err(bad(
            line,
            format!("`{name}` is not a package name in normal form (lowercase, `-`)"),
        ));
    }
    if crate::packaging::version::Version::parse(version).is_none()
        || !version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.')
    {
        return Err(bad(line, format!("`{version}` is not a version")));
    }
    Ok(())
}

/// `text`, kept for the life of the process: the pins it holds are `&'static str` like the
/// built-in table's. Equal texts are kept once.
pub(crate) fn intern(text: String) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static KEPT: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut kept = KEPT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = kept.get(text.as_str()) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.into_boxed_str());
    kept.insert(leaked);
    leaked
}

/// Compiled server-stack packages whose wheels carry their DWARF debug information (12 MB
/// of uvloop's 13.6 MB extension module). The image build drops it (`templates/strip.py.j2`,
/// `src/builder/strip.rs`).
const SHIPS_DEBUG_INFO: &[&str] = &["httptools", "uvloop"];

/// The names among `pins` whose debug information the build drops.
pub fn with_debug_info(pins: &[Pin]) -> Vec<&'static str> {
    pins.iter()
        .map(|p| p.name)
        .filter(|name| SHIPS_DEBUG_INFO.contains(name))
        .collect()
}

/// A build tool (uv): pinned like the server stack, but never left in the image.
pub type ToolPin = Pin;

/// The pins an app with this interface installs from the built-in table, in name order.
pub fn for_interface(interface: Interface) -> Vec<Pin> {
    Pins::builtin().for_interface(interface)
}

/// The built-in table's `uv`, used while building to export a `uv.lock` or resolve a
/// pyproject.toml.
pub fn uv() -> ToolPin {
    Pins::builtin().uv().expect("pins.txt pins uv")
}

/// The built-in table's version of one package, if fabuild pins it.
pub fn version_of(name: &str) -> Option<&'static str> {
    Pins::builtin().version_of(name)
}

/// The built-in table's rows with their roles.
#[cfg(test)]
fn table() -> Vec<(Pin, &'static str)> {
    Pins::builtin()
        .rows()
        .map(|(p, r)| (p.clone(), r.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        let table = table();
        for (pin, role) in &table {
            assert!(
                matches!(*role, "all" | "asgi" | "tool"),
                "{pin:?}: role {role}"
            );
            for sha256 in &pin.hashes {
                assert_eq!(sha256.len(), 64, "{pin:?}");
                assert!(
                    sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                    "{pin:?}"
                );
            }
            // One row group per package: a second group would be a second pin.
            assert_eq!(
                table.iter().filter(|(p, _)| p.name == pin.name).count(),
                1,
                "{pin:?}"
            );
            assert!(
                pin.version.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{pin:?}"
            );
        }
    }

    #[test]
    fn wsgi_apps_get_gunicorn_alone() {
        let names: Vec<_> = for_interface(Interface::Wsgi)
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["gunicorn"]);
        let names: Vec<_> = for_interface(Interface::Asgi)
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            [
                "click",
                "gunicorn",
                "h11",
                "httptools",
                "uvicorn",
                "uvicorn-worker",
                "uvloop"
            ]
        );
    }

    #[test]
    fn uv_has_a_hash_per_linux_platform_and_stays_out_of_the_server_stack() {
        assert_eq!(uv().hashes.len(), 2);
        assert!(
            for_interface(Interface::Asgi)
                .iter()
                .all(|p| p.name != "uv")
        );
    }

    #[test]
    fn compiled_packages_have_a_wheel_per_python_and_platform() {
        // 3.11 to 3.14 on x86_64 and aarch64.
        for pin in for_interface(Interface::Asgi) {
            let expected = if matches!(pin.name, "uvloop" | "httptools") {
                8
            } else {
                1
            };
            assert_eq!(pin.hashes.len(), expected, "{pin:?}");
        }
    }

    #[test]
    fn pins_the_versions_the_facts_were_verified_against() {
        assert_eq!(version_of("gunicorn"), Some("27.0.1"));
        assert_eq!(version_of("uvicorn"), Some("0.54.0"));
        assert_eq!(version_of("uvicorn-worker"), Some("0.4.0"));
    }
}
