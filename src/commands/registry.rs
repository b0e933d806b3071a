//! What the commands that reach a registry share: telling a reference from a path, and
//! pulling one with the CA files and cache the user gave.

use std::path::{Path, PathBuf};

use fabuild::net::registry::{self, Reference, RegistryError};
use fabuild::oci::Platform;
use fabuild::oci::remote::{self, Pulled};

/// `given` as a registry reference: `docker://...` always; otherwise a name with a tag,
/// port or digest (`python:3.12-slim`, `host:5000/app`, `app@sha256:...`) that is not a
/// file or directory and has no skopeo-style transport prefix.
pub fn as_reference(given: &Path) -> Option<Result<Reference, String>> {
    let text = given.to_str()?;
    if let Some(rest) = text.strip_prefix("docker://") {
        return Some(Reference::parse(rest));
    }
    let path_like = given.exists()
        || text.starts_with(['/', '.', '~'])
        || ["oci:", "oci-archive:", "docker-archive:"]
            .iter()
            .any(|p| text.starts_with(p));
    if path_like || !text.contains([':', '@']) {
        return None;
    }
    Some(Reference::parse(text))
}

/// Pulls `platform`'s image of `reference` into the cache (a temp dir without one).
pub fn pull(
    reference: &Reference,
    ca: Option<&Path>,
    cache: Option<&Path>,
    platform: &Platform,
) -> Result<Pulled, RegistryError> {
    let trust = registry::trust(&reference.host, ca)?;
    remote::pull(reference, &trust.options, cache, platform)
}

/// The directory pulled images are kept in: the build cache's.
pub fn default_cache() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|dir| dir.join("fabuild"))
}

/// Writes `text` to `path` whole or not at all.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
