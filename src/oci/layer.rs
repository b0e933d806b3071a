//! Reading one layer as a stream: sniff the compression (gzip, zstd or none), decompress,
//! walk the tar entries, and hash both the blob and the uncompressed tar on the way.
//!
//! Nothing is buffered beyond a few fixed-size windows (the zstd window is the largest, at
//! most 8 MiB), so memory stays flat whatever the layer's size; and a layer never
//! decompresses to more than `MAX_RATIO` times its size (or `MIN_INFLATED`), so the time
//! spent is linear in the bytes of the blob.

use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::digest::{HashingReader, Sum};
use super::store::normalise;
use super::tarstream::{self, Holes, Stream, TarStream};

/// The most a layer may decompress to, in multiples of its blob's size. Deflate cannot
/// exceed 1032:1, so no gzip layer comes near; a zstd layer beyond it is a bomb (zstd
/// reaches 30,000:1 on runs of zeros) or a layer of little but zeros.
pub const MAX_RATIO: u64 = 2048;
/// Any layer may decompress to this much, whatever its ratio.
pub const MIN_INFLATED: u64 = 64 << 20;
/// The largest zstd window accepted: what the zstd format asks every decoder to support,
/// and the most encoders use without `--long` or levels above 19.
pub const MAX_ZSTD_WINDOW: u64 = 8 << 20;

/// How a layer blob is compressed, told from its first bytes (media types lie more often).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::None => "uncompressed",
        }
    }
}

/// What a tar entry is, with whiteouts told apart from files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A hard link to the given path (absolute, normalised).
    HardLink(String),
    /// `.wh.<name>`: deletes the path (absolute) from the layers below.
    Whiteout(String),
    /// `.wh..wh..opq`: hides everything the layers below put in this directory.
    Opaque(String),
    Other,
}

/// One entry of a layer, its path absolute (`/app/main.py`) and normalised.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    pub size: u64,
    pub mtime: u64,
    /// A symbolic link's target, as the tar has it (not normalised: relative targets
    /// are relative to the link's directory).
    pub symlink_target: Option<String>,
}

/// What reading a layer gave: the blob's sum, the uncompressed tar's sum (the diff id),
/// and the first error, if the layer could not be read to its end.
#[derive(Debug)]
pub struct LayerRead {
    pub compression: Compression,
    pub blob: Sum,
    pub diff: Option<Sum>,
    pub error: Option<String>,
}

/// Reads a layer blob of `size` bytes to its end, calling `visit` for each entry with a
/// reader over the entry's content (empty for anything but files; a sparse file's holes
/// given as `holes` says).
pub fn read_layer(
    blob: impl Read,
    size: u64,
    holes: Holes,
    visit: &mut dyn FnMut(&Entry, &mut dyn Read) -> io::Result<()>,
) -> LayerRead {
    let limit = size.saturating_mul(MAX_RATIO).max(MIN_INFLATED);
    let mut raw = BufReader::with_capacity(1 << 16, HashingReader::new(blob));
    let compression = match raw.fill_buf() {
        Ok(head) => Compression::sniff(head),
        Err(e) => {
            return LayerRead {
                compression: Compression::None,
                blob: drain(raw),
                diff: None,
                error: Some(e.to_string()),
            };
        }
    };
    let (diff, error) = match compression {
        Compression::Gzip => walk_and_sum(
            Inflated::new(flate2::bufread::MultiGzDecoder::new(&mut raw), limit),
            holes,
            visit,
        ),
        Compression::Zstd => walk_and_sum(
            Inflated::new(ZstdFrames::new(&mut raw), limit),
            holes,
            visit,
        ),
        Compression::None => walk_and_sum(&mut raw, holes, visit),
    };
    LayerRead {
        compression,
        blob: drain(raw),
        diff,
        error,
    }
}

/// The sum of the whole blob, reading past whatever the tar reader left (or choked on).
fn drain<R: Read>(mut raw: BufReader<HashingReader<R>>) -> Sum {
    let _ = io::copy(&mut raw, &mut io::sink());
    raw.into_inner().finish()
}

