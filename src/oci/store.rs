//! Where an image's files live: a directory (an OCI image layout) or a tar archive
//! (`oci-archive`, `docker save`), read in place without unpacking.
//!
//! A tar archive is indexed once by seeking from header to header; a blob is then read
//! straight from its offset in the archive, so nothing is extracted and nothing large is
//! held in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::OciError;

/// One file of a tar archive: where its bytes are, or which file it links to.
#[derive(Clone, Debug)]
enum Member {
    Data { offset: u64, size: u64 },
    Link(String),
}

/// A directory or an indexed tar archive.
#[derive(Debug)]
pub struct Store(Backing);

#[derive(Debug)]
enum Backing {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        members: HashMap<String, Member>,
    },
}

/// An open file of the store and its length.
pub struct Opened {
    pub reader: Box<dyn Read>,
    pub size: u64,
}

impl Store {
    /// A directory store; no checks on what it holds.
    pub fn dir(path: &Path) -> Self {
        Self(Backing::Dir(path.to_path_buf()))
    }

    /// Indexes the tar archive at `path`.
    pub fn tar(path: &Path) -> Result<Self, OciError> {
        let io_err = |source| OciError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(io_err)?;
        if n >= 2 && magic[..2] == [0x1f, 0x8b] || n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(OciError::NotAnImage {
                path: path.display().to_string(),
                why:
                    "it is a compressed file; decompress it first (an image archive is a plain tar)"
                        .to_owned(),
            });
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let not_tar = |_: io::Error| OciError::NotAnImage {
            path: path.display().to_string(),
            why: "it is neither a directory nor a tar archive".to_owned(),
        };
        for entry in archive.entries_with_seek().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            let name = normalise(&entry.path_bytes());
            let header = entry.header();
            let member = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::Data {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink => {
                    let Some(target) = entry.link_name_bytes() else {
                        continue;
                    };
                    let target = String::from_utf8_lossy(&target).into_owned();
                    // A relative symlink resolves against its own directory.
                    let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
                    Member::Link(resolve(base, &target))
                }
                tar::EntryType::Link => {
                    let Some(target) = entry.link_name_bytes() else {
                        continue;
                    };
                    Member::Link(normalise(&target))
                }
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Self(Backing::Tar {
            path: path.to_path_buf(),
            members,
        }))
    }

    /// Whether the store holds a file at `name` (`/`-separated, relative to its root).
    pub fn has(&self, name: &str) -> bool {
        match &self.0 {
            Backing::Dir(root) => root.join(name).is_file(),
            Backing::Tar { members, .. } => lookup(members, name).is_some(),
        }
    }

    /// Opens the file at `name`; `Ok(None)` when the store does not hold it.
    pub fn open(&self, name: &str) -> Result<Option<Opened>, OciError> {
        match &self.0 {
            Backing::Dir(root) => {
                // Names come from the image's own JSON: never let one lead outside it.
                if name.starts_with('/') || name.split('/').any(|part| part == "..") {
                    return Ok(None);
                }
                let path = root.join(name);
                match File::open(&path) {
                    Ok(file) => {
                        let size = file
                            .metadata()
                            .map_err(|source| OciError::Io {
                                path: path.display().to_string(),
                                source,
                            })?
                            .len();
                        Ok(Some(Opened {
                            reader: Box::new(file),
                            size,
                        }))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(OciError::Io {
                        path: path.display().to_string(),
                        source,
                    }),
                }
            }
            Backing::Tar { path, members } => {
                let Some((offset, size)) = lookup(members, name) else {
                    return Ok(None);
                };
                let io_err = |source| OciError::Io {
                    path: path.display().to_string(),
                    source,
                };
                let mut file = File::open(path).map_err(io_err)?;
                file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
                Ok(Some(Opened {
                    reader: Box::new(file.take(size)),
                    size,
                }))
            }
        }
    }

    /// Reads a small file (index, manifest, config) whole; `limit` guards against a
    /// huge file where a small one belongs.
    pub fn read_small(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, OciError> {
        let Some(opened) = self.open(name)? else {
            return Ok(None);
        };
        if opened.size > limit {
            return Err(OciError::NotAnImage {
                path: name.to_owned(),
                why: format!(
                    "it is {} bytes; a file of this kind is at most {limit}",
                    opened.size
                ),
            });
        }
        let mut bytes = Vec::new();
        opened
            .reader
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|source| OciError::Io {
                path: name.to_owned(),
                source,
            })?;
        Ok(Some(bytes))
    }
}

fn lookup(members: &HashMap<String, Member>, name: &str) -> Option<(u64, u64)> {
    let mut name = normalise(name.as_bytes());
    // A few hops at most: docker save links repeated layers to the first copy.
    for _ in 0..8 {
        match members.get(&name)? {
            Member::Data { offset, size } => return Some((*offset, *size)),
            Member::Link(target) => name.clone_from(target),
        }
    }
    None
}

/// A tar member name as a relative `/`-separated path: no `./`, no leading or trailing `/`.
pub fn normalise(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn resolve(base: &str, target: &str) -> String {
    if target.starts_with('/') {
        normalise(target.as_bytes())
    } else {
        normalise(format!("{base}/{target}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_store_stays_inside_its_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("image")).unwrap();
        std::fs::write(dir.path().join("outside"), "x").unwrap();
        let store = Store::dir(&dir.path().join("image"));
        assert!(store.open("../outside").unwrap().is_none());
        assert!(store.open("/etc/hostname").unwrap().is_none());
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise(b"./blobs/sha256/ab"), "blobs/sha256/ab");
        assert_eq!(normalise(b"/app/"), "app");
        assert_eq!(resolve("abc", "../def/layer.tar"), "def/layer.tar");
    }
}
