//! Lesson 06's body: how a file or a command's output moves after its header. It is
//! streamed in chunks through one buffer (the memory is the same for 5 bytes and for 5
//! GiB), shown to a SHA-256 checksum on the way, and a received file is written under a
//! temporary name until its checksum has been checked. lesson06-server and
//! lesson06-client use it through the library, as `socket_lab::transfer`.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use crate::json_header::{to_hex, PART_PREFIX, PART_SUFFIX};

/// How many bytes of a body move at a time. The memory a transfer needs is this one
/// buffer, whatever the size of the file.
pub const CHUNK: usize = 1024 * 1024;

// ANCHOR: copy_body
/// Streams exactly `total` bytes from `from` to `to` through one buffer of [`CHUNK`]
/// bytes, showing every chunk to `seen` (the checksum, the progress bar). The memory used
/// is the same for 5 bytes and for 5 GiB. A source that ends early is an error that says
/// how much came.
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
                "the body is shorter than total_size: \
                 the data ended after {done} of {total} bytes"
            ),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let context = format!("receiving the body ({done} of {total} bytes)");
                return Err(e).context(context);
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
    let mut file =
        File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", path.display()))
            }
        };
        hasher.update(&buf[..n]);
    }
    Ok(to_hex(&hasher.finalize()))
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

/// Receives a body of `total` bytes into `dir/name` the safe way: into a part file,
/// checked against `sha256`, renamed only when it matches. `seen` also sees every chunk
/// (progress). An `Err` means the body did not arrive whole (the connection is out of
/// step).
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
            sha256_of_file(&dir.path().join("a.txt")).unwrap(),
            HELLO_SHA256
        );
        assert_eq!(sha256_of(b"hello\n"), HELLO_SHA256);
    }
}
