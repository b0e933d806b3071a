//! `python.lock`: a uv lock file the image installs the app's dependencies from, exactly
//! as locked (hashes included). Only what validation needs is read here: which versions
//! the lock pins for the packages fabuild's server stack also installs.

use std::path::Path;

use serde::Deserialize;

/// The parts of `uv.lock` validation reads.
#[derive(Debug, Deserialize)]
pub struct UvLock {
    #[serde(default)]
    pub package: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: Option<String>,
}

/// Lock files larger than this are refused before they are parsed.
const MAX_LOCK_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and parses the lock; the error is a sentence for a finding.
pub fn read(path: &Path) -> Result<UvLock, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_LOCK_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot be read: {e}"))?;
    if text.len() as u64 > MAX_LOCK_BYTES {
        return Err(format!("is larger than {MAX_LOCK_BYTES} bytes"));
    }
    toml::from_str(&text).map_err(|e| format!("is not a uv lock file: {}", e.message()))
}

impl UvLock {
    /// The version the lock pins for `name` (names compared the way `PyPI` normalises them).
    pub fn version_of(&self, name: &str) -> Option<&str> {
        let wanted = normalise(name);
        self.package
            .iter()
            .find(|p| normalise(&p.name) == wanted)
            .and_then(|p| p.version.as_deref())
    }
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}
