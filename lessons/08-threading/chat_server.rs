//! Lesson 08 — the group chat: a threaded server where every message goes to everyone else.
//!
//! The classic course ends with a threaded chat room. This is that room on
//! `socket_lab::socketserver` (a thread per member), with its bugs fixed: a message is not
//! echoed back to its sender, a member who vanishes (closed or reset) is removed without
//! disturbing the others, and the member list is shared between threads behind a lock.
//! And one member who stops reading cannot slow the room down: each member has a queue of
//! lines waiting to be sent and a thread of its own that sends them, so the one who passes
//! a line on never waits for anyone. A member whose queue is full is dropped.
//!
//! The protocol is lines of text: the first line a member sends is their name, every
//! later line is a message, and `bye` leaves.
//!
//! Run it:   cargo run --bin lesson08-chat-server
//! Then, in two or three more terminals:   cargo run --bin lesson08-chat-client -- --name alice
//!
//! Look for: a line typed in one client appears in all the others, prefixed with the name;
//! close a client's terminal and the others see it leave. Stop one client with Ctrl-Z (it
//! no longer reads): the others go on talking, and after a while it is dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::{bind_error, is_timeout};
use socket_lab::limits::raise_open_file_limit;
use socket_lab::out::{escape, plural};
use socket_lab::socketserver::{Concurrency, Config, Request, RequestHandler, TcpServer};
use socket_lab::{Out, Side, Style};

/// `--classic`: the course's own chat protocol.
#[path = "chat_classic.rs"]
mod classic;

/// Lesson 08: the group chat server.
#[derive(Parser)]
#[command(name = "lesson08-chat-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Stop accepting after this many members, let them finish, then exit (default:
    /// forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// Speak the course's protocol, for the course's own Python chat client: no name
    /// line, each message one send of `NAME说:TEXT`, no newline; `NAME说:bye` leaves.
    #[arg(long)]
    classic: bool,

    /// At most N members at once; one more is told the room is full and closed. Each
    /// member takes 2 descriptors: the default fits the common open-file limit of 1024.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Drop a member who sends nothing for this many milliseconds, or whose connection
    /// takes none of our bytes for as long.
    #[arg(long, value_name = "MS", default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,

    /// How many lines may wait to be sent to one member; a member who falls further
    /// behind (it does not read) is dropped.
    #[arg(long, value_name = "LINES", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    queue_lines: u32,

    #[command(flatten)]
    style: Style,
}

/// The longest line (name or message) a member may send; a longer one ends that member.
const MAX_LINE: usize = 1024;
/// Descriptors per member: its connection, and the copy its sending thread writes to.
const FDS_PER_MEMBER: u64 = 2;

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: room
/// One member, as the room sees them.
struct Member {
    name: String,
    /// Lines waiting to be sent to this member, at most --queue-lines of them. The
    /// member's own sending thread takes them out and writes them.
    queue: SyncSender<Arc<str>>,
    /// The connection, to cut it at once when the member is dropped.
    conn: Arc<TcpStream>,
}

/// The members, shared by all connection threads. Every change to the room and every
/// line put in the queues happens while holding the lock, so every member gets the same
/// lines in the same order. Putting a line in a queue never waits: the lock is held for
/// microseconds, whatever the members do.
#[derive(Default)]
struct Room {
    members: Mutex<HashMap<SocketAddr, Member>>,
}

