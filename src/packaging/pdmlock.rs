//! `pdm.lock`, read without pdm: the versions it pins (for FAB056) and its default group as
//! hash-pinned requirement lines, which the image installs as a requirements file.
//!
//! pdm (since 2.11, strategy `inherit_metadata`, its default) records on each package the
//! dependency groups it belongs to and the marker it is needed under, so the packages the
//! app needs at run time are those of the `default` group, no dependency walk needed.
//! A lock written without that strategy says nothing of groups and is refused with the
//! command that relocks it.

use serde::Deserialize;

use super::uvlock::{is_hash, is_version};
use super::{is_name, normalise};

/// The parts of a `pdm.lock` fabuild reads; everything else is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Lock {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    pub package: Vec<Package>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    strategy: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    marker: Option<String>,
    #[serde(default)]
    files: Vec<File>,
    // Sources that are not an index: a local path, a VCS checkout, a URL.
    path: Option<String>,
    git: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct File {
    hash: Option<String>,
}

/// The command that rewrites a lock pdm wrote without groups on its packages.
pub const RELOCK_WITH_GROUPS: &str = "pdm lock --strategy inherit_metadata";

/// Reads and parses the lock at `path`; the error is a sentence for a message.
pub fn read(path: &std::path::Path) -> Result<Lock, String> {
    let text = super::lock_text(path)?;
    toml::from_str(&text).map_err(|e| format!("is not a pdm lock file: {}", e.message()))
}

impl Lock {
    /// The version the lock pins for `name`.
    pub fn version_of(&self, name: &str) -> Option<&str> {
        let wanted = normalise(name);
        self.package
            .iter()
            .find(|p| normalise(&p.name) == wanted)
            .and_then(|p| p.version.as_deref())
    }

    /// The default group's packages as requirement lines (`name==version ; marker
    /// --hash=...`), one per package (pdm lists a package once more for each set of extras
    /// it is used with), sorted, leaving out the packages named in `exclude`.
    pub fn requirements(&self, exclude: &[&str]) -> Result<Vec<String>, String> {
        if !self
            .metadata
            .strategy
            .iter()
            .any(|s| s == "inherit_metadata")
        {
            return Err(format!(
                "was written without pdm's inherit_metadata strategy, so it does not say which packages the app needs at run time; relock with `{RELOCK_WITH_GROUPS}`"
            ));
        }
        let excluded: Vec<String> = exclude.iter().map(|n| normalise(n)).collect();
        let mut lines: Vec<(String, String)> = Vec::new();
        for package in &self.package {
            let name = normalise(&package.name);
            if !package.groups.iter().any(|g| g == "default")
                || excluded.contains(&name)
                || lines.iter().any(|(n, _)| *n == name)
            {
                continue;
            }
            lines.push((name.clone(), line(&name, package)?));
        }
        lines.sort();
        Ok(lines.into_iter().map(|(_, line)| line).collect())
    }
}

