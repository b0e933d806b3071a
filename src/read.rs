//! Reading the text files fabuild is pointed at or finds in a project, with bounds.
//!
//! A file is read only up to a limit: a 5 GB file, or a link to `/dev/zero`, must not
//! exhaust memory. A file fabuild finds in a project by name (`gunicorn.conf.py`,
//! `.python-version`, a generated `Dockerfile`) is read only if it is a regular file inside
//! the project, through links too: a cloned repository can hold links (git keeps them), and
//! one named `gunicorn.conf.py` must not make fabuild read `~/.aws/credentials` into its
//! output, or wait forever on a FIFO.

use std::io::Read;
use std::path::{Path, PathBuf};

/// How much of one text file fabuild reads: far above any real Dockerfile, requirements
/// file or gunicorn.conf.py.
pub const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is larger than {}", size(*limit))]
    TooLarge { limit: u64 },
    #[error("is not UTF-8 text (line {line}, column {column})")]
    NotUtf8 { line: usize, column: usize },
    #[error("is not a regular file")]
    NotAFile,
    #[error("is a link to {}, outside the project", target.display())]
    OutsideProject { target: PathBuf },
}

/// `limit` as people write it: `16 MiB`, or `9 bytes`.
fn size(limit: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if limit >= MIB && limit.is_multiple_of(MIB) {
        format!("{} MiB", limit / MIB)
    } else {
        format!("{limit} bytes")
    }
}

/// The bytes of `path`, whatever it is (a FIFO from `<(...)` too), up to `limit` bytes.
pub fn bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// A reader of exactly `expected` bytes: an error (`InvalidData`) when the stream ends
/// sooner or holds more, so a size someone claimed is checked against the bytes, never
/// trusted. `claim` says whose size it is, for the message: "its zip header claims".
pub struct Exactly<R> {
    inner: R,
    expected: u64,
    seen: u64,
    claim: &'static str,
}

impl<R: Read> Exactly<R> {
    pub fn new(inner: R, expected: u64, claim: &'static str) -> Self {
        Self {
            inner,
            expected,
            seen: 0,
            claim,
        }
    }
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let invalid =
            |message: String| std::io::Error::new(std::io::ErrorKind::InvalidData, message);
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.expected - self.seen;
        if left == 0 {
            // At the claimed end, one more byte tells a longer stream from a whole one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(invalid(format!(
                    "holds more than the {} bytes {}",
                    self.expected, self.claim
                ))),
            };
        }
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(invalid(format!(
                "ends after {} bytes, not the {} {}",
                self.seen, self.expected, self.claim
            )));
        }
        self.seen += n as u64;
        Ok(n)
    }
}

/// The text of `path`, whatever it is, up to `limit` bytes.
pub fn text(path: &Path, limit: u64) -> Result<String, ReadError> {
    utf8(bytes(path, limit)?)
}

/// The text of `path` if it is a regular file (links followed), up to `limit` bytes: for
/// files that are never a pipe, such as templates.
pub fn file_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    utf8(file_bytes(path, limit)?)
}

/// The bytes of `path` if it is a regular file (links followed), up to `limit` bytes.
fn file_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Checked before opening: opening a FIFO would wait for a writer.
    if !std::fs::metadata(path)?.is_file() {
        return Err(ReadError::NotAFile);
    }
    bytes(path, limit)
}

fn utf8(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = utf8_error_at(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        ReadError::NotUtf8 { line, column }
    })
}

/// The 1-based line and column of the first byte that is not UTF-8, given the `valid`
/// bytes before it.
pub fn utf8_error_at(valid: &[u8]) -> (usize, usize) {
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (
        valid.split(|&b| b == b'\n').count(),
        String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1,
    )
}

/// The text of the file at `path` in the project at `root`, or `None` if there is no such
/// file (see `project_bytes`).
pub fn project_text(root: &Path, path: &Path, limit: u64) -> Result<Option<String>, ReadError> {
    project_bytes(root, path, limit)?.map(utf8).transpose()
}

