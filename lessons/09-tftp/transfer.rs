//! Lesson 09 — the lock-step of one TFTP transfer, used by lesson09-server and
//! lesson09-client alike (the library exports it as `socket_lab::tftp_transfer`).
//!
//! The side that has the file sends DATA block 1 and waits for ACK 1, then DATA 2 and
//! ACK 2, and so on: one packet in flight, never more. The side that receives the file
//! waits for each DATA and answers it with an ACK. A DATA with fewer than 512 bytes of
//! data is the last one.
//!
//! Reliability on top of UDP, built by hand, in four rules:
//! - every wait has a timeout; when it expires, the last packet is sent again, at most
//!   `retries` times, and then the transfer gives up;
//! - a duplicate DATA (the sender did not get our ACK) is ACKed again and not written
//!   twice;
//! - a duplicate ACK is ignored: DATA is sent again only after a timeout, never because
//!   of a duplicate ACK (that mistake doubles every packet from then on: the "Sorcerer's
//!   Apprentice" bug, RFC 1123 section 4.2.3.1);
//! - each side knows the other's port (its transfer ID, TID); a packet from any other
//!   port is answered with ERROR 5 and changes nothing.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::out::plural;
use crate::tftp::{describe, escaped, parse, ErrorCode, Packet, BLOCK_SIZE, MAX_PACKET};
use crate::Out;

/// How long each wait lasts, and how many times a packet is sent again before giving up:
/// the `--timeout-ms` and `--retries` of both the server and the client.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct Patience {
    /// How long to wait for the answer to a packet (the ACK of a DATA, the next DATA
    /// after an ACK) before sending that packet again.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,

    /// How many times a packet is sent again after a timeout before the transfer gives
    /// up.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub retries: u32,
}

impl Patience {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// What happened on the way, for the closing line of a transfer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Waits that ended without an answer (each one re-sent a packet).
    pub timeouts: u64,
    /// Duplicates received: DATA answered again, or ACKs ignored.
    pub duplicates: u64,
    /// Packets from a port that is not the peer's, answered with ERROR 5.
    pub strangers: u64,
}

impl std::fmt::Display for Stats {
    /// What went wrong on the way, if anything: `; 3 timeouts, 1 duplicate`. Nothing at
    /// all for a transfer without a lost packet.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let mut seen = Vec::new();
        if self.timeouts > 0 {
            seen.push(plural(self.timeouts as usize, "timeout"));
        }
        if self.duplicates > 0 {
            seen.push(plural(self.duplicates as usize, "duplicate"));
        }
        match self.strangers {
            0 => {}
            1 => seen.push("1 packet from an unknown TID".to_string()),
            n => seen.push(format!("{n} packets from unknown TIDs")),
        }
        if !seen.is_empty() {
            write!(f, "; {}", seen.join(", "))?;
        }
        Ok(())
    }
}

/// What a transfer moved.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub bytes: u64,
    /// DATA packets, the final (short) one included; over 65 535 for a file over 32 MiB.
    pub blocks: u64,
}

// ANCHOR: link
/// One side of one transfer: its own socket, and the peer it talks to.
pub struct Link {
    socket: UdpSocket,
    /// Where our packets go. For a client, at first the server's well-known port; the
    /// first answer comes from a new port (the server's TID for this transfer), and from
    /// then on every packet goes there and only packets from there are accepted.
    peer: SocketAddr,
    peer_known: bool,
    patience: Patience,
    out: Out,
    /// Put before each line this link prints: the server runs many transfers at once.
    prefix: String,
    pub stats: Stats,
}
// ANCHOR_END: link

/// Why a transfer gave up: every try of a packet went unanswered.
#[derive(Debug)]
pub struct NoAnswer(String);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoAnswer {}

/// What a wait does with a packet from the peer.
enum Answer<T> {
    /// The packet we were waiting for.
    Take(T),
    /// Not it: say why, and keep waiting.
    Ignore(String),
    /// The peer missed our last packet (it sent its own again): say so, send ours again,
    /// and keep waiting.
    Repeat(String),
    /// A packet that has no place here: ERROR 4 to the peer, and the transfer ends.
    Illegal(String),
}

impl Link {
    /// A server's side: the peer is the client that sent the request.
    pub fn to_client(
        socket: UdpSocket,
        client: SocketAddr,
        patience: Patience,
        out: Out,
    ) -> Link {
        Link {
            socket,
            peer: client,
            peer_known: true,
            patience,
            out,
            prefix: format!("{client}: "),
            stats: Stats::default(),
        }
    }

    /// A client's side: the request goes to `server`; the transfer continues with
    /// whichever port of that host answers first.
    pub fn to_server(
        socket: UdpSocket,
        server: SocketAddr,
        patience: Patience,
        out: Out,
    ) -> Link {
        Link {
            socket,
            peer: server,
            peer_known: false,
            patience,
            out,
            prefix: String::new(),
            stats: Stats::default(),
        }
    }

