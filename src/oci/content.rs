//! A file's content in a layer being written: bytes fabuild made, or bytes on disk that
//! are read only as the layer is written, through a fixed buffer, so a layer of any size
//! costs the same memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::read::Exactly;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Held in memory: the small files fabuild writes itself (account files, launchers).
    Bytes(Vec<u8>),
    /// A file of the build context, read as the layer is written: the layer holds the
    /// bytes it had when it was opened then.
    File(PathBuf),
    /// `len` bytes at `offset` of a scratch file fabuild wrote (an unpacked wheel member).
    Span {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

impl Content {
    /// The content's length and a reader of exactly that many bytes (an error, never
    /// fewer bytes, if the file is cut short while it is read).
    pub fn open(&self) -> io::Result<(u64, Box<dyn Read + '_>)> {
        match self {
            Self::Bytes(data) => Ok((data.len() as u64, Box::new(&data[..]))),
            Self::File(path) => {
                let file = open_regular(path)?;
                let size = file.metadata().map_err(|e| at(path, &e))?.len();
                // Bytes appended after the open are not the file the size was taken of.
                let reader = Exactly::new(file.take(size), size, "it had when it was opened");
                Ok((
                    size,
                    Box::new(Located {
                        inner: reader,
                        path,
                    }),
                ))
            }
            Self::Span { path, offset, len } => {
                let mut file = File::open(path).map_err(|e| at(path, &e))?;
                file.seek(SeekFrom::Start(*offset))
                    .map_err(|e| at(path, &e))?;
                let reader = Exactly::new(file.take(*len), *len, "fabuild wrote");
                Ok((
                    *len,
                    Box::new(Located {
                        inner: reader,
                        path,
                    }),
                ))
            }
        }
    }
}

/// Opens `path` if it is a regular file, without following a link in its last component
/// and without waiting: the entry was walked as a file, and a FIFO or a link put in its
/// place since must be an error, not a hang or another file's bytes.
fn open_regular(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| {
        let e = io::Error::from(e);
        at(path, &e)
    })?;
    let file = File::from(fd);
    if !file.metadata().map_err(|e| at(path, &e))?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: is no longer a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// `e`, its message prefixed with the path it is about.
fn at(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A reader whose errors name the file they come from.
struct Located<'a, R> {
    inner: R,
    path: &'a Path,
}

impl<R: Read> Read for Located<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| at(self.path, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(content: &Content) -> io::Result<Vec<u8>> {
        let (len, mut reader) = content.open()?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        assert_eq!(out.len() as u64, len);
        Ok(out)
    }

    #[test]
    fn files_and_spans_are_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(
            read_all(&Content::File(path.clone())).unwrap(),
            b"0123456789"
        );
        let span = Content::Span {
            path: path.clone(),
            offset: 3,
            len: 4,
        };
        assert_eq!(read_all(&span).unwrap(), b"3456");
        // A scratch file cut short is an error, never a shorter entry.
        let past = Content::Span {
            path,
            offset: 8,
            len: 4,
        };
        let err = read_all(&past).unwrap_err().to_string();
        assert!(
            err.ends_with("ends after 2 bytes, not the 4 fabuild wrote"),
            "{err}"
        );
    }

    #[test]
    fn what_is_no_longer_a_regular_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO for reading would wait for a writer forever.
        let err = read_all(&Content::File(fifo)).unwrap_err().to_string();
        assert!(err.ends_with("fifo: is no longer a regular file"), "{err}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(read_all(&Content::File(link)).is_err());
    }
}