/// Puts `line` in the queue of every member except `from`; returns those whose queue was
/// full. `try_send` never waits: a member who does not read cannot hold us up.
fn send_all(
    members: &HashMap<SocketAddr, Member>,
    from: Option<SocketAddr>,
    line: &str,
) -> Vec<SocketAddr> {
    let line: Arc<str> = format!("{line}\n").into();
    let mut full = Vec::new();
    for (addr, member) in members {
        if Some(*addr) == from {
            continue; // not back to the sender
        }
        if let Err(TrySendError::Full(_)) = member.queue.try_send(line.clone()) {
            full.push(*addr);
        }
    }
    full
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Member>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Welcomes a new member, tells the others, and adds them: all in one step.
    fn join(&self, addr: SocketAddr, member: Member, out: Out) {
        let name = member.name.clone();
        let full = {
            let mut members = self.lock();
            let names = members.values().map(|m| m.name.as_str());
            let mut others: Vec<&str> = names.collect();
            // A HashMap has no order: sort, so the line is the same every time.
            others.sort();
            let here = if others.is_empty() {
                "nobody else is here yet".to_string()
            } else {
                format!("here: {}", others.join(", "))
            };
            // The queue is new and empty: the welcome always fits.
            let _ = member
                .queue
                .try_send(format!("* welcome {name}; {here}\n").into());
            out.line(format!("{name} joined from {addr}"));
            let full = send_all(&members, None, &format!("* {name} joined"));
            members.insert(addr, member);
            full
        };
        self.drop_all(full, out);
    }

    /// Passes a member's line on to everyone else.
    fn broadcast(&self, from: SocketAddr, line: &str, out: Out) {
        let full = {
            let members = self.lock();
            out.line(line);
            send_all(&members, Some(from), line)
        };
        self.drop_all(full, out);
    }

    /// Removes a member (once: a second call for the same member does nothing) and tells
    /// the others. With a `farewell`, that line is queued as the member's last and the
    /// connection closes after it; without, the connection is cut at once.
    fn leave(&self, addr: SocketAddr, how: &str, farewell: Option<&str>, out: Out) {
        let full = {
            let mut members = self.lock();
            let Some(member) = members.remove(&addr) else {
                return;
            };
            let last = farewell.map(|last| format!("{last}\n").into());
            let said = last.map(|last| member.queue.try_send(last));
            if !matches!(said, Some(Ok(()))) {
                // Cut: the sending thread's write fails at once, and the member's own
                // thread, blocked in read, wakes up.
                let _ = member.conn.shutdown(Shutdown::Both);
            }
            // `member.queue` is dropped here: its sending thread sends what is left in
            // the queue, then ends.
            out.line(format!("{} left ({how})", member.name));
            send_all(&members, None, &format!("* {} left ({how})", member.name))
        };
        self.drop_all(full, out);
    }

    /// Members whose queue was full: they are dropped, and the room told why.
    fn drop_all(&self, full: Vec<SocketAddr>, out: Out) {
        for addr in full {
            self.leave(addr, "not reading: too many lines waiting", None, out);
        }
    }
}
// ANCHOR_END: room

// ANCHOR: sender
/// A member's sending thread: takes lines from the member's queue and writes them, as
/// many as are waiting in one write. It is the only thread that waits for this member's
/// connection. It ends when the room drops the queue (the member left), or when a write
/// fails: then the member is removed.
fn start_sending(
    room: Arc<Room>,
    addr: SocketAddr,
    conn: Arc<TcpStream>,
    queue: Receiver<Arc<str>>,
    out: Out,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new().spawn(move || {
        while let Ok(line) = queue.recv() {
            let mut batch = line.as_bytes().to_vec();
            while let Ok(more) = queue.try_recv() {
                batch.extend_from_slice(more.as_bytes());
            }
            // `&TcpStream` writes too: the room keeps the other handle, to cut it.
            if let Err(e) = (&*conn).write_all(&batch) {
                let how = if is_timeout(&e) {
                    "not reading: --idle-timeout-ms passed"
                } else {
                    "connection lost"
                };
                room.leave(addr, how, None, out);
                return;
            }
        }
    })
}
// ANCHOR_END: sender

// ANCHOR: member
/// One member's connection, in its own thread (the socketserver's).
struct Handler {
    room: Arc<Room>,
    out: Out,
    queue_lines: usize,
    max_connections: u32,
    /// How the member left, for `finish`.
    how: &'static str,
    /// `--classic`: this member speaks the course's protocol.
    classic: bool,
    /// The member's sending thread, once they joined.
    sending: Option<JoinHandle<()>>,
}

/// Reads one line of at most MAX_LINE bytes, without its line end. `None` at the end of
/// the stream.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && line.len() > MAX_LINE {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("a line longer than {MAX_LINE} bytes"),
        ));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

