//! What the build needs to know about its base image, read from its layers with whiteouts
//! honoured: the Python interpreter and its version, the C library, /etc/passwd and
//! /etc/group; plus the manifest and config to build on, kept as JSON values so that no
//! field of the base is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::BuildError;
use super::cache::{Cache, Lookup};
pub use super::glibc::Libc;
use super::glibc::{self, Glibc};
use super::sbom::{self, BaseInventory, PyDist};
use crate::oci::image::{self, Format, SMALL_BLOB_LIMIT};
use crate::oci::layer::{self, Kind};
use crate::oci::tarstream::Holes;
use crate::oci::writer::Layout;
use crate::oci::{BlobCheck, Found, Image, LayerRef, Machine, Platform};

/// Where interpreters live in the bases fabuild knows (official python images first).
const PYTHON_DIRS: [&str; 2] = ["/usr/local/bin/", "/usr/bin/"];
const WATCHED: [&str; 2] = ["/etc/passwd", "/etc/group"];
/// The most of /etc/passwd or /etc/group the build reads: the identity layer holds the
/// whole file plus one line, in memory. A larger one is refused, never cut short.
pub const MAX_ACCOUNT_FILE_BYTES: u64 = 1 << 20;

/// The facts the build takes from the base's files; cached by manifest digest.
///
/// Every layer they are read from is checked against its descriptor (sha256 and size) and
/// its diff id as it is read: a layer swapped in the base's directory is an error, never
/// a source of /etc/passwd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseFacts {
    /// The interpreter the virtualenv points at, e.g. `/usr/bin/python3.11`.
    pub python: String,
    /// `X.Y`.
    pub python_version: String,
    pub passwd: String,
    pub group: String,
    /// The C library's version: the manylinux wheels the base can run.
    pub libc: Libc,
    /// Its OS packages, Python distributions and distribution, for the SBOM.
    pub inventory: BaseInventory,
}

/// The base image: its manifest and config as they are, and the facts read from its files.
pub struct Base {
    /// The machine its binaries are for: the platform the build asked for.
    pub machine: Machine,
    pub image: Image,
    pub manifest: Value,
    pub config: Value,
    pub facts: BaseFacts,
    /// Cache entries found changed and not used.
    pub warnings: Vec<String>,
}

/// Opens the base at `path` (OCI layout or oci-archive; `machine`'s image of an index).
pub fn open(path: &Path, cache: Option<&Path>, machine: Machine) -> Result<Base, BuildError> {
    let platform = Platform {
        variant: None,
        ..machine.platform()
    };
    let mut image = image::open(path, Some(&platform))?;
    let bad = |why: String| BuildError::Base {
        path: path.display().to_string(),
        why,
    };
    // A single image says its platform only in its config: it must be the one asked for.
    if let Some(got) = &image.platform
        && Machine::of(got) != Ok(machine)
    {
        return Err(bad(format!("it is a {got} image, not {platform}")));
    }
    if image.format == Format::DockerArchive {
        return Err(bad(
            "it is a docker archive; give an OCI layout or oci-archive (`skopeo copy ... oci:DIR:TAG`)".to_owned(),
        ));
    }
    if let Some(problem) = image.blobs.iter().find_map(crate::oci::BlobCheck::problem) {
        return Err(bad(problem));
    }
    if let Some(why) = &image.broken {
        return Err(bad(why.clone()));
    }
    let manifest_digest = image
        .manifest_digest
        .clone()
        .ok_or_else(|| bad("no manifest".to_owned()))?;
    let manifest = read_json(&image, &manifest_digest).map_err(&bad)?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .ok_or_else(|| bad("the manifest names no config".to_owned()))?
        .to_owned();
    // The build works on the config as JSON, keeping every field; the typed copy would
    // only double what a large config costs in memory.
    image.config = None;
    let config = read_json(&image, &config_digest).map_err(&bad)?;

    let cache = cache.map(Cache::new);
    let key = manifest_digest.replacen(':', "-", 1);
    let mut warnings = Vec::new();
    if let Some(cache) = &cache {
        match cache.get("base", &key, 4 * SMALL_BLOB_LIMIT) {
            Lookup::Hit(bytes) => {
                if let Ok(facts) = serde_json::from_slice::<BaseFacts>(&bytes) {
                    return Ok(Base {
                        machine,
                        image,
                        manifest,
                        config,
                        facts,
                        warnings,
                    });
                }
            }
            Lookup::Changed(why) => warnings.extend(why),
            Lookup::Miss => {}
        }
    }
    let facts = read_facts(&image, machine).map_err(&bad)?;
    if let Some(cache) = &cache {
        cache.put(
            "base",
            &key,
            &serde_json::to_vec(&facts).expect("serialises"),
        );
    }
    Ok(Base {
        machine,
        image,
        manifest,
        config,
        facts,
        warnings,
    })
}

