//! Tar archives read as a stream of members, with every header bounded: the layers of an
//! image and the image archive itself are untrusted bytes.
//!
//! A GNU long name or link is at most 64 KiB and a PAX header at most 1 MiB (the limit Go's
//! `archive/tar`, which containerd and Docker use, puts on both), so a small compressed blob
//! cannot make a header that fills memory. Members of every type a runtime extracts as a
//! file are reported as files: regular and contiguous files, GNU sparse files (old GNU and
//! PAX 0.0, 0.1 and 1.0 formats, read back as the file they extract to), and any type flag
//! this reader does not know (POSIX says to extract those as regular files).

use std::io::{self, Read};

/// The longest GNU long name or long link target read.
pub const MAX_LONG_NAME: u64 = 64 << 10;
/// The largest PAX extended header read (local or global).
pub const MAX_PAX: u64 = 1 << 20;
/// The most data segments a sparse file may have.
pub const MAX_SPARSE_SEGMENTS: usize = 1 << 16;
/// In `Holes::Compact` mode, how many zero bytes stand for a hole of any length.
const COMPACT_HOLE: u64 = 512;

const BLOCK: u64 = 512;

/// What a member is, as a runtime extracting the archive would create it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    File,
    Dir,
    Symlink,
    HardLink,
    /// Devices, FIFOs, volume labels: nothing with content.
    Other,
}

/// How a sparse file's holes are given to the reader of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holes {
    /// As the zeros they extract to: the file exactly as a runtime writes it.
    Full,
    /// Each hole as at most 512 zero bytes, so that a terabyte of holes costs nothing to
    /// read; for scanners whose verdict does not change with a run of zeros' length.
    Compact,
}

/// One member's header, with long names, PAX records and sparse maps applied.
#[derive(Clone, Debug)]
pub struct Member {
    pub path: Vec<u8>,
    /// The target of a symlink or hard link.
    pub link: Vec<u8>,
    pub kind: Type,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    /// The size of the content a runtime extracts (a sparse file's full size).
    pub size: u64,
    /// Where the member's stored data starts in the archive.
    pub offset: u64,
    /// The stored bytes of a plain member (not sparse), readable at `offset`.
    pub stored: u64,
    pub sparse: bool,
}

/// A byte source that can skip forward: a seek for a file, a read for a stream.
pub trait Source: Read {
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

/// Any reader, skipped by reading.
pub struct Stream<R>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Source for Stream<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let skipped = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if skipped < n {
            return Err(cut_short());
        }
        Ok(())
    }
}

/// A file, skipped by seeking (a short file shows at the next header).
pub struct Seeking(pub std::fs::File);

impl Read for Seeking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Source for Seeking {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n).map_err(|_| invalid("a member larger than 8 EiB"))?;
        io::Seek::seek_relative(&mut self.0, n)
    }
}

fn cut_short() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the tar stream ends inside a member",
    )
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// A tar archive read member by member.
pub struct TarStream<S> {
    source: S,
    /// Bytes of the archive consumed so far.
    pos: u64,
    /// Stored data of the current member not read yet, and the padding after it.
    left: u64,
    padding: u64,
    /// The current member's sparse map and where its reader is in the file it extracts to.
    sparse: Option<Sparse>,
    done: bool,
}

/// Records of a PAX header that apply to the next member.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
    sparse_major: Option<u64>,
    sparse_name: Option<Vec<u8>>,
    sparse_size: Option<u64>,
    /// 0.0 (`GNU.sparse.offset`/`numbytes` pairs) or 0.1 (`GNU.sparse.map`).
    sparse_map: Vec<u64>,
}

struct Sparse {
    /// (offset in the file, bytes of data there), in order.
    segments: Vec<(u64, u64)>,
    size: u64,
    next: usize,
    /// Position in the extracted file.
    at: u64,
    holes: Holes,
}

impl<S: Source> TarStream<S> {
    pub fn new(source: S) -> Self {
        Self {
            source,
            pos: 0,
            left: 0,
            padding: 0,
            sparse: None,
            done: false,
        }
    }