    /// The peer's address: after the first answer, its port is the peer's TID.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the peer has answered at all (a client's request may have gone nowhere).
    pub fn answered(&self) -> bool {
        self.peer_known
    }

    fn say(&self, text: impl std::fmt::Display) {
        self.out.line(format!("{}{text}", self.prefix));
    }

    /// Sends one packet to the peer (traced with `--trace`).
    pub fn send(&self, packet: &Packet) -> anyhow::Result<()> {
        let bytes = packet.encode();
        self.socket
            .send_to(&bytes, self.peer)
            .with_context(|| format!("sending {} to {}", packet.name(), self.peer))?;
        self.out.trace(format!(
            "→ {} {packet} ({})",
            self.peer,
            plural(bytes.len(), "byte")
        ));
        Ok(())
    }

    /// Tells the peer why the transfer ends here (an ERROR packet); returns that error.
    pub fn abort(&self, code: ErrorCode, message: impl Into<String>) -> anyhow::Error {
        let message = message.into();
        let _ = self.send(&Packet::error(code, message.clone()));
        anyhow!("{message} (sent ERROR {code} to {})", self.peer)
    }

    // ANCHOR: receive
    /// Waits until `deadline` for the next packet from the peer; `None` when time is up.
    /// Packets from anyone else get ERROR 5 and are otherwise ignored. An ERROR from the
    /// peer, or bytes that are not a TFTP packet, end the transfer.
    fn receive(&mut self, deadline: Instant) -> anyhow::Result<Option<Packet>> {
        // One byte more than the largest packet: a datagram that fills it is too long.
        let mut buf = [0u8; MAX_PACKET + 1];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            let (n, from) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock
                        || e.kind() == ErrorKind::TimedOut =>
                {
                    return Ok(None)
                }
                // An ICMP error for an earlier datagram (Linux reports some on UDP
                // sockets): not an answer; keep waiting.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e).context("receiving a packet"),
            };
            let packet = parse(&buf[..n]);
            let shown = describe(&packet, n);
            self.out
                .trace(format!("← {from} {shown} ({})", plural(n, "byte")));

            // The first answer to a request fixes the server's TID: same host, any port.
            if !self.peer_known && from.ip() == self.peer.ip() {
                if from != self.peer {
                    let why = "its own port for this transfer (TID)";
                    self.say(format!("the server answers from {from}: {why}"));
                }
                self.peer = from;
                self.peer_known = true;
            }
            if from != self.peer {
                self.stranger(from, &packet);
                continue;
            }
            return match packet {
                Ok(Packet::Error { code, message }) => Err(anyhow!(
                    "{from} answered ERROR {code}: {}",
                    escaped(&message)
                )),
                Ok(packet) => Ok(Some(packet)),
                Err(e) => Err(self.abort(
                    ErrorCode::IllegalOperation,
                    format!("a malformed packet from {from}: {e}"),
                )),
            };
        }
    }
    // ANCHOR_END: receive

    // ANCHOR: stranger
    /// A packet from a port that is not this transfer's peer: RFC 1350 says answer
    /// ERROR 5 to its sender "while not disturbing the transfer". (An ERROR is never
    /// answered: two programs would otherwise answer each other's errors forever.)
    fn stranger(
        &mut self,
        from: SocketAddr,
        packet: &Result<Packet, crate::tftp::ParseError>,
    ) {
        self.stats.strangers += 1;
        if matches!(packet, Ok(Packet::Error { .. })) {
            self.say(format!(
                "an ERROR from {from}, which is not this transfer's peer: ignored"
            ));
            return;
        }
        let error = Packet::error(
            ErrorCode::UnknownTid,
            format!("unknown transfer ID: this port talks only to {}", self.peer),
        );
        let bytes = error.encode();
        let _ = self.socket.send_to(&bytes, from);
        self.out.trace(format!(
            "→ {from} {error} ({})",
            plural(bytes.len(), "byte")
        ));
        self.say(format!(
            "a packet from {from}, which is not this transfer's peer (unknown TID): \
             answered with ERROR 5; the transfer goes on"
        ));
    }
    // ANCHOR_END: stranger

    // ANCHOR: send_and_wait
    /// Sends `packet`, then waits for the answer that `check` takes. Each time `timeout`
    /// passes without it, `packet` is sent again, `retries` times at most.
    fn send_and_wait<T>(
        &mut self,
        packet: &Packet,
        mut check: impl FnMut(Packet) -> Answer<T>,
    ) -> anyhow::Result<T> {
        self.send(packet)?;
        let (timeout, retries) = (self.patience.timeout(), self.patience.retries);
        let mut tries = 1;
        let mut deadline = Instant::now() + timeout;
        loop {
            let Some(answer) = self.receive(deadline)? else {
                if tries > retries {
                    let times = match tries {
                        1 => "once".to_string(),
                        n => format!("{n} times, {} ms apart", timeout.as_millis()),
                    };
                    return Err(anyhow::Error::new(NoAnswer(format!(
                        "no answer from {} to {} (sent {times})",
                        self.peer,
                        packet.label()
                    ))));
                }
                tries += 1;
                self.stats.timeouts += 1;
                self.say(format!(
                    "no answer within {} ms: sending {} again (try {tries} of {})",
                    timeout.as_millis(),
                    packet.label(),
                    retries + 1
                ));
                self.send(packet)?;
                deadline = Instant::now() + timeout;
                continue;
            };
            match check(answer) {
                Answer::Take(value) => return Ok(value),
                Answer::Ignore(why) => {
                    self.stats.duplicates += 1;
                    self.say(why);
                }
                Answer::Repeat(why) => {
                    self.stats.duplicates += 1;
                    self.say(why);
                    self.send(packet)?;
                }
                Answer::Illegal(why) => {
                    return Err(self.abort(ErrorCode::IllegalOperation, why))
                }
            }
        }
    }
    // ANCHOR_END: send_and_wait
}

