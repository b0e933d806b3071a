//! Images in a registry: pulling one platform's image into an OCI layout on disk (so the
//! rest of fabuild reads it like any layout), and pushing a layout's images.
//!
//! Pulled blobs are kept by digest in the cache (`blobs/sha256/<hex>`, the build cache's
//! own blob store) and linked into a layout per pulled reference (`pulled/<hex of what it
//! resolved to>-<os>-<arch>`); a layout appears whole, by rename, or not at all, so two
//! pulls at once or a pull killed midway leave nothing half-written. Every blob is hashed
//! as it arrives and must be the size its descriptor says.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Platform;
use super::digest::{is_sha256_hex, sha256_hex};
use super::writer::canonical_json;
use crate::net::Options;
use crate::net::registry::{
    Client, DOCKER_LIST, DOCKER_MANIFEST, MAX_MANIFEST_BYTES, OCI_INDEX, OCI_MANIFEST, Reference,
    RegistryError, Sent,
};

/// A pulled image: an OCI layout holding one platform's manifest and its blobs.
pub struct Pulled {
    pub layout: PathBuf,
    /// What the reference resolved to: the index's digest for a multi-platform image, else
    /// the manifest's. This is the digest to pin.
    pub resolved: String,
    /// The manifest of the platform taken.
    pub manifest_digest: String,
    /// Bytes fetched from the registry (0 when everything was cached).
    pub fetched: u64,
    /// Keeps an uncached layout alive.
    _scratch: Option<tempfile::TempDir>,
}

fn invalid(text: String) -> RegistryError {
    RegistryError::Invalid(text)
}

fn io_error(what: &Path) -> impl Fn(io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        what: what.display().to_string(),
        source,
    }
}

fn is_index_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Resolves `reference` and pulls `platform`'s image into a layout under `cache` (a
/// temporary directory when `None`).
pub fn pull(
    reference: &Reference,
    options: &Options,
    cache: Option<&Path>,
    platform: &Platform,
) -> Result<Pulled, RegistryError> {
    let suffix = format!(
        "{}-{}{}",
        platform.os,
        platform.arch,
        platform
            .variant
            .as_ref()
            .map_or_else(String::new, |v| format!("-{v}"))
    );
    // A digest names the same bytes forever: a layout already pulled for it is reused
    // without asking the registry (its blobs are still checked as they are read).
    if let (Some(cache), Some(digest)) = (cache, &reference.digest)
        && let Some(hex) = sha256_hex(digest)
    {
        let done = cache.join("pulled").join(format!("{hex}-{suffix}"));
        if let Some(manifest_digest) = layout_manifest(&done) {
            return Ok(Pulled {
                layout: done,
                resolved: digest.clone(),
                manifest_digest,
                fetched: 0,
                _scratch: None,
            });
        }
    }
    let mut client = Client::open(reference, options, false, &[])?;
    let top = client.manifest(reference.reference())?;
    let resolved = top.digest.clone();
    let (manifest, platform_field) = if is_index_type(&top.media_type) {
        let (digest, field) = choose(&top.bytes, platform, &reference.name())?;
        (client.manifest(&digest)?, Some(field))
    } else {
        (top, None)
    };
    // Named after what the reference resolved to, so that a reference by that digest finds
    // it again without a request.
    let resolved_hex = sha256_hex(&resolved).expect("sha256 computed");
    let final_dir = cache.map(|c| c.join("pulled").join(format!("{resolved_hex}-{suffix}")));
    if let Some(done) = &final_dir
        && layout_manifest(done).is_some()
    {
        return Ok(Pulled {
            layout: done.clone(),
            resolved,
            manifest_digest: manifest.digest,
            fetched: 0,
            _scratch: None,
        });
    }
    let doc: Value = serde_json::from_slice(&manifest.bytes).map_err(|e| {
        invalid(format!(
            "{}: the manifest is not JSON: {e}",
            reference.name()
        ))
    })?;
    let mut blobs = vec![doc["config"].clone()];
    blobs.extend(doc["layers"].as_array().cloned().unwrap_or_default());

    let (scratch, work) = match cache {
        Some(cache) => {
            let parent = cache.join("pulled");
            fs::create_dir_all(&parent).map_err(io_error(&parent))?;
            let tmp = tempfile::Builder::new()
                .prefix(".pull")
                .tempdir_in(&parent)
                .map_err(io_error(&parent))?;
            let path = tmp.path().to_owned();
            (Some(tmp), path)
        }
        None => {
            let tmp = tempfile::tempdir().map_err(io_error(Path::new("temp dir")))?;
            let path = tmp.path().to_owned();
            (Some(tmp), path)
        }
    };
    let blob_dir = work.join("blobs/sha256");
    fs::create_dir_all(&blob_dir).map_err(io_error(&blob_dir))?;
    let fetched = fetch_blobs(&mut client, &blobs, &blob_dir, cache, &reference.name())?;
    write_index(&work, &manifest, platform_field, reference.tag.as_deref())?;
    let (layout, scratch) = match final_dir {
        Some(done) => {
            let tmp = scratch.expect("made above").keep();
            // Another pull may have finished first: its layout is as good as this one.
            if fs::rename(&tmp, &done).is_err() {
                let _ = fs::remove_dir_all(&tmp);
                if layout_manifest(&done).is_none() {
                    return Err(invalid(format!(
                        "cannot put the pulled layout at {}",
                        done.display()
                    )));
                }
            }
            (done, None)
        }
        None => (work, scratch),
    };
    Ok(Pulled {
        layout,
        resolved,
        manifest_digest: manifest.digest,
        fetched,
        _scratch: scratch,
    })
}

