//! Opening an image: tell the format, walk index -> manifest -> config for one platform,
//! and check every small blob's digest and size on the way.
//!
//! A blob that is missing or does not match its descriptor is not an error here: it is
//! recorded in `Image::blobs` for the integrity check to report, and reading goes on as
//! far as it can. Only input that is not an image at all is an `OciError`.

use std::fmt;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

use super::OciError;
use super::digest::{Sum, is_sha256_hex, sha256_hex};
use super::store::Store;

/// The largest index, manifest or config fabuild reads; real ones are a few KiB, and
/// registries refuse manifests over 4 MiB.
pub const SMALL_BLOB_LIMIT: u64 = 4 << 20;
/// The most manifests and indexes the indexes of one image may list, nested ones included:
/// a multi-platform image with attestations lists a few dozen.
const MAX_INDEX_ENTRIES: usize = 1024;
/// The most nested indexes read, and how deep they may nest.
const MAX_NESTED_INDEXES: usize = 16;
const MAX_INDEX_DEPTH: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A directory with `oci-layout`, `index.json` and `blobs/`.
    OciLayout,
    /// The same as one tar file (`skopeo copy ... oci-archive:F`, `buildah push ... oci-archive:F`).
    OciArchive,
    /// `docker save` (or `skopeo copy ... docker-archive:F`): `manifest.json` and layer tars.
    DockerArchive,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OciLayout => "oci-layout",
            Self::OciArchive => "oci-archive",
            Self::DockerArchive => "docker-archive",
        })
    }
}

/// `os/arch[/variant]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts[..] {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Self {
                os: os.to_owned(),
                arch: arch.to_owned(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Self {
                    os: os.to_owned(),
                    arch: arch.to_owned(),
                    variant: Some(variant.to_owned()),
                })
            }
            _ => Err(OciError::BadPlatform(text.to_owned())),
        }
    }

    /// The platform of the machine fabuild runs on, in OCI's words.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Self {
            os: "linux".to_owned(),
            arch: arch.to_owned(),
            variant: None,
        }
    }

    fn of(platform: &oci_spec::image::Platform) -> Self {
        Self {
            os: platform.os().to_string(),
            arch: platform.architecture().to_string(),
            variant: platform.variant().clone(),
        }
    }

    /// Whether an image for `self` satisfies a request for `wanted` (no variant asked: any).
    fn satisfies(&self, wanted: &Self) -> bool {
        self.os == wanted.os
            && self.arch == wanted.arch
            && (wanted.variant.is_none() || self.variant == wanted.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What the descriptor (or the file name, in a docker archive) says a blob must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub digest: String,
    pub size: Option<u64>,
}

/// What was found where a blob should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Missing,
    Unreadable(String),
    Read(Sum),
}

/// One blob's integrity: its role (`manifest`, `layer 2 of 3`), where it is, what it must
/// be and what it is.
#[derive(Clone, Debug)]
pub struct BlobCheck {
    pub role: String,
    pub name: String,
    pub expected: Option<Expected>,
    pub found: Found,
}

impl BlobCheck {
    /// Why this blob cannot be trusted, in words a person can act on; `None` when it can.
    pub fn problem(&self) -> Option<String> {
        let what = format!("{} ({})", self.role, self.name);
        match (&self.found, &self.expected) {
            (Found::Missing, _) => Some(format!("{what} is missing from the image")),
            (Found::Unreadable(e), _) => Some(format!("{what} cannot be read: {e}")),
            (Found::Read(sum), Some(expected)) => {
                if let Some(size) = expected.size.filter(|s| *s != sum.size) {
                    let how = if sum.size < size { "truncated: " } else { "" };
                    Some(format!(
                        "{what} is {how}{} bytes, its descriptor says {size}",
                        sum.size
                    ))
                } else if sum.digest() != expected.digest {
                    Some(format!(
                        "{what} has sha256 {}, its descriptor says {}: the blob was changed after the image was built",
                        sum.sha256,
                        expected.digest.trim_start_matches("sha256:")
                    ))
                } else {
                    None
                }
            }
            (Found::Read(_), None) => None,
        }
    }
}

/// A layer to read: where its blob is, what the blob must be, and the diff id (sha256 of
/// the uncompressed tar) the config lists for it.
#[derive(Clone, Debug)]
pub struct LayerRef {
    pub role: String,
    pub name: String,
    pub expected: Option<Expected>,
    pub diff_id: Option<String>,
}

