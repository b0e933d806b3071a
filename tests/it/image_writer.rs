//! A small writer of synthetic OCI images for the verify tests: layers as tars (gzip, zstd
//! or plain), a config, a manifest, and the three on-disk forms verify reads (OCI layout
//! directory, oci-archive tar, docker save archive).

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One entry of a layer.
pub enum Item {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
        uid: u64,
        gid: u64,
    },
    Dir {
        path: String,
        mode: u32,
    },
    /// `.wh.<name>` next to the path it deletes.
    Whiteout(String),
}

pub fn file(path: &str, data: impl Into<Vec<u8>>) -> Item {
    Item::File {
        path: path.to_owned(),
        data: data.into(),
        mode: 0o644,
        uid: 0,
        gid: 0,
    }
}

pub fn owned_file(path: &str, data: &str, mode: u32, uid: u64, gid: u64) -> Item {
    Item::File {
        path: path.to_owned(),
        data: data.as_bytes().to_vec(),
        mode,
        uid,
        gid,
    }
}

pub fn dir(path: &str) -> Item {
    Item::Dir {
        path: path.to_owned(),
        mode: 0o755,
    }
}

#[derive(Clone, Copy)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The uncompressed tar of a layer, entries in the order given.
pub fn layer_tar(items: &[Item]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let (path, data): (String, &[u8]) = match item {
            Item::File {
                path,
                data,
                mode,
                uid,
                gid,
            } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_uid(*uid);
                header.set_gid(*gid);
                (path.clone(), data)
            }
            Item::Dir { path, mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                (format!("{path}/"), &[])
            }
            Item::Whiteout(path) => {
                let (parent, name) = path.rsplit_once('/').unwrap();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                (format!("{parent}/.wh.{name}"), &[])
            }
        };
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path.trim_start_matches('/'), data)
            .unwrap();
    }
    builder.into_inner().unwrap()
}

pub fn compress(tar: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(tar).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Zstd => {
            ruzstd::encoding::compress_to_vec(tar, ruzstd::encoding::CompressionLevel::Fastest)
        }
        Compression::None => tar.to_vec(),
    }
}

/// A built image: every blob by its hex digest, and what points at them.
pub struct Image {
    pub blobs: Vec<(String, Vec<u8>)>,
    pub manifest: String,
    pub manifest_size: usize,
    pub config: String,
    pub layers: Vec<String>,
    /// The uncompressed layer tars, for the docker archive form.
    pub tars: Vec<Vec<u8>>,
    pub config_bytes: Vec<u8>,
}

impl Image {
    /// `runtime` is the config's `config` section (User, Env, Cmd, ...).
    pub fn build(
        runtime: &Value,
        arch: &str,
        layers: &[Vec<Item>],
        compression: Compression,
    ) -> Self {
        let mut blobs = Vec::new();
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        let mut tars = Vec::new();
        let mut hexes = Vec::new();
        let media = match compression {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
        };
        for items in layers {
            let tar = layer_tar(items);
            let blob = compress(&tar, compression);
            diff_ids.push(format!("sha256:{}", sha256(&tar)));
            let hex = sha256(&blob);
            descriptors.push(
                json!({"mediaType": media, "digest": format!("sha256:{hex}"), "size": blob.len()}),
            );
            hexes.push(hex.clone());
            blobs.push((hex, blob));
            tars.push(tar);
        }
        let config_bytes = serde_json::to_vec(&json!({
            "architecture": arch,
            "os": "linux",
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        let config = sha256(&config_bytes);
        blobs.push((config.clone(), config_bytes.clone()));
        let manifest_bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config}"), "size": config_bytes.len()},
            "layers": descriptors,
        }))
        .unwrap();
        let manifest = sha256(&manifest_bytes);
        let manifest_size = manifest_bytes.len();
        blobs.push((manifest.clone(), manifest_bytes));
        Self {
            blobs,
            manifest,
            manifest_size,
            config,
            layers: hexes,
            tars,
            config_bytes,
        }
    }

    fn descriptor(&self, platform: Option<&str>) -> Value {
        let mut d = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", self.manifest),
            "size": self.manifest_size,
        });
        if let Some(p) = platform {
            let (os, arch) = p.split_once('/').unwrap();
            d["platform"] = json!({"os": os, "architecture": arch});
        }
        d
    }
}

/// Writes an OCI image layout at `dir`: one image, or several with their platforms.
pub fn write_layout(dir: &Path, images: &[(&Image, Option<&str>)]) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    for (image, _) in images {
        for (hex, bytes) in &image.blobs {
            std::fs::write(dir.join("blobs/sha256").join(hex), bytes).unwrap();
        }
    }
    let manifests: Vec<Value> = images.iter().map(|(i, p)| i.descriptor(*p)).collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Writes an OCI image layout whose index.json points at one nested image index that
/// lists the platform images, as `skopeo copy --all` exports a multi-platform image.
pub fn write_nested_layout(dir: &Path, images: &[(&Image, &str)]) {
    write_layout(
        dir,
        &images
            .iter()
            .map(|(i, p)| (*i, Some(*p)))
            .collect::<Vec<_>>(),
    );
    let manifests: Vec<Value> = images.iter().map(|(i, p)| i.descriptor(Some(p))).collect();
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap();
    let hex = sha256(&nested);
    std::fs::write(dir.join("blobs/sha256").join(&hex), &nested).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{hex}"),
            "size": nested.len(),
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Packs the layout directory `dir` into an oci-archive tar at `out`.
pub fn write_oci_archive(dir: &Path, out: &Path) {
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    builder.append_dir_all(".", dir).unwrap();
    builder.finish().unwrap();
}

/// Writes `image` as `docker save` does: manifest.json, `<config hex>.json`, layer tars.
pub fn write_docker_archive(image: &Image, out: &Path) {
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, name, data).unwrap();
    };
    let mut layer_names = Vec::new();
    for tar in &image.tars {
        let name = format!("{}/layer.tar", &sha256(tar)[..16]);
        add(&name, tar);
        layer_names.push(name);
    }
    add(&format!("{}.json", image.config), &image.config_bytes);
    let manifest = json!([{"Config": format!("{}.json", image.config), "RepoTags": ["orders-api:test"], "Layers": layer_names}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    builder.into_inner().unwrap().flush().unwrap();
}