impl Base {
    /// Copies the base's layers into `layout`, byte for byte and never linked, each
    /// checked against its digest as it is copied.
    /// Copies the base's layer blobs into `layout`, each checked against its digest as it
    /// is copied; a blob `kept` says `--out` holds as a build put it there is left out (and
    /// kept there when the image is published).
    pub fn copy_layers(
        &self,
        path: &Path,
        layout: &Layout,
        kept: Option<&super::publish::Kept>,
    ) -> Result<(), BuildError> {
        let bad = |why: String| BuildError::Base {
            path: path.display().to_string(),
            why,
        };
        for layer in &self.image.layers {
            let hex = layer
                .expected
                .as_ref()
                .and_then(|e| crate::oci::digest::sha256_hex(&e.digest))
                .ok_or_else(|| bad(format!("{} has no sha256 digest", layer.role)))?
                .to_owned();
            let size = layer.expected.as_ref().and_then(|e| e.size);
            if let (Some(kept), Some(size)) = (kept, size)
                && kept.holds(&hex, size)
            {
                kept.defer(&hex, size);
                continue;
            }
            let (mut reader, _) = open_layer(&self.image, layer).map_err(&bad)?;
            layout
                .put_blob_reader(&mut reader, &hex)
                .map_err(|e| bad(format!("{} ({}): {e}", layer.role, layer.name)))?;
        }
        Ok(())
    }
}

/// Opens a layer's blob, refusing one whose size is not its descriptor's: reading stops
/// where the descriptor says the blob ends.
pub(super) fn open_layer(image: &Image, layer: &LayerRef) -> Result<(Box<dyn Read>, u64), String> {
    let opened = image
        .store
        .open(&layer.name)
        .map_err(|e| format!("{} ({}): {e}", layer.role, layer.name))?
        .ok_or_else(|| format!("{} ({}) is missing", layer.role, layer.name))?;
    if let Some(size) = layer.expected.as_ref().and_then(|e| e.size)
        && size != opened.size
    {
        return Err(format!(
            "{} ({}) is {} bytes, its descriptor says {size}",
            layer.role, layer.name, opened.size
        ));
    }
    Ok((opened.reader, opened.size))
}

fn read_json(image: &Image, digest: &str) -> Result<Value, String> {
    let name = format!("blobs/{}", digest.replacen(':', "/", 1));
    let bytes = image
        .store
        .read_small(&name, SMALL_BLOB_LIMIT)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{name} is missing"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{name} is not JSON: {e}"))
}

/// One of the account files as a layer has it.
enum Account {
    Text(Vec<u8>),
    /// Over `MAX_ACCOUNT_FILE_BYTES`: its size, not its bytes.
    TooLarge(u64),
}