    /// The underlying source, positioned wherever reading stopped.
    pub fn into_inner(self) -> S {
        self.source
    }

    /// The next member, skipping what is left of the current one; `None` at the end.
    pub fn next_member(&mut self) -> io::Result<Option<Member>> {
        if self.done {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax = Pax::default();
        loop {
            let Some(block) = self.header()? else {
                self.done = true;
                return Ok(None);
            };
            let flag = block[156];
            let size = number(&block[124..136])?;
            match flag {
                b'L' => long_name = Some(self.special(size, MAX_LONG_NAME, "GNU long name")?),
                b'K' => long_link = Some(self.special(size, MAX_LONG_NAME, "GNU long link")?),
                b'x' => pax = parse_pax(&self.special(size, MAX_PAX, "PAX header")?)?,
                // Global records hold defaults no runtime applies to file contents.
                b'g' => drop(self.special(size, MAX_PAX, "PAX global header")?),
                _ => {
                    return self
                        .member(&block, flag, size, long_name, long_link, pax)
                        .map(Some);
                }
            }
        }
    }

    /// A reader over the current member's content (empty for members without any).
    pub fn content(&mut self, holes: Holes) -> Content<'_, S> {
        if let Some(sparse) = &mut self.sparse {
            sparse.holes = holes;
        }
        Content { tar: self }
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        let n = self.left + self.padding;
        if n > 0 {
            self.source.skip(n)?;
            self.pos += n;
        }
        self.left = 0;
        self.padding = 0;
        self.sparse = None;
        Ok(())
    }

    /// The next header block; `None` at a zero block or at the end of the stream.
    fn header(&mut self) -> io::Result<Option<[u8; 512]>> {
        let mut block = [0u8; 512];
        let mut filled = 0;
        while filled < block.len() {
            match self.source.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(cut_short()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += BLOCK;
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let stored = number(&block[148..156])?;
        let mut unsigned: u64 = 0;
        let mut signed: i64 = 0;
        for (i, b) in block.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { *b };
            unsigned += u64::from(b);
            signed += i64::from(b.cast_signed());
        }
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err(invalid("a tar header's checksum does not match it"));
        }
        Ok(Some(block))
    }

    /// A special member's data (a name, PAX records), read whole after checking its size.
    fn special(&mut self, size: u64, limit: u64, what: &str) -> io::Result<Vec<u8>> {
        if size > limit {
            return Err(invalid(format!(
                "a {what} of {size} bytes; fabuild reads at most {limit}"
            )));
        }
        let mut data = Vec::new();
        (&mut self.source).take(size).read_to_end(&mut data)?;
        if (data.len() as u64) < size {
            return Err(cut_short());
        }
        let padding = padding(size);
        self.source.skip(padding)?;
        self.pos += size + padding;
        Ok(data)
    }

