//! OCI 1.1 artifacts that refer to an image (an SBOM, a signature): an image manifest with
//! an `artifactType`, the empty config, one blob, and a `subject` naming the image's
//! manifest. In a layout the artifact's manifest is an entry of index.json carrying its
//! `artifactType`; a registry takes it through the referrers API (or the tag-schema
//! fallback, `sha256-<hex>` of the subject). The bytes are canonical JSON, so the same
//! payload for the same image gives the same artifact digest.

use std::path::Path;

use serde_json::{Value, json};

use super::digest::Sum;
use super::writer::{MEDIA_MANIFEST, canonical_json};

/// The config of an artifact with no config of its own (OCI 1.1 "empty descriptor").
pub const MEDIA_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The bytes of the empty config: `{}`.
pub const EMPTY: &[u8] = b"{}";
/// The most an artifact's manifest or payload read back from a layout may weigh.
pub const MAX_ARTIFACT_BYTES: u64 = 64 << 20;
/// The most artifacts one layout's index.json may list that are read back.
const MAX_ARTIFACTS: usize = 64;

/// One blob of an artifact, with the media type its descriptor gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: Sum::of(&bytes).digest(),
            bytes,
        }
    }

    fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// The image manifest an artifact refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// An artifact ready to be written into a layout or pushed: its manifest (the bytes whose
/// digest names it) and the blobs the manifest lists (the empty config, the payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub artifact_type: String,
    pub manifest: Blob,
    pub blobs: Vec<Blob>,
    pub subject: Subject,
}

impl Artifact {
    /// An artifact of `artifact_type` holding `payload` (of `payload_media_type`), about
    /// `subject`, with `annotations` on its manifest.
    pub fn new(
        artifact_type: &str,
        payload_media_type: &str,
        payload: Vec<u8>,
        subject: &Subject,
        annotations: &[(&str, &str)],
    ) -> Self {
        let config = Blob::new(MEDIA_EMPTY, EMPTY.to_vec());
        let payload = Blob::new(payload_media_type, payload);
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "artifactType": artifact_type,
            "config": config.descriptor(),
            "layers": [payload.descriptor()],
            "subject": {
                "mediaType": subject.media_type,
                "digest": subject.digest,
                "size": subject.size,
            },
        });
        if !annotations.is_empty() {
            let map: serde_json::Map<String, Value> = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect();
            manifest["annotations"] = Value::Object(map);
        }
        Self {
            artifact_type: artifact_type.to_owned(),
            manifest: Blob::new(MEDIA_MANIFEST, canonical_json(&manifest)),
            blobs: vec![config, payload],
            subject: subject.clone(),
        }
    }

    /// The artifact's entry in index.json (and in a registry's referrers list).
    pub fn index_entry(&self) -> Value {
        json!({
            "mediaType": self.manifest.media_type,
            "artifactType": self.artifact_type,
            "digest": self.manifest.digest,
            "size": self.manifest.bytes.len(),
        })
    }

    /// The payload: the blob the artifact is about.
    pub fn payload(&self) -> &Blob {
        &self.blobs[self.blobs.len() - 1]
    }

    /// The tag the OCI 1.1 fallback lists referrers under, for a registry without the
    /// referrers API: `sha256-<hex of the subject>`.
    pub fn fallback_tag(&self) -> String {
        self.subject.digest.replacen(':', "-", 1)
    }
}

/// The artifacts of the layout at `dir` whose subject is `subject_digest`, read back with
/// every blob checked against its digest (each at most `MAX_ARTIFACT_BYTES`): what a push
/// sends after the image.
pub fn in_layout(dir: &Path, subject_digest: &str) -> Result<Vec<Artifact>, String> {
    let index: Value = read_json(dir, "index.json")?;
    let mut found = Vec::new();
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    for entry in entries
        .iter()
        .filter(|e| e["artifactType"].is_string())
        .take(MAX_ARTIFACTS)
    {
        let digest = entry["digest"].as_str().unwrap_or_default();
        let manifest_bytes = read_blob(dir, digest)?;
        let manifest: Value = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| format!("the artifact manifest {digest} is not JSON: {e}"))?;
        if manifest["subject"]["digest"].as_str() != Some(subject_digest) {
            continue;
        }
        let mut blobs = Vec::new();
        let config = std::iter::once(&manifest["config"]);
        let layers = manifest["layers"].as_array().into_iter().flatten();
        for descriptor in config.chain(layers) {
            let blob_digest = descriptor["digest"].as_str().unwrap_or_default();
            blobs.push(Blob {
                media_type: descriptor["mediaType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                digest: blob_digest.to_owned(),
                bytes: read_blob(dir, blob_digest)?,
            });
        }
        found.push(Artifact {
            artifact_type: entry["artifactType"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            manifest: Blob {
                media_type: MEDIA_MANIFEST.to_owned(),
                digest: digest.to_owned(),
                bytes: manifest_bytes,
            },
            blobs,
            subject: Subject {
                media_type: manifest["subject"]["mediaType"]
                    .as_str()
                    .unwrap_or(MEDIA_MANIFEST)
                    .to_owned(),
                digest: subject_digest.to_owned(),
                size: manifest["subject"]["size"].as_u64().unwrap_or(0),
            },
        });
    }
    Ok(found)
}

fn read_json(dir: &Path, name: &str) -> Result<Value, String> {
    let bytes = read_bounded(&dir.join(name))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{name} is not JSON: {e}"))
}

/// A blob of the layout, refused unless it hashes to its name.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, String> {
    let hex = super::digest::sha256_hex(digest)
        .ok_or_else(|| format!("{digest} is not a sha256 digest"))?;
    let bytes = read_bounded(&dir.join("blobs/sha256").join(hex))?;
    let got = Sum::of(&bytes).digest();
    if got != digest {
        return Err(format!("the blob {digest} holds {got}: it was changed"));
    }
    Ok(bytes)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ARTIFACT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
        return Err(format!(
            "{} is over {MAX_ARTIFACT_BYTES} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_names_its_subject_and_the_empty_config() {
        let subject = Subject {
            media_type: MEDIA_MANIFEST.to_owned(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 123,
        };
        let a = Artifact::new(
            "application/x-test",
            "application/x-test",
            b"hi".to_vec(),
            &subject,
            &[],
        );
        let m: Value = serde_json::from_slice(&a.manifest.bytes).unwrap();
        assert_eq!(m["subject"]["digest"], subject.digest);
        assert_eq!(
            m["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(a.fallback_tag(), format!("sha256-{}", "a".repeat(64)));
        assert_eq!(a.payload().bytes, b"hi");
    }
}
