//! `CPython`'s bytecode cache (`__pycache__/NAME.cpython-XY.pyc`, PEP 3147 and PEP 552): the
//! 16-byte header, and the source hash an unchecked-hash file carries.
//!
//! A hash-based `.pyc` holds the magic number of the Python that wrote it, flags (bit 0:
//! hash-based; bit 1: check the source), then `CPython`'s keyed hash of the source bytes
//! (`_imp.source_hash(importlib.util._RAW_MAGIC_NUMBER, source)`): SipHash-1-3 from Python
//! 3.11 (checked against 3.11 here, `tests`), SipHash-2-4 before, keyed with the magic
//! number read as a little-endian integer. An *unchecked* one is loaded without reading the
//! source at all, so it must match the source it sits beside.

/// The header's size.
pub const HEADER: usize = 16;

/// The flags of an unchecked-hash `.pyc` (`--invalidation-mode unchecked-hash`).
pub const UNCHECKED_HASH: u32 = 0b01;

/// The magic numbers of the Python versions fabuild plans for, as the interpreter writes them
/// (`importlib.util.MAGIC_NUMBER`: two bytes little-endian, then `\r\n`); each is fixed for a
/// minor version from its first release candidate on.
pub const MAGIC: [(&str, u16); 6] = [
    ("3.8", 3413),
    ("3.9", 3425),
    ("3.10", 3439),
    ("3.11", 3495),
    ("3.12", 3531),
    ("3.13", 3571),
];

/// A `.pyc` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 4],
    pub flags: u32,
    /// The source hash when hash-based (`flags & 1`), else the mtime and size fields.
    pub hash: [u8; 8],
}

impl Header {
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; HEADER] = bytes.get(..HEADER)?.try_into().ok()?;
        let magic: [u8; 4] = bytes[..4].try_into().ok()?;
        if magic[2..] != *b"\r\n" {
            return None;
        }
        Some(Self {
            magic,
            flags: u32::from_le_bytes(bytes[4..8].try_into().ok()?),
            hash: bytes[8..].try_into().ok()?,
        })
    }

    /// The Python `X.Y` that wrote it, when it is one of `MAGIC`.
    pub fn python(&self) -> Option<&'static str> {
        let number = u16::from_le_bytes([self.magic[0], self.magic[1]]);
        MAGIC.iter().find(|(_, m)| *m == number).map(|(v, _)| *v)
    }
}

/// `name.cpython-XY.pyc` for `name.py`, as `importlib.util.cache_from_source` names it (no
/// optimisation level).
pub fn cache_name(source_file: &str, python_version: &str) -> Option<String> {
    let stem = source_file.strip_suffix(".py")?;
    Some(format!(
        "{stem}.cpython-{}.pyc",
        python_version.replace('.', "")
    ))
}

/// The keyed hash `CPython` puts in a hash-based `.pyc` for `python_version` (`X.Y`), streamed.
#[derive(Clone, Debug)]
pub struct SourceHash {
    v: [u64; 4],
    tail: u64,
    tail_len: usize,
    len: u64,
    c_rounds: usize,
    d_rounds: usize,
}

impl SourceHash {
    /// `None` for a version `MAGIC` does not list.
    pub fn new(python_version: &str) -> Option<Self> {
        let (_, number) = MAGIC.iter().find(|(v, _)| *v == python_version)?;
        let [lo, hi] = number.to_le_bytes();
        let key = u64::from(u32::from_le_bytes([lo, hi, b'\r', b'\n']));
        let minor: u32 = python_version.strip_prefix("3.")?.parse().ok()?;
        let (c_rounds, d_rounds) = if minor >= 11 { (1, 3) } else { (2, 4) };
        Some(Self {
            v: [
                key ^ 0x736f_6d65_7073_6575,
                0x646f_7261_6e64_6f6d,
                key ^ 0x6c79_6765_6e65_7261,
                0x7465_6462_7974_6573,
            ],
            tail: 0,
            tail_len: 0,
            len: 0,
            c_rounds,
            d_rounds,
        })
    }

    fn round(&mut self) {
        let v = &mut self.v;
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    fn word(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..self.c_rounds {
            self.round();
        }
        self.v[0] ^= m;
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.tail_len);
            self.tail_len += 1;
            if self.tail_len == 8 {
                let m = self.tail;
                self.word(m);
                self.tail = 0;
                self.tail_len = 0;
            }
        }
    }

    /// The 8 bytes as the header holds them.
    pub fn finish(mut self) -> [u8; 8] {
        let last = self.tail | ((self.len & 0xff) << 56);
        self.word(last);
        self.v[2] ^= 0xff;
        for _ in 0..self.d_rounds {
            self.round();
        }
        (self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]).to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(version: &str, bytes: &[u8]) -> String {
        let mut h = SourceHash::new(version).unwrap();
        // Split unevenly: the stream must not depend on how it is fed.
        let (a, b) = bytes.split_at(bytes.len() / 3);
        h.update(a);
        h.update(b);
        h.finish().iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    #[test]
    fn the_hash_is_the_one_python_3_11_writes() {
        // From `_imp.source_hash(importlib.util._RAW_MAGIC_NUMBER, data).hex()` in 3.11.7.
        assert_eq!(hash("3.11", b""), "738d9cd5d5e87f73");
        assert_eq!(hash("3.11", b"abc"), "c7af82e77c1da4f5");
        assert_eq!(hash("3.11", &b"x=1\n".repeat(37)), "cb1c3d7c8aa612e3");
        let all: Vec<u8> = (0..200u8).collect();
        assert_eq!(hash("3.11", &all), "48319d74e9b32277");
    }

    #[test]
    fn a_header_names_its_python_and_its_mode() {
        let mut bytes = vec![0xa7, 0x0d, b'\r', b'\n', 1, 0, 0, 0];
        bytes.extend([7; 8]);
        let header = Header::parse(&bytes).unwrap();
        assert_eq!(header.python(), Some("3.11"));
        assert_eq!(header.flags, UNCHECKED_HASH);
        assert_eq!(Header::parse(&bytes[..10]), None);
        assert_eq!(
            cache_name("app.py", "3.12").as_deref(),
            Some("app.cpython-312.pyc")
        );
    }
}
