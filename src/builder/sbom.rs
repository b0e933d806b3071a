//! The image's software bill of materials, as CycloneDX 1.6 JSON: every Python
//! distribution in the image (the virtualenv's, each with its wheel's sha256, and the
//! base's own), the base's OS packages (dpkg's status database, or apk's), and the
//! distribution the base is (`/etc/os-release`). Every component has a purl and, where the
//! metadata says, a licence. The document is canonical JSON stamped with
//! `SOURCE_DATE_EPOCH`, so the same image gives the same bytes.
//!
//! Everything here reads untrusted bytes (wheels, base layers): each file is read up to a
//! bound, and a file over it is named, never cut short into a wrong inventory.

use std::fmt::Write as _;
use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::oci::referrer::{Artifact, Subject};
use crate::oci::writer::canonical_json;

/// The SBOM's media type (and the artifact's `artifactType`), as CycloneDX registers it.
pub const MEDIA_CYCLONEDX: &str = "application/vnd.cyclonedx+json";
/// The most of one `METADATA` file read: its headers come first and are short.
pub const MAX_METADATA_BYTES: u64 = 1 << 20;
/// The most of a package database read (dpkg's status of a full Debian is a few MiB).
pub const MAX_PACKAGE_DB_BYTES: u64 = 32 << 20;
/// The most of `/etc/os-release` read.
pub const MAX_OS_RELEASE_BYTES: u64 = 64 << 10;
/// The most Python distributions a base may hold that are listed.
pub const MAX_BASE_DISTS: usize = 20_000;
/// The longest licence name kept from a `License:` field (some hold the whole text).
const MAX_LICENCE_NAME: usize = 200;

/// A licence as the metadata states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Licence {
    /// An SPDX expression (`License-Expression`, PEP 639).
    Expression(String),
    /// Free text: a `License:` field, or the names of `License ::` classifiers.
    Names(Vec<String>),
}

/// One Python distribution in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyDist {
    pub name: String,
    pub version: String,
    pub licence: Option<Licence>,
    /// The sha256 of the wheel it was installed from (the virtualenv's only).
    pub wheel_sha256: Option<String>,
    /// The wheel's file name (the virtualenv's only).
    pub wheel: Option<String>,
    /// The directory its `.dist-info` is in, in the image.
    pub location: String,
}

/// Which package manager's database an OS package comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Manager {
    Dpkg,
    Apk,
}

/// One package the base's package manager installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsPackage {
    pub manager: Manager,
    pub name: String,
    pub version: String,
    pub arch: String,
    /// apk records one; dpkg does not (it is in each package's copyright file).
    pub licence: Option<String>,
}

/// The distribution the base is, from os-release.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

/// What the base holds, read from its layers with whiteouts honoured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseInventory {
    pub distro: Option<Distro>,
    pub os_packages: Vec<OsPackage>,
    pub python: Vec<PyDist>,
    /// Files the inventory needed that were over their bound: (path, size).
    pub too_large: Vec<(String, u64)>,
}

impl BaseInventory {
    /// Why no SBOM can be made from this inventory, if a file it needs was too large.
    pub fn incomplete(&self) -> Option<String> {
        let (path, size) = self.too_large.first()?;
        Some(format!(
            "the base's {path} is {size} bytes, more than fabuild reads for an SBOM ({} MiB for a package database, {} KiB for os-release, {} MiB for a METADATA file): an SBOM without it would be incomplete",
            MAX_PACKAGE_DB_BYTES >> 20,
            MAX_OS_RELEASE_BYTES >> 10,
            MAX_METADATA_BYTES >> 20
        ))
    }
}

/// The RFC 822 headers of a `METADATA` file (they end at the first blank line), with
/// continuation lines joined.
fn headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            out.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    out
}

