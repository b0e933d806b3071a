//! The pinned server stack: gunicorn for every app; uvicorn and uvicorn-worker (with their
//! dependencies, and uvloop and httptools, which uvicorn uses on its own when present) for
//! ASGI apps; and the build tools (uv, for locked and pyproject apps), which are removed in
//! the step that uses them. The table is data (`pins.txt`), refreshed by
//! `scripts/refresh-pins.sh` from the real wheels on `PyPI`.

use serde::Serialize;

use crate::spec::Interface;

const TABLE: &str = include_str!("pins.txt");

/// One package at one version, with the sha256 of every wheel fabuild accepts for it: one
/// for a pure-Python wheel, one per Python version and Linux platform for a compiled one
/// (pip accepts whichever matches the image).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub name: &'static str,
    pub version: &'static str,
    pub hashes: Vec<&'static str>,
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

/// The pins an app with this interface installs, in name order.
pub fn for_interface(interface: Interface) -> Vec<Pin> {
    table()
        .into_iter()
        .filter(|(_, role)| *role == "all" || (*role == "asgi" && interface == Interface::Asgi))
        .map(|(pin, _)| pin)
        .collect()
}

/// The pinned `uv`, used while building to export a `uv.lock` or resolve a pyproject.toml.
pub fn uv() -> ToolPin {
    table()
        .into_iter()
        .find(|(p, role)| *role == "tool" && p.name == "uv")
        .map(|(p, _)| p)
        .expect("pins.txt pins uv")
}

/// The pinned version of one package, if fabuild pins it.
pub fn version_of(name: &str) -> Option<&'static str> {
    table()
        .into_iter()
        .find(|(pin, _)| pin.name == name)
        .map(|(pin, _)| pin.version)
}

/// The table's rows, one pin per package (its rows' hashes together), with its role.
fn table() -> Vec<(Pin, &'static str)> {
    let mut pins: Vec<(Pin, &'static str)> = Vec::new();
    for line in TABLE
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
    {
        let mut fields = line.split_whitespace();
        let mut next = || fields.next().expect("pins.txt rows have four fields");
        let (name, version, role, sha256) = (next(), next(), next(), next());
        match pins.last_mut() {
            Some((pin, r)) if pin.name == name && pin.version == version && *r == role => {
                pin.hashes.push(sha256);
            }
            _ => pins.push((
                Pin {
                    name,
                    version,
                    hashes: vec![sha256],
                },
                role,
            )),
        }
    }
    pins
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
