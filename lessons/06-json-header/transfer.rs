//! Lesson 06's body: how a file or a command's output moves after its header.
//!
//! Read it top to bottom:
//! 1. [`read_full`] and [`copy_body`]: exact reads. A body of `total_size` bytes is read in
//!    whole chunks, never past its end, and a body that ends early says how much came;
//! 2. [`send_file`]: a file goes out with `sendfile`: the kernel hands the file's pages to
//!    the socket, the bytes never pass through the program;
//! 3. [`hash_stream`]: SHA-256 on a thread of its own, so that receiving and writing the
//!    next chunk overlap with hashing this one. The checksum is the slowest step of a
//!    transfer; everything else hides behind it;
//! 4. [`PartFile`] and [`receive_file`]: a received file is written under a temporary name
//!    until its checksum has been checked;
//! 5. [`keep_checksum`] and [`kept_checksum`]: the server remembers a file's checksum next
//!    to it, so a `get` does not hash the whole file again before sending it.
//!
//! The memory a transfer needs is a few chunks, whatever the size of the file.
//! lesson06-server and lesson06-client use it through the library, as
//! `socket_lab::transfer`.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use crate::json_header::{to_hex, FILE_SYSTEM_NAME_MAX, PART_PREFIX, PART_SUFFIX};

/// How many bytes of a body move at a time: big enough that the cost of one `read` or
/// `write` call is nothing next to the bytes it moves.
pub const CHUNK: usize = 1024 * 1024;

/// How many chunks may wait for the hashing thread. The memory of a transfer is these,
/// plus the one being hashed and the one being filled: 6 MiB, for 5 bytes or 5 GiB.
const WAITING: usize = 4;

// ANCHOR: read_full
/// Fills all of `buf` from `from`, `done` bytes into a body of `total`. One `read`
/// returns what has arrived (lesson 03), so it loops. A source that ends first is an
/// error that says how much came.
pub fn read_full(
    from: &mut impl Read,
    buf: &mut [u8],
    done: u64,
    total: u64,
) -> anyhow::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match from.read(&mut buf[got..]) {
            Ok(0) => bail!(
                "the body is shorter than total_size: \
                 the data ended after {} of {total} bytes",
                done + got as u64
            ),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let at = done + got as u64;
                let context = format!("receiving the body ({at} of {total} bytes)");
                return Err(e).context(context);
            }
        }
    }
    Ok(())
}
// ANCHOR_END: read_full

/// The size of the next chunk of a body of `total` bytes, `done` of them moved.
fn next_chunk(done: u64, total: u64) -> usize {
    CHUNK.min(usize::try_from(total - done).unwrap_or(CHUNK))
}

// ANCHOR: copy_body
/// Streams exactly `total` bytes from `from` to `to` through one buffer of [`CHUNK`]
/// bytes, showing every chunk to `seen`. For what needs no checksum of its own: a refused
/// body that is skipped, a command line, a command's output.
pub fn copy_body(
    from: &mut impl Read,
    to: &mut impl Write,
    total: u64,
    mut seen: impl FnMut(&[u8]),
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; next_chunk(0, total)];
    let mut done: u64 = 0;
    while done < total {
        let chunk = &mut buf[..next_chunk(done, total)];
        read_full(from, chunk, done, total)?;
        seen(chunk);
        to.write_all(chunk)
            .with_context(|| format!("passing on the body ({done} of {total} bytes)"))?;
        done += chunk.len() as u64;
    }
    Ok(())
}
// ANCHOR_END: copy_body

