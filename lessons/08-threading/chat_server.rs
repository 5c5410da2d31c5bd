//! Lesson 08 — the group chat: a threaded server where every message goes to everyone else.
//!
//! The classic course ends with a threaded chat room. This is that room on
//! `socket_lab::socketserver` (a thread per member), with its bugs fixed: a message is not
//! echoed back to its sender, a member who vanishes (closed or reset) is removed without
//! disturbing the others, and the member list is shared between threads behind a lock.
//!
//! The protocol is lines of text: the first line a member sends is their name, every
//! later line is a message, and `bye` leaves.
//!
//! Run it:   cargo run --bin lesson08-chat-server
//! Then, in two or three more terminals:   cargo run --bin lesson08-chat-client -- --name alice
//!
//! Look for: a line typed in one client appears in all the others, prefixed with the name;
//! close a client's terminal and the others see it leave.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::out::plural;
use socket_lab::socketserver::{Concurrency, Config, Request, RequestHandler, TcpServer};
use socket_lab::{Out, Side, Style};

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

    #[command(flatten)]
    style: Style,
}

/// The longest line (name or message) a member may send; a longer one ends that member.
const MAX_LINE: usize = 1024;
/// How long a write to one member may block. A member who stops reading must not stall
/// the whole room: after this, they are dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: room
type Members = HashMap<SocketAddr, (String, TcpStream)>;

/// The members, shared by all connection threads: each has a name and a socket to write
/// to. Every change to the room and every write to a member happens while holding the
/// lock, so every member sees the same events in the same order, and two threads never
/// mix their lines on one socket.
#[derive(Default)]
struct Room {
    members: Mutex<Members>,
}

/// Writes `line` to every member except `from`; returns those whose socket failed
/// (closed, reset, or not reading for WRITE_TIMEOUT).
fn send_all(
    room: &mut Members,
    from: Option<SocketAddr>,
    line: &str,
    out: Out,
) -> Vec<SocketAddr> {
    let mut failed = Vec::new();
    let bytes = format!("{line}\n");
    for (addr, (_, conn)) in room.iter_mut() {
        if Some(*addr) == from {
            continue; // not back to the sender
        }
        match conn.write_all(bytes.as_bytes()) {
            Ok(()) => out.on(&*conn).trace_write(bytes.as_bytes()),
            Err(_) => failed.push(*addr),
        }
    }
    failed
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Welcomes a new member, tells the others, and adds them: all in one step.
    fn join(
        &self,
        addr: SocketAddr,
        name: &str,
        mut conn: TcpStream,
        out: Out,
    ) -> std::io::Result<()> {
        let failed = {
            let mut members = self.lock();
            let names = members.values().map(|(name, _)| name.as_str());
            let mut others: Vec<&str> = names.collect();
            // A HashMap has no order: sort, so the line is the same every time.
            others.sort();
            let here = if others.is_empty() {
                "nobody else is here yet".to_string()
            } else {
                format!("here: {}", others.join(", "))
            };
            let welcome = format!("* welcome {name}; {here}\n");
            conn.write_all(welcome.as_bytes())?;
            out.on(&conn).trace_write(welcome.as_bytes());
            out.line(format!("{name} joined from {addr}"));
            let failed = send_all(&mut members, None, &format!("* {name} joined"), out);
            members.insert(addr, (name.to_string(), conn));
            failed
        };
        self.drop_all(failed, out);
        Ok(())
    }

    /// Sends a member's line to everyone else.
    fn broadcast(&self, from: SocketAddr, line: &str, out: Out) {
        let failed = {
            let mut members = self.lock();
            out.line(line);
            send_all(&mut members, Some(from), line, out)
        };
        self.drop_all(failed, out);
    }

    /// Removes a member (once: a second call for the same member does nothing), with a
    /// last line to them if there is one, and tells the others.
    fn leave(&self, addr: SocketAddr, how: &str, farewell: Option<&str>, out: Out) {
        let failed = {
            let mut members = self.lock();
            let Some((name, mut conn)) = members.remove(&addr) else {
                return;
            };
            if let Some(last) = farewell {
                let last = format!("{last}\n");
                if conn.write_all(last.as_bytes()).is_ok() {
                    out.on(&conn).trace_write(last.as_bytes());
                }
            }
            // Close: the member reads the end, and its own thread, if it is still
            // blocked in read, wakes up.
            let _ = conn.shutdown(Shutdown::Both);
            out.on(&conn).trace_shutdown();
            out.line(format!("{name} left ({how})"));
            send_all(&mut members, None, &format!("* {name} left ({how})"), out)
        };
        self.drop_all(failed, out);
    }

    /// Members whose socket failed during a broadcast are removed, and the rest told.
    fn drop_all(&self, failed: Vec<SocketAddr>, out: Out) {
        for addr in failed {
            self.leave(addr, "connection lost", None, out);
        }
    }
}
// ANCHOR_END: room

// ANCHOR: member
/// One member's connection, in its own thread.
struct Member {
    room: Arc<Room>,
    out: Out,
    /// How the member left, for `finish`.
    how: &'static str,
}

/// Reads one line of at most MAX_LINE bytes. `None` at the end of the stream.
fn read_line(reader: &mut impl BufRead, out: Out) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    out.trace_read(MAX_LINE, &line);
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && line.len() > MAX_LINE {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("a line longer than {MAX_LINE} bytes"),
        ));
    }
    let text = String::from_utf8_lossy(&line);
    Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
}

impl RequestHandler for Member {
    fn handle(&mut self, req: &mut Request) -> std::io::Result<()> {
        let addr = req.client_address;
        let conn = &req.request;
        conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut reader = BufReader::new(conn.try_clone()?);
        let out = self.out.on(conn); // this member's lines (for --trace-file)

        // The first line is the member's name.
        let Some(name) = read_line(&mut reader, out)? else {
            self.how = "left before giving a name";
            return Ok(());
        };
        let name: String = name.trim().chars().take(32).collect();
        let name = if name.is_empty() {
            "guest".into()
        } else {
            name
        };
        self.room.join(addr, &name, conn.try_clone()?, self.out)?;

        // Every later line goes to everyone else, until `bye` or the connection ends.
        loop {
            let line = match read_line(&mut reader, out) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.how = "connection closed";
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    self.how = "connection reset";
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if line.trim() == "bye" {
                self.how = "said bye";
                let farewell = format!("* bye {name}");
                self.room.leave(addr, self.how, Some(&farewell), self.out);
                return Ok(());
            }
            self.room
                .broadcast(addr, &format!("{name}: {line}"), self.out);
        }
    }

    /// Whatever happened, the member is removed (if a broadcast has not removed them
    /// already).
    fn finish(&mut self, req: &mut Request) {
        self.room
            .leave(req.client_address, self.how, None, self.out);
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
    let config = Config {
        concurrency: Concurrency::Threading,
        allow_reuse_address: true,
        backlog: 128,
        max_requests: args.max_clients,
    };
    let addr = format!("{}:{}", args.host, args.port);
    let server = TcpServer::bind(&addr, config, move || Member {
        room: room.clone(),
        out,
        how: "left",
    })
    .map_err(|e| bind_error(e, &addr))?;
    out.listening(server.local_addr());
    let served = server.serve_forever();
    out.line(format!("served {}, stopping", plural(served, "member")));
    Ok(())
}
