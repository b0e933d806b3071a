//! Writing OCI image layouts that come out the same to the byte from the same inputs:
//! deterministic tar layers, gzip with a fixed header, canonical JSON, and blobs that
//! appear under their digest only once complete (written to a temp file, then renamed).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::content::Content;
use super::digest::{HashingReader, Sum};
use super::gzip::ChunkedGz;

/// The gzip level of every layer fabuild writes. Pinned with the backend (flate2's zlib-rs,
/// a Rust port of zlib-ng) and the chunk size (`gzip::CHUNK`): a different level, backend
/// or chunk size gives different bytes, hence other digests. 9, not zlib's default 6:
/// zlib-rs at 6 made examples/fastapi-tls's dependency layer 1.8% larger than the one
/// stream of `miniz_oxide` at 6 that fabuild wrote before; at 9 it is 1.0% smaller. One
/// thread deflates it at 9 in 0.82 s, and the chunks go to several (see docs/build.md).
pub const GZIP_LEVEL: u32 = 9;

pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What a layer entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Content),
    Symlink(String),
}

/// One entry of a layer: what it is, its mode and owner. Times are the layer's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    pub node: Node,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// A layer's contents by path (relative, `/`-separated, no leading `/`). A `BTreeMap` of
/// `String`s iterates in bytewise order, and a parent sorts before its children.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub entries: BTreeMap<String, TreeEntry>,
}

impl Tree {
    /// A root-owned directory, with every missing parent.
    pub fn dir(&mut self, path: &str) {
        self.dir_owned(path, 0o755, 0, 0);
    }

    pub fn dir_owned(&mut self, path: &str, mode: u32, uid: u64, gid: u64) {
        self.parents(path);
        self.entries.insert(
            path.to_owned(),
            TreeEntry {
                node: Node::Dir,
                mode,
                uid,
                gid,
            },
        );
    }

    /// A root-owned file (0755 when `executable`, else 0644), parents included.
    pub fn file(&mut self, path: &str, data: Vec<u8>, executable: bool) {
        self.file_from(path, Content::Bytes(data), executable);
    }

    /// As `file`, with content that may live on disk until the layer is written.
    pub fn file_from(&mut self, path: &str, content: Content, executable: bool) {
        self.parents(path);
        self.entries.insert(
            path.to_owned(),
            TreeEntry {
                node: Node::File(content),
                mode: if executable { 0o755 } else { 0o644 },
                uid: 0,
                gid: 0,
            },
        );
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.parents(path);
        self.entries.insert(
            path.to_owned(),
            TreeEntry {
                node: Node::Symlink(target.to_owned()),
                mode: 0o777,
                uid: 0,
                gid: 0,
            },
        );
    }

    fn parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(at) = path[end..].find('/') {
            let parent = &path[..end + at];
            self.entries
                .entry(parent.to_owned())
                .or_insert_with(|| TreeEntry {
                    node: Node::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                });
            end += at + 1;
        }
    }
}

/// A layer written to a layout: the blob's sum and the uncompressed tar's (the diff id).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrittenLayer {
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    fn finish(self) -> (W, Sum) {
        (
            self.inner,
            Sum {
                sha256: format!("{:x}", self.hasher.finalize()),
                size: self.len,
            },
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `tree` as a tar (every entry's mtime `mtime`, no user or group names, no
/// extended attributes), gzips it with a fixed header in independent chunks deflated on
/// several threads (see `gzip`), and hashes both in the same pass.
/// The blob goes to `out` (any writer: a temp file, a buffer). Files on disk are streamed
/// through the tar writer's fixed buffer, so memory does not grow with the layer.
pub fn write_tar_gz<W: Write>(tree: &Tree, mtime: u64, out: W) -> io::Result<(W, Sum, Sum)> {
    let blob = HashingWriter::new(out);
    let gz = ChunkedGz::new(blob, GZIP_LEVEL);
    let tar_stream = HashingWriter::new(gz);
    let mut builder = tar::Builder::new(tar_stream);
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, entry) in &tree.entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(entry.mode);
        header.set_uid(entry.uid);
        header.set_gid(entry.gid);
        header.set_mtime(mtime);
        match &entry.node {
            Node::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), io::empty())?;
            }
            Node::File(content) => {
                // Opened only now, one at a time: a file is never held whole, and the size
                // in its header is the one its bytes are checked against.
                let (size, data) = content.open()?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                builder.append_data(&mut header, path, data)?;
            }
            Node::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    // Two zero blocks end the archive; `into_inner` writes them.
    let tar_stream = builder.into_inner()?;
    let (gz, diff) = tar_stream.finish();
    let blob = gz.finish()?;
    let (out, sum) = blob.finish();
    Ok((out, diff, sum))
}

