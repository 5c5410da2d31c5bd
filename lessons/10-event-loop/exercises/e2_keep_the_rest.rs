// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 10.2
//! Exercise 10.2 — keep what `write` did not take.
//!
//! This event loop reads what a client sends and writes it back upper-cased, in one
//! `write`. But on a non-blocking socket `write` takes only what fits in the socket's send
//! buffer, and says how much (or fails with `WouldBlock` when nothing fits). A client that
//! sends a lot and reads slowly fills that buffer, and here the rest of each reply is
//! lost. Keep what `write` did not take in the connection, in a `pending` buffer, and write
//! it when the socket is writable again; when the client closes its side, send what is
//! pending before closing.
//!
//! Check it:   cargo run --bin lab -- check 10.2
//! Or run it:  cargo run --example ex10-2                                    (terminal 1)
//!             head -c 20000000 /dev/zero | tr '\0' a | nc -N 127.0.0.1 9010 |
//!               (sleep 2; wc -c)
//!             (terminal 2: 20000000 bytes go; how many come back?)
//!
//! The check sends 16 MiB without reading a byte (until your server stops taking them),
//! closes its sending side, then reads the replies until your server closes: they must be
//! every byte it sent, upper-cased, in order.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket_lab::errors::bind_error;
use socket_lab::out::{plural, preview};
use socket_lab::{Out, Side, Style};

/// The token of the listening socket; clients get 0, 1, 2… and never the same twice.
const LISTENER: Token = Token(usize::MAX);

/// Exercise 10.2: lesson 10's event loop, keeping what `write` did not take.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9010)]
    port: u16,

    /// Stop accepting after this many clients, serve them until they leave, then exit
    /// (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

/// One client, as the loop remembers it between two events.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
}

/// Why a connection ends.
enum End {
    Closed,
    Failed(std::io::Error),
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener =
        std::net::TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    // Non-blocking, and handed to mio: `accept` never waits; only `poll` does.
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new().context("creating the poll instance")?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut connections: HashMap<Token, Connection> = HashMap::new();
    let mut accepted = 0;
    let mut buf = vec![0u8; 64 * 1024];
    // Until --max-clients have been accepted, and have all left.
    while args.max_clients.is_none_or(|max| accepted < max) || !connections.is_empty() {
        // The one place this thread waits: until a socket is ready.
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("waiting in poll"),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(
                    &mut listener,
                    &poll,
                    &mut connections,
                    &mut accepted,
                    args,
                    out,
                )?;
                continue;
            }
            let Some(conn) = connections.get_mut(&event.token()) else {
                continue; // an event for a connection closed earlier in this round
            };
            if let Some(end) = on_ready(conn, &mut buf, out) {
                if let Some(conn) = connections.remove(&event.token()) {
                    close(conn, end, &poll, out);
                }
            }
        }
    }
    out.line(format!("served {}, stopping", plural(accepted, "client")));
    Ok(())
}

/// The listener is readable: accept every client waiting in the backlog, until `accept`
/// says `WouldBlock`. mio says the listener *became* readable, once: a client left in
/// the backlog now would raise no new event, and wait until yet another client came.
fn accept_all(
    listener: &mut TcpListener,
    poll: &Poll,
    connections: &mut HashMap<Token, Connection>,
    accepted: &mut usize,
    args: &Args,
    out: Out,
) -> anyhow::Result<()> {
    while args.max_clients.is_none_or(|max| *accepted < max) {
        let (mut stream, peer) = match listener.accept() {
            Ok(client) => client,
            // The backlog is empty: every client that waited is in the registry.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Out of descriptors, say: serve the others (lesson 10 tries again later).
            Err(e) => {
                eprintln!("error: accepting a client: {e}");
                return Ok(());
            }
        };
        let token = Token(*accepted);
        *accepted += 1;
        // Readable: the client sent something (or closed). Writable: the socket has room
        // to write again.
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut stream, token, interest)?;
        out.line(format!("connection from {peer}"));
        connections.insert(token, Connection { stream, peer });
    }
    Ok(())
}

/// A client's socket is ready: read what arrived, upper-case it, write it back — until
/// the socket is empty. `Some(end)`: the connection is over.
fn on_ready(conn: &mut Connection, buf: &mut [u8], out: Out) -> Option<End> {
    loop {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Some(End::Closed),
            Ok(n) => n,
            // Edge-triggered: the socket is empty; its next bytes raise a new event.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Some(End::Failed(e)),
        };
        out.trace_read(buf.len(), &buf[..n]);
        // The client's bytes, escaped and cut short: never raw on a terminal.
        out.line(format!(
            "received from {}: {}",
            conn.peer,
            preview(&buf[..n])
        ));
        let reply = buf[..n].to_ascii_uppercase();
        // Non-blocking, `write` never waits: it takes what fits in the socket's send
        // buffer, and says how much.
        match conn.stream.write(&reply) {
            Ok(written) => out.trace_write(&reply[..written]),
            // The send buffer is full: nothing fits now.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Some(End::Failed(e)),
        }
    }
}

/// Takes a connection out of the loop and says how it ended.
fn close(mut conn: Connection, end: End, poll: &Poll, out: Out) {
    let _ = poll.registry().deregister(&mut conn.stream);
    match end {
        End::Closed => out.line(format!("{} closed the connection", conn.peer)),
        End::Failed(e) => out.line(format!("{}: {e}", conn.peer)),
    }
    // Dropping the stream closes the socket.
}