/// The files the build cares about, as the running container would see them.
#[derive(Default)]
struct Seen {
    watched: BTreeMap<String, Account>,
    /// Paths of interpreters and C libraries present.
    present: BTreeSet<String>,
    /// The glibc version each C library file tells.
    glibc: BTreeMap<String, Glibc>,
    /// The package databases and os-release, by path (see `inventoried`).
    inventory: BTreeMap<String, Account>,
    /// The Python distributions, by the path of their METADATA (its size when it was
    /// over `sbom::MAX_METADATA_BYTES`).
    dists: BTreeMap<String, Result<PyDist, u64>>,
}

impl Seen {
    fn remove(&mut self, path: &str, children_only: bool) {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let hit = |p: &String| p.starts_with(&prefix) || (!children_only && p == path);
        self.watched.retain(|p, _| !hit(p));
        self.present.retain(|p| !hit(p));
        self.glibc.retain(|p, _| !hit(p));
        self.inventory.retain(|p, _| !hit(p));
        self.dists.retain(|p, _| !hit(p));
    }

    /// Keeps a package database or os-release file (`inventoried`), or the distribution a
    /// METADATA file describes, read up to its bound; `known` distributions were kept
    /// from the layers below.
    fn take_inventory(
        &mut self,
        path: &str,
        size: u64,
        content: &mut dyn Read,
        known: usize,
    ) -> std::io::Result<()> {
        if let Some(limit) = inventoried(path) {
            let read = bounded(content, size, limit)?;
            self.inventory.insert(path.to_owned(), read);
            return Ok(());
        }
        let Some(location) = dist_location(path) else {
            return Ok(());
        };
        let dist = match bounded(content, size, sbom::MAX_METADATA_BYTES)? {
            Account::Text(bytes) => {
                sbom::parse_metadata(&String::from_utf8_lossy(&bytes), location).map(Ok)
            }
            // Named, not guessed: the SBOM refuses to leave it out.
            Account::TooLarge(size) => Some(Err(size)),
        };
        if let Some(dist) = dist
            && known + self.dists.len() < sbom::MAX_BASE_DISTS
        {
            self.dists.insert(path.to_owned(), dist);
        }
        Ok(())
    }

    fn extend(&mut self, added: Self) {
        self.watched.extend(added.watched);
        self.present.extend(added.present);
        self.glibc.extend(added.glibc);
        self.inventory.extend(added.inventory);
        self.dists.extend(added.dists);
    }
}

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// distroless keeps one file per package here instead of one status file.
const DPKG_STATUS_D: &str = "/var/lib/dpkg/status.d/";
const APK_INSTALLED: &str = "/lib/apk/db/installed";
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The most of a file the inventory reads, if it is one it reads.
fn inventoried(path: &str) -> Option<u64> {
    if path == DPKG_STATUS
        || path == APK_INSTALLED
        || (path.starts_with(DPKG_STATUS_D) && !path.ends_with(".md5sums"))
    {
        Some(sbom::MAX_PACKAGE_DB_BYTES)
    } else if OS_RELEASE.contains(&path) {
        Some(sbom::MAX_OS_RELEASE_BYTES)
    } else {
        None
    }
}

/// The `site-packages` or `dist-packages` directory holding a distribution when `path` is
/// its metadata: `X.dist-info/METADATA`, `X.egg-info/PKG-INFO`, or an `X.egg-info` file
/// (Debian's python3-setuptools and python3-wheel are installed as egg-info).
fn dist_location(path: &str) -> Option<&str> {
    let (location, meta) = if let Some(dir) = path.strip_suffix("/METADATA") {
        let (location, dir) = dir.rsplit_once('/')?;
        (location, dir.ends_with(".dist-info"))
    } else if let Some(dir) = path.strip_suffix("/PKG-INFO") {
        let (location, dir) = dir.rsplit_once('/')?;
        (location, dir.ends_with(".egg-info"))
    } else {
        let (location, file) = path.rsplit_once('/')?;
        (location, file.ends_with(".egg-info"))
    };
    (meta && (location.ends_with("/site-packages") || location.ends_with("/dist-packages")))
        .then_some(location)
}

