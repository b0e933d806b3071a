//! The C library a base image ships, read from its files, and the manylinux wheels it can
//! therefore run: what pip inside the base would accept, asked of pip on the host.
//!
//! The version comes from the library itself, not from /etc/os-release and a table of
//! distributions: glibc compiles the banner it prints when run (`GNU C Library ... release
//! version 2.36.`, csu/version.c) into every libc.so.6, whoever built it. Before glibc 2.34,
//! libc.so.6 was a link to `libc-2.X.so`, whose name says the version.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::oci::Machine;

/// The directories a glibc base keeps its C library in (Debian's multiarch ones, and
/// lib64 of Fedora, RHEL and their kin).
fn lib_dirs(machine: Machine) -> [String; 4] {
    let triplet = machine.triplet();
    [
        format!("/lib/{triplet}/"),
        format!("/usr/lib/{triplet}/"),
        "/lib64/".to_owned(),
        "/usr/lib64/".to_owned(),
    ]
}

/// The most of a libc.so.6 read to find its banner (glibc's is about 2 MB): a file from
/// an untrusted base is never read further, and is held 64 KiB at a time.
pub const MAX_LIBRARY_BYTES: u64 = 32 << 20;
const CHUNK: usize = 64 << 10;
const BANNER: &[u8] = b" release version ";

/// The oldest glibc `x86_64` manylinux wheels are built for (manylinux1, PEP 513).
const OLDEST_MINOR: u32 = 5;
/// The oldest for every other machine: manylinux2014 (PEP 599) was the first to cover
/// aarch64, as the `packaging` library's tags say.
const OLDEST_MINOR_OTHERS: u32 = 17;
/// What is assumed when the base's glibc cannot be read: manylinux2014's 2.17, which every
/// glibc base fabuild targets (Debian 10 and later, the official python images) has.
pub const ASSUMED: Glibc = Glibc {
    major: 2,
    minor: 17,
};

/// A glibc version, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Glibc {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for Glibc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the build knows of the base's C library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    /// glibc of this version, read from the library.
    Glibc(Glibc),
    /// No C library fabuild could read a version from: `ASSUMED` is used.
    Unknown,
}

impl Libc {
    /// The glibc the wheels are chosen for.
    pub fn glibc(self) -> Glibc {
        match self {
            Self::Glibc(v) => v,
            Self::Unknown => ASSUMED,
        }
    }
}

/// Whether the file at `path` (absolute, as a layer names it) tells the glibc version.
pub fn is_library(path: &str, machine: Machine) -> bool {
    lib_dirs(machine)
        .iter()
        .filter_map(|dir| path.strip_prefix(dir.as_str()))
        .any(|name| name == "libc.so.6" || versioned_name(name).is_some())
}

/// The version a C library file at `path` tells: by its name (`libc-2.31.so`), else by
/// the banner inside it (`libc.so.6`), reading at most `MAX_LIBRARY_BYTES` of `content`.
pub fn version_of(path: &str, content: &mut dyn Read) -> io::Result<Option<Glibc>> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if let Some(version) = versioned_name(name) {
        return Ok(Some(version));
    }
    from_banner(content)
}

/// `libc-2.31.so` -> 2.31.
fn versioned_name(name: &str) -> Option<Glibc> {
    parse(name.strip_prefix("libc-")?.strip_suffix(".so")?.as_bytes())
        .filter(|(_, rest)| rest.is_empty())
        .map(|(v, _)| v)
}

/// Finds `release version X.Y` in the first `MAX_LIBRARY_BYTES` of `content`, in chunks,
/// keeping the end of each chunk in case the banner straddles two.
fn from_banner(content: &mut dyn Read) -> io::Result<Option<Glibc>> {
    // What must survive from one chunk to the next: the needle and a version after it.
    const KEEP: usize = BANNER.len() + 16;
    let mut limited = content.take(MAX_LIBRARY_BYTES);
    let mut window: Vec<u8> = Vec::with_capacity(CHUNK + KEEP);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = limited.read(&mut chunk)?;
        let at_end = n == 0;
        window.extend_from_slice(&chunk[..n]);
        let finder = memchr::memmem::find_iter(&window, BANNER);
        for at in finder {
            let after = &window[at + BANNER.len()..];
            // A version cut off by the chunk's end is read again with the next chunk.
            if !at_end && after.len() < 16 {
                break;
            }
            if let Some((version, _)) = parse(after) {
                return Ok(Some(version));
            }
        }
        if at_end {
            return Ok(None);
        }
        let keep_from = window.len().saturating_sub(KEEP);
        window.drain(..keep_from);
    }
}

/// `2.36...` -> (2.36, the rest after the minor's digits).
fn parse(text: &[u8]) -> Option<(Glibc, &[u8])> {
    let number = |t: &[u8]| -> Option<(u32, usize)> {
        let len = t.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || len > 4 {
            return None;
        }
        Some((std::str::from_utf8(&t[..len]).ok()?.parse().ok()?, len))
    };
    let (major, len) = number(text)?;
    let rest = text[len..].strip_prefix(b".")?;
    let (minor, len) = number(rest)?;
    Some((Glibc { major, minor }, &rest[len..]))
}

