//! `uv.lock`, read without uv, for every part of fabuild that meets one: validation (which
//! versions it pins), `init` (what it locks, which Python it needs) and `build` (the
//! packages the project needs at run time, as a hash-locked requirements list).
//!
//! Environment markers are not evaluated, with one exception: a dependency whose marker
//! only applies on Windows or macOS is left out. Anything else a marker guards is
//! installed (a harmless extra package at worst), which is what `uv export` gives too for
//! markers it cannot decide for the target.
//!
//! A uv workspace has one lock at its root for every member (`[manifest] members`); the
//! members are the lock's packages whose source is a path (`editable` or `virtual`). The
//! image installs one member's dependencies from the index and none of the members
//! themselves: their code is copied with the project and imported from `PYTHONPATH`
//! (see `Lock::member_closure`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Deserialize;

use super::{is_name, normalise};

/// The parts of a `uv.lock` fabuild reads; everything else is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Lock {
    #[serde(rename = "requires-python")]
    pub requires_python: Option<String>,
    #[serde(default)]
    pub package: Vec<Package>,
    #[serde(default)]
    manifest: Manifest,
}

/// `[manifest]`: in a workspace's lock, the names of its members.
#[derive(Debug, Default, Deserialize)]
struct Manifest {
    #[serde(default)]
    members: Vec<String>,
}

/// A package of the workspace (or the lone project): its name and its directory,
/// relative to the lock's, `.` for the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(default, rename = "optional-dependencies")]
    optional: BTreeMap<String, Vec<Dependency>>,
    #[serde(default)]
    wheels: Vec<Artifact>,
}

#[derive(Debug, Deserialize)]
struct Dependency {
    name: String,
    #[serde(default)]
    marker: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Artifact {
    hash: Option<String>,
}

/// Parses lock text; the error is a sentence for a message.
pub fn parse(text: &str) -> Result<Lock, String> {
    toml::from_str(text).map_err(|e| format!("is not a uv lock file: {}", e.message()))
}

/// Reads and parses the lock at `path`; the error is a sentence for a message.
pub fn read(path: &std::path::Path) -> Result<Lock, String> {
    let text = super::lock_text(path)?;
    parse(&text)
}

impl Package {
    /// The directory of a workspace member or the project itself (`editable` or `virtual`
    /// source), relative to the lock; `None` for a package from an index, a URL or git.
    fn member_path(&self) -> Option<&str> {
        ["editable", "virtual"]
            .iter()
            .find_map(|kind| self.source.get(*kind))
            .and_then(toml::Value::as_str)
    }
}

impl Lock {
    /// Whether the lock is a workspace's: `[manifest] members`, which uv writes only then.
    pub fn is_workspace(&self) -> bool {
        !self.manifest.members.is_empty()
    }

    /// The workspace's packages (or the lone project), sorted by path.
    pub fn members(&self) -> Vec<Member> {
        let mut members: Vec<Member> = self
            .package
            .iter()
            .filter_map(|p| {
                p.member_path().map(|path| Member {
                    name: normalise(&p.name),
                    path: path.to_owned(),
                })
            })
            .collect();
        members.sort_by(|a, b| a.path.cmp(&b.path));
        members
    }

    /// The directories the image imports `package`'s workspace members from (the members
    /// are not installed: `uv export --no-emit-workspace`): each member its import needs,
    /// at its `src/` when it has one under `root`, the lock's directory.
    pub fn import_dirs(&self, package: &str, root: &std::path::Path) -> Vec<String> {
        use crate::layout::APP_DIR;
        self.member_closure(package)
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let base = if m.path == "." {
                    APP_DIR.to_owned()
                } else {
                    format!("{APP_DIR}/{}", m.path.trim_end_matches('/'))
                };
                if root.join(&m.path).join("src").is_dir() {
                    format!("{base}/src")
                } else {
                    base
                }
            })
            .collect()
    }

    /// The member `name` and every member it depends on, directly or through index
    /// packages: the code its import needs beside the installed dependencies. `None`
    /// when `name` is not a member.
    pub fn member_closure(&self, name: &str) -> Option<Vec<Member>> {
        let by_name = self.by_name();
        let start = by_name
            .get(&normalise(name))
            .filter(|p| p.member_path().is_some())?;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue: Vec<&Package> = vec![start];
        while let Some(package) = queue.pop() {
            if !seen.insert(normalise(&package.name)) {
                continue;
            }
            for dep in package
                .dependencies
                .iter()
                .chain(package.optional.values().flatten())
            {
                if let Some(next) = by_name.get(&normalise(&dep.name)) {
                    queue.push(next);
                }
            }
        }
        Some(
            self.members()
                .into_iter()
                .filter(|m| seen.contains(&m.name))
                .collect(),
        )
    }

    fn by_name(&self) -> BTreeMap<String, &Package> {
        self.package
            .iter()
            .map(|p| (normalise(&p.name), p))
            .collect()
    }

    /// The version the lock pins for `name`.
    pub fn version_of(&self, name: &str) -> Option<&str> {
        let wanted = normalise(name);
        self.package
            .iter()
            .find(|p| normalise(&p.name) == wanted)
            .and_then(|p| p.version.as_deref())
    }
}