// ANCHOR: send_file
/// Sends exactly `total` bytes of `file` to `to` (a socket), telling `sent` how many went
/// each time.
///
/// `sendfile` asks the kernel to pass the file's pages to the socket itself: no buffer
/// here, no copy into this program and back out, so the sender of a file does almost
/// nothing. (std's `io::copy` does not do it for a socket: it copies through an 8 KiB
/// buffer. rustix makes the system call without unsafe code.)
pub fn send_file(
    file: &File,
    to: &impl AsFd,
    total: u64,
    mut sent: impl FnMut(u64),
) -> anyhow::Result<()> {
    let mut done: u64 = 0;
    while done < total {
        let step = next_chunk(done, total);
        // No offset given: the file's own position is used, and moves on.
        let n = match rustix::fs::sendfile(to, file, None, step) {
            Ok(n) => n as u64,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                let context = format!("sending the body ({done} of {total} bytes)");
                return Err(std::io::Error::from(e)).context(context);
            }
        };
        if n == 0 {
            bail!(
                "the file ended after {done} of {total} bytes: did it change meanwhile?"
            );
        }
        done += n;
        sent(n);
    }
    Ok(())
}
// ANCHOR_END: send_file

// ANCHOR: hash_stream
/// Moves `total` bytes in chunks and returns their SHA-256, as hex. `fill` fills a chunk
/// (from a socket or a file), `keep` does something with it (writes it to a file); the
/// hashing runs meanwhile on a thread of its own.
///
/// Why a thread: SHA-256 is the slowest step of a transfer (about 1.5 GiB/s on one
/// core, where loopback TCP moves 5 GiB/s). Done in turn with the reads and the writes,
/// their times add up; on two threads, receiving and writing the next chunk happen while
/// this one is hashed, and a transfer takes about as long as the hashing alone.
pub fn hash_stream(
    total: u64,
    mut fill: impl FnMut(&mut [u8], u64) -> anyhow::Result<()>,
    mut keep: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    // Full chunks go to the hasher; it sends each buffer back, empty, to be filled again.
    let (to_hasher, full) = mpsc::sync_channel::<(Vec<u8>, usize)>(WAITING);
    let (to_reader, empty) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let mut sha256 = Sha256::new();
            for (buf, len) in full {
                sha256.update(&buf[..len]);
                // The reader may have stopped (an error): then nobody needs the buffer.
                let _ = to_reader.send(buf);
            }
            to_hex(&sha256.finalize())
        });
        let mut done: u64 = 0;
        while done < total {
            // A buffer back from the hasher, or a new one while it has none to give.
            let mut buf = empty.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
            let len = next_chunk(done, total);
            fill(&mut buf[..len], done)?;
            keep(&buf[..len])?;
            done += len as u64;
            // Waits only when WAITING chunks are already queued: the hasher is behind.
            if to_hasher.send((buf, len)).is_err() {
                bail!("the hashing thread stopped");
            }
        }
        // No more chunks: the hasher's loop ends, and it returns the checksum.
        drop(to_hasher);
        hasher
            .join()
            .map_err(|_| anyhow::anyhow!("the hashing thread failed"))
    })
}
// ANCHOR_END: hash_stream

/// The SHA-256 of a whole file, as hex: read in chunks (memory stays flat), each chunk
/// hashed as soon as it is read. `seen` is told the size of each chunk (a progress bar).
///
/// One thread, on purpose. The chunk just read is still in this core's cache when it is
/// hashed; handed to a hashing thread, as [`hash_stream`] does, it would first have to
/// travel to the other core. On the lab's machine that made hashing a 1 GiB file slower:
/// 0.91 s on two threads, 0.75 s on one. (Receiving is another matter: there the socket,
/// the hash and the file writes are each a big share of the work, and sharing it out
/// between two cores wins.)
pub fn sha256_of_file(path: &Path, mut seen: impl FnMut(u64)) -> anyhow::Result<String> {
    let reading = || format!("reading {}", path.display());
    let mut file = File::open(path).with_context(reading)?;
    let total = file.metadata().with_context(reading)?.len();
    let mut sha256 = Sha256::new();
    copy_body(&mut file, &mut std::io::sink(), total, |chunk| {
        sha256.update(chunk);
        seen(chunk.len() as u64);
    })
    .with_context(reading)?;
    Ok(to_hex(&sha256.finalize()))
}