    fn member(
        &mut self,
        block: &[u8; 512],
        flag: u8,
        size: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax: Pax,
    ) -> io::Result<Member> {
        let ustar = &block[257..263] == b"ustar\0";
        let mut path = match long_name {
            Some(name) => until_nul(&name).to_vec(),
            None if ustar && block[345] != 0 => {
                let mut joined = until_nul(&block[345..500]).to_vec();
                joined.push(b'/');
                joined.extend_from_slice(until_nul(&block[..100]));
                joined
            }
            None => until_nul(&block[..100]).to_vec(),
        };
        let mut link = long_link.map_or_else(
            || until_nul(&block[157..257]).to_vec(),
            |l| until_nul(&l).to_vec(),
        );
        if let Some(p) = pax.path {
            path = p;
        }
        if let Some(l) = pax.link {
            link = l;
        }
        let stored = pax.size.unwrap_or(size);
        let kind = match flag {
            b'0' | b'\0' if path.ends_with(b"/") => Type::Dir,
            b'1' => Type::HardLink,
            b'2' => Type::Symlink,
            b'3' | b'4' | b'6' | b'V' => Type::Other,
            b'5' | b'D' => Type::Dir,
            _ => Type::File,
        };
        // Only files have content; the size field of a link or directory says nothing.
        let stored = if kind == Type::File || flag == b'D' {
            stored
        } else {
            0
        };
        let mut member = Member {
            path,
            link,
            kind,
            mode: u32::try_from(number(&block[100..108])? & 0o7777).unwrap_or(0),
            uid: pax.uid.map_or_else(|| number(&block[108..116]), Ok)?,
            gid: pax.gid.map_or_else(|| number(&block[116..124]), Ok)?,
            mtime: pax.mtime.map_or_else(|| number(&block[136..148]), Ok)?,
            size: stored,
            offset: self.pos,
            stored,
            sparse: false,
        };
        self.left = stored;
        self.padding = padding(stored);
        if flag == b'S' {
            let segments = self.old_gnu_sparse(block)?;
            let real = number(&block[483..495])?;
            self.start_sparse(&mut member, segments, real)?;
        } else if let Some(major) = pax.sparse_major.or(pax.sparse_size.map(|_| 0)) {
            if let Some(name) = pax.sparse_name {
                member.path = name;
            }
            let real = pax.sparse_size.unwrap_or(stored);
            let segments = if major >= 1 {
                self.sparse_map_in_data()?
            } else {
                pairs(&pax.sparse_map)?
            };
            member.offset = self.pos;
            self.start_sparse(&mut member, segments, real)?;
        } else if kind == Type::File && (!pax.sparse_map.is_empty()) {
            return Err(invalid("a PAX sparse map without a sparse size"));
        }
        Ok(member)
    }

    /// The map of an old GNU sparse member: four slots in its header, then extension blocks.
    fn old_gnu_sparse(&mut self, block: &[u8; 512]) -> io::Result<Vec<(u64, u64)>> {
        let mut segments = Vec::new();
        slots(&block[386..482], &mut segments)?;
        let mut extended = block[482] != 0;
        while extended {
            let mut ext = [0u8; 512];
            self.source.read_exact(&mut ext).map_err(|_| cut_short())?;
            self.pos += BLOCK;
            slots(&ext[..504], &mut segments)?;
            if segments.len() > MAX_SPARSE_SEGMENTS {
                return Err(too_many_segments());
            }
            extended = ext[504] != 0;
        }
        Ok(segments)
    }

    /// The map PAX sparse 1.0 puts at the start of the data: a count, then offset and size
    /// lines, padded to a block.
    fn sparse_map_in_data(&mut self) -> io::Result<Vec<(u64, u64)>> {
        let mut read = 0u64;
        let mut line = || -> io::Result<u64> {
            let mut value: u64 = 0;
            let mut digits = 0;
            loop {
                let mut byte = [0u8; 1];
                if read >= self.left {
                    return Err(cut_short());
                }
                self.source.read_exact(&mut byte).map_err(|_| cut_short())?;
                read += 1;
                match byte[0] {
                    b'\n' if digits > 0 => return Ok(value),
                    b @ b'0'..=b'9' if digits < 20 => {
                        value = value
                            .checked_mul(10)
                            .and_then(|v| v.checked_add(u64::from(b - b'0')))
                            .ok_or_else(|| invalid("a sparse map number overflows"))?;
                        digits += 1;
                    }
                    _ => return Err(invalid("a PAX sparse 1.0 map is malformed")),
                }
            }
        };
        let count = usize::try_from(line()?).unwrap_or(usize::MAX);
        if count > MAX_SPARSE_SEGMENTS {
            return Err(too_many_segments());
        }
        let mut numbers = Vec::with_capacity(count * 2);
        for _ in 0..count * 2 {
            numbers.push(line()?);
        }
        let padded = read + padding(read);
        if padded > self.left {
            return Err(cut_short());
        }
        self.source.skip(padded - read)?;
        self.left -= padded;
        self.pos += padded;
        // The block padding after the data follows what is left of it.
        self.padding = padding(self.left);
        pairs(&numbers)
    }