/// The requirements (`name==version --hash=...`, one a line, sorted) that the project at
/// the root of `text` needs (or, in a workspace, the member `package`), leaving out the
/// packages named in `exclude` (the server stack, which fabuild pins itself) and the
/// workspace's members: what `uv export --no-emit-workspace` gives.
pub fn requirements(text: &str, package: Option<&str>, exclude: &[&str]) -> Result<String, String> {
    let lock = parse(text).map_err(|e| format!("uv.lock {e}"))?;
    let by_name = lock.by_name();
    let root = match package {
        Some(name) => by_name
            .get(&normalise(name))
            .copied()
            .filter(|p| p.member_path().is_some())
            .ok_or_else(|| format!("uv.lock has no workspace member {name}"))?,
        None => lock
            .package
            .iter()
            .find(|p| p.member_path() == Some("."))
            .ok_or("uv.lock has no project package (source = { virtual = \".\" } or editable)")?,
    };
    let excluded: BTreeSet<String> = exclude.iter().map(|n| normalise(n)).collect();
    let mut needed: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<&Dependency> = root.dependencies.iter().collect();
    while let Some(dep) = queue.pop() {
        let name = normalise(&dep.name);
        if dep.marker.as_deref().is_some_and(other_os_only) {
            continue;
        }
        let package = by_name
            .get(&name)
            .ok_or_else(|| format!("uv.lock lists {name} as a dependency but not as a package"))?;
        for extra in &dep.extra {
            queue.extend(package.optional.get(extra).into_iter().flatten());
        }
        if needed.insert(name) {
            queue.extend(package.dependencies.iter());
        }
    }
    let mut out = String::new();
    for name in needed.difference(&excluded) {
        let package = by_name[name];
        if package.member_path().is_some() {
            // A workspace member: its code comes with the project, not from an index.
            continue;
        }
        let version = package
            .version
            .as_deref()
            .ok_or_else(|| format!("{name} has no version in uv.lock"))?;
        if !package.source.contains_key("registry") {
            return Err(format!(
                "{name} comes from {}, not a package index: `fabuild build` installs index wheels only",
                package
                    .source
                    .keys()
                    .next()
                    .map_or("nowhere", String::as_str)
            ));
        }
        let hashes: Vec<&str> = package
            .wheels
            .iter()
            .filter_map(|w| w.hash.as_deref())
            .collect();
        if hashes.is_empty() {
            return Err(format!(
                "{name} {version} has no wheel in uv.lock, only a source distribution: `fabuild build` installs wheels only, it never runs a package's build"
            ));
        }
        // Each value becomes part of a requirements line: a space or a newline in one
        // would give pip another option or another requirement.
        if !is_name(name) {
            return Err(format!(
                "uv.lock names a package `{}`, which is not a package name",
                name.escape_debug()
            ));
        }
        if !is_version(version) {
            return Err(format!(
                "{name} has the version `{}` in uv.lock, which is not a version",
                version.escape_debug()
            ));
        }
        if let Some(bad) = hashes.iter().find(|h| !is_hash(h)) {
            return Err(format!(
                "{name} {version} has the wheel hash `{}` in uv.lock, which is not `algorithm:hex`",
                bad.escape_debug()
            ));
        }
        let _ = write!(out, "{name}=={version}");
        for hash in hashes {
            let _ = write!(out, " --hash={hash}");
        }
        out.push('\n');
    }
    Ok(out)
}

/// A PEP 440 version as a lock pins it: letters, digits and `.`, `+`, `!`, `-`, `_`,
/// starting with a letter or digit.
pub(crate) fn is_version(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_'))
}

/// `algorithm:hex`, as uv writes a file's hash (`sha256:9f86d0...`).
pub(crate) fn is_hash(text: &str) -> bool {
    text.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && !hex.is_empty()
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// A marker that holds only on Windows or macOS (`sys_platform == 'win32'`, ...).
fn other_os_only(marker: &str) -> bool {
    let m = marker.replace('"', "'");
    !m.contains(" or ")
        && [
            "sys_platform == 'win32'",
            "sys_platform == 'darwin'",
            "platform_system == 'Windows'",
            "platform_system == 'Darwin'",
            "os_name == 'nt'",
        ]
        .iter()
        .any(|p| m.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 1
[[package]]
name = "svc"
version = "1.0.0"
source = { virtual = "." }
dependencies = [{ name = "fastapi" }, { name = "colorama", marker = "sys_platform == 'win32'" }, { name = "Uvicorn", extra = ["standard"] }]
[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "fastapi"
version = "0.1"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "anyio" }]
wheels = [{ url = "u", hash = "sha256:aa" }]

[[package]]
name = "anyio"
version = "4.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:bb" }, { url = "v", hash = "sha256:cc" }]