/// A client's write request: send the WRQ until the server's new port answers with ACK 0.
pub fn start_write(link: &mut Link, wrq: &Packet) -> anyhow::Result<()> {
    link.send_and_wait(wrq, |answer| match answer {
        Packet::Ack { block: 0 } => Answer::Take(()),
        other => Answer::Illegal(format!("{other} received as the answer to a WRQ")),
    })
}

// ANCHOR: send_file
/// Sends a whole file: DATA 1, wait for ACK 1, DATA 2, wait for ACK 2, … until a DATA
/// with fewer than 512 bytes of data — an empty one when the size is a multiple of 512.
pub fn send_file(link: &mut Link, file: &mut impl Read) -> anyhow::Result<Summary> {
    let mut block: u16 = 1;
    let mut summary = Summary {
        bytes: 0,
        blocks: 0,
    };
    loop {
        let data = match read_block(file) {
            Ok(data) => data,
            Err(e) => {
                return Err(
                    link.abort(ErrorCode::NotDefined, format!("reading the file: {e}"))
                )
            }
        };
        let n = data.len();
        let data = Packet::Data { block, data };
        let last = n < BLOCK_SIZE;
        let acked = link.send_and_wait(&data, |answer| match answer {
            Packet::Ack { block: acked } if acked == block => Answer::Take(()),
            // An ACK for an earlier block arrived late or twice. Sending DATA again here
            // would make every later packet travel twice (the Sorcerer's Apprentice bug).
            Packet::Ack { block: acked } => Answer::Ignore(format!(
                "ACK block {acked} again: a duplicate; ignored \
                 (DATA goes again only after a timeout)"
            )),
            other => Answer::Illegal(format!(
                "{} received while waiting for ACK block {block}",
                other.name()
            )),
        });
        if let Err(e) = acked {
            // Silence after the last DATA is not like silence after any other: the client
            // may have everything, and only its final ACK was lost.
            if last && e.is::<NoAnswer>() {
                let why = "the final ACK never came; \
                           the client may have the whole file all the same";
                return Err(e.context(why));
            }
            return Err(e);
        }
        summary.bytes += n as u64;
        summary.blocks += 1;
        if last {
            return Ok(summary);
        }
        // After block 65 535 comes block 0: the 2-byte counter wraps (files over 32 MiB).
        block = block.wrapping_add(1);
    }
}
// ANCHOR_END: send_file

/// Reads up to one block: 512 bytes, fewer only at the end of the file. (`read` alone may
/// return fewer bytes than asked, lesson 03; `take` + `read_to_end` reads until it has
/// 512 or the file has ended.)
fn read_block(file: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(BLOCK_SIZE);
    file.take(BLOCK_SIZE as u64).read_to_end(&mut block)?;
    Ok(block)
}

