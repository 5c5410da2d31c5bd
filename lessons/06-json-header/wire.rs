//! Lesson 06 on the socket, used by both lesson06-server and lesson06-client: send and receive
//! a header (4-byte length + JSON), stream a body in chunks, and write a received file under a
//! temporary name until its checksum has been checked.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;
use sha2::{Digest, Sha256};
use socket_lab::frame::{len_bytes, len_from, ByteOrder};
use socket_lab::json_header::to_hex;
use socket_lab::out::plural;
use socket_lab::Out;

/// How many bytes of a body move at a time. The memory a transfer needs is this one buffer,
/// whatever the size of the file.
pub const CHUNK: usize = 1024 * 1024;

// ANCHOR: send_header
/// Sends one header: its length in 4 bytes, then the JSON. Both go in ONE write, so a peer
/// that reads the 4 bytes and then the header (like the course's Python client) finds them there.
pub fn send_header(
    conn: &mut impl Write,
    header: &impl Serialize,
    order: ByteOrder,
    out: &Out,
) -> anyhow::Result<()> {
    let json = serde_json::to_vec(header).context("encoding the header")?;
    // The length counts BYTES of the encoded JSON, not characters: "报告.txt" is 6 characters
    // but 10 bytes. A length in characters would cut the header short.
    let len = u32::try_from(json.len()).context("the header is too long")?;
    let prefix = len_bytes(len, order);
    let mut message = Vec::with_capacity(4 + json.len());
    message.extend_from_slice(&prefix);
    message.extend_from_slice(&json);
    conn.write_all(&message).context("sending the header")?;
    out.trace(format!(
        "write_all({}) = length {} {} + header {}",
        plural(message.len(), "byte"),
        len,
        socket_lab::out::preview(&prefix),
        String::from_utf8_lossy(&json)
    ));
    Ok(())
}
// ANCHOR_END: send_header

// ANCHOR: recv_header
/// Receives one header's bytes. `None` when the peer closed the connection cleanly between
/// two messages. The length is checked against `max` BEFORE anything is allocated: a wrong
/// byte order or a hostile peer cannot make us reserve gigabytes.
pub fn recv_header(
    conn: &mut impl Read,
    order: ByteOrder,
    max: u32,
    out: &Out,
) -> anyhow::Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; 4];
    let got = read_full(conn, &mut prefix).context("receiving a header length")?;
    if got == 0 {
        return Ok(None);
    }
    if got < 4 {
        bail!("truncated frame: the connection closed after {got} of the 4 length bytes");
    }
    let len = len_from(prefix, order);
    out.trace(format!(
        "read_exact(4) -> {} = header length {len}",
        socket_lab::out::preview(&prefix)
    ));
    if len > max {
        bail!(
            "header length {len} is over the limit of {max} bytes \
             (does the other side use the same --byte-order?)"
        );
    }
    let mut header = vec![0u8; len as usize];
    let got = read_full(conn, &mut header).context("receiving a header")?;
    if got < header.len() {
        bail!("truncated frame: the connection closed after {got} of the {len} header bytes");
    }
    out.trace(format!(
        "read_exact({len}) -> header {}",
        String::from_utf8_lossy(&header)
    ));
    Ok(Some(header))
}
// ANCHOR_END: recv_header

/// Reads until `buf` is full or the peer closes; returns how many bytes came. (`read_exact`
/// would not tell a clean close before the first byte from a close halfway through.)
fn read_full(conn: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match conn.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

// ANCHOR: copy_body
/// Streams exactly `total` bytes from `from` to `to` through one buffer of [`CHUNK`] bytes,
/// showing every chunk to `seen` (the checksum, the progress bar). The memory used is the same
/// for 5 bytes and for 5 GiB. A source that ends early is an error that says how much came.
pub fn copy_body(
    from: &mut impl Read,
    to: &mut impl Write,
    total: u64,
    mut seen: impl FnMut(&[u8]),
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(total).unwrap_or(CHUNK))];
    let mut done: u64 = 0;
    while done < total {
        let want = buf
            .len()
            .min(usize::try_from(total - done).unwrap_or(buf.len()));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => bail!(
                "the body is shorter than total_size: the data ended after {done} of {total} bytes"
            ),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e).context(format!("receiving the body ({done} of {total} bytes)"))
            }
        };
        seen(&buf[..n]);
        to.write_all(&buf[..n])
            .with_context(|| format!("passing on the body ({done} of {total} bytes)"))?;
        done += n as u64;
    }
    Ok(())
}
// ANCHOR_END: copy_body

/// The SHA-256 of a whole file, read in chunks (memory stays flat), as hex.
pub fn sha256_of_file(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        hasher.update(&buf[..n]);
    }
    Ok(to_hex(&hasher.finalize()))
}

/// The SHA-256 of bytes in memory, as hex.
#[allow(dead_code)] // the server's; the client hashes as the output arrives
pub fn sha256_of(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

// ANCHOR: part_file
/// A file being received. It is written as `DIR/.NAME.part` and becomes `DIR/NAME` only by
/// [`PartFile::keep`], after the checksum matched. Dropped without `keep` (checksum wrong,
/// connection lost, any error), it deletes itself: a failed transfer leaves nothing behind.
pub struct PartFile {
    pub file: File,
    part: PathBuf,
    dest: PathBuf,
    kept: bool,
}

impl PartFile {
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<PartFile> {
        let part = dir.join(format!(".{name}.part"));
        let file = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        Ok(PartFile {
            file,
            part,
            dest: dir.join(name),
            kept: false,
        })
    }

    /// The checksum matched: give the file its real name. A rename within one directory is
    /// atomic: other programs see either no file or the whole file, never half of it.
    pub fn keep(mut self) -> anyhow::Result<()> {
        std::fs::rename(&self.part, &self.dest)
            .with_context(|| format!("renaming to {}", self.dest.display()))?;
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

/// Receives a body of `total` bytes into `dir/name` the safe way: into a part file, checked
/// against `sha256`, renamed only when it matches. `seen` also sees every chunk (progress).
/// An `Err` means the body did not arrive whole (the connection is out of step).
pub fn receive_file(
    conn: &mut impl Read,
    dir: &Path,
    name: &str,
    total: u64,
    sha256: &str,
    mut seen: impl FnMut(&[u8]),
) -> anyhow::Result<Received> {
    let mut part = PartFile::create(dir, name)?;
    let mut hasher = Sha256::new();
    copy_body(conn, &mut part.file, total, |chunk| {
        hasher.update(chunk);
        seen(chunk);
    })?;
    let got = to_hex(&hasher.finalize());
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
