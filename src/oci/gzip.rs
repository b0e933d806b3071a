//! gzip deflated on several threads, with bytes that do not depend on how many: the input
//! is cut into chunks of a fixed size, each deflated on its own (no window shared with the
//! chunk before) and ended with a sync flush, which byte-aligns it; the deflate streams
//! are written in order, then one empty final block, the CRC-32 and the length. The
//! result is one ordinary gzip member (what `pigz --independent` writes), read by any
//! gzip reader. Each chunk starting with an empty window costs a few hundred bytes per
//! MiB of input (0.3% of examples/fastapi-tls's dependency layer); deflating it takes
//! half the time on 2 cores.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress};

/// Input bytes per chunk. Part of the format: another size gives other bytes.
pub const CHUNK: usize = 1 << 20;

/// The gzip header: deflate, no flags, no time, the extra flags for `level` (2: the
/// slowest, 4: the fastest, as gzip marks `-9` and `-1`), OS unknown.
fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9.. => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]
}

/// The most chunks deflated at once.
const MAX_THREADS: usize = 4;

/// A gzip writer deflating whole chunks on other threads (see the module's text).
pub struct ChunkedGz<W: Write> {
    inner: W,
    level: u32,
    chunk: Vec<u8>,
    crc: Crc,
    threads: usize,
    in_flight: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    header_written: bool,
}

impl<W: Write> ChunkedGz<W> {
    /// Deflates at `level`, with as many threads as this machine runs at once (at most
    /// `MAX_THREADS`). The bytes are the same for any number of threads.
    pub fn new(inner: W, level: u32) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
        Self::with_threads(inner, level, threads)
    }

    /// As `new`, deflating at most `threads` chunks at once; 1 deflates each chunk on the
    /// calling thread.
    pub fn with_threads(inner: W, level: u32, threads: usize) -> Self {
        Self {
            inner,
            level,
            chunk: Vec::with_capacity(CHUNK),
            crc: Crc::new(),
            threads: threads.max(1),
            in_flight: VecDeque::new(),
            header_written: false,
        }
    }

    /// Hands the full (or, at the end, last) chunk to a thread, first writing out the
    /// oldest one when as many as there are threads are in flight.
    fn send(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.crc.update(&data);
        let level = self.level;
        if self.threads == 1 {
            let deflated = deflate(&data, level)?;
            return self.emit(&deflated);
        }
        while self.in_flight.len() >= self.threads {
            self.collect_oldest()?;
        }
        self.in_flight
            .push_back(std::thread::spawn(move || deflate(&data, level)));
        Ok(())
    }

    fn collect_oldest(&mut self) -> io::Result<()> {
        let Some(handle) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let deflated = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        self.emit(&deflated)
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.header_written {
            self.inner.write_all(&header(self.level))?;
            self.header_written = true;
        }
        self.inner.write_all(bytes)
    }

    /// Writes what is left, the final block and the trailer; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.chunk.is_empty() {
            self.send()?;
        }
        while !self.in_flight.is_empty() {
            self.collect_oldest()?;
        }
        let mut end = Vec::with_capacity(16);
        Compress::new(Compression::new(self.level), false)
            .compress_vec(&[], &mut end, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        self.emit(&end)?;
        self.inner.write_all(&self.crc.sum().to_le_bytes())?;
        // The length modulo 2^32, as gzip's trailer holds it.
        self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ChunkedGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK - self.chunk.len());
        self.chunk.extend_from_slice(&buf[..n]);
        if self.chunk.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    /// Nothing is flushed before `finish`: a chunk is deflated only once whole.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One chunk as a raw deflate stream of non-final blocks ending byte-aligned (a sync
/// flush). Room for deflate's worst case is reserved first, so one call does it all.
fn deflate(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut compress = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 1024);
    loop {
        let consumed = usize::try_from(compress.total_in()).map_err(io::Error::other)?;
        compress
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let done = usize::try_from(compress.total_in()).map_err(io::Error::other)? == data.len();
        // Output space left over means the flush completed.
        if done && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(4096));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip(data: &[u8], threads: usize) -> Vec<u8> {
        let mut gz = ChunkedGz::with_threads(Vec::new(), 6, threads);
        // Odd write sizes, as the tar writer's.
        for piece in data.chunks(7919) {
            gz.write_all(piece).unwrap();
        }
        gz.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Compressible, not uniform: text-like runs with a counter in them.
    fn sample(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut i = 0u64;
        while out.len() < len {
            out.extend_from_slice(format!("line {i} of {} ", i * 2_654_435_761 % 997).as_bytes());
            i += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn any_length_comes_back_and_the_bytes_do_not_depend_on_the_threads() {
        for len in [
            0,
            1,
            1000,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + CHUNK / 2,
        ] {
            let data = sample(len);
            let one = gzip(&data, 1);
            assert_eq!(gunzip(&one), data, "{len} bytes");
            for threads in [2, 3, 8] {
                assert_eq!(gzip(&data, threads), one, "{len} bytes, {threads} threads");
            }
            // One member: a fixed header and the length in the trailer.
            assert_eq!(one[..10], header(6));
            let isize = u32::from_le_bytes(one[one.len() - 4..].try_into().unwrap());
            assert_eq!(isize as usize, len);
        }
        // And GNU gzip reads it as one whole, checked member.
        let data = sample(2 * CHUNK + 5);
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip on PATH");
        let mut stdin = child.stdin.take().unwrap();
        let bytes = gzip(&data, 2);
        let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(out.status.success());
        assert!(out.stdout == data, "gzip -dc gave other bytes");
    }

    #[test]
    fn chunks_cost_little_against_one_stream() {
        let data = sample(4 * CHUNK);
        let mut whole = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        whole.write_all(&data).unwrap();
        let whole = whole.finish().unwrap().len();
        let chunked = gzip(&data, 2).len();
        // The level's mark: GNU gzip reads it the same way.
        assert_eq!(ChunkedGz::new(Vec::new(), 9).finish().unwrap()[8], 2);
        assert!(
            chunked * 100 <= whole * 101,
            "chunked {chunked} bytes, one stream {whole}"
        );
    }
}
