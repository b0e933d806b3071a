//! The build cache, content-addressed and checked on every read: an entry is a file named
//! after the sha256 of its bytes, in a directory named after what it is the cache of
//! (`base/<manifest hex>/<sha256>`, `deps/<key>/<sha256>`), and a blob is kept under its
//! digest (`blobs/sha256/<hex>`). The one directory tree, `interpreters/<key>/`, is checked
//! against its listing on every use instead (see bytecode.rs).
//! `out-blobs/` holds the stamps of the blobs builds moved into their `--out` (see
//! `publish::Kept`).
//!
//! A file whose bytes no longer hash to its name was changed after fabuild wrote it: it is
//! a cache miss, with a note saying so, and it is removed; it is never an input. Entries
//! are written to a temporary file and renamed into place, so two builds sharing a cache,
//! or a build killed midway, leave whole entries or none.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::oci::digest::{Sum, is_sha256_hex, sha256_hex};
use crate::oci::layer;
use crate::oci::store::open_in;
use crate::oci::tarstream::Holes;
use crate::oci::writer::{Layout, WrittenLayer};

/// How many files of one entry's directory are looked at.
const MAX_CANDIDATES: usize = 16;

/// The cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Vec<u8>),
    Miss,
    /// Files that did not match their names (removed), and why; a miss.
    Changed(Vec<String>),
}

impl Cache {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The cache directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entry_dir(&self, kind: &str, key: &str) -> PathBuf {
        self.root.join(kind).join(key)
    }

    /// Whether anything is stored for `kind/key` (not checked: `get` checks).
    pub fn has(&self, kind: &str, key: &str) -> bool {
        self.entry_dir(kind, key).is_dir()
    }

    /// The bytes stored for `kind/key` (at most `limit`), checked against their name.
    pub fn get(&self, kind: &str, key: &str, limit: u64) -> Lookup {
        let dir = self.entry_dir(kind, key);
        let Ok(listing) = fs::read_dir(&dir) else {
            return Lookup::Miss;
        };
        let mut names: Vec<String> = listing
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_sha256_hex(n))
            .take(MAX_CANDIDATES)
            .collect();
        names.sort();
        let mut changed = Vec::new();
        for name in names {
            let path = dir.join(&name);
            match read_regular(&dir, &name, limit) {
                Ok(bytes) if Sum::of(&bytes).sha256 == name => return Lookup::Hit(bytes),
                Ok(_) | Err(_) => {
                    changed.push(format!(
                        "the cache entry {} does not hash to its name: it was changed after fabuild wrote it; not used, removed and rebuilt",
                        path.display()
                    ));
                    let _ = fs::remove_file(&path);
                }
            }
        }
        if changed.is_empty() {
            Lookup::Miss
        } else {
            Lookup::Changed(changed)
        }
    }

    /// Stores `bytes` for `kind/key`. A cache that cannot be written only costs time on
    /// the next build, so failures are ignored.
    pub fn put(&self, kind: &str, key: &str, bytes: &[u8]) {
        let dir = self.entry_dir(kind, key);
        let name = Sum::of(bytes).sha256;
        let _ = fs::create_dir_all(&dir).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
            io::Write::write_all(&mut tmp, bytes)?;
            tmp.persist(dir.join(name)).map_err(|e| e.error)?;
            Ok(())
        });
    }

    /// Where the blob `hex` is kept.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex)
    }

    /// Opens the blob `hex` if it is a regular file inside the cache (no link followed);
    /// the reader must still check that it hashes to `hex`.
    pub fn open_blob(&self, hex: &str) -> Option<(File, u64)> {
        let file = open_in(&self.root, &format!("blobs/sha256/{hex}")).ok()??;
        let size = file.metadata().ok()?.len();
        Some((file, size))
    }

    /// Copies the file at `source` in as the blob `hex`, atomically.
    pub fn put_blob(&self, source: &Path, hex: &str) {
        let dest = self.blob_path(hex);
        let Some(dir) = dest.parent() else {
            return;
        };
        let _ = fs::create_dir_all(dir).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            io::copy(&mut File::open(source)?, &mut tmp)?;
            tmp.persist(&dest).map_err(|e| e.error)?;
            Ok(())
        });
    }

    /// Removes the blob `hex`, which did not hash to its name.
    pub fn drop_blob(&self, hex: &str) {
        let _ = fs::remove_file(self.blob_path(hex));
    }
}