/// The `--platform` values for pip, most specific first, as pip on a machine with this
/// glibc computes its own (the `packaging` library's manylinux tags): `manylinux_2_X` for
/// every X from the base's down to 5, each legacy alias (`manylinux2014` = `2_17`,
/// `manylinux2010` = `2_12`, `manylinux1` = `2_5`) right after the tag it stands for.
pub fn manylinux_platforms(glibc: Glibc, arch: &str) -> Vec<String> {
    if glibc.major != 2 {
        return manylinux_platforms(ASSUMED, arch);
    }
    let oldest = if matches!(arch, "x86_64" | "i686") {
        OLDEST_MINOR
    } else {
        OLDEST_MINOR_OTHERS
    };
    let mut tags = Vec::new();
    for minor in (oldest..=glibc.minor.max(oldest)).rev() {
        tags.push(format!("manylinux_2_{minor}_{arch}"));
        let alias = match minor {
            17 => "manylinux2014",
            12 => "manylinux2010",
            5 => "manylinux1",
            _ => continue,
        };
        tags.push(format!("{alias}_{arch}"));
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32) -> Glibc {
        Glibc { major, minor }
    }

    #[test]
    fn the_library_is_found_where_glibc_bases_keep_it() {
        let x86 = |p: &str| is_library(p, Machine::X86_64);
        assert!(x86("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(x86("/lib/x86_64-linux-gnu/libc-2.31.so"));
        assert!(x86("/usr/lib64/libc.so.6"));
        assert!(!x86("/usr/lib/x86_64-linux-gnu/libc.so"));
        assert!(!x86("/opt/lib/libc.so.6"));
        assert!(!x86("/lib/x86_64-linux-gnu/libc-2.31.so.bak"));
        // Each platform's base is read for its own machine's library.
        assert!(!x86("/lib/aarch64-linux-gnu/libc.so.6"));
        assert!(is_library(
            "/lib/aarch64-linux-gnu/libc.so.6",
            Machine::Aarch64
        ));
        assert!(!is_library(
            "/lib/x86_64-linux-gnu/libc.so.6",
            Machine::Aarch64
        ));
    }

    #[test]
    fn aarch64_wheels_start_at_manylinux2014() {
        let tags = manylinux_platforms(v(2, 36), "aarch64");
        assert_eq!(tags.first().unwrap(), "manylinux_2_36_aarch64");
        assert_eq!(tags.last().unwrap(), "manylinux2014_aarch64");
        assert!(
            !tags
                .iter()
                .any(|t| t.contains("manylinux1") || t.contains("2_12"))
        );
    }

    #[test]
    fn an_old_glibc_is_named_by_its_file() {
        let mut nothing = io::empty();
        assert_eq!(
            version_of("/lib/x86_64-linux-gnu/libc-2.31.so", &mut nothing).unwrap(),
            Some(v(2, 31))
        );
    }

    #[test]
    fn the_banner_gives_the_version_wherever_it_falls() {
        let banner = b"GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\n";
        // Across every chunk boundary the banner can straddle.
        for offset in (CHUNK - banner.len() - 2)..=(CHUNK + 2) {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(banner);
            bytes.extend_from_slice(&[0u8; 100]);
            let got = version_of("/usr/lib/x86_64-linux-gnu/libc.so.6", &mut &bytes[..]).unwrap();
            assert_eq!(got, Some(v(2, 36)), "banner at {offset}");
        }
        let dev = b"GNU C Library (GNU libc) development release version 2.41.9000.";
        assert_eq!(from_banner(&mut &dev[..]).unwrap(), Some(v(2, 41)));
    }

    #[test]
    fn the_real_library_of_this_machine_is_read() {
        // The host's own glibc: what `ldd --version` says is what the banner says.
        let path = "/lib/x86_64-linux-gnu/libc.so.6";
        let Ok(mut file) = std::fs::File::open(path) else {
            return;
        };
        let got = version_of(path, &mut file).unwrap().expect("a version");
        let ldd = std::process::Command::new("ldd")
            .arg("--version")
            .output()
            .unwrap();
        let first = String::from_utf8_lossy(&ldd.stdout);
        let first = first.lines().next().unwrap_or_default();
        assert!(first.ends_with(&format!(" {got}")), "{first} vs {got}");
    }

    #[test]
    fn an_endless_library_is_read_only_up_to_the_bound() {
        // A hostile base's libc.so.6 that never ends: reading stops at the bound, in
        // chunks, with no version.
        struct Counting(u64);
        impl Read for Counting {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                buf.fill(b'r');
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }
        }
        let mut endless = Counting(0);
        assert_eq!(from_banner(&mut endless).unwrap(), None);
        assert!(endless.0 <= MAX_LIBRARY_BYTES, "read {} bytes", endless.0);
        // A banner without a version, repeated: not a version, and no error.
        let bytes = BANNER.repeat(10_000);
        assert_eq!(from_banner(&mut &bytes[..]).unwrap(), None);
    }

    #[test]
    fn platforms_are_what_pip_on_the_base_accepts() {
        let tags = manylinux_platforms(v(2, 28), "x86_64");
        assert_eq!(tags.first().unwrap(), "manylinux_2_28_x86_64");
        assert_eq!(tags.last().unwrap(), "manylinux1_x86_64");
        let at = |t: &str| tags.iter().position(|x| x == t).unwrap();
        assert_eq!(at("manylinux2014_x86_64"), at("manylinux_2_17_x86_64") + 1);
        assert_eq!(at("manylinux2010_x86_64"), at("manylinux_2_12_x86_64") + 1);
        assert!(!tags.contains(&"manylinux_2_29_x86_64".to_owned()));
        assert_eq!(tags.len(), 28 - 5 + 1 + 3);
        assert_eq!(
            manylinux_platforms(v(3, 1), "x86_64"),
            manylinux_platforms(ASSUMED, "x86_64")
        );
    }
}
