//! The output directory as one opened object: reached from the project without following
//! links, locked against other writers, and read and written only through its handle.
//!
//! gen checks that the output directory is inside the project, then writes there. Going
//! through the path twice would let a link swapped in between lead the writes elsewhere;
//! every operation here is relative to the directory handle opened once, from the project
//! root down, with no link followed on the way.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::read::{MAX_TEXT_BYTES, ReadError};

const TEMP_PREFIX: &str = ".fabuild-";
const TEMP_SUFFIX: &str = ".tmp";

/// An opened output directory.
#[derive(Debug)]
pub struct OutDir {
    fd: OwnedFd,
    /// The project's real path: a file in the directory that is a link is read only if it
    /// leads inside it.
    root: PathBuf,
    /// The directory's real path, when it was opened: for reading through such links.
    real: PathBuf,
}

/// How a staged file took its target's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swap {
    /// There was no file: the temporary was renamed to the name.
    Created,
    /// The temporary and the old file traded names: the old one is now under the
    /// temporary's name, to check, and to put back if anything fails.
    Exchanged,
    /// The file system cannot trade names: the temporary was renamed over the old file.
    Replaced,
}

impl OutDir {
    /// Opens `rel` (`/`-separated plain names, links already resolved) under the project at
    /// `root` (its real path), creating the directories that are missing. A name on the way
    /// that is (now) a link is refused, not followed.
    pub fn open(root: &Path, rel: &str) -> io::Result<Self> {
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut fd = rustix::fs::openat(rustix::fs::CWD, root, dir_flags, Mode::empty())?;
        let mut path = root.to_path_buf();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            match rustix::fs::mkdirat(&fd, part, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            fd = rustix::fs::openat(&fd, part, dir_flags, Mode::empty()).map_err(|e| {
                if e == Errno::LOOP {
                    io::Error::other(format!(
                        "{} became a link while gen ran; not following it",
                        path.join(part).display()
                    ))
                } else {
                    e.into()
                }
            })?;
            path.push(part);
        }
        Ok(Self {
            fd,
            root: root.to_path_buf(),
            real: path,
        })
    }

    /// Waits until no other fabuild writes here, and keeps others out until this handle is
    /// dropped (or the process dies: the kernel releases the lock, so a killed run never
    /// blocks the next one).
    pub fn lock(&self) -> io::Result<()> {
        loop {
            match rustix::fs::flock(&self.fd, FlockOperation::LockExclusive) {
                Err(Errno::INTR) => {}
                other => return other.map_err(Into::into),
            }
        }
    }

    /// Removes the temporaries runs that were killed left behind. Only under the lock: a
    /// writer stages files only while it holds it, so any temporary here now is stale.
    pub fn remove_stale_temps(&self) {
        let Ok(entries) = rustix::fs::Dir::read_from(&self.fd) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy();
            if is_temp(&name) {
                let _ = rustix::fs::unlinkat(&self.fd, entry.file_name(), AtFlags::empty());
            }
        }
    }

    /// The text of `name` in the directory, line endings normalised to `\n`, or `None` if
    /// there is no such file. A link is read only if it leads to a regular file in the
    /// project (as gen's first look at the file does); the name is never followed to
    /// anything else.
    pub fn read(&self, name: &str) -> Result<Option<String>, ReadError> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let bytes = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => {
                return crate::read::project_bytes(
                    &self.root,
                    &self.real.join(name),
                    MAX_TEXT_BYTES,
                )
                .map(|b| b.map(|b| normalised(&b)));
            }
            Err(e) => return Err(io::Error::from(e).into()),
            Ok(fd) => {
                let file = File::from(fd);
                // Opened without waiting (O_NONBLOCK), so a FIFO is refused, not waited on.
                if !file.metadata()?.is_file() {
                    return Err(ReadError::NotAFile);
                }
                let mut bytes = Vec::new();
                file.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes)?;
                if bytes.len() as u64 > MAX_TEXT_BYTES {
                    return Err(ReadError::TooLarge {
                        limit: MAX_TEXT_BYTES,
                    });
                }
                bytes
            }
        };
        Ok(Some(normalised(&bytes)))
    }

    /// Writes `content` to a new temporary file here, readable by all (generated files are
    /// ordinary files), not yet synced; returns its name and the open file.
    pub fn stage(&self, content: &str) -> io::Result<(String, File)> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(0o644);
        for n in 0u32.. {
            let name = format!("{TEMP_PREFIX}{}-{n}{TEMP_SUFFIX}", std::process::id());
            let fd = match rustix::fs::openat(&self.fd, name.as_str(), flags, mode) {
                Err(Errno::EXIST) => continue,
                other => other?,
            };
            let mut file = File::from(fd);
            let written = file
                .write_all(content.as_bytes())
                // The mode given at creation loses the bits the umask takes away.
                .and_then(|()| Ok(rustix::fs::fchmod(&file, mode)?));
            if let Err(e) = written {
                self.remove(&name);
                return Err(e);
            }
            return Ok((name, file));
        }
        unreachable!("a free temporary name is found well before 2^32 tries")
    }

    /// Puts the staged file `temp` under `name`: a new name only if nothing is there
    /// (`had_file` false), else by trading places with the old file, so that the old file
    /// can still be checked and put back. `ErrorKind::Unsupported` when the file system
    /// can do neither (the caller falls back to a plain rename).
    pub fn swap_in(&self, temp: &str, name: &str, had_file: bool) -> io::Result<Swap> {
        let (flags, swap) = if had_file {
            (RenameFlags::EXCHANGE, Swap::Exchanged)
        } else {
            (RenameFlags::NOREPLACE, Swap::Created)
        };
        match rustix::fs::renameat_with(&self.fd, temp, &self.fd, name, flags) {
            Ok(()) => Ok(swap),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                Err(io::ErrorKind::Unsupported.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Trades the names of two entries back (undoing `Swap::Exchanged`).
    pub fn exchange(&self, a: &str, b: &str) -> io::Result<()> {
        rustix::fs::renameat_with(&self.fd, a, &self.fd, b, RenameFlags::EXCHANGE)
            .map_err(Into::into)
    }

    /// Renames `from` to `to`, replacing it.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(Into::into)
    }

    /// Removes `name`, if it is there.
    pub fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
    }

    /// Makes the renames durable; a file system that cannot sync a directory is not worth
    /// failing over.
    pub fn sync(&self) {
        let _ = rustix::fs::fsync(&self.fd);
    }

    /// The directory's identity: its device and inode. Two handles with the same identity
    /// are one directory (and one lock: a second `flock` on it from this process would wait
    /// for the first forever).
    pub fn identity(&self) -> io::Result<(u64, u64)> {
        let stat = rustix::fs::fstat(&self.fd)?;
        Ok((stat.st_dev, stat.st_ino))
    }

    /// Writes back everything of the file system this directory is on, and waits: one
    /// sync for every file staged there (and every rename done there) by now.
    pub fn sync_file_system(&self) -> io::Result<()> {
        rustix::fs::syncfs(&self.fd).map_err(Into::into)
    }
}

fn is_temp(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// File text as gen compares it: lossy UTF-8, CRLF as LF (a CRLF checkout is unchanged).
pub fn normalised(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n")
}