impl Cache {
    /// The layer kept for `kind/key`, copied into `layout` once its blob is checked: its
    /// size, its sha256, and the sha256 of the tar it decompresses to (the diff id).
    ///
    /// A blob `kept` says `--out` holds as a build put it there (its sha256 checked, so its
    /// diff id is the one this entry names) is neither read nor copied: publishing keeps
    /// `--out`'s.
    pub fn layer(
        &self,
        kind: &str,
        key: &str,
        layout: &Layout,
        kept: Option<&super::publish::Kept>,
        notes: &mut Vec<String>,
    ) -> Option<WrittenLayer> {
        let bytes = match self.get(kind, key, 64 << 10) {
            Lookup::Hit(bytes) => bytes,
            Lookup::Miss => return None,
            Lookup::Changed(why) => {
                notes.extend(why);
                return None;
            }
        };
        let layer: WrittenLayer = serde_json::from_slice(&bytes).ok()?;
        let hex = sha256_hex(&layer.digest)?;
        if let Some(kept) = kept
            && kept.holds(hex, layer.size)
        {
            kept.defer(hex, layer.size);
            return Some(layer);
        }
        let (file, size) = self.open_blob(hex)?;
        let read = layer::read_layer(file, size, Holes::Compact, &mut |_, _| Ok(()));
        let diff = read.diff.as_ref().map(Sum::digest);
        let whole = read.error.is_none()
            && size == layer.size
            && read.blob.sha256 == hex
            && diff.as_deref() == Some(layer.diff_id.as_str());
        let copied = whole
            && self
                .open_blob(hex)
                .is_some_and(|(mut file, _)| layout.put_blob_reader(&mut file, hex).is_ok());
        if !copied {
            notes.push(format!(
                "the cached layer {} does not hash to its digest and diff id: it was changed after fabuild wrote it; not used, removed and rebuilt",
                self.blob_path(hex).display()
            ));
            self.drop_blob(hex);
            return None;
        }
        Some(layer)
    }

    /// Keeps `layer`, whose blob is at `blob`, for `kind/key`.
    pub fn put_layer(&self, kind: &str, key: &str, layer: &WrittenLayer, blob: &Path) {
        if let Some(hex) = sha256_hex(&layer.digest) {
            self.put_blob(blob, hex);
            self.put(kind, key, &serde_json::to_vec(layer).expect("serialises"));
        }
    }
}

/// The bytes of the regular file `name` in `dir` (not a link, a FIFO or a device), up to
/// `limit`.
fn read_regular(dir: &Path, name: &str, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_in(dir, name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_changed_after_it_was_written_is_a_miss_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        cache.put("base", "m", b"facts");
        assert!(matches!(cache.get("base", "m", 1 << 20), Lookup::Hit(b) if b == b"facts"));
        let file = fs::read_dir(dir.path().join("base/m"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        fs::write(&file, b"edited").unwrap();
        assert!(matches!(cache.get("base", "m", 1 << 20), Lookup::Changed(w) if w.len() == 1));
        assert!(!file.exists());
        assert!(matches!(cache.get("base", "m", 1 << 20), Lookup::Miss));
    }

    #[test]
    fn an_entry_that_is_a_fifo_or_a_link_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let entry = dir.path().join("base/m");
        fs::create_dir_all(&entry).unwrap();
        let fifo = entry.join(Sum::of(b"facts").sha256);
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Opening the FIFO for reading would wait for a writer forever.
        assert!(matches!(
            cache.get("base", "m", 1 << 20),
            Lookup::Changed(_)
        ));
        fs::write(dir.path().join("facts"), b"facts").unwrap();
        std::os::unix::fs::symlink(dir.path().join("facts"), &fifo).unwrap();
        assert!(matches!(
            cache.get("base", "m", 1 << 20),
            Lookup::Changed(_)
        ));
    }
}
