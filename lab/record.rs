//! `--trace-file PATH`: a record of what a program did, one JSON line per event.
//!
//! `--trace` shows a person every send and receive as it happens. `--trace-file` writes the
//! same events, and every line the program prints, to a file that another program can read:
//! `lab demo` uses the records of a server and its clients to print their lines in an order
//! that follows cause and effect (a read comes after the write whose bytes it got), and `lab
//! diagram` draws them as a sequence diagram. Each event says which thread did it and on
//! which connection (the local and the peer address), so the records of several programs
//! can be matched up.
//!
//! A line of the file looks like this (one line in the file):
//!
//!     {"thread":"main","conn":{"local":"127.0.0.1:9004","peer":"127.0.0.1:53122"},
//!      "op":"read","asked":1024,"got":10,"bytes":"68656c6c6f776f726c64"}
//!
//! Bytes are written in hex, at most [`MAX_BYTES`] of them per event; `got` and `size` are
//! always the real counts.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

use serde::{Deserialize, Serialize};

/// How many bytes of one read or write the record keeps (the counts are always exact).
pub const MAX_BYTES: usize = 4096;

/// One end of a connection (or a UDP socket): its own address and, when it has one, its
/// peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conn {
    pub local: SocketAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
}

/// A socket whose addresses can be recorded.
pub trait Endpoint {
    fn conn(&self) -> Option<Conn>;
}

impl Endpoint for TcpStream {
    fn conn(&self) -> Option<Conn> {
        Some(Conn {
            local: self.local_addr().ok()?,
            peer: self.peer_addr().ok(),
        })
    }
}

impl Endpoint for UdpSocket {
    fn conn(&self) -> Option<Conn> {
        Some(Conn {
            local: self.local_addr().ok()?,
            peer: self.peer_addr().ok(),
        })
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The program began to use this connection (`Out::on`).
    Open,
    /// A line printed on stdout.
    Line { text: String },
    /// A line read from stdin (typed, or piped in).
    Input { text: String },
    /// The end of stdin.
    InputEnd,
    /// A read into a buffer of `asked` bytes returned `got` bytes (0: the peer closed).
    Read {
        asked: usize,
        got: usize,
        bytes: String,
    },
    /// A read failed (ECONNRESET, say).
    ReadFailed { asked: usize, error: String },
    /// `size` bytes were written.
    Write { size: usize, bytes: String },
    /// A write of `size` bytes failed (EPIPE, say).
    WriteFailed { size: usize, error: String },
    /// The program shut its sending side down (a FIN, while it still reads).
    Shutdown,
    /// The program closed the connection (a FIN; it reads no more).
    Close,
    /// After our close, the peer's FIN arrived: seen in the state of our end (TIME_WAIT),
    /// not by a read (lesson 11).
    PeerFin,
    /// A datagram of `size` bytes was sent to `to`.
    SendTo {
        to: SocketAddr,
        size: usize,
        bytes: String,
    },
    /// A datagram from `from` was received into a buffer of `asked` bytes: `got` bytes.
    RecvFrom {
        from: SocketAddr,
        asked: usize,
        got: usize,
        bytes: String,
    },
}

impl Op {
    pub fn read(asked: usize, got: &[u8]) -> Op {
        Op::Read {
            asked,
            got: got.len(),
            bytes: bytes_to_keep(got),
        }
    }

    pub fn write(bytes: &[u8]) -> Op {
        Op::Write {
            size: bytes.len(),
            bytes: bytes_to_keep(bytes),
        }
    }

    pub fn send_to(to: SocketAddr, sent: &[u8]) -> Op {
        Op::SendTo {
            to,
            size: sent.len(),
            bytes: bytes_to_keep(sent),
        }
    }

    pub fn recv_from(from: SocketAddr, asked: usize, got: &[u8]) -> Op {
        Op::RecvFrom {
            from,
            asked,
            got: got.len(),
            bytes: bytes_to_keep(got),
        }
    }

    pub fn read_failed(asked: usize, error: &std::io::Error) -> Op {
        Op::ReadFailed {
            asked,
            error: error_name(error),
        }
    }

    pub fn write_failed(size: usize, error: &std::io::Error) -> Op {
        Op::WriteFailed {
            size,
            error: error_name(error),
        }
    }
}

/// One line of a record file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The thread's name, `main`, or `thread-N` for an unnamed thread.
    pub thread: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<Conn>,
    #[serde(flatten)]
    pub op: Op,
}

/// The short name of an error, as C and Python programmers know it.
pub fn error_name(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionReset => "ECONNRESET".into(),
        ErrorKind::BrokenPipe => "EPIPE".into(),
        ErrorKind::ConnectionRefused => "ECONNREFUSED".into(),
        ErrorKind::WouldBlock => "EAGAIN".into(),
        ErrorKind::TimedOut => "ETIMEDOUT".into(),
        _ => e.to_string(),
    }
}