/// Reads `content` if it is at most `limit` bytes (`size` is what its header says).
fn bounded(content: &mut dyn Read, size: u64, limit: u64) -> std::io::Result<Account> {
    if size > limit {
        return Ok(Account::TooLarge(size));
    }
    let mut bytes = Vec::new();
    content.take(limit).read_to_end(&mut bytes)?;
    Ok(Account::Text(bytes))
}

fn interesting(path: &str, machine: Machine) -> bool {
    path == machine.musl_loader() || python_version_of(path).is_some()
}

/// `X.Y` when `path` is `<python dir>/python3.Y`.
fn python_version_of(path: &str) -> Option<String> {
    let name = PYTHON_DIRS.iter().find_map(|dir| path.strip_prefix(dir))?;
    let minor = name.strip_prefix("python3.")?;
    (!minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())).then(|| format!("3.{minor}"))
}

fn read_facts(image: &Image, machine: Machine) -> Result<BaseFacts, String> {
    let mut seen = Seen::default();
    for layer_ref in &image.layers {
        let (reader, size) = open_layer(image, layer_ref)?;
        // Whiteouts hide what the layers below put there, never what this layer adds.
        let mut added = Seen::default();
        let read = layer::read_layer(reader, size, Holes::Full, &mut |entry, content| {
            match &entry.kind {
                Kind::Whiteout(path) => seen.remove(path, false),
                Kind::Opaque(dir) => seen.remove(dir, true),
                Kind::File if WATCHED.contains(&entry.path.as_str()) => {
                    // A later layer may still replace a file too large to read: only the
                    // one the container sees is refused.
                    let account = bounded(content, entry.size, MAX_ACCOUNT_FILE_BYTES)?;
                    added.watched.insert(entry.path.clone(), account);
                }
                Kind::File
                    if inventoried(&entry.path).is_some()
                        || dist_location(&entry.path).is_some() =>
                {
                    let count = seen.dists.len();
                    added.take_inventory(&entry.path, entry.size, content, count)?;
                }
                Kind::File if glibc::is_library(&entry.path, machine) => {
                    if let Some(version) = glibc::version_of(&entry.path, content)? {
                        added.glibc.insert(entry.path.clone(), version);
                    }
                }
                Kind::File | Kind::Symlink | Kind::HardLink(_)
                    if interesting(&entry.path, machine) =>
                {
                    added.present.insert(entry.path.clone());
                }
                _ => {}
            }
            Ok(())
        });
        if let Some(error) = read.error {
            return Err(format!("{} cannot be read: {error}", layer_ref.role));
        }
        let check = BlobCheck {
            role: layer_ref.role.clone(),
            name: layer_ref.name.clone(),
            expected: layer_ref.expected.clone(),
            found: Found::Read(read.blob),
        };
        if let Some(problem) = check.problem() {
            return Err(problem);
        }
        match (&layer_ref.diff_id, &read.diff) {
            (Some(want), Some(got)) if *want == got.digest() => {}
            (want, got) => {
                return Err(format!(
                    "{} ({}) decompresses to {}, the config's diff id is {}: the layer does not belong to this image",
                    layer_ref.role,
                    layer_ref.name,
                    got.as_ref()
                        .map_or_else(|| "nothing".to_owned(), crate::oci::digest::Sum::digest),
                    want.as_deref().unwrap_or("missing")
                ));
            }
        }
        seen.extend(added);
    }
    if seen.present.contains(machine.musl_loader()) {
        return Err("it is a musl-based image (Alpine?): fabuild build installs manylinux wheels, which need glibc".to_owned());
    }
    // The first directory wins (/usr/local/bin in the official images), then the newest.
    let python = PYTHON_DIRS
        .iter()
        .find_map(|dir| {
            seen.present
                .iter()
                .filter(|p| p.starts_with(dir))
                .filter_map(|p| python_version_of(p).map(|v| (v, p.clone())))
                .max_by_key(|(v, _)| v[2..].parse::<u32>().unwrap_or(0))
        })
        .ok_or_else(|| {
            "no Python interpreter in its layers (looked for /usr/local/bin/python3.X and /usr/bin/python3.X)".to_owned()
        })?;
    let text = |path: &str| match seen.watched.get(path) {
        Some(Account::Text(bytes)) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        Some(Account::TooLarge(size)) => Err(format!(
            "its {path} is {size} bytes, more than the {MAX_ACCOUNT_FILE_BYTES} bytes (1 MiB) `fabuild build` reads whole to add the app user; build with the Dockerfile `fabuild gen` writes (useradd edits a file of any size), or use a base with fewer accounts"
        )),
        None => Err(format!("it has no {path}")),
    };
    Ok(BaseFacts {
        python: python.1,
        python_version: python.0,
        passwd: text("/etc/passwd")?,
        group: text("/etc/group")?,
        // Two C libraries (an unusual base): the wheels must run with the older.
        libc: seen
            .glibc
            .values()
            .min()
            .copied()
            .map_or(Libc::Unknown, Libc::Glibc),
        inventory: inventory(&seen),
    })
}