impl Handler {
    /// The member joins the room as `name`, with a queue and a sending thread of its own.
    fn enter(&mut self, req: &Request, name: &str) -> std::io::Result<()> {
        let addr = req.client_address;
        // Each line goes out at once: with Nagle's algorithm, a line written while the
        // one before is not yet acknowledged would wait for that ACK (~40 ms, lesson 04).
        req.request.set_nodelay(true)?;
        let conn = Arc::new(req.request.try_clone()?);
        let (queue, lines) = mpsc::sync_channel(self.queue_lines);
        let room = self.room.clone();
        let sending = start_sending(room, addr, conn.clone(), lines, self.out)?;
        self.sending = Some(sending);
        let name = name.to_string();
        let member = Member { name, queue, conn };
        self.room.join(addr, member, self.out);
        Ok(())
    }
}

impl RequestHandler for Handler {
    fn handle(&mut self, req: &mut Request) -> std::io::Result<()> {
        if self.classic {
            return classic::handle(self, req);
        }
        let addr = req.client_address;
        let mut reader = BufReader::new(&req.request);

        // The first line is the member's name; shown escaped, like everything a member
        // sends: no byte of theirs reaches another terminal raw.
        let name = match read_line(&mut reader) {
            Ok(Some(name)) => name,
            Ok(None) => {
                self.how = "left before giving a name";
                return Ok(());
            }
            Err(e) if is_timeout(&e) => {
                self.how = "gave no name within --idle-timeout-ms";
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let name: String = escape(name.trim_ascii()).chars().take(32).collect();
        let name = if name.is_empty() {
            "guest".into()
        } else {
            name
        };
        self.enter(req, &name)?;

        // Every later line goes to everyone else, until `bye` or the connection ends.
        loop {
            let line = match read_line(&mut reader) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.how = "connection closed";
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    self.how = "connection reset";
                    return Ok(());
                }
                Err(e) if is_timeout(&e) => {
                    self.how = "idle: --idle-timeout-ms passed";
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if line.trim_ascii() == b"bye" {
                self.how = "said bye";
                let farewell = format!("* bye {name}");
                self.room.leave(addr, self.how, Some(&farewell), self.out);
                return Ok(());
            }
            let line = escape(&line);
            self.room
                .broadcast(addr, &format!("{name}: {line}"), self.out);
        }
    }

    /// Whatever happened, the member is removed (if nobody removed them already); then we
    /// wait for their sending thread to send what is left (the farewell), so that the
    /// server closes the connection after it, not before.
    fn finish(&mut self, req: &mut Request) {
        self.room
            .leave(req.client_address, self.how, None, self.out);
        if let Some(sending) = self.sending.take() {
            let _ = sending.join();
        }
    }

    /// The room is full (--max-connections): say so in one line.
    fn refuse(&mut self, req: &mut Request) {
        let full = format!(
            "* the room is full ({} members); try again later\n",
            self.max_connections
        );
        let _ = req.request.write_all(full.as_bytes());
        self.out
            .line(format!("{} refused: the room is full", req.client_address));
    }

    fn handle_error(&mut self, req: &Request, err: &std::io::Error) {
        self.how = "dropped after an error";
        let peer = req.client_address;
        self.out.line(format!("{peer}: {err}"));
    }
}
// ANCHOR_END: member

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let room = Arc::new(Room::default());
    let classic = args.classic;
    let config = Config {
        concurrency: Concurrency::Threading,
        allow_reuse_address: true,
        backlog: 128,
        max_requests: args.max_clients,
        max_connections: Some(args.max_connections as usize),
        idle_timeout: Some(Duration::from_millis(args.idle_timeout_ms)),
    };
    let addr = format!("{}:{}", args.host, args.port);
    let (queue_lines, max_connections) =
        (args.queue_lines as usize, args.max_connections);
    let server = TcpServer::bind(&addr, config, move || Handler {
        room: room.clone(),
        out,
        queue_lines,
        max_connections,
        how: "left",
        classic,
        sending: None,
    })
    .map_err(|e| bind_error(e, &addr))?;
    out.listening(server.local_addr());
    let limit = raise_open_file_limit().context("raising the open-file limit")?;
    out.line(limit.describe(max_connections as usize, FDS_PER_MEMBER));
    let served = server.serve_forever();
    out.line(format!("served {}, stopping", plural(served, "member")));
    Ok(())
}
