//! The pinned server stack: gunicorn for every app, uvicorn and uvicorn-worker (with their
//! dependencies) for ASGI apps; and the build tools (uv, for locked and pyproject apps),
//! which are removed in the step that uses them. The table is data (`pins.txt`), refreshed by
//! `scripts/refresh-pins.sh` from the real wheels on `PyPI`.

use serde::Serialize;

use crate::spec::Interface;

const TABLE: &str = include_str!("pins.txt");

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub name: &'static str,
    pub version: &'static str,
    pub sha256: &'static str,
}

/// The pins an app with this interface installs, in name order.
pub fn for_interface(interface: Interface) -> Vec<Pin> {
    table()
        .filter(|(_, role)| *role == "all" || (*role == "asgi" && interface == Interface::Asgi))
        .map(|(pin, _)| pin)
        .collect()
}

/// A build tool with one hash per platform wheel (pip accepts any of them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolPin {
    pub name: &'static str,
    pub version: &'static str,
    pub hashes: Vec<&'static str>,
}

/// The pinned `uv`, used while building to export a `uv.lock` or resolve a pyproject.toml.
pub fn uv() -> ToolPin {
    let rows: Vec<Pin> = table()
        .filter(|(p, role)| *role == "tool" && p.name == "uv")
        .map(|(p, _)| p)
        .collect();
    let first = rows.first().expect("pins.txt pins uv");
    ToolPin {
        name: first.name,
        version: first.version,
        hashes: rows.iter().map(|p| p.sha256).collect(),
    }
}

/// The pinned version of one package, if fabuild pins it.
pub fn version_of(name: &str) -> Option<&'static str> {
    table()
        .find(|(pin, _)| pin.name == name)
        .map(|(pin, _)| pin.version)
}

fn table() -> impl Iterator<Item = (Pin, &'static str)> {
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let mut next = || fields.next().expect("pins.txt rows have four fields");
            let (name, version, role, sha256) = (next(), next(), next(), next());
            (
                Pin {
                    name,
                    version,
                    sha256,
                },
                role,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        for (pin, role) in table() {
            assert!(
                matches!(role, "all" | "asgi" | "tool"),
                "{pin:?}: role {role}"
            );
            assert_eq!(pin.sha256.len(), 64, "{pin:?}");
            assert!(
                pin.sha256
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
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
            ["click", "gunicorn", "h11", "uvicorn", "uvicorn-worker"]
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
    fn pins_the_versions_the_facts_were_verified_against() {
        assert_eq!(version_of("gunicorn"), Some("27.0.1"));
        assert_eq!(version_of("uvicorn"), Some("0.54.0"));
        assert_eq!(version_of("uvicorn-worker"), Some("0.4.0"));
    }
}