/// Fetches `blobs` into the cache's blob store (or `blob_dir` without a cache), each
/// hashed as it arrives and cut at its descriptor's size, and links them into `blob_dir`.
/// Returns the bytes fetched.
fn fetch_blobs(
    client: &mut Client,
    blobs: &[Value],
    blob_dir: &Path,
    cache: Option<&Path>,
    name: &str,
) -> Result<u64, RegistryError> {
    let mut fetched = 0;
    for blob in blobs {
        let digest = blob["digest"]
            .as_str()
            .filter(|d| d.strip_prefix("sha256:").is_some_and(is_sha256_hex))
            .ok_or_else(|| invalid(format!("{name}: a blob without a sha256 digest")))?;
        let size = blob["size"]
            .as_u64()
            .ok_or_else(|| invalid(format!("{name}: the blob {digest} has no size")))?;
        let hex = &digest["sha256:".len()..];
        let dest = blob_dir.join(hex);
        if dest.exists() {
            continue;
        }
        let store = cache.map(|c| c.join("blobs/sha256"));
        let kept = store.as_ref().map(|s| s.join(hex));
        let have = kept
            .as_ref()
            .and_then(|k| fs::symlink_metadata(k).ok())
            .is_some_and(|m| m.is_file() && m.len() == size);
        if !have {
            let into = store.as_deref().unwrap_or(blob_dir);
            fs::create_dir_all(into).map_err(io_error(into))?;
            let mut tmp = tempfile::NamedTempFile::new_in(into).map_err(io_error(into))?;
            let mut out = io::BufWriter::new(tmp.as_file_mut());
            client.blob(digest, size, &mut out)?;
            io::Write::flush(&mut out).map_err(io_error(into))?;
            drop(out);
            let target = kept.clone().unwrap_or_else(|| dest.clone());
            tmp.persist(&target)
                .map_err(|e| io_error(&target)(e.error))?;
            fetched += size;
        }
        if let Some(kept) = &kept {
            // A hard link costs no space; a copy where links are not allowed.
            if fs::hard_link(kept, &dest).is_err() {
                fs::copy(kept, &dest).map_err(io_error(&dest))?;
            }
        }
    }
    Ok(fetched)
}