/// One package's requirement line; every value checked, since each becomes part of a line
/// pip reads (a space or a newline in one would give pip another option or requirement).
fn line(name: &str, package: &Package) -> Result<String, String> {
    if !is_name(name) {
        return Err(format!(
            "names a package `{}`, which is not a package name",
            name.escape_debug()
        ));
    }
    if let Some(source) = [&package.path, &package.git, &package.url]
        .into_iter()
        .flatten()
        .next()
    {
        return Err(format!(
            "installs {name} from `{}`, not from a package index: only index packages can be installed by hash",
            source.escape_debug()
        ));
    }
    let version = package
        .version
        .as_deref()
        .ok_or_else(|| format!("has no version for {name}"))?;
    if !is_version(version) {
        return Err(format!(
            "has the version `{}` for {name}, which is not a version",
            version.escape_debug()
        ));
    }
    let hashes: Vec<&str> = package
        .files
        .iter()
        .filter_map(|f| f.hash.as_deref())
        .collect();
    if hashes.is_empty() {
        return Err(format!(
            "has no file hashes for {name} {version}; relock with `pdm lock --refresh`"
        ));
    }
    if let Some(bad) = hashes.iter().find(|h| !is_hash(h)) {
        return Err(format!(
            "has the hash `{}` for {name} {version}, which is not `algorithm:hex`",
            bad.escape_debug()
        ));
    }
    let mut out = format!("{name}=={version}");
    if let Some(marker) = &package.marker {
        // A marker is PEP 508 text: no line break, no ` --` that would start an option.
        if marker.contains(['\n', '\r', '\\', '#']) || marker.contains("--") {
            return Err(format!(
                "has the marker `{}` for {name}, which fabuild does not pass to pip",
                marker.escape_debug()
            ));
        }
        out.push_str(&format!(" ; {marker}"));
    }
    for hash in hashes {
        out.push_str(&format!(" --hash={hash}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As pdm 2.29 writes it (abridged): click twice (plain, and with an extra set), a dev
    /// package, a Windows-only package with its marker.
    const LOCK: &str = r#"
[metadata]
groups = ["default", "dev"]
strategy = ["inherit_metadata"]
lock_version = "4.5.1"

[[package]]
name = "Flask"
version = "3.1.0"
groups = ["default"]
dependencies = ["click>=8.1.3"]
files = [
    {file = "flask-3.1.0-py3-none-any.whl", hash = "sha256:aa"},
    {file = "flask-3.1.0.tar.gz", hash = "sha256:bb"},
]

[[package]]
name = "click"
version = "8.1.7"
groups = ["default"]
files = [{file = "click-8.1.7-py3-none-any.whl", hash = "sha256:cc"}]

[[package]]
name = "click"
version = "8.1.7"
extras = ["x"]
groups = ["default"]
files = [{file = "click-8.1.7-py3-none-any.whl", hash = "sha256:cc"}]

[[package]]
name = "colorama"
version = "0.4.6"
groups = ["default"]
marker = "platform_system == \"Windows\""
files = [{file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:dd"}]

[[package]]
name = "pytest"
version = "8.0"
groups = ["dev"]
files = [{file = "pytest-8.0-py3-none-any.whl", hash = "sha256:ee"}]
"#;

    #[test]
    fn the_default_group_once_per_package_with_markers_and_hashes() {
        let lock: Lock = toml::from_str(LOCK).unwrap();
        assert_eq!(
            lock.requirements(&[]).unwrap(),
            [
                "click==8.1.7 --hash=sha256:cc",
                "colorama==0.4.6 ; platform_system == \"Windows\" --hash=sha256:dd",
                "flask==3.1.0 --hash=sha256:aa --hash=sha256:bb",
            ]
        );
        assert_eq!(lock.requirements(&["Click"]).unwrap().len(), 2);
        assert_eq!(lock.version_of("CLICK"), Some("8.1.7"));
    }

    #[test]
    fn what_pip_could_not_install_by_hash_is_refused() {
        for (from, to, expect) in [
            (
                "strategy = [\"inherit_metadata\"]",
                "strategy = []",
                "pdm lock --strategy inherit_metadata",
            ),
            (
                "hash = \"sha256:aa\"",
                "hash = \"sha256:aa --index-url http://x\"",
                "which is not `algorithm:hex`",
            ),
            (
                "version = \"3.1.0\"",
                "version = \"3.1.0\\n-e .\"",
                "which is not a version",
            ),
            (
                "name = \"Flask\"",
                "name = \"-Flask\"",
                "which is not a package name",
            ),
            (
                "version = \"3.1.0\"",
                "version = \"3.1.0\"\npath = \"../flask\"",
                "from `../flask`",
            ),
            (
                "platform_system",
                "--index-url=http://x platform_system",
                "does not pass to pip",
            ),
        ] {
            let lock: Lock = toml::from_str(&LOCK.replacen(from, to, 1)).unwrap();
            let err = lock.requirements(&[]).unwrap_err();
            assert!(err.contains(expect), "{from} -> {to}: {err}");
        }
    }
}
