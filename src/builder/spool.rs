//! The scratch file the wheels' members are unpacked into, one after another: the
//! dependency layer is then written from disk, so memory stays flat whatever the wheels
//! hold, and one file (not one per member) keeps the unpacking quick.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::oci::content::Content;

/// Where one member's bytes are in the spool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spooled {
    pub offset: u64,
    pub len: u64,
}

pub struct Spool {
    path: PathBuf,
    file: BufWriter<File>,
    len: u64,
}

impl Spool {
    /// A new, empty spool file in `dir` (removed with `dir`).
    pub fn create(dir: &Path) -> io::Result<Self> {
        let path = dir.join("members.spool");
        let file = File::options().write(true).create_new(true).open(&path)?;
        Ok(Self {
            path,
            file: BufWriter::with_capacity(1 << 16, file),
            len: 0,
        })
    }

    /// Appends what `fill` writes; returns where it went.
    pub fn append(
        &mut self,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<Spooled> {
        let offset = self.len;
        let mut counted = Counted {
            inner: &mut self.file,
            len: &mut self.len,
        };
        fill(&mut counted)?;
        Ok(Spooled {
            offset,
            len: self.len - offset,
        })
    }

    /// The layer content for a spooled member.
    pub fn content(&self, at: Spooled) -> Content {
        Content::Span {
            path: self.path.clone(),
            offset: at.offset,
            len: at.len,
        }
    }

    /// A spooled member's bytes, read back (for the few a wheel's install must look into).
    pub fn read(&mut self, at: Spooled) -> io::Result<Vec<u8>> {
        self.file.flush()?;
        let content = self.content(at);
        let (_, mut reader) = content.open()?;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Everything written so far, on disk for the layer writer to read.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A writer that adds what passes through it to a running length.
struct Counted<'a, W> {
    inner: &'a mut W,
    len: &'a mut u64,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        *self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_follow_each_other_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(dir.path()).unwrap();
        let a = spool.append(|w| w.write_all(b"first")).unwrap();
        let b = spool
            .append(|w| io::copy(&mut &b"second"[..], w).map(drop))
            .unwrap();
        assert_eq!(a, Spooled { offset: 0, len: 5 });
        assert_eq!(b, Spooled { offset: 5, len: 6 });
        assert_eq!(spool.read(b).unwrap(), b"second");
        assert_eq!(spool.read(a).unwrap(), b"first");
    }
}