/// An opened image, for one platform.
#[derive(Debug)]
pub struct Image {
    pub format: Format,
    pub store: Store,
    /// The platform checked, from the index or else the config.
    pub platform: Option<Platform>,
    /// Every platform the index offers (empty for a single image).
    pub platforms: Vec<Platform>,
    pub manifest_digest: Option<String>,
    /// The image index index.json names, when the manifest was found through one (a
    /// multi-platform image): the digest a registry serves for the whole image.
    pub index_digest: Option<String>,
    /// Integrity of the index, manifest and config blobs read so far.
    pub blobs: Vec<BlobCheck>,
    /// `None` when the manifest or config could not be read; `broken` says why.
    pub config: Option<ImageConfiguration>,
    pub broken: Option<String>,
    pub layers: Vec<LayerRef>,
    /// Things worth saying about how the image was read (which of several images, ...).
    pub notes: Vec<String>,
}

/// Opens the image at `path` (directory or tar), choosing the manifest for `platform`
/// when the index offers several (`None`: the host's).
pub fn open(path: &Path, platform: Option<&Platform>) -> Result<Image, OciError> {
    let shown = path.display().to_string();
    let (store, is_dir) = if path.is_dir() {
        (Store::dir(path), true)
    } else if path.exists() {
        (Store::tar(path)?, false)
    } else {
        return Err(OciError::Io {
            path: shown,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    };
    let has_index = store.has("index.json");
    let has_docker = store.has("manifest.json");
    let format = match (is_dir, has_index, has_docker) {
        (_, false, false) => {
            return Err(OciError::NotAnImage {
                path: shown,
                why: "it has neither index.json (OCI) nor manifest.json (docker save)".to_owned(),
            });
        }
        (true, true, _) => Format::OciLayout,
        (false, true, false) => Format::OciArchive,
        (_, _, true) => Format::DockerArchive,
    };
    let mut image = Image {
        format,
        store,
        platform: None,
        platforms: Vec::new(),
        manifest_digest: None,
        index_digest: None,
        blobs: Vec::new(),
        config: None,
        broken: None,
        layers: Vec::new(),
        notes: Vec::new(),
    };
    // Newer `docker save` writes an OCI layout next to manifest.json: the descriptors
    // there carry sizes and digests, so they are the better source.
    if has_index {
        open_oci(&mut image, &shown, platform)?;
    } else {
        open_docker(&mut image, &shown)?;
    }
    if let (Some(config), None) = (&image.config, &image.platform) {
        image.platform = Some(Platform {
            os: config.os().to_string(),
            arch: config.architecture().to_string(),
            variant: config.variant().clone(),
        });
    }
    if let (Some(wanted), Some(got)) = (platform, &image.platform)
        && image.platforms.is_empty()
        && !got.satisfies(wanted)
    {
        return Err(OciError::NoPlatform {
            wanted: wanted.to_string(),
            available: got.to_string(),
        });
    }
    Ok(image)
}

fn not_an_image(path: &str, why: impl Into<String>) -> OciError {
    OciError::NotAnImage {
        path: path.to_owned(),
        why: why.into(),
    }
}

/// Reads a descriptor's blob whole, recording its integrity; `None` when it cannot be used.
fn read_blob(image: &mut Image, role: &str, descriptor: &Descriptor) -> Option<Vec<u8>> {
    let digest = descriptor.digest().to_string();
    let expected = Some(Expected {
        digest: digest.clone(),
        size: Some(descriptor.size()),
    });
    let Some(hex) = sha256_hex(&digest) else {
        image.blobs.push(BlobCheck {
            role: role.to_owned(),
            name: digest.clone(),
            expected,
            found: Found::Unreadable(format!(
                "digest `{digest}` is not sha256:<64 hex digits>; fabuild checks sha256 only"
            )),
        });
        return None;
    };
    let name = format!("blobs/sha256/{hex}");
    let (found, bytes) = match image.store.read_small(&name, SMALL_BLOB_LIMIT) {
        Ok(Some(bytes)) => (Found::Read(Sum::of(&bytes)), Some(bytes)),
        Ok(None) => (Found::Missing, None),
        Err(e) => (Found::Unreadable(e.to_string()), None),
    };
    let check = BlobCheck {
        role: role.to_owned(),
        name,
        expected,
        found,
    };
    image.blobs.push(check);
    // A blob that does not match its descriptor is still parsed: a person wants to know
    // both that it was changed and what it says.
    bytes
}

fn is_index(media_type: &MediaType) -> bool {
    matches!(media_type, MediaType::ImageIndex)
        || media_type.to_string() == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// Attestations and signatures sit in indexes beside the platform images; so do OCI 1.1
/// artifacts (an SBOM `fabuild build --sbom` attaches), which carry an `artifactType`.
fn is_attestation(descriptor: &Descriptor) -> bool {
    descriptor.artifact_type().is_some()
        || descriptor.annotations().as_ref().is_some_and(|a| {
            a.get("vnd.docker.reference.type")
                .is_some_and(|v| v == "attestation-manifest")
        })
        || descriptor
            .platform()
            .as_ref()
            .is_some_and(|p| p.os().to_string() == "unknown")
}

/// The manifest to check: the only one, or the one for the platform asked for (the
/// host's by default), looking through nested indexes.
fn choose_manifest(
    image: &mut Image,
    shown: &str,
    index: &ImageIndex,
    wanted: Option<&Platform>,
) -> Result<Descriptor, OciError> {
    // Flatten nested indexes (a multi-platform image exported whole) into manifests, with
    // every count bounded: an index can list one nested index a million times.
    let too_many = |what: String| not_an_image(shown, what);
    if index.manifests().len() > MAX_INDEX_ENTRIES {
        return Err(too_many(format!(
            "index.json lists {} manifests; fabuild reads at most {MAX_INDEX_ENTRIES}",
            index.manifests().len()
        )));
    }
    let mut candidates: Vec<Descriptor> = Vec::new();
    // For each candidate, the index index.json names that it was found in, if any.
    let mut roots: Vec<Option<String>> = Vec::new();
    let mut queue: Vec<(Descriptor, usize, Option<String>)> = index
        .manifests()
        .iter()
        .cloned()
        .map(|d| (d, 0, None))
        .collect();
    queue.reverse();
    let mut listed = queue.len();
    let mut nested_read = 0;
    while let Some((descriptor, depth, root)) = queue.pop() {
        if is_index(descriptor.media_type()) {
            if depth >= MAX_INDEX_DEPTH || nested_read >= MAX_NESTED_INDEXES {
                return Err(too_many(format!(
                    "its indexes nest more than {MAX_INDEX_DEPTH} deep or number more than {MAX_NESTED_INDEXES}"
                )));
            }
            nested_read += 1;
            let Some(bytes) = read_blob(image, "image index", &descriptor) else {
                continue;
            };
            let nested = serde_json::from_slice::<ImageIndex>(&bytes).map_err(|e| {
                not_an_image(
                    shown,
                    format!(
                        "the index {} is not an image index: {e}",
                        descriptor.digest()
                    ),
                )
            })?;
            listed += nested.manifests().len();
            if listed > MAX_INDEX_ENTRIES {
                return Err(too_many(format!(
                    "its indexes list more than {MAX_INDEX_ENTRIES} manifests"
                )));
            }
            let root = root.or_else(|| Some(descriptor.digest().to_string()));
            let mut inner: Vec<_> = nested
                .manifests()
                .iter()
                .cloned()
                .map(|d| (d, depth + 1, root.clone()))
                .collect();
            inner.reverse();
            queue.extend(inner);
        } else if !is_attestation(&descriptor) {
            candidates.push(descriptor);
            roots.push(root);
        }
    }
    if candidates.is_empty() {
        return Err(not_an_image(shown, "its index lists no image manifest"));
    }
    let platforms: Vec<Platform> = candidates
        .iter()
        .filter_map(|d| d.platform().as_ref().map(Platform::of))
        .collect();
    let chosen = if candidates.len() == 1 {
        image.index_digest = roots.remove(0);
        candidates.remove(0)
    } else if platforms.len() == candidates.len() {
        let target = wanted.cloned().unwrap_or_else(Platform::host);
        let position = candidates
            .iter()
            .position(|d| {
                d.platform()
                    .as_ref()
                    .is_some_and(|p| Platform::of(p).satisfies(&target))
            })
            .ok_or_else(|| OciError::NoPlatform {
                wanted: target.to_string(),
                available: platforms
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        image.platforms = platforms;
        image.index_digest = roots.remove(position);
        candidates.remove(position)
    } else {
        image.notes.push(format!(
            "index.json lists {} images without platforms; checked the first ({})",
            candidates.len(),
            candidates[0].digest()
        ));
        image.index_digest = roots.remove(0);
        candidates.remove(0)
    };
    Ok(chosen)
}

fn open_oci(image: &mut Image, shown: &str, wanted: Option<&Platform>) -> Result<(), OciError> {
    let bytes = image
        .store
        .read_small("index.json", SMALL_BLOB_LIMIT)?
        .ok_or_else(|| not_an_image(shown, "index.json is missing"))?;
    let index = serde_json::from_slice::<ImageIndex>(&bytes)
        .map_err(|e| not_an_image(shown, format!("index.json is not an OCI image index: {e}")))?;
    let chosen = choose_manifest(image, shown, &index, wanted)?;
    image.platform = chosen.platform().as_ref().map(Platform::of);
    image.manifest_digest = Some(chosen.digest().to_string());

    let Some(bytes) = read_blob(image, "manifest", &chosen) else {
        image.broken = Some("the manifest could not be read".to_owned());
        return Ok(());
    };
    let manifest = match serde_json::from_slice::<ImageManifest>(&bytes) {
        Ok(m) => m,
        Err(e) => {
            image.broken = Some(format!("the manifest is not an image manifest: {e}"));
            return Ok(());
        }
    };
    let config = read_blob(image, "config", manifest.config());
    let count = manifest.layers().len();
    image.layers = manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let digest = d.digest().to_string();
            LayerRef {
                role: format!("layer {} of {count}", i + 1),
                // blobs/<algorithm>/<hex>, as the layout spec puts any digest.
                name: format!("blobs/{}", digest.replacen(':', "/", 1)),
                expected: Some(Expected {
                    digest,
                    size: Some(d.size()),
                }),
                diff_id: None,
            }
        })
        .collect();
    set_config(image, config.as_deref());
    Ok(())
}

/// Parses the config and hands each layer its diff id.
fn set_config(image: &mut Image, bytes: Option<&[u8]>) {
    let Some(bytes) = bytes else {
        image.broken = Some("the config could not be read".to_owned());
        return;
    };
    match serde_json::from_slice::<ImageConfiguration>(bytes) {
        Ok(config) => {
            let diff_ids = config.rootfs().diff_ids();
            if diff_ids.len() == image.layers.len() {
                for (layer, diff_id) in image.layers.iter_mut().zip(diff_ids) {
                    layer.diff_id = Some(diff_id.clone());
                }
            } else {
                image.notes.push(format!(
                    "the config lists {} diff ids for {} layers",
                    diff_ids.len(),
                    image.layers.len()
                ));
            }
            image.config = Some(config);
        }
        Err(e) => image.broken = Some(format!("the config is not an image config: {e}")),
    }
}

/// One image of a `docker save` manifest.json.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn open_docker(image: &mut Image, shown: &str) -> Result<(), OciError> {
    let bytes = image
        .store
        .read_small("manifest.json", SMALL_BLOB_LIMIT)?
        .ok_or_else(|| not_an_image(shown, "manifest.json is missing"))?;
    let mut entries: Vec<DockerEntry> = serde_json::from_slice(&bytes).map_err(|e| {
        not_an_image(
            shown,
            format!("manifest.json is not a docker save manifest: {e}"),
        )
    })?;
    if entries.is_empty() {
        return Err(not_an_image(shown, "manifest.json lists no image"));
    }
    if entries.len() > 1 {
        image.notes.push(format!(
            "the archive holds {} images; checked the first ({})",
            entries.len(),
            entries[0]
                .repo_tags
                .as_ref()
                .and_then(|t| t.first().cloned())
                .unwrap_or_else(|| entries[0].config.clone())
        ));
    }
    let entry = entries.remove(0);
    // The config is named after its digest (`<hex>.json` or `blobs/sha256/<hex>`); layers
    // are plain tars whose digest is the diff id the config lists.
    let config_name = entry.config.trim_start_matches("./").to_owned();
    let stem = config_name
        .rsplit('/')
        .next()
        .unwrap_or(&config_name)
        .trim_end_matches(".json");
    let expected = is_sha256_hex(stem).then(|| Expected {
        digest: format!("sha256:{stem}"),
        size: None,
    });
    let (found, config) = match image.store.read_small(&config_name, SMALL_BLOB_LIMIT) {
        Ok(Some(bytes)) => (Found::Read(Sum::of(&bytes)), Some(bytes)),
        Ok(None) => (Found::Missing, None),
        Err(e) => (Found::Unreadable(e.to_string()), None),
    };
    image.blobs.push(BlobCheck {
        role: "config".to_owned(),
        name: config_name,
        expected,
        found,
    });
    let count = entry.layers.len();
    image.layers = entry
        .layers
        .iter()
        .enumerate()
        .map(|(i, name)| LayerRef {
            role: format!("layer {} of {count}", i + 1),
            name: name.trim_start_matches("./").to_owned(),
            expected: None,
            diff_id: None,
        })
        .collect();
    set_config(image, config.as_deref());
    Ok(())
}