[[package]]
name = "uvicorn"
version = "0.54.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:dd" }]
[package.optional-dependencies]
standard = [{ name = "httptools" }]

[[package]]
name = "httptools"
version = "0.6"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:ee" }]

[[package]]
name = "colorama"
version = "0.4"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:ff" }]

[[package]]
name = "pytest"
version = "8"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:99" }]
"#;

    #[test]
    fn runtime_closure_with_extras_without_dev_or_other_os_or_pins() {
        assert_eq!(
            requirements(LOCK, None, &["uvicorn"]).unwrap(),
            "anyio==4.0 --hash=sha256:bb --hash=sha256:cc\nfastapi==0.1 --hash=sha256:aa\nhttptools==0.6 --hash=sha256:ee\n"
        );
    }

    #[test]
    fn values_that_would_change_the_requirements_line_are_refused() {
        for (from, to, expect) in [
            (
                "hash = \"sha256:aa\"",
                "hash = \"sha256:aa --index-url http://x\"",
                "fastapi 0.1 has the wheel hash `sha256:aa --index-url http://x`",
            ),
            (
                "version = \"0.1\"",
                "version = \"0.1\\n--index-url=http://x\"",
                "fastapi has the version `0.1\\n--index-url=http://x`",
            ),
        ] {
            let lock = LOCK.replacen(from, to, 1);
            let err = requirements(&lock, None, &[]).unwrap_err();
            assert!(err.contains(expect), "{err}");
        }
        let lock = LOCK
            .replace("{ name = \"anyio\" }", "{ name = \"any io\" }")
            .replace("name = \"anyio\"", "name = \"any io\"");
        let err = requirements(&lock, None, &[]).unwrap_err();
        assert!(err.contains("names a package `any io`"), "{err}");
        // A name starting with `-` would be an option at the start of the line.
        let lock = LOCK
            .replace("{ name = \"anyio\" }", "{ name = \"-anyio\" }")
            .replace("name = \"anyio\"", "name = \"-anyio\"");
        let err = requirements(&lock, None, &[]).unwrap_err();
        assert!(err.contains("names a package `-anyio`"), "{err}");
    }

    #[test]
    fn an_sdist_only_package_is_named() {
        let lock = LOCK.replace(
            "wheels = [{ url = \"u\", hash = \"sha256:aa\" }]",
            "sdist = { url = \"u\", hash = \"sha256:aa\" }",
        );
        let err = requirements(&lock, None, &[]).unwrap_err();
        assert!(err.contains("fastapi 0.1 has no wheel"), "{err}");
    }
}

#[cfg(test)]
mod workspace_tests {
    use super::*;

    /// A workspace as `uv init` and `uv add --package` write it: a root project, the `api`
    /// member depending on the `core` member and on fastapi, `core` on pydantic.
    const WORKSPACE: &str = r#"
version = 1
[manifest]
members = ["api", "core", "shop"]

[[package]]
name = "api"
version = "0.1.0"
source = { editable = "packages/api" }
dependencies = [{ name = "core" }, { name = "fastapi" }]

[[package]]
name = "core"
version = "0.1.0"
source = { editable = "packages/core" }
dependencies = [{ name = "pydantic" }]

[[package]]
name = "shop"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "fastapi"
version = "0.115.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:aa" }]

[[package]]
name = "pydantic"
version = "2.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "u", hash = "sha256:bb" }]
"#;

    #[test]
    fn a_members_requirements_leave_the_workspace_out() {
        assert_eq!(
            requirements(WORKSPACE, Some("api"), &[]).unwrap(),
            "fastapi==0.115.0 --hash=sha256:aa\npydantic==2.0 --hash=sha256:bb\n"
        );
        // The root project depends on nothing.
        assert_eq!(requirements(WORKSPACE, None, &[]).unwrap(), "");
        let err = requirements(WORKSPACE, Some("fastapi"), &[]).unwrap_err();
        assert!(err.contains("no workspace member fastapi"), "{err}");
    }

    #[test]
    fn members_and_what_a_member_imports() {
        let lock = parse(WORKSPACE).unwrap();
        assert!(lock.is_workspace());
        let paths = |members: Vec<Member>| members.into_iter().map(|m| m.path).collect::<Vec<_>>();
        assert_eq!(
            paths(lock.members()),
            [".", "packages/api", "packages/core"]
        );
        assert_eq!(
            paths(lock.member_closure("api").unwrap()),
            ["packages/api", "packages/core"]
        );
        assert_eq!(
            paths(lock.member_closure("core").unwrap()),
            ["packages/core"]
        );
        assert!(lock.member_closure("pydantic").is_none());
        assert!(!parse("version = 1\n").unwrap().is_workspace());
    }
}