/// A decompressed stream that ends in an error past `limit` bytes.
struct Inflated<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Inflated<R> {
    fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more means the limit is passed, not met.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "it decompresses to more than {} bytes ({MAX_RATIO} times its size, or {} MiB): a decompression bomb, or a layer of little but zeros",
                    self.limit,
                    MIN_INFLATED >> 20
                ),
            ));
        }
        let want = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn walk_and_sum(
    decoded: impl Read,
    holes: Holes,
    visit: &mut dyn FnMut(&Entry, &mut dyn Read) -> io::Result<()>,
) -> (Option<Sum>, Option<String>) {
    let mut tar_stream = HashingReader::new(decoded);
    if let Err(e) = walk(&mut tar_stream, holes, visit) {
        return (None, Some(e.to_string()));
    }
    // The tar's end-of-archive blocks and any padding belong to the diff id too.
    match tar_stream.finish_draining() {
        Ok(sum) => (Some(sum), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

fn walk(
    tar_stream: impl Read,
    holes: Holes,
    visit: &mut dyn FnMut(&Entry, &mut dyn Read) -> io::Result<()>,
) -> io::Result<()> {
    let mut tar = TarStream::new(Stream(tar_stream));
    while let Some(member) = tar.next_member()? {
        let path = format!("/{}", normalise(&member.path));
        let kind = classify(&path, member.kind, || {
            (!member.link.is_empty()).then(|| format!("/{}", normalise(&member.link)))
        });
        let symlink_target =
            (kind == Kind::Symlink).then(|| String::from_utf8_lossy(&member.link).into_owned());
        let item = Entry {
            path,
            kind,
            symlink_target,
            uid: member.uid,
            gid: member.gid,
            mode: member.mode,
            size: member.size,
            mtime: member.mtime,
        };
        visit(&item, &mut tar.content(holes))?;
    }
    Ok(())
}

fn classify(path: &str, kind: tarstream::Type, link: impl FnOnce() -> Option<String>) -> Kind {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name == ".wh..wh..opq" {
        return Kind::Opaque(if dir.is_empty() {
            "/".to_owned()
        } else {
            dir.to_owned()
        });
    }
    if let Some(hidden) = name.strip_prefix(".wh.") {
        // Other `.wh..wh.` names are aufs bookkeeping, not deletions.
        if hidden.starts_with(".wh.") {
            return Kind::Other;
        }
        return Kind::Whiteout(format!("{dir}/{hidden}"));
    }
    match kind {
        tarstream::Type::File => Kind::File,
        tarstream::Type::Dir => Kind::Dir,
        tarstream::Type::Symlink => Kind::Symlink,
        tarstream::Type::HardLink => link().map_or(Kind::Other, Kind::HardLink),
        tarstream::Type::Other => Kind::Other,
    }
}

/// A zstd stream of any number of frames, skippable frames skipped (`zstd:chunked` layers
/// are many frames plus a skippable one holding the table of contents).
struct ZstdFrames<R> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_window_size(MAX_ZSTD_WINDOW);
        Self {
            source,
            decoder,
            in_frame: false,
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.in_frame {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.decoder.init(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let skipped =
                            io::copy(&mut (&mut self.source).take(length.into()), &mut io::sink())?;
                        if skipped < u64::from(length) {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "zstd skippable frame cut short",
                            ));
                        }
                    }
                    Err(e) => return Err(io::Error::other(e)),
                }
                continue;
            }
            while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(io::Error::other)?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                self.in_frame = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_are_told_apart() {
        let file = tarstream::Type::File;
        assert_eq!(
            classify("/etc/.wh.secret.key", file, || None),
            Kind::Whiteout("/etc/secret.key".to_owned())
        );
        assert_eq!(
            classify("/app/.wh..wh..opq", file, || None),
            Kind::Opaque("/app".to_owned())
        );
        assert_eq!(classify("/.wh..wh.plnk", file, || None), Kind::Other);
        assert_eq!(classify("/app/main.py", file, || None), Kind::File);
    }

    #[test]
    fn zstd_frames_follow_each_other() {
        // Two frames with a skippable frame between them, as zstd:chunked writes.
        let mut stream = ruzstd::encoding::compress_to_vec(
            &b"hello "[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        stream.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        stream.extend(ruzstd::encoding::compress_to_vec(
            &b"world"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        let mut out = String::new();
        ZstdFrames::new(&stream[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
    }
}
