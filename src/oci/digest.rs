//! sha256 digests: parsing `sha256:<hex>` references and hashing a stream as it is read.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// What a stream turned out to be: its sha256 (lower-case hex) and its length in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sum {
    pub sha256: String,
    pub size: u64,
}

impl Sum {
    /// `sha256:<hex>`, the form descriptors and diff ids use.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.sha256)
    }

    pub fn of(bytes: &[u8]) -> Self {
        Self {
            sha256: format!("{:x}", Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }
}

/// The hex part of a `sha256:<64 hex>` digest; `None` for any other algorithm or shape.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    is_sha256_hex(hex).then_some(hex)
}

/// Whether `text` is 64 lower-case hex digits, the way blobs are named on disk.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The first 12 hex digits of a digest, as people quote them.
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

/// A reader that hashes and counts every byte that passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Reads whatever is left (so the sum covers the whole stream), then returns the sum.
    pub fn finish_draining(mut self) -> io::Result<Sum> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.finish())
    }

    /// The sum of the bytes read so far.
    pub fn finish(self) -> Sum {
        Sum {
            sha256: format!("{:x}", self.hasher.finalize()),
            size: self.len,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_through() {
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        let sum = reader.finish();
        assert_eq!(
            sum.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sum.size, 3);
        assert_eq!(sum, Sum::of(b"abc"));
    }

    #[test]
    fn parses_only_sha256_digests() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(&format!("sha256:{hex}")), Some(hex));
        assert_eq!(sha256_hex(&format!("sha512:{hex}")), None);
        assert_eq!(sha256_hex("sha256:../../etc/passwd"), None);
        assert_eq!(short(&format!("sha256:{hex}")), "ba7816bf8f01");
    }
}
