//! Integrity: every blob is there and is what its descriptor says (sha256 and size), and
//! each layer decompresses to the diff id the config lists for it.

use crate::oci::digest::short;
use crate::oci::{BlobCheck, Found, Image};

use super::Check;
use super::contents::LayerOutcome;

/// `integrity`: the index, manifest, config and layer blobs against their descriptors.
pub fn blobs(image: &Image, layers: &[LayerOutcome]) -> Check {
    let all: Vec<&BlobCheck> = image
        .blobs
        .iter()
        .chain(layers.iter().map(|l| &l.blob))
        .collect();
    let problems: Vec<String> = all.iter().filter_map(|b| b.problem()).collect();
    if !problems.is_empty() {
        let mut detail = problems.join("\n");
        detail.push_str(
            "\nan image whose blobs do not match its descriptors cannot be trusted: rebuild or re-export it, and do not push it",
        );
        return Check::fail("integrity", detail);
    }
    let bytes: u64 = all
        .iter()
        .filter_map(|b| match &b.found {
            Found::Read(sum) => Some(sum.size),
            _ => None,
        })
        .sum();
    let checked = all.iter().filter(|b| b.expected.is_some()).count();
    let plural = if checked == 1 { "" } else { "s" };
    let docker = image.layers.iter().all(|l| l.expected.is_none());
    let detail = if docker {
        format!(
            "{checked} blob{plural} named by digest {} (sha256); {} in {} layers, which a docker archive does not describe: they are checked against the config's diff ids (layer-diff-ids)",
            if checked == 1 {
                "matches its name"
            } else {
                "match their names"
            },
            human(bytes),
            layers.len()
        )
    } else {
        format!(
            "{checked} blob{plural} match their descriptors (sha256 and size), {} in {} layers",
            human(bytes),
            layers.len()
        )
    };
    Check::pass("integrity", detail)
}

/// `layer-diff-ids`: each layer's uncompressed tar hashes to its diff id in the config.
pub fn diff_ids(image: &Image, layers: &[LayerOutcome]) -> Check {
    if image.config.is_none() {
        return Check::skip(
            "layer-diff-ids",
            "not checked: the config could not be read",
        );
    }
    let mut problems = Vec::new();
    for (layer, outcome) in image.layers.iter().zip(layers) {
        let what = format!("{} ({})", layer.role, layer.name);
        match (&layer.diff_id, &outcome.diff) {
            (None, _) => problems.push(format!("{what} has no diff id in the config")),
            (Some(_), None) => {
                if outcome.blob.found == Found::Missing {
                    continue; // already reported by `integrity`
                }
                problems.push(format!(
                    "{what} could not be read to its end as a {} tar: {}",
                    outcome.compression.map_or("", |c| c.name()),
                    outcome.error.as_deref().unwrap_or("unknown error")
                ));
            }
            (Some(want), Some(got)) if *want != got.digest() => problems.push(format!(
                "{what} decompresses to sha256:{}, the config's diff id is {}: the layer does not belong to this config",
                short(&got.sha256),
                short(want)
            )),
            _ => {}
        }
    }
    Check::from_problems(
        "layer-diff-ids",
        &problems,
        format!(
            "{} layers decompress to the diff ids in the config",
            layers.len()
        ),
    )
}

#[allow(clippy::cast_precision_loss)]
fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}