/// Name, version and licence from a `METADATA` file's text; `None` without a name and a
/// version.
pub fn parse_metadata(text: &str, location: &str) -> Option<PyDist> {
    let headers = headers(text);
    let get = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let name = get("name").filter(|n| !n.is_empty())?;
    let version = get("version").filter(|v| !v.is_empty())?;
    let classifiers: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k == "classifier")
        .filter_map(|(_, v)| v.strip_prefix("License ::"))
        .filter_map(|v| v.rsplit("::").next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let field = get("license").filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("UNKNOWN"));
    let licence = if let Some(expression) = get("license-expression").filter(|e| !e.is_empty()) {
        Some(Licence::Expression(expression))
    } else if let Some(short) = field
        .as_ref()
        .filter(|l| !l.contains('\n') && l.len() <= MAX_LICENCE_NAME)
    {
        Some(Licence::Names(vec![short.clone()]))
    } else if !classifiers.is_empty() {
        Some(Licence::Names(classifiers))
    } else {
        // A whole licence text in the field: its first line names it.
        field.and_then(|l| {
            let first: String = l.lines().next()?.chars().take(MAX_LICENCE_NAME).collect();
            Some(Licence::Names(vec![first]))
        })
    };
    Some(PyDist {
        name,
        version,
        licence,
        wheel_sha256: None,
        wheel: None,
        location: location.to_owned(),
    })
}

/// The distribution a wheel installs: its `<name>.dist-info/METADATA`, read up to
/// `MAX_METADATA_BYTES`, and the wheel's sha256 (`sha256`, computed by the caller).
pub fn wheel_dist(
    path: &std::path::Path,
    sha256: &str,
    site_packages: &str,
) -> Result<PyDist, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a wheel (zip): {e}"))?;
    let is_metadata = |n: &str| {
        n.split_once('/')
            .is_some_and(|(dir, rest)| dir.ends_with(".dist-info") && rest == "METADATA")
    };
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .name_for_index(i)
                .and_then(Result::ok)
                .is_some_and(|n| is_metadata(&n))
        })
        .ok_or("it has no .dist-info/METADATA")?;
    let member = archive.by_index(index).map_err(|e| e.to_string())?;
    let name = member
        .name()
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_default();
    let mut bytes = Vec::new();
    member
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err(format!(
            "{name} is over {MAX_METADATA_BYTES} bytes; fabuild reads at most that of it"
        ));
    }
    let mut dist = parse_metadata(
        &String::from_utf8_lossy(&bytes),
        &format!("/{site_packages}"),
    )
    .ok_or_else(|| format!("{name} has no Name or no Version"))?;
    dist.wheel_sha256 = Some(sha256.to_owned());
    dist.wheel = path.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(dist)
}

/// Stanzas of a Debian control-style file: blank-line separated, `Key: value` fields.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            // Continuation (descriptions, conffiles): not needed.
        } else if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The packages dpkg's status file (or a `status.d` file) says are installed.
pub fn parse_dpkg(text: &str) -> Vec<OsPackage> {
    stanzas(text)
        .into_iter()
        .filter_map(|fields| {
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            // `Status: install ok installed`; distroless's status.d files have none.
            if get("status").is_some_and(|s| !s.ends_with(" installed")) {
                return None;
            }
            Some(OsPackage {
                manager: Manager::Dpkg,
                name: get("package")?,
                version: get("version")?,
                arch: get("architecture").unwrap_or_default(),
                licence: None,
            })
        })
        .collect()
}

/// The packages apk's `installed` database lists (`P:` name, `V:` version, `A:` arch,
/// `L:` licence).
pub fn parse_apk(text: &str) -> Vec<OsPackage> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let get = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_owned)
        };
        if let (Some(name), Some(version)) = (get("P:"), get("V:")) {
            out.push(OsPackage {
                manager: Manager::Apk,
                name,
                version,
                arch: get("A:").unwrap_or_default(),
                licence: get("L:").filter(|l| !l.is_empty()),
            });
        }
    }
    out
}

/// `ID`, `VERSION_ID` and `PRETTY_NAME` of an os-release file.
pub fn parse_os_release(text: &str) -> Option<Distro> {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let value = l.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim().trim_matches(['"', '\'']).to_owned())
        })
    };
    Some(Distro {
        id: get("ID")?,
        version_id: get("VERSION_ID").unwrap_or_default(),
        pretty_name: get("PRETTY_NAME").unwrap_or_default(),
    })
}