/// Writes the manifest blob, `oci-layout` and an index.json naming the manifest into the
/// layout being pulled at `work`.
fn write_index(
    work: &Path,
    manifest: &crate::net::registry::Fetched,
    platform_field: Option<Value>,
    tag: Option<&str>,
) -> Result<(), RegistryError> {
    let hex = sha256_hex(&manifest.digest).expect("sha256 computed");
    let blob_dir = work.join("blobs/sha256");
    fs::write(blob_dir.join(hex), &manifest.bytes).map_err(io_error(&blob_dir))?;
    let mut descriptor = json!({
        "mediaType": if manifest.media_type.is_empty() { OCI_MANIFEST } else { manifest.media_type.as_str() },
        "digest": manifest.digest,
        "size": manifest.bytes.len(),
    });
    if let Some(p) = platform_field {
        descriptor["platform"] = p;
    }
    if let Some(tag) = tag {
        descriptor["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]});
    fs::write(
        work.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(io_error(work))?;
    fs::write(work.join("index.json"), canonical_json(&index)).map_err(io_error(work))?;
    Ok(())
}

/// The digest and platform of `platform`'s manifest in an index.
fn choose(index: &[u8], platform: &Platform, name: &str) -> Result<(String, Value), RegistryError> {
    let index: Value = serde_json::from_slice(index)
        .map_err(|e| invalid(format!("{name}: the index is not JSON: {e}")))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let chosen = entries
        .iter()
        .find(|m| {
            let p = &m["platform"];
            p["os"] == platform.os.as_str()
                && p["architecture"] == platform.arch.as_str()
                && platform
                    .variant
                    .as_ref()
                    .is_none_or(|v| p["variant"] == v.as_str())
        })
        .ok_or_else(|| {
            let available: Vec<String> = entries
                .iter()
                .filter_map(|m| {
                    let p = &m["platform"];
                    Some(format!(
                        "{}/{}",
                        p["os"].as_str()?,
                        p["architecture"].as_str()?
                    ))
                })
                .collect();
            invalid(format!(
                "{name} has no {platform} image; it has {}",
                available.join(", ")
            ))
        })?;
    let digest = chosen["digest"]
        .as_str()
        .filter(|d| d.strip_prefix("sha256:").is_some_and(is_sha256_hex))
        .ok_or_else(|| invalid(format!("{name}: an index entry without a sha256 digest")))?;
    Ok((digest.to_owned(), chosen["platform"].clone()))
}

/// The manifest digest of a layout fabuild pulled, if it is complete.
fn layout_manifest(dir: &Path) -> Option<String> {
    let bytes = fs::read(dir.join("index.json")).ok()?;
    let index: Value = serde_json::from_slice(&bytes).ok()?;
    index["manifests"][0]["digest"].as_str().map(str::to_owned)
}

/// What a push did.
#[derive(Debug, Default)]
pub struct Pushed {
    /// The digest the reference's tag now names.
    pub digest: String,
    pub uploaded_bytes: u64,
    pub uploaded: usize,
    pub mounted: usize,
    pub present: usize,
    pub manifests: usize,
    /// Artifacts attached with the tag-schema fallback (`sha256-<hex>` tags).
    pub fallback_tags: Vec<String>,
}

/// Reads a small blob of the layout at `dir`, checked against its digest.
fn read_manifest(dir: &Path, digest: &str) -> Result<Vec<u8>, RegistryError> {
    let hex = sha256_hex(digest)
        .filter(|h| is_sha256_hex(h))
        .ok_or_else(|| {
            invalid(format!(
                "{}: {digest} is not a sha256 digest",
                dir.display()
            ))
        })?;
    let path = dir.join("blobs/sha256").join(hex);
    let mut bytes = Vec::new();
    fs::File::open(&path)
        .map_err(io_error(&path))?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(&path))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES
        || crate::oci::digest::Sum::of(&bytes).digest() != digest
    {
        return Err(invalid(format!(
            "{}: does not hash to {digest} (or is larger than {MAX_MANIFEST_BYTES} bytes)",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Pushes every image, index and artifact the layout at `dir` lists in index.json to
/// `reference`'s repository. The one image without a `subject` gets the reference's tag;
/// an artifact with a `subject` (an SBOM) is attached to it through the referrers API,
/// or, on a registry without one, listed in the `sha256-<subject hex>` tag's index.
pub fn push(
    dir: &Path,
    reference: &Reference,
    options: &Options,
    mount_from: &[String],
) -> Result<Pushed, RegistryError> {
    let index_path = dir.join("index.json");
    let mut bytes = Vec::new();
    fs::File::open(&index_path)
        .map_err(io_error(&index_path))?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(&index_path))?;
    let index: Value = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("{}: not JSON: {e}", index_path.display())))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let mut client = Client::open(reference, options, true, mount_from)?;
    let mut pushed = Pushed::default();
    let (artifacts, images): (Vec<Value>, Vec<Value>) = entries.into_iter().partition(|d| {
        d["digest"]
            .as_str()
            .and_then(|digest| read_manifest(dir, digest).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|doc| doc.get("subject").is_some())
    });
    if images.len() != 1 {
        return Err(invalid(format!(
            "{} lists {} images; push takes a layout with one image or index (and its artifacts)",
            index_path.display(),
            images.len()
        )));
    }
    let tag = reference.tag.clone();
    let main = &images[0];
    let digest = push_manifest(
        dir,
        main,
        tag.as_deref(),
        &mut client,
        mount_from,
        &mut pushed,
    )?;
    if let Some(want) = &reference.digest
        && *want != digest
    {
        return Err(invalid(format!(
            "the layout's image is {digest}, not the digest in the reference ({want})"
        )));
    }
    pushed.digest = digest;
    for artifact in &artifacts {
        let digest = push_manifest(dir, artifact, None, &mut client, mount_from, &mut pushed)?;
        let doc: Value = serde_json::from_slice(&read_manifest(dir, &digest)?)
            .map_err(|e| invalid(e.to_string()))?;
        let subject = doc["subject"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if client.referrers(&subject)?.is_none() {
            let tag = fallback_tag(&mut client, &subject, artifact, &doc, &digest)?;
            pushed.fallback_tags.push(tag);
        }
    }
    Ok(pushed)
}

/// Lists `artifact` in the `sha256-<hex>` tag's index of the subject's referrers.
fn fallback_tag(
    client: &mut Client,
    subject: &str,
    descriptor: &Value,
    doc: &Value,
    digest: &str,
) -> Result<String, RegistryError> {
    let hex = sha256_hex(subject)
        .ok_or_else(|| invalid(format!("the subject {subject} is not a sha256 digest")))?;
    let tag = format!("sha256-{hex}");
    let mut index = match client.manifest(&tag) {
        Ok(found) => serde_json::from_slice(&found.bytes).unwrap_or_else(
            |_| json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        ),
        Err(e) if e.status() == Some(404) => {
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        }
        Err(e) => return Err(e),
    };
    let mut entry = json!({
        "mediaType": descriptor["mediaType"].as_str().unwrap_or(OCI_MANIFEST),
        "digest": digest,
        "size": descriptor["size"],
    });
    if let Some(t) = doc
        .get("artifactType")
        .or_else(|| doc.get("config").and_then(|c| c.get("mediaType")))
    {
        entry["artifactType"] = t.clone();
    }
    if let Some(a) = doc.get("annotations") {
        entry["annotations"] = a.clone();
    }
    let list = index["manifests"]
        .as_array_mut()
        .ok_or_else(|| invalid(format!("the tag {tag} is not an index")))?;
    if !list.iter().any(|m| m["digest"] == digest) {
        list.push(entry);
    }
    client.put_manifest(&tag, OCI_INDEX, &canonical_json(&index))?;
    Ok(tag)
}

/// Pushes the manifest or index `descriptor` names, after everything it refers to; puts
/// it under `tag` when given, else under its digest.
fn push_manifest(
    dir: &Path,
    descriptor: &Value,
    tag: Option<&str>,
    client: &mut Client,
    mount_from: &[String],
    pushed: &mut Pushed,
) -> Result<String, RegistryError> {
    let digest = descriptor["digest"]
        .as_str()
        .ok_or_else(|| invalid(format!("{}: a descriptor without a digest", dir.display())))?
        .to_owned();
    let bytes = read_manifest(dir, &digest)?;
    let doc: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{digest}: not JSON: {e}")))?;
    let media_type = doc["mediaType"]
        .as_str()
        .or_else(|| descriptor["mediaType"].as_str())
        .unwrap_or(OCI_MANIFEST)
        .to_owned();
    if is_index_type(&media_type) {
        for child in doc["manifests"].as_array().cloned().unwrap_or_default() {
            push_manifest(dir, &child, None, client, mount_from, pushed)?;
        }
    } else {
        let mut blobs = vec![doc["config"].clone()];
        blobs.extend(doc["layers"].as_array().cloned().unwrap_or_default());
        for blob in blobs {
            let (Some(blob_digest), Some(size)) = (blob["digest"].as_str(), blob["size"].as_u64())
            else {
                return Err(invalid(format!(
                    "{digest}: a blob descriptor without digest or size"
                )));
            };
            let hex = sha256_hex(blob_digest)
                .filter(|h| is_sha256_hex(h))
                .ok_or_else(|| invalid(format!("{blob_digest} is not a sha256 digest")))?;
            let path = dir.join("blobs/sha256").join(hex);
            let on_disk = fs::metadata(&path).map_err(io_error(&path))?.len();
            if on_disk != size {
                return Err(invalid(format!(
                    "{} is {on_disk} bytes, its descriptor says {size}",
                    path.display()
                )));
            }
            match client.put_blob(blob_digest, size, &path, mount_from)? {
                Sent::Present => pushed.present += 1,
                Sent::Mounted => pushed.mounted += 1,
                Sent::Uploaded(n) => {
                    pushed.uploaded += 1;
                    pushed.uploaded_bytes += n;
                }
            }
        }
    }
    let media_type = if media_type == DOCKER_MANIFEST || media_type == DOCKER_LIST {
        media_type
    } else if is_index_type(&media_type) {
        OCI_INDEX.to_owned()
    } else {
        OCI_MANIFEST.to_owned()
    };
    let put = client.put_manifest(tag.unwrap_or(&digest), &media_type, &bytes)?;
    pushed.manifests += 1;
    Ok(put)
}
