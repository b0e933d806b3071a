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

use rustix::fs::{Mode, OFlags};

use super::OciError;
use super::tarstream::{Seeking, TarStream, Type};

/// The most files an image archive may hold: a layout has a few blobs per layer, a
/// `docker save` archive a few files per layer.
const MAX_MEMBERS: usize = 16_384;
/// Longer member names are not indexed: no image's JSON names a blob that way.
const MAX_MEMBER_NAME: usize = 1024;

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
        let not_image = |why: String| OciError::NotAnImage {
            path: path.display().to_string(),
            why,
        };
        // Not blocking on a FIFO: an archive is a regular file, seekable.
        let mut file = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(|e| io_err(e.into()))?;
        if !file.metadata().map_err(io_err)?.is_file() {
            return Err(not_image(
                "it is neither a directory nor a regular file".to_owned(),
            ));
        }
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(io_err)?;
        if n >= 2 && magic[..2] == [0x1f, 0x8b] || n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(not_image(
                "it is a compressed file; decompress it first (an image archive is a plain tar)"
                    .to_owned(),
            ));
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut archive = TarStream::new(Seeking(file));
        let mut members = HashMap::new();
        let mut seen = 0usize;
        loop {
            let entry = match archive.next_member() {
                Ok(Some(entry)) => entry,
                Ok(None) => break,
                Err(_) if seen == 0 => {
                    return Err(not_image(
                        "it is neither a directory nor a tar archive".to_owned(),
                    ));
                }
                Err(e) => return Err(not_image(format!("its tar headers are broken: {e}"))),
            };
            seen += 1;
            if seen > MAX_MEMBERS {
                return Err(not_image(format!(
                    "it holds more than {MAX_MEMBERS} files; an image archive holds a few per layer"
                )));
            }
            // No name an image's JSON can use is this long.
            if entry.path.len() > MAX_MEMBER_NAME || entry.link.len() > MAX_MEMBER_NAME {
                continue;
            }
            let name = normalise(&entry.path);
            let member = match entry.kind {
                // A sparse member has no place in the archive where its bytes are whole.
                Type::File if !entry.sparse => Member::Data {
                    offset: entry.offset,
                    size: entry.stored,
                },
                Type::Symlink => {
                    let target = String::from_utf8_lossy(&entry.link).into_owned();
                    // A relative symlink resolves against its own directory.
                    let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
                    Member::Link(resolve(base, &target))
                }
                Type::HardLink => Member::Link(normalise(&entry.link)),
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Self(Backing::Tar {
            path: path.to_path_buf(),
            members,
        }))
    }

    /// Whether the store has something at `name` (`/`-separated, relative to its root);
    /// opening it says whether it can be read.
    pub fn has(&self, name: &str) -> bool {
        match &self.0 {
            Backing::Dir(root) => !matches!(open_in(root, name), Ok(None)),
            Backing::Tar { members, .. } => lookup(members, name).is_some(),
        }
    }

    /// Opens the file at `name`; `Ok(None)` when the store does not hold it. In a
    /// directory, only a regular file reached without following a link is opened: a blob
    /// that is a link (to `/dev/zero`, to a file of the host) or a FIFO is an error.
    pub fn open(&self, name: &str) -> Result<Option<Opened>, OciError> {
        match &self.0 {
            Backing::Dir(root) => {
                let shown = || root.join(name).display().to_string();
                let Some(file) = open_in(root, name).map_err(|source| OciError::Io {
                    path: shown(),
                    source,
                })?
                else {
                    return Ok(None);
                };
                let size = file
                    .metadata()
                    .map_err(|source| OciError::Io {
                        path: shown(),
                        source,
                    })?
                    .len();
                Ok(Some(Opened {
                    reader: Box::new(file.take(size)),
                    size,
                }))
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

/// Opens `name` under `root` one component at a time, following no link: a regular file
/// inside `root`, or an error saying what is there instead; `Ok(None)` when nothing is.
pub fn open_in(root: &Path, name: &str) -> io::Result<Option<File>> {
    let parts: Vec<&str> = name.split('/').collect();
    // Names come from the image's own JSON: never let one lead outside it.
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Ok(None);
    }
    let missing = |e: rustix::io::Errno| -> io::Result<Option<File>> {
        match e {
            rustix::io::Errno::NOENT => Ok(None),
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => Err(io::Error::other(
                "it is a symbolic link, or lies under one: an image layout's files are read only as regular files inside it",
            )),
            e => Err(e.into()),
        }
    };
    let mut dir = match rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return missing(e),
    };
    let (last, parents) = parts.split_last().expect("split gives one part at least");
    for part in parents {
        dir = match rustix::fs::openat(
            &dir,
            *part,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => return missing(e),
        };
    }
    // Not blocking: opening a FIFO for reading would wait for a writer forever.
    let file = match rustix::fs::openat(
        &dir,
        *last,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => File::from(fd),
        Err(e) => return missing(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(
            "it is not a regular file (a FIFO, a device or a directory)",
        ));
    }
    Ok(Some(file))
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