/// What an event keeps of the bytes it moved: their [`hex`] when this program records, and
/// nothing when it does not. The event is then dropped unread, and a busy server should
/// not spell out every byte it moves for nobody.
fn bytes_to_keep(bytes: &[u8]) -> String {
    if on() {
        hex(bytes)
    } else {
        String::new()
    }
}

/// Bytes as hex, at most [`MAX_BYTES`] of them.
pub fn hex(bytes: &[u8]) -> String {
    let kept = &bytes[..bytes.len().min(MAX_BYTES)];
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(kept.len() * 2);
    for b in kept {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// The bytes of [`hex`] back (an odd or bad digit ends them).
pub fn unhex(text: &str) -> Vec<u8> {
    let digits = text.as_bytes();
    digits
        .chunks(2)
        .map_while(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

struct Recorder {
    file: File,
    /// Unnamed threads get `thread-1`, `thread-2`, … in the order they first record.
    threads: Vec<ThreadId>,
    /// Connections already announced with [`Op::Open`].
    opened: Vec<Conn>,
}

static RECORDER: OnceLock<Mutex<Recorder>> = OnceLock::new();

/// Starts recording into `path` (created, or emptied). Called once, by `Out::new`.
pub fn start(path: &Path) -> std::io::Result<()> {
    let file = File::create(path)?;
    let _ = RECORDER.set(Mutex::new(Recorder {
        file,
        threads: Vec::new(),
        opened: Vec::new(),
    }));
    Ok(())
}

/// Whether this program records.
pub fn on() -> bool {
    RECORDER.get().is_some()
}

/// Records one event (nothing when this program does not record), then runs `then` while
/// still holding the record: a line is printed in the same order as it is recorded, also
/// when several threads print.
pub fn event_then<T>(conn: Option<Conn>, op: Op, then: impl FnOnce() -> T) -> T {
    let Some(recorder) = RECORDER.get() else {
        return then();
    };
    let mut recorder = recorder.lock().unwrap_or_else(PoisonError::into_inner);
    let current = std::thread::current();
    let thread = match current.name() {
        Some(name) => name.to_string(),
        None => {
            let id = current.id();
            let n = match recorder.threads.iter().position(|t| *t == id) {
                Some(i) => i + 1,
                None => {
                    recorder.threads.push(id);
                    recorder.threads.len()
                }
            };
            format!("thread-{n}")
        }
    };
    let event = Event { thread, conn, op };
    if let Ok(mut json) = serde_json::to_string(&event) {
        json.push('\n');
        // A record that cannot be written is not worth stopping the lesson for.
        let _ = recorder.file.write_all(json.as_bytes());
    }
    then()
}

/// Records one event.
pub fn event(conn: Option<Conn>, op: Op) {
    event_then(conn, op, || ());
}

/// Records [`Op::Open`] for `conn`, once per connection.
pub fn open(conn: Conn) {
    let Some(recorder) = RECORDER.get() else {
        return;
    };
    {
        let mut recorder = recorder.lock().unwrap_or_else(PoisonError::into_inner);
        if recorder.opened.contains(&conn) {
            return;
        }
        recorder.opened.push(conn);
    }
    event(Some(conn), Op::Open);
}

/// Reads a record file: its events, in order. A line that is not an event is an error
/// that says which line.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<Event>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the trace file {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| {
                format!("{} line {}: not a trace event", path.display(), i + 1)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_does_not_record_keeps_no_bytes() {
        // No test here starts a record: the sizes are kept, the bytes are not spelled out.
        assert!(!on());
        let read = Op::read(1024, b"hello");
        let bytes = String::new();
        assert_eq!(
            read,
            Op::Read {
                asked: 1024,
                got: 5,
                bytes
            }
        );
    }

    #[test]
    fn an_event_is_one_flat_json_line_and_reads_back() {
        let event = Event {
            thread: "main".into(),
            conn: Some(Conn {
                local: "127.0.0.1:9004".parse().unwrap(),
                peer: Some("127.0.0.1:5000".parse().unwrap()),
            }),
            op: Op::Read {
                asked: 1024,
                got: 5,
                bytes: hex(b"hello"),
            },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"thread":"main","conn":{"local":"127.0.0.1:9004","peer":"127.0.0.1:5000"},"op":"read","asked":1024,"got":5,"bytes":"68656c6c6f"}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        let open = Event {
            thread: "thread-1".into(),
            conn: None,
            op: Op::Open,
        };
        let json = serde_json::to_string(&open).unwrap();
        assert_eq!(json, r#"{"thread":"thread-1","op":"open"}"#);
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), open);
    }

    #[test]
    fn hex_goes_both_ways() {
        assert_eq!(unhex(&hex(b"\x00hello\xff")), b"\x00hello\xff");
        assert_eq!(unhex("6g"), b"");
    }
}