    fn start_sparse(
        &mut self,
        member: &mut Member,
        segments: Vec<(u64, u64)>,
        size: u64,
    ) -> io::Result<()> {
        let mut end = 0u64;
        let mut data = 0u64;
        for &(offset, length) in &segments {
            let stop = offset.checked_add(length).ok_or_else(bad_map)?;
            if offset < end || stop > size {
                return Err(bad_map());
            }
            end = stop;
            data += length;
        }
        if data != self.left {
            return Err(invalid(format!(
                "a sparse file's map holds {data} bytes of data, its member {}",
                self.left
            )));
        }
        member.size = size;
        member.sparse = true;
        member.kind = Type::File;
        self.sparse = Some(Sparse {
            segments,
            size,
            next: 0,
            at: 0,
            holes: Holes::Full,
        });
        Ok(())
    }

    fn read_stored(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let n = self.source.read(&mut buf[..want])?;
        if n == 0 {
            return Err(cut_short());
        }
        self.left -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }
}

fn too_many_segments() -> io::Error {
    invalid(format!(
        "a sparse file of more than {MAX_SPARSE_SEGMENTS} data segments"
    ))
}

fn bad_map() -> io::Error {
    invalid("a sparse file's map has overlapping or out-of-file segments")
}

fn pairs(numbers: &[u64]) -> io::Result<Vec<(u64, u64)>> {
    if !numbers.len().is_multiple_of(2) {
        return Err(invalid("a sparse map has an offset without a size"));
    }
    if numbers.len() / 2 > MAX_SPARSE_SEGMENTS {
        return Err(too_many_segments());
    }
    Ok(numbers.chunks(2).map(|p| (p[0], p[1])).collect())
}

/// The (offset, size) slots of an old GNU sparse header or extension block; an empty slot
/// ends the list.
fn slots(area: &[u8], out: &mut Vec<(u64, u64)>) -> io::Result<()> {
    for slot in area.chunks_exact(24) {
        if slot[0] == 0 {
            break;
        }
        out.push((number(&slot[..12])?, number(&slot[12..])?));
    }
    Ok(())
}

/// The content of the current member.
pub struct Content<'a, S> {
    tar: &'a mut TarStream<S>,
}

impl<S: Source> Read for Content<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.tar.sparse.is_none() {
            return self.tar.read_stored(buf);
        }
        loop {
            let sparse = self.tar.sparse.as_mut().expect("a sparse member");
            let (offset, length) = sparse
                .segments
                .get(sparse.next)
                .copied()
                .unwrap_or((sparse.size, 0));
            if sparse.at < offset {
                // A hole: zeros up to the next segment (or the end of the file).
                let mut hole = offset - sparse.at;
                if sparse.holes == Holes::Compact && hole > COMPACT_HOLE {
                    sparse.at = offset - COMPACT_HOLE;
                    hole = COMPACT_HOLE;
                }
                let n = usize::try_from(hole).map_or(buf.len(), |h| h.min(buf.len()));
                buf[..n].fill(0);
                sparse.at += n as u64;
                return Ok(n);
            }
            if sparse.next >= sparse.segments.len() {
                return Ok(0);
            }
            let done = sparse.at - offset;
            if done >= length {
                sparse.next += 1;
                continue;
            }
            let want = usize::try_from(length - done).map_or(buf.len(), |l| l.min(buf.len()));
            let n = self.tar.read_stored(&mut buf[..want])?;
            self.tar.sparse.as_mut().expect("a sparse member").at += n as u64;
            return Ok(n);
        }
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|b| *b == 0)
        .map_or(bytes, |n| &bytes[..n])
}