// ANCHOR: receive_file
/// Receives a whole file into `part`. `ask` is the packet that asks for block 1: the RRQ
/// (a client) or ACK 0 (a server that accepted a write request); it is sent again while
/// nothing comes. Every DATA is written, then ACKed. The file gets its real name before
/// the final ACK goes out, so that ACK means "saved" (and the line that says so comes
/// first). After it, the receiver waits `dally` in case the final DATA comes again (its
/// ACK was lost), to ACK it once more.
pub fn receive_file(
    link: &mut Link,
    ask: Packet,
    mut part: PartFile,
    limit: u64,
    dally: Duration,
) -> anyhow::Result<Summary> {
    let mut ask = ask;
    let mut expected: u16 = 1;
    let mut summary = Summary {
        bytes: 0,
        blocks: 0,
    };
    loop {
        let started = summary.blocks > 0;
        let data = link.send_and_wait(&ask, |answer| match answer {
            Packet::Data { block, data } if block == expected => Answer::Take(data),
            // The block we already have: the sender did not get our ACK. ACK it again;
            // the data is NOT written a second time.
            Packet::Data { block, .. }
                if started && block == expected.wrapping_sub(1) =>
            {
                Answer::Repeat(format!(
                    "DATA block {block} again: a duplicate (our ACK was lost or late); \
                     ACKed again, not written twice"
                ))
            }
            Packet::Data { block, .. } => Answer::Ignore(format!(
                "DATA block {block} while waiting for block {expected}: ignored"
            )),
            other => Answer::Illegal(format!(
                "{} received while waiting for DATA block {expected}",
                other.name()
            )),
        })?;
        summary.bytes += data.len() as u64;
        summary.blocks += 1;
        if summary.bytes > limit {
            return Err(link.abort(
                ErrorCode::DiskFull,
                format!("the file is larger than the limit of {limit} bytes"),
            ));
        }
        if let Err(e) = part.write(&data) {
            return Err(
                link.abort(write_error_code(&e), format!("writing the file: {e}"))
            );
        }
        let ack = Packet::Ack { block: expected };
        if data.len() < BLOCK_SIZE {
            // The last block. Store the file under its name first, then confirm.
            if let Err(e) = part.keep() {
                return Err(
                    link.abort(write_error_code(&e), format!("storing the file: {e}"))
                );
            }
            link.say(format!(
                "saved {}: {} in {}{}",
                part.dest.display(),
                plural(summary.bytes as usize, "byte"),
                plural(summary.blocks as usize, "DATA packet"),
                link.stats
            ));
            link.send(&ack)?;
            dally_after(link, &ack, dally);
            return Ok(summary);
        }
        ask = ack;
        expected = expected.wrapping_add(1);
    }
}
// ANCHOR_END: receive_file

/// After the final ACK: for `dally`, answer the final DATA again if it comes again.
fn dally_after(link: &mut Link, final_ack: &Packet, dally: Duration) {
    let Packet::Ack { block } = *final_ack else {
        return;
    };
    let deadline = Instant::now() + dally;
    while let Ok(Some(packet)) = link.receive(deadline) {
        if matches!(packet, Packet::Data { block: b, .. } if b == block) {
            link.stats.duplicates += 1;
            link.say(format!(
                "DATA block {block} again after the end: the final ACK was lost; ACKed again"
            ));
            let _ = link.send(final_ack);
        }
    }
}

/// ERROR 3 for a full disk, 2 for a permission problem, 6 for a name taken meanwhile, 0
/// for anything else.
fn write_error_code(e: &io::Error) -> ErrorCode {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            ErrorCode::DiskFull
        }
        ErrorKind::PermissionDenied => ErrorCode::AccessViolation,
        ErrorKind::AlreadyExists => ErrorCode::FileExists,
        _ => ErrorCode::NotDefined,
    }
}

// ANCHOR: part_file
/// A file being received, written as `DIR/.NAME.part` and given its name `DIR/NAME` only
/// by [`PartFile::keep`], once the last block is in. Dropped without `keep` (a timeout,
/// an ERROR, a full disk), it deletes itself: an aborted transfer leaves nothing. (A
/// process killed outright runs no code at all: then the part file stays, and the next
/// transfer of that name says so.)
pub struct PartFile {
    file: BufWriter<File>,
    part: PathBuf,
    dest: PathBuf,
    overwrite: bool,
    kept: bool,
}

impl PartFile {
    /// Starts `dest`. `create_new` fails if the part file exists: two transfers of the
    /// same name can never write into one file.
    pub fn create(dest: &Path, overwrite: bool) -> io::Result<PartFile> {
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let part = dest.with_file_name(format!(".{name}.part"));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => io::Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{} exists: another transfer of {name} is running, or an \
                         interrupted one left it behind (then delete it)",
                        part.display()
                    ),
                ),
                _ => e,
            })?;
        Ok(PartFile {
            file: BufWriter::new(file),
            part,
            dest: dest.to_path_buf(),
            overwrite,
            kept: false,
        })
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Gives the file its name. Without `overwrite` this is a hard link, which fails if
    /// the name exists (a rename would silently replace a file that appeared meanwhile);
    /// then the part file's name is removed. Either way, other programs see no file or
    /// all of it.
    pub fn keep(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.overwrite {
            std::fs::rename(&self.part, &self.dest)?;
        } else {
            std::fs::hard_link(&self.part, &self.dest)?;
            std::fs::remove_file(&self.part)?;
        }
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