/// The bytes of the file at `path` (as the caller would open it: `root.join(name)`) in the
/// project at `root`, or `None` if there is no such file: a regular file whose real path
/// (links followed) is inside the project, up to `limit` bytes.
pub fn project_bytes(root: &Path, path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let resolved = match path.canonicalize() {
        Ok(resolved) => resolved,
        // A dangling link: there is no such file to read.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !resolved.starts_with(root.canonicalize()?) {
        return Err(ReadError::OutsideProject { target: resolved });
    }
    file_bytes(&resolved, limit).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_file_over_the_limit_is_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        // Sparse: a terabyte on disk costs nothing, and reading it all would never end.
        fs::File::create(&file).unwrap().set_len(1 << 40).unwrap();
        let err = text(&file, MAX_TEXT_BYTES).unwrap_err();
        assert_eq!(err.to_string(), "is larger than 16 MiB");
        fs::write(&file, "x".repeat(10)).unwrap();
        assert_eq!(
            text(&file, 9).unwrap_err().to_string(),
            "is larger than 9 bytes"
        );
        assert_eq!(text(&file, 10).unwrap(), "x".repeat(10));
    }

    #[test]
    fn invalid_utf8_is_placed_by_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"ok\nh\xc3\xa9 \xff rest").unwrap();
        assert_eq!(
            text(&file, 100).unwrap_err().to_string(),
            "is not UTF-8 text (line 2, column 4)"
        );
    }

    #[test]
    fn project_files_stay_in_the_project_and_are_files() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("credentials"), "secret").unwrap();
        let project = tempfile::tempdir().unwrap();
        let root = project.path();
        fs::write(root.join("real.txt"), "3.12\n").unwrap();
        fs::create_dir(root.join("shared")).unwrap();
        fs::write(root.join("shared/pinned"), "3.13\n").unwrap();
        symlink("shared/pinned", root.join("inside-link")).unwrap();
        symlink(
            outside.path().join("credentials"),
            root.join("outside-link"),
        )
        .unwrap();
        symlink("/dev/zero", root.join("zero")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();
        mkfifo(&root.join("fifo"));

        assert_eq!(
            project_text(root, &root.join("real.txt"), 100)
                .unwrap()
                .unwrap(),
            "3.12\n"
        );
        assert_eq!(
            project_text(root, &root.join("inside-link"), 100)
                .unwrap()
                .unwrap(),
            "3.13\n"
        );
        assert!(
            project_text(root, &root.join("missing"), 100)
                .unwrap()
                .is_none()
        );
        assert!(
            project_text(root, &root.join("dangling"), 100)
                .unwrap()
                .is_none()
        );
        let err = project_text(root, &root.join("outside-link"), 100).unwrap_err();
        assert!(matches!(err, ReadError::OutsideProject { .. }), "{err}");
        assert!(!err.to_string().contains("secret"));
        assert!(matches!(
            project_text(root, &root.join("zero"), 100),
            Err(ReadError::OutsideProject { .. })
        ));
        assert!(matches!(
            project_text(root, &root.join("fifo"), 100),
            Err(ReadError::NotAFile)
        ));
        assert!(matches!(
            project_text(root, &root.join("shared"), 100),
            Err(ReadError::NotAFile)
        ));
    }

    #[test]
    fn a_claimed_size_is_checked_against_the_bytes() {
        let read = |bytes: &[u8], expected| {
            let mut out = Vec::new();
            Exactly::new(bytes, expected, "its header claims")
                .read_to_end(&mut out)
                .map(|_| out)
                .map_err(|e| e.to_string())
        };
        assert_eq!(read(b"abc", 3).unwrap(), b"abc");
        assert_eq!(
            read(b"abc", 4).unwrap_err(),
            "ends after 3 bytes, not the 4 its header claims"
        );
        assert_eq!(
            read(b"abc", 2).unwrap_err(),
            "holds more than the 2 bytes its header claims"
        );
        assert_eq!(read(b"", 0).unwrap(), b"");
    }

    /// A FIFO, made with the system's `mkfifo` (fabuild has no libc binding of its own).
    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}