/// Percent-encodes a purl segment: everything but `A-Za-z0-9.-_~`.
fn purl_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pkg:pypi/<name>@<version>`, the name as the purl spec wants it for PyPI (lower case,
/// `_` as `-`).
pub fn pypi_purl(name: &str, version: &str) -> String {
    let name = name.to_ascii_lowercase().replace('_', "-");
    format!("pkg:pypi/{}@{}", purl_escape(&name), purl_escape(version))
}

fn os_purl(p: &OsPackage, distro: Option<&Distro>) -> String {
    let (kind, default_ns) = match p.manager {
        Manager::Dpkg => ("deb", "debian"),
        Manager::Apk => ("apk", "alpine"),
    };
    let namespace = distro.map_or(default_ns, |d| d.id.as_str());
    let mut purl = format!(
        "pkg:{kind}/{}/{}@{}",
        purl_escape(namespace),
        purl_escape(&p.name),
        purl_escape(&p.version)
    );
    let mut qualifiers = Vec::new();
    if !p.arch.is_empty() {
        qualifiers.push(format!("arch={}", purl_escape(&p.arch)));
    }
    if let Some(d) = distro.filter(|d| !d.version_id.is_empty()) {
        qualifiers.push(format!(
            "distro={}",
            purl_escape(&format!("{}-{}", d.id, d.version_id))
        ));
    }
    if !qualifiers.is_empty() {
        purl.push('?');
        purl.push_str(&qualifiers.join("&"));
    }
    purl
}

fn licences(licence: Option<&Licence>) -> Option<Value> {
    match licence? {
        Licence::Expression(e) => Some(json!([{"expression": e}])),
        Licence::Names(names) => Some(Value::Array(
            names
                .iter()
                .map(|n| json!({"license": {"name": n}}))
                .collect(),
        )),
    }
}

fn py_component(d: &PyDist) -> Value {
    let purl = pypi_purl(&d.name, &d.version);
    let mut c = json!({
        "type": "library",
        "bom-ref": format!("{}#{purl}", d.location),
        "name": d.name,
        "version": d.version,
        "purl": purl,
        "properties": [{"name": "fabuild:location", "value": d.location}],
    });
    if let Some(hex) = &d.wheel_sha256 {
        c["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
    }
    if let Some(wheel) = &d.wheel {
        c["properties"]
            .as_array_mut()
            .expect("an array")
            .push(json!({"name": "fabuild:wheel", "value": wheel}));
    }
    if let Some(l) = licences(d.licence.as_ref()) {
        c["licenses"] = l;
    }
    c
}

fn os_component(p: &OsPackage, distro: Option<&Distro>) -> Value {
    let purl = os_purl(p, distro);
    let mut c = json!({
        "type": "library",
        "bom-ref": purl,
        "name": p.name,
        "version": p.version,
        "purl": purl,
    });
    if let Some(l) = &p.licence {
        c["licenses"] = json!([{"license": {"name": l}}]);
    }
    c
}

/// What the SBOM describes.
pub struct Inputs<'a> {
    /// The app's name (`name` in app.yaml): the container component's.
    pub name: &'a str,
    /// The image manifest's digest, the version of the container component.
    pub manifest_digest: &'a str,
    pub epoch: u64,
    pub base: &'a BaseInventory,
    /// The virtualenv's distributions.
    pub venv: &'a [PyDist],
}

/// The CycloneDX 1.6 document, as canonical JSON.
pub fn cyclonedx(i: &Inputs) -> Vec<u8> {
    let distro = i.base.distro.as_ref();
    let mut components: Vec<Value> = i.venv.iter().map(py_component).collect();
    components.extend(i.base.python.iter().map(py_component));
    components.extend(i.base.os_packages.iter().map(|p| os_component(p, distro)));
    if let Some(d) = distro {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": format!("os:{}-{}", d.id, d.version_id),
            "name": d.id,
            "version": d.version_id,
            "description": d.pretty_name,
        }));
    }
    components.sort_by(|a, b| a["bom-ref"].as_str().cmp(&b["bom-ref"].as_str()));
    components.dedup_by(|a, b| a["bom-ref"] == b["bom-ref"]);
    let hex = i.manifest_digest.trim_start_matches("sha256:");
    let doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "serialNumber": serial_number(i.manifest_digest),
        "metadata": {
            "timestamp": crate::date::rfc3339(i.epoch),
            "tools": {"components": [{
                "type": "application",
                "name": "fabuild",
                "version": crate::VERSION,
            }]},
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": i.name,
                "version": i.manifest_digest,
                "purl": format!("pkg:oci/{}@sha256%3A{hex}", purl_escape(&i.name.to_ascii_lowercase())),
            },
        },
        "components": components,
    });
    canonical_json(&doc)
}

/// A serial number that is the same for the same image and unique to it: a UUID (version
/// 8, RFC 9562) from the sha256 of the manifest digest.
fn serial_number(manifest_digest: &str) -> String {
    let mut b: [u8; 16] = Sha256::digest(format!("fabuild sbom {manifest_digest}").as_bytes())
        [..16]
        .try_into()
        .expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().fold(String::new(), |mut h, x| {
        let _ = write!(h, "{x:02x}");
        h
    });
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The SBOM as an OCI 1.1 artifact about the image manifest `subject`: what the layout
/// holds beside the image, and what a push sends to a registry's referrers API.
pub fn artifact(sbom: Vec<u8>, subject: &Subject) -> Artifact {
    Artifact::new(
        MEDIA_CYCLONEDX,
        MEDIA_CYCLONEDX,
        sbom,
        subject,
        &[(
            "org.opencontainers.image.description",
            "CycloneDX 1.6 SBOM written by fabuild build",
        )],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_gives_the_expression_else_the_field_else_the_classifiers() {
        let d = parse_metadata(
            "Metadata-Version: 2.4\nName: Foo_Bar\nVersion: 1.0+local\nLicense-Expression: MIT OR Apache-2.0\nLicense: ignored\n\nLicense: body\n",
            "/x",
        )
        .unwrap();
        assert_eq!(
            d.licence,
            Some(Licence::Expression("MIT OR Apache-2.0".into()))
        );
        assert_eq!(
            pypi_purl(&d.name, &d.version),
            "pkg:pypi/foo-bar@1.0%2Blocal"
        );
        let d = parse_metadata(
            "Name: a\nVersion: 1\nLicense: Copyright (c) 2010\n        all rights\nClassifier: License :: OSI Approved :: BSD License\n",
            "/x",
        )
        .unwrap();
        assert_eq!(d.licence, Some(Licence::Names(vec!["BSD License".into()])));
        let d = parse_metadata("Name: a\nVersion: 1\nLicense: UNKNOWN\n", "/x").unwrap();
        assert_eq!(d.licence, None);
        assert!(parse_metadata("Name: a\n", "/x").is_none());
    }

    #[test]
    fn dpkg_lists_installed_packages_only_and_apk_its_own() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u7\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let p = parse_dpkg(status);
        assert_eq!(p.len(), 1);
        assert_eq!(
            os_purl(
                &p[0],
                parse_os_release("ID=debian\nVERSION_ID=\"12\"\n").as_ref()
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12"
        );
        let apk = parse_apk("C:Q1\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\n\nP:busybox\nV:1.36\n");
        assert_eq!(apk.len(), 2);
        assert_eq!(apk[0].licence.as_deref(), Some("MIT"));
    }

    #[test]
    fn the_serial_number_is_a_version_8_uuid() {
        let s = serial_number("sha256:00");
        assert_eq!(s.len(), "urn:uuid:".len() + 36);
        assert_eq!(&s[23..24], "8");
        assert_eq!(s, serial_number("sha256:00"));
    }
}
