//! The image's config, manifest and index: the base's config with the plan's changes,
//! written as the generated Dockerfile would leave it.

use serde_json::{Map, Value, json};

use crate::layout::APP_DIR;
use crate::oci::Machine;
use crate::oci::digest::Sum;
use crate::oci::writer::{
    Layout, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST, canonical_json,
};
use crate::plan::Plan;

use super::{AddedLayer, BuildError, base, env};

/// What the config, manifest and index are made from.
pub(super) struct Metadata<'a> {
    pub(super) plan: &'a Plan,
    pub(super) base_config: Value,
    pub(super) base: &'a base::Base,
    pub(super) base_name: &'a str,
    pub(super) base_digest: &'a str,
    pub(super) layers: &'a [AddedLayer],
    pub(super) epoch: u64,
}

/// Writes the config and manifest blobs; returns their sums. index.json is `write_index`'s.
pub(super) fn write_metadata(layout: &Layout, m: Metadata) -> Result<(Sum, Sum), BuildError> {
    let (plan, base, base_name, base_digest, layers, epoch) = (
        m.plan,
        m.base,
        m.base_name,
        m.base_digest,
        m.layers,
        m.epoch,
    );
    let layout_dir = &layout.dir;
    let config = config_json(
        plan,
        m.base_config,
        layers,
        epoch,
        base_digest,
        base.machine,
    );
    let config_bytes = canonical_json(&config);
    let config_sum = layout
        .put_blob(&config_bytes)
        .map_err(|e| BuildError::io(layout_dir, &e))?;

    let mut manifest_layers: Vec<Value> = base.manifest["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for added in layers {
        manifest_layers.push(json!({
            "mediaType": MEDIA_LAYER_GZIP,
            "digest": added.layer.digest,
            "size": added.layer.size,
        }));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_sum.digest(), "size": config_sum.size},
        "layers": manifest_layers,
        "annotations": {
            "org.opencontainers.image.base.name": base_name,
            "org.opencontainers.image.base.digest": base_digest,
        },
    });
    let manifest_bytes = canonical_json(&manifest);
    let manifest_sum = layout
        .put_blob(&manifest_bytes)
        .map_err(|e| BuildError::io(layout_dir, &e))?;
    Ok((config_sum, manifest_sum))
}

/// Writes index.json: under `tag`, the image's manifest (one platform) or an image index
/// of every platform's manifest (several), then `artifacts` (index entries of OCI 1.1
/// artifacts about them, such as the SBOMs). Returns the sum of what the tag names.
pub(super) fn write_index(
    layout: &Layout,
    images: &[(Machine, Sum)],
    tag: &str,
    artifacts: Vec<Value>,
) -> Result<Sum, BuildError> {
    let io = |e: std::io::Error| BuildError::io(&layout.dir, &e);
    let descriptor = |machine: Machine, sum: &Sum| {
        json!({
            "mediaType": MEDIA_MANIFEST,
            "digest": sum.digest(),
            "size": sum.size,
            "platform": platform_json(machine),
        })
    };
    let (mut top, sum) = match images {
        [(machine, sum)] => (descriptor(*machine, sum), sum.clone()),
        _ => {
            let index = json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_INDEX,
                "manifests": images.iter().map(|(m, s)| descriptor(*m, s)).collect::<Vec<_>>(),
            });
            let sum = layout.put_blob(&canonical_json(&index)).map_err(io)?;
            let top = json!({"mediaType": MEDIA_INDEX, "digest": sum.digest(), "size": sum.size});
            (top, sum)
        }
    };
    top["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let mut manifests = vec![top];
    manifests.extend(artifacts);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": manifests,
    });
    layout
        .write_file("index.json", &canonical_json(&index))
        .map_err(io)?;
    Ok(sum)
}

/// The platform as an index entry says it: `{"os", "architecture"}`, and `variant` when
/// the machine has one (arm64's v8).
pub(super) fn platform_json(machine: Machine) -> Value {
    let platform = machine.platform();
    let mut value = json!({"os": platform.os, "architecture": platform.arch});
    if let Some(variant) = platform.variant {
        value["variant"] = Value::from(variant);
    }
    value
}

/// The base's config with the plan's settings applied the way Dockerfile instructions
/// apply them: ENV replaces a variable in place or appends it, LABEL merges, CMD replaces.
pub(super) fn config_json(
    plan: &Plan,
    base: Value,
    layers: &[AddedLayer],
    epoch: u64,
    base_digest: &str,
    machine: Machine,
) -> Value {
    let created = crate::date::rfc3339(epoch);
    let mut config = base;
    let root = config
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut root: Map<String, Value> = root;
    let mut inner = object(root.remove("config"));

    let mut env = array(inner.remove("Env"));
    env::apply(&mut env, &plan.env);
    inner.insert("Env".to_owned(), Value::Array(env));
    inner.insert(
        "User".to_owned(),
        Value::from(format!("{}:{}", plan.uid, plan.gid)),
    );
    inner.insert(
        "Cmd".to_owned(),
        plan.cmd.iter().map(|s| Value::from(s.as_str())).collect(),
    );
    inner.insert("WorkingDir".to_owned(), Value::from(APP_DIR));
    let mut ports = object(inner.remove("ExposedPorts"));
    ports.insert(format!("{}/tcp", plan.port), json!({}));
    inner.insert("ExposedPorts".to_owned(), Value::Object(ports));
    if let Some(dir) = &plan.tls_dir {
        let mut volumes = object(inner.remove("Volumes"));
        volumes.insert(dir.clone(), json!({}));
        inner.insert("Volumes".to_owned(), Value::Object(volumes));
    }
    let mut labels = object(inner.remove("Labels"));
    for (key, value) in &plan.labels {
        labels.insert(key.clone(), Value::from(value.as_str()));
    }
    labels
        .entry("org.opencontainers.image.base.digest")
        .or_insert_with(|| Value::from(base_digest));
    inner.insert("Labels".to_owned(), Value::Object(labels));
    root.insert("config".to_owned(), Value::Object(inner));

    root.insert("created".to_owned(), Value::from(created.as_str()));
    let platform = machine.platform();
    root.insert("architecture".to_owned(), Value::from(platform.arch));
    root.insert("os".to_owned(), Value::from(platform.os));
    // amd64 keeps whatever the base said; arm64 says v8, as its index entry does.
    if let Some(variant) = platform.variant {
        root.insert("variant".to_owned(), Value::from(variant));
    }
    let mut rootfs = object(root.remove("rootfs"));
    rootfs.insert("type".to_owned(), Value::from("layers"));
    let mut diff_ids = array(rootfs.remove("diff_ids"));
    let mut history = array(root.remove("history"));
    for added in layers {
        diff_ids.push(Value::from(added.layer.diff_id.as_str()));
        history.push(json!({
            "created": created,
            "created_by": format!("fabuild build: {} layer", added.role),
            "comment": format!("fabuild {}", crate::VERSION),
        }));
    }
    rootfs.insert("diff_ids".to_owned(), Value::Array(diff_ids));
    root.insert("rootfs".to_owned(), Value::Object(rootfs));
    root.insert("history".to_owned(), Value::Array(history));
    Value::Object(root)
}

// Moved out, never cloned: a base config can be megabytes of JSON.
pub(super) fn object(value: Option<Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

pub(super) fn array(value: Option<Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}