/// The SHA-256 of bytes in memory, as hex.
pub fn sha256_of(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

// ANCHOR: part_file
/// A file being received. It is written as `DIR/.NAME.part` and becomes `DIR/NAME` only
/// by [`PartFile::keep`], after the checksum matched. Dropped without `keep` (checksum
/// wrong, connection lost, any error), it deletes itself: a failed transfer leaves
/// nothing behind.
pub struct PartFile {
    pub file: File,
    part: PathBuf,
    dest: PathBuf,
    kept: bool,
}

impl PartFile {
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<PartFile> {
        let part_name = format!("{PART_PREFIX}{name}{PART_SUFFIX}");
        let part = dir.join(&part_name);
        // The error names the file, not the folder: a server sends it to its client,
        // who has no business knowing where the server keeps its files.
        let file =
            File::create(&part).with_context(|| format!("creating {part_name}"))?;
        Ok(PartFile {
            file,
            part,
            dest: dir.join(name),
            kept: false,
        })
    }

    /// The checksum matched: give the file its real name. A rename within one directory
    /// is atomic: other programs see either no file or the whole file, never half of it.
    pub fn keep(mut self) -> anyhow::Result<()> {
        let name = self.dest.file_name().unwrap_or_default().to_string_lossy();
        std::fs::rename(&self.part, &self.dest)
            .with_context(|| format!("renaming to {name}"))?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}
// ANCHOR_END: part_file

/// How a complete body turned out.
pub enum Received {
    /// The checksum matched and the file has its name.
    Saved,
    /// The checksum did not match; nothing was kept. The body was read to its end, so the
    /// connection is still in step.
    ChecksumMismatch(String),
}

// ANCHOR: receive_file
/// Receives a body of `total` bytes into `dir/name` the safe way: into a part file,
/// checked against `sha256`, renamed only when it matches. `seen` is told how many
/// bytes came (progress). An `Err` means the body did not arrive whole (the connection is
/// out of step).
pub fn receive_file(
    conn: &mut impl Read,
    dir: &Path,
    name: &str,
    total: u64,
    sha256: &str,
    mut seen: impl FnMut(u64),
) -> anyhow::Result<Received> {
    let mut part = PartFile::create(dir, name)?;
    // Receive a chunk, write it; the hashing thread checks the chunk before meanwhile.
    let got = hash_stream(
        total,
        |buf, done| read_full(conn, buf, done, total),
        |chunk| {
            part.file.write_all(chunk).context("writing the file")?;
            seen(chunk.len() as u64);
            Ok(())
        },
    )?;
    if got != sha256 {
        // `part` is dropped here, and deletes the bad file.
        return Ok(Received::ChecksumMismatch(format!(
            "checksum mismatch for {name}: the header said sha256 {sha256}, \
             the data has {got}; nothing was saved"
        )));
    }
    part.keep()?;
    Ok(Received::Saved)
}
// ANCHOR_END: receive_file

// ANCHOR: kept_checksum
/// Where the server keeps the checksum of `dir/name`: `dir/.NAME.sha256`, a hidden name
/// that no request can ask for (hidden names are refused).
fn checksum_name(name: &str) -> String {
    format!(".{name}.sha256")
}

/// The longest name whose checksum can be kept: its record's temporary name,
/// `.NAME.sha256.tmp`, must fit the file system's 255 bytes. A longer name (up to the
/// protocol's 249) is served all the same; only its checksum is computed at every `get`.
pub const MAX_KEPT_NAME_LEN: usize =
    FILE_SYSTEM_NAME_MAX - ".".len() - ".sha256.tmp".len();

/// What a kept checksum is valid for: the file's size and modification time, to the
/// nanosecond. A file changed since (edited, replaced) no longer matches.
fn stamp(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("{} {}", meta.len(), modified.as_nanos()))
}

/// Keeps the checksum of `dir/name` (just received and verified, or just computed) next
/// to it, as `SHA256 SIZE MTIME`. Written under a temporary name, then renamed.
pub fn keep_checksum(dir: &Path, name: &str, sha256: &str) -> anyhow::Result<()> {
    let record = checksum_name(name);
    if name.len() > MAX_KEPT_NAME_LEN {
        bail!(
            "the checksum of a {}-byte name is not kept ({record}.tmp would not fit in \
             {FILE_SYSTEM_NAME_MAX} bytes): each get computes it",
            name.len()
        );
    }
    let stamp = stamp(&dir.join(name)).context("reading the file's size and time")?;
    let path = dir.join(&record);
    let temporary = dir.join(format!("{record}.tmp"));
    // The message names the record, not the folder (as the part file's errors do).
    std::fs::write(&temporary, format!("{sha256} {stamp}\n"))
        .and_then(|()| std::fs::rename(&temporary, &path))
        .with_context(|| format!("keeping the checksum in {record}"))
}

/// The checksum kept for `dir/name`, if it was made for the file as it is now (same size,
/// same modification time). Anything else (none kept, another size, a newer file, a
/// damaged record) is `None`: then the file must be hashed.
pub fn kept_checksum(dir: &Path, name: &str) -> Option<String> {
    let record = std::fs::read_to_string(dir.join(checksum_name(name))).ok()?;
    let (sha256, kept_for) = record.trim_end().split_once(' ')?;
    let valid = crate::json_header::check_sha256(sha256).is_ok();
    (valid && Some(kept_for.to_string()) == stamp(&dir.join(name))).then(|| sha256.into())
}
// ANCHOR_END: kept_checksum

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of `hello\n`.
    const HELLO_SHA256: &str =
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn copy_body_moves_exactly_total_bytes_and_leaves_the_rest() {
        let mut from: &[u8] = b"hello\nnext message";
        let mut to = Vec::new();
        let mut seen = 0;
        copy_body(&mut from, &mut to, 6, |chunk| seen += chunk.len()).unwrap();
        assert_eq!(to, b"hello\n");
        assert_eq!(seen, 6);
        assert_eq!(from, b"next message");
    }

    #[test]
    fn a_body_that_ends_early_says_how_much_came() {
        let mut from: &[u8] = &[7u8; 300];
        let e = copy_body(&mut from, &mut std::io::sink(), 1000, |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the body is shorter than total_size: the data ended after 300 of 1000 bytes"
        );
    }

    /// A source that hands out its bytes a few at a time, as a socket may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn hash_stream_hashes_every_byte_in_order_across_many_chunks() {
        // 3.5 chunks, arriving 100 000 bytes at a time: many chunks through the hasher.
        let data: Vec<u8> = (0..CHUNK * 7 / 2).map(|i| (i * 31 % 251) as u8).collect();
        let total = data.len() as u64;
        let mut from = Trickle(&data, 100_000);
        let mut kept = Vec::new();
        let got = hash_stream(
            total,
            |buf, done| read_full(&mut from, buf, done, total),
            |chunk| {
                kept.extend_from_slice(chunk);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(got, sha256_of(&data));
        assert!(kept == data, "the chunks were kept whole and in order");
    }

    #[test]
    fn hash_stream_stops_at_the_first_error_without_hanging() {
        let data = vec![1u8; CHUNK * 2 + 10];
        let mut from: &[u8] = &data;
        let e = hash_stream(
            CHUNK as u64 * 5,
            |buf, done| read_full(&mut from, buf, done, CHUNK as u64 * 5),
            |_| Ok(()),
        )
        .unwrap_err();
        let ended = format!("the data ended after {} of {}", data.len(), CHUNK * 5);
        assert!(e.to_string().contains(&ended), "{e}");
    }

    #[test]
    fn send_file_sends_exactly_total_bytes_of_the_file() {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let path = dir.path().join("a.bin");
        std::fs::write(&path, b"hello\nand more").unwrap();
        let file = File::open(&path).unwrap();
        // Linux's sendfile writes to any file; a socket is what lesson 06 gives it.
        let to = File::create(dir.path().join("copy.bin")).unwrap();
        let mut counted = 0;
        send_file(&file, &to, 6, |n| counted += n).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("copy.bin")).unwrap(),
            b"hello\n"
        );
        assert_eq!(counted, 6);
        let e = send_file(&file, &to, 100, |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file ended after 8 of 100 bytes: did it change meanwhile?"
        );
    }

    #[test]
    fn a_file_is_named_only_when_its_checksum_matches() {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let mut wrong: &[u8] = b"HELLO\n";
        let got = receive_file(&mut wrong, dir.path(), "a.txt", 6, HELLO_SHA256, |_| {});
        assert!(matches!(got, Ok(Received::ChecksumMismatch(_))));
        let mut short: &[u8] = b"hel";
        assert!(
            receive_file(&mut short, dir.path(), "a.txt", 6, HELLO_SHA256, |_| {})
                .is_err()
        );
        // Neither left anything: no a.txt, no .a.txt.part.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut right: &[u8] = b"hello\n";
        let got = receive_file(&mut right, dir.path(), "a.txt", 6, HELLO_SHA256, |_| {});
        assert!(matches!(got, Ok(Received::Saved)));
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"hello\n");
        assert_eq!(
            sha256_of_file(&dir.path().join("a.txt"), |_| ()).unwrap(),
            HELLO_SHA256
        );
        assert_eq!(sha256_of(b"hello\n"), HELLO_SHA256);
    }

    #[test]
    fn a_kept_checksum_is_used_only_for_the_file_it_was_made_for() {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"hello\n").unwrap();
        assert_eq!(kept_checksum(dir.path(), "a.txt"), None, "none kept yet");
        keep_checksum(dir.path(), "a.txt", HELLO_SHA256).unwrap();
        let kept = kept_checksum(dir.path(), "a.txt");
        assert_eq!(kept.as_deref(), Some(HELLO_SHA256));
        // Only the record is left next to the file: no temporary file.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".a.txt.sha256", "a.txt"]);
        // The file changes (another size): the record no longer speaks for it.
        std::fs::write(&path, b"hello, world\n").unwrap();
        assert_eq!(kept_checksum(dir.path(), "a.txt"), None);
        // Same size, other bytes, written later: its time differs.
        keep_checksum(dir.path(), "a.txt", HELLO_SHA256).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(kept_checksum(dir.path(), "a.txt"), None);
        // A damaged record is no checksum.
        std::fs::write(dir.path().join(".a.txt.sha256"), "not a checksum\n").unwrap();
        assert_eq!(kept_checksum(dir.path(), "a.txt"), None);
    }

    #[test]
    fn a_name_too_long_for_its_record_has_its_checksum_computed_each_time() {
        let dir = tempfile::tempdir().expect("a scratch directory");
        for (len, kept) in [(MAX_KEPT_NAME_LEN, true), (MAX_KEPT_NAME_LEN + 1, false)] {
            let name = "n".repeat(len);
            std::fs::write(dir.path().join(&name), b"hello\n").unwrap();
            let keeping = keep_checksum(dir.path(), &name, HELLO_SHA256);
            assert_eq!(keeping.is_ok(), kept, "{len} bytes: {keeping:?}");
            let found = kept_checksum(dir.path(), &name);
            assert_eq!(found.is_some(), kept, "{len} bytes");
        }
        let e = keep_checksum(dir.path(), &"n".repeat(249), HELLO_SHA256).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the checksum of a 249-byte name is not kept (.{}.sha256.tmp would not fit \
                 in 255 bytes): each get computes it",
                "n".repeat(249)
            )
        );
        assert_eq!(MAX_KEPT_NAME_LEN, 243);
    }
}
