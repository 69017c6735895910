//! Gzip on every core, for large layers: the stream is cut into fixed-size blocks,
//! each deflated on its own (the way pigz does it) and joined in order into one gzip
//! member that any gunzip reads. The cuts fall at fixed offsets, so the bytes are the
//! same on a machine with one core or sixty-four: layer digests stay reproducible.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, sync_channel};

use flate2::{Compress, Compression, FlushCompress, Status};

/// Input per block: large enough that a block's own dictionary costs well under 1%
/// of the size, small enough that two cores share even a 10 MB layer.
const BLOCK: usize = 1 << 20;

/// The gzip header: deflate, no name, time 0, OS "unknown".
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A writer that gzips what it is given into `out`, compressing blocks on rayon's pool.
/// Call [`ParallelGz::finish`]: dropping it loses the end of the stream.
pub struct ParallelGz<W: Write> {
    out: W,
    level: Compression,
    block: Vec<u8>,
    /// Blocks being compressed, oldest first.
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    crc: flate2::Crc,
    started: bool,
}

impl<W: Write> ParallelGz<W> {
    pub fn new(out: W, level: Compression) -> ParallelGz<W> {
        ParallelGz {
            out,
            level,
            block: Vec::with_capacity(BLOCK),
            pending: VecDeque::new(),
            crc: flate2::Crc::new(),
            started: false,
        }
    }

    /// Writes the rest of the stream and its trailer; returns `out`.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.out)
    }

    /// Hands the current block to the pool; the last one closes the deflate stream.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        if !self.started {
            self.out.write_all(&HEADER)?;
            self.started = true;
        }
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        self.crc.update(&block);
        let (done, result) = sync_channel(1);
        let level = self.level;
        if rayon::current_thread_index().is_some() {
            // On one of the pool's own threads, waiting for the pool could wait forever.
            let _ = done.send(deflate(&block, level, last));
        } else {
            rayon::spawn(move || {
                let _ = done.send(deflate(&block, level, last));
            });
        }
        self.pending.push_back(result);
        // Enough blocks in flight to keep every core busy, few enough to bound memory.
        while self.pending.len() > 2 * rayon::current_num_threads() {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let result = self.pending.pop_front().expect("a block is pending");
        let bytes = result
            .recv()
            .map_err(|_| io::Error::other("a compression thread stopped"))??;
        self.out.write_all(&bytes)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.submit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One block as raw deflate. A block that is not the last ends with a sync flush, which
/// aligns it to a byte so the next block's bytes can simply follow.
fn deflate(input: &[u8], level: Compression, last: bool) -> io::Result<Vec<u8>> {
    let mut compress = Compress::new(level, false);
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = compress.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let status = compress
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = compress.total_in() as usize == input.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is done once all input is in and the output had room to spare.
            Status::Ok | Status::BufError if !last && all_in && out.len() < out.capacity() => {
                return Ok(out);
            }
            Status::Ok | Status::BufError => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut gz = ParallelGz::new(Vec::new(), Compression::new(level));
        // Odd-sized writes cross block edges.
        for piece in data.chunks(333_333) {
            gz.write_all(piece).unwrap();
        }
        gz.finish().unwrap()
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut state = 7u64;
        (0..len)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                // Half text-like runs, half noise: both kinds of block.
                if (i / 50_000) % 2 == 0 {
                    b"the quick brown fox "[i % 20]
                } else {
                    (state >> 56) as u8
                }
            })
            .collect()
    }

    #[test]
    fn gunzip_reads_back_every_size() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12_345] {
            let data = sample(len);
            let packed = gzip(&data, 6);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(packed.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back.len(), data.len(), "length {len}");
            assert!(back == data, "content of length {len}");
            // A single member: a strict reader that stops after one agrees.
            let mut one = Vec::new();
            flate2::bufread::GzDecoder::new(packed.as_slice())
                .read_to_end(&mut one)
                .unwrap();
            assert_eq!(one.len(), data.len());
        }
    }

    #[test]
    fn the_bytes_do_not_depend_on_the_number_of_threads() {
        let data = sample(5 * BLOCK / 2);
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| gzip(&data, 6))
        };
        assert_eq!(on(1), on(4));
        assert_eq!(on(1), gzip(&data, 6));
    }

    #[test]
    fn system_gunzip_accepts_it() {
        let data = sample(2 * BLOCK + 7);
        let packed = gzip(&data, 6);
        let mut child = std::process::Command::new("gzip")
            .args(["-d", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&packed));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(output.status.success());
        assert!(output.stdout == data);
    }
}
