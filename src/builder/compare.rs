//! Two builds of the same inputs, compared: which blob differs, and for a layer, which
//! file and what about it (content, mode, owner, time, or present in one only).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::oci::image;
use crate::oci::layer::{self, Kind};
use crate::oci::tarstream::Holes;
use crate::oci::{Image, OciError};

/// The differences between the images at `a` and `b`; empty when they are identical. An
/// image index is compared platform by platform.
pub fn images(a: &Path, b: &Path) -> Result<Vec<String>, OciError> {
    let first = image::open(a, None)?;
    if first.platforms.is_empty() {
        return image_pair(&first, &image::open(b, None)?);
    }
    let mut out = Vec::new();
    for platform in &first.platforms {
        let (ia, ib) = (
            image::open(a, Some(platform))?,
            image::open(b, Some(platform))?,
        );
        out.extend(
            image_pair(&ia, &ib)?
                .into_iter()
                .map(|d| format!("{platform}: {d}")),
        );
    }
    Ok(out)
}

fn image_pair(ia: &Image, ib: &Image) -> Result<Vec<String>, OciError> {
    let mut out = Vec::new();
    if ia.manifest_digest == ib.manifest_digest {
        return Ok(out);
    }
    out.push(format!(
        "manifest: {} vs {}",
        ia.manifest_digest.as_deref().unwrap_or("?"),
        ib.manifest_digest.as_deref().unwrap_or("?")
    ));
    let config = |i: &Image| {
        i.config
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .unwrap_or_default()
    };
    let (ca, cb) = (config(ia), config(ib));
    if ca != cb {
        for key in [
            "config",
            "created",
            "history",
            "rootfs",
            "architecture",
            "os",
        ] {
            if ca.get(key) != cb.get(key) {
                out.push(format!("config: `{key}` differs"));
            }
        }
    }
    if ia.layers.len() != ib.layers.len() {
        out.push(format!("{} layers vs {}", ia.layers.len(), ib.layers.len()));
        return Ok(out);
    }
    for (la, lb) in ia.layers.iter().zip(&ib.layers) {
        let (da, db) = (
            la.expected.as_ref().map(|e| e.digest.clone()),
            lb.expected.as_ref().map(|e| e.digest.clone()),
        );
        if da == db {
            continue;
        }
        out.push(format!(
            "{}: {} vs {}",
            la.role,
            da.unwrap_or_default(),
            db.unwrap_or_default()
        ));
        let (fa, fb) = (files(ia, &la.name)?, files(ib, &lb.name)?);
        let mut shown = 0;
        for path in fa.keys().chain(fb.keys().filter(|k| !fa.contains_key(*k))) {
            let what = match (fa.get(path), fb.get(path)) {
                (Some(x), Some(y)) if x == y => continue,
                (Some(x), Some(y)) => format!("{x} vs {y}"),
                (Some(_), None) => "only in the first".to_owned(),
                (None, Some(_)) => "only in the second".to_owned(),
                (None, None) => continue,
            };
            out.push(format!("  {path}: {what}"));
            shown += 1;
            if shown == 10 {
                out.push("  ...".to_owned());
                break;
            }
        }
        if shown == 0 {
            out.push("  same files; the tar or gzip framing differs".to_owned());
        }
    }
    Ok(out)
}

/// Each entry of a layer, summarised: kind, mode, owner, size and content hash.
fn files(image: &Image, name: &str) -> Result<BTreeMap<String, String>, OciError> {
    let mut out = BTreeMap::new();
    let Some(opened) = image.store.open(name)? else {
        return Ok(out);
    };
    let _ = layer::read_layer(
        opened.reader,
        opened.size,
        Holes::Compact,
        &mut |entry, content| {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = content.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            let kind = match &entry.kind {
                Kind::Dir => "dir",
                Kind::Symlink => "symlink",
                Kind::File => "file",
                _ => "other",
            };
            out.insert(
                entry.path.clone(),
                format!(
                    "{kind} mode {:04o} {}:{} mtime {} {} bytes sha256 {:.12x}",
                    entry.mode,
                    entry.uid,
                    entry.gid,
                    entry.mtime,
                    entry.size,
                    hasher.finalize()
                ),
            );
            Ok(())
        },
    );
    Ok(out)
}