/// An OCI image layout being written.
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    /// Creates `dir` (and `blobs/sha256`) and writes `oci-layout`.
    pub fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir.join("blobs/sha256"))?;
        let layout = Self {
            dir: dir.to_path_buf(),
        };
        layout.write_file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(layout)
    }

    fn blob_path(&self, sum: &Sum) -> PathBuf {
        self.dir.join("blobs/sha256").join(&sum.sha256)
    }

    /// Writes `bytes` as a blob named after its digest.
    pub fn put_blob(&self, bytes: &[u8]) -> io::Result<Sum> {
        let sum = Sum::of(bytes);
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))?;
        tmp.write_all(bytes)?;
        persist(tmp, &self.blob_path(&sum))?;
        Ok(sum)
    }

    /// Writes a layer from `tree`, streaming it to a temp file renamed to its digest.
    pub fn put_layer(&self, tree: &Tree, mtime: u64) -> io::Result<WrittenLayer> {
        let tmp = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))?;
        let (file, diff, sum) = write_tar_gz(tree, mtime, io::BufWriter::new(tmp))?;
        let tmp = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        persist(tmp, &self.blob_path(&sum))?;
        Ok(WrittenLayer {
            digest: sum.digest(),
            size: sum.size,
            diff_id: diff.digest(),
        })
    }

    /// Copies a blob in from a reader, byte for byte, never linking: renamed to `sha256`
    /// only once its bytes are checked to hash to it. A blob that does not is an error, and
    /// nothing of it stays in the layout.
    pub fn put_blob_reader(&self, reader: &mut dyn io::Read, sha256: &str) -> io::Result<()> {
        let dest = self.dir.join("blobs/sha256").join(sha256);
        if dest.exists() {
            return Ok(());
        }
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))?;
        let mut hashing = HashingReader::new(reader);
        io::copy(&mut hashing, &mut tmp)?;
        let sum = hashing.finish();
        if sum.sha256 != sha256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob sha256:{sha256} has sha256 {} ({} bytes): it was changed after it was written",
                    sum.sha256, sum.size
                ),
            ));
        }
        persist(tmp, &dest)
    }

    /// Writes a file at the layout's root (index.json, oci-layout), atomically.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(bytes)?;
        persist(tmp, &self.dir.join(name))
    }
}

fn persist(tmp: tempfile::NamedTempFile, dest: &Path) -> io::Result<()> {
    // Blobs and layouts are meant to be read by others: 0644, whatever the umask.
    set_readable(tmp.path())?;
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

/// Makes `path` 0644: blobs and layouts are meant to be read by others, whatever the umask.
#[cfg(unix)]
pub(crate) fn set_readable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub(crate) fn set_readable(_: &Path) -> io::Result<()> {
    Ok(())
}

/// `value` as canonical JSON: keys sorted bytewise at every level, no insignificant
/// whitespace. Sorting here, not trusting the map type, keeps the bytes stable whatever
/// `serde_json`'s features or the order a value was built in.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(key).expect("a string serialises"));
                out.push(b':');
                write_canonical(&map[key.as_str()], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).expect("a scalar serialises")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
        assert_eq!(
            String::from_utf8(canonical_json(&value)).unwrap(),
            r#"{"a":{"c":"x","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn the_same_tree_gives_the_same_bytes_and_sums() {
        let mut tree = Tree::default();
        tree.file("opt/venv/bin/tool", b"#!/bin/sh\n".to_vec(), true);
        tree.symlink("opt/venv/bin/python", "/usr/bin/python3.11");
        let (a, diff_a, sum_a) = write_tar_gz(&tree, 42, Vec::new()).unwrap();
        let (b, _, sum_b) = write_tar_gz(&tree, 42, Vec::new()).unwrap();
        assert_eq!(a, b);
        assert_eq!(sum_a, sum_b);
        assert_eq!(sum_a, Sum::of(&a));
        // gzip header: no mtime, no name.
        assert_eq!(&a[4..8], &[0, 0, 0, 0]);
        assert_eq!(a[3] & 0x08, 0);
        // The tar is whole: the diff id covers the decompressed bytes.
        let mut tar_bytes = Vec::new();
        io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&a[..]), &mut tar_bytes).unwrap();
        assert_eq!(diff_a, Sum::of(&tar_bytes));
        assert!(tar_bytes.ends_with(&[0u8; 1024]));
        let names: Vec<String> = tar::Archive::new(&tar_bytes[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "opt/",
                "opt/venv/",
                "opt/venv/bin/",
                "opt/venv/bin/python",
                "opt/venv/bin/tool"
            ]
        );
    }
}