/// The OS packages, Python distributions and distribution the files seen describe.
fn inventory(seen: &Seen) -> BaseInventory {
    let mut inventory = BaseInventory::default();
    let text = |path: &str| match seen.inventory.get(path) {
        Some(Account::Text(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    };
    for (path, account) in &seen.inventory {
        if let Account::TooLarge(size) = account {
            inventory.too_large.push((path.clone(), *size));
        }
    }
    inventory.distro = OS_RELEASE
        .iter()
        .find_map(|p| text(p))
        .and_then(|t| sbom::parse_os_release(&t));
    if let Some(status) = text(DPKG_STATUS) {
        inventory.os_packages.extend(sbom::parse_dpkg(&status));
    }
    for path in seen
        .inventory
        .keys()
        .filter(|p| p.starts_with(DPKG_STATUS_D))
    {
        inventory
            .os_packages
            .extend(sbom::parse_dpkg(&text(path).unwrap_or_default()));
    }
    if let Some(installed) = text(APK_INSTALLED) {
        inventory.os_packages.extend(sbom::parse_apk(&installed));
    }
    for (path, dist) in &seen.dists {
        match dist {
            Ok(dist) => inventory.python.push(dist.clone()),
            Err(size) => inventory.too_large.push((path.clone(), *size)),
        }
    }
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_are_found_by_their_metadata_files() {
        let site = "/usr/lib/python3/dist-packages";
        for path in [
            "/usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA",
            "/usr/lib/python3/dist-packages/setuptools-66.1.1.egg-info/PKG-INFO",
            "/usr/lib/python3/dist-packages/six-1.16.0.egg-info",
        ] {
            assert_eq!(dist_location(path), Some(site), "{path}");
        }
        for path in [
            "/usr/lib/python3/dist-packages/pip/METADATA",
            "/usr/lib/python3/dist-packages/pip-23.0.1.dist-info/RECORD",
            "/opt/x/pip-23.0.1.dist-info/METADATA",
        ] {
            assert_eq!(dist_location(path), None, "{path}");
        }
    }

    #[test]
    fn interpreters_are_named_by_version() {
        assert_eq!(
            python_version_of("/usr/bin/python3.11"),
            Some("3.11".to_owned())
        );
        assert_eq!(
            python_version_of("/usr/local/bin/python3.12"),
            Some("3.12".to_owned())
        );
        assert_eq!(python_version_of("/usr/bin/python3.11-config"), None);
        assert_eq!(python_version_of("/usr/bin/python3"), None);
        assert_eq!(python_version_of("/opt/bin/python3.11"), None);
    }
}