/// A numeric header field: octal digits (space or NUL padded), or GNU base-256.
fn number(field: &[u8]) -> io::Result<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] == 0xff {
            return Err(invalid("a negative number in a tar header"));
        }
        let mut value: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            value = value
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(|| invalid("a number in a tar header overflows"))?;
        }
        return Ok(value);
    }
    let text = until_nul(field);
    let digits = text
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| **b != b' ');
    let mut value: u64 = 0;
    for b in digits {
        if !(b'0'..=b'7').contains(b) {
            return Err(invalid("a tar header field is not an octal number"));
        }
        value = value
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| invalid("a number in a tar header overflows"))?;
    }
    Ok(value)
}

/// PAX records: `<length> <key>=<value>\n`, each length counting the whole record.
fn parse_pax(data: &[u8]) -> io::Result<Pax> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .filter(|n| *n > 0 && *n <= 20)
            .ok_or_else(|| invalid("a PAX record has no length"))?;
        let length: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|l| *l > space + 1 && *l <= rest.len())
            .ok_or_else(|| invalid("a PAX record's length is wrong"))?;
        let record = &rest[space + 1..length];
        rest = &rest[length..];
        let record = record
            .strip_suffix(b"\n")
            .ok_or_else(|| invalid("a PAX record does not end its line"))?;
        let equals = record
            .iter()
            .position(|b| *b == b'=')
            .ok_or_else(|| invalid("a PAX record has no `=`"))?;
        let (key, value) = (&record[..equals], &record[equals + 1..]);
        let decimal = || -> io::Result<u64> {
            let text = std::str::from_utf8(value).unwrap_or("");
            // mtime may have a fraction; the whole seconds are what a layer's time is.
            let whole = text.split('.').next().unwrap_or("");
            whole
                .parse()
                .map_err(|_| invalid("a PAX record's number is malformed"))
        };
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.link = Some(value.to_vec()),
            b"size" => pax.size = Some(decimal()?),
            b"uid" => pax.uid = Some(decimal()?),
            b"gid" => pax.gid = Some(decimal()?),
            b"mtime" => pax.mtime = Some(decimal().unwrap_or(0)),
            b"GNU.sparse.major" => pax.sparse_major = Some(decimal()?),
            b"GNU.sparse.name" => pax.sparse_name = Some(value.to_vec()),
            b"GNU.sparse.size" | b"GNU.sparse.realsize" => pax.sparse_size = Some(decimal()?),
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                if pax.sparse_map.len() >= 2 * MAX_SPARSE_SEGMENTS {
                    return Err(too_many_segments());
                }
                pax.sparse_map.push(decimal()?);
            }
            b"GNU.sparse.map" => {
                pax.sparse_map = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| {
                        s.split(',')
                            .filter(|p| !p.is_empty())
                            .map(|p| p.parse().ok())
                            .collect()
                    })
                    .ok_or_else(|| invalid("a PAX sparse map is malformed"))?;
            }
            _ => {}
        }
    }
    Ok(pax)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, flag: u8, size: u64) -> [u8; 512] {
        let mut block = [0u8; 512];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..107].copy_from_slice(b"0000644");
        block[108..115].copy_from_slice(b"0000000");
        block[116..123].copy_from_slice(b"0000000");
        block[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        block[136..147].copy_from_slice(b"00000000000");
        block[156] = flag;
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        seal(&mut block);
        block
    }

    fn seal(block: &mut [u8; 512]) {
        block[148..156].fill(b' ');
        let sum: u64 = block.iter().map(|b| u64::from(*b)).sum();
        block[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }

    fn member(archive: &mut Vec<u8>, block: &[u8; 512], data: &[u8]) {
        archive.extend_from_slice(block);
        archive.extend_from_slice(data);
        archive.resize(archive.len().next_multiple_of(512), 0);
    }

    fn read_all(archive: &[u8], holes: Holes) -> Vec<(String, Type, Vec<u8>)> {
        let mut tar = TarStream::new(Stream(archive));
        let mut out = Vec::new();
        while let Some(m) = tar.next_member().unwrap() {
            let mut data = Vec::new();
            tar.content(holes).read_to_end(&mut data).unwrap();
            out.push((String::from_utf8(m.path).unwrap(), m.kind, data));
        }
        out
    }

    #[test]
    fn reads_pax_sparse_1_0_as_the_file_it_extracts_to() {
        let mut archive = Vec::new();
        let mut records = String::new();
        for record in [
            "GNU.sparse.major=1",
            "GNU.sparse.minor=0",
            "GNU.sparse.name=secret.pem",
            "GNU.sparse.realsize=10000",
        ] {
            // Two digits of length, a space, the record, a line break.
            records.push_str(&format!("{} {record}\n", record.len() + 4));
        }
        member(
            &mut archive,
            &header("pax", b'x', records.len() as u64),
            records.as_bytes(),
        );
        let mut data = b"1\n9000\n3\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"KEY");
        member(
            &mut archive,
            &header("GNUSparseFile.0/secret.pem", b'0', data.len() as u64),
            &data,
        );
        let all = read_all(&archive, Holes::Full);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "secret.pem");
        assert_eq!(all[0].2.len(), 10000);
        assert_eq!(&all[0].2[9000..9003], b"KEY");
        let compact = read_all(&archive, Holes::Compact);
        assert_eq!(compact[0].2.len(), 512 + 3 + 512);
    }

    /// GNU tar (the oracle) writes a file with holes in each sparse format it has; each
    /// reads back as the file, byte for byte, under its own name.
    #[test]
    fn sparse_files_read_back_as_gnu_tar_wrote_them() {
        use std::io::{Seek, SeekFrom, Write};
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("srv")).unwrap();
        let path = dir.path().join("srv/data.bin");
        let mut file = std::fs::File::create(&path).unwrap();
        for at in [20_000u64, 70_000, 300_000] {
            file.seek(SeekFrom::Start(at)).unwrap();
            file.write_all(format!("data at {at}").repeat(100).as_bytes())
                .unwrap();
        }
        file.set_len(1 << 20).unwrap();
        let want = std::fs::read(&path).unwrap();
        for args in [
            &["--format=gnu"][..],
            &["--format=posix", "--sparse-version=0.0"],
            &["--format=posix", "--sparse-version=0.1"],
            &["--format=posix", "--sparse-version=1.0"],
        ] {
            let archive = dir.path().join("a.tar");
            let status = std::process::Command::new("tar")
                .arg("-S")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .arg("-cf")
                .arg(&archive)
                .arg("srv/data.bin")
                .status()
                .unwrap();
            assert!(status.success(), "GNU tar {args:?}");
            let bytes = std::fs::read(&archive).unwrap();
            let mut tar = TarStream::new(Stream(&bytes[..]));
            let member = tar.next_member().unwrap().unwrap();
            assert_eq!(member.path, b"srv/data.bin", "{args:?}");
            assert!(member.sparse, "{args:?}");
            assert_eq!(member.size, 1 << 20, "{args:?}");
            let mut got = Vec::new();
            tar.content(Holes::Full).read_to_end(&mut got).unwrap();
            assert!(got == want, "{args:?}: the content differs");
            assert!(tar.next_member().unwrap().is_none(), "{args:?}");
        }
    }

    #[test]
    fn a_long_name_beyond_the_limit_is_an_error_not_an_allocation() {
        let mut archive = Vec::new();
        archive.extend_from_slice(&header("././@LongLink", b'L', 1 << 32));
        let mut tar = TarStream::new(Stream(&archive[..]));
        let error = tar.next_member().unwrap_err().to_string();
        assert!(
            error.contains("GNU long name of 4294967296 bytes"),
            "{error}"
        );
    }

    #[test]
    fn unknown_types_and_old_regular_files_are_files() {
        let mut archive = Vec::new();
        member(&mut archive, &header("a", b'Z', 2), b"hi");
        member(&mut archive, &header("b", b'\0', 1), b"x");
        member(&mut archive, &header("c/", b'\0', 0), b"");
        let kinds: Vec<Type> = read_all(&archive, Holes::Full)
            .iter()
            .map(|m| m.1)
            .collect();
        assert_eq!(kinds, [Type::File, Type::File, Type::Dir]);
    }
}
