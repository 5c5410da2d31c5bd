//! Exercise 10.2 — keep what `write` did not take: the solution.
//!
//! Each connection keeps a `pending` buffer: the replies the socket has not taken yet.
//! Every event, read or write, first `flush`es it: `write` takes what fits, the rest stays
//! pending, and the socket's next "writable" event comes when it has room again. A client
//! that closes its side is closed only once nothing is pending; one that never reads is
//! held back once 64 KiB are pending (lesson 10's back-pressure), so that it cannot make
//! the server's memory grow.
//!
//! Check it:   cargo run --bin lab -- check 10.2 --solution

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

/// The most reply bytes kept for a client that does not read them. Past it, the loop
/// stops reading from that client until it has taken its replies (lesson 10).
const MAX_PENDING: usize = 64 * 1024;

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
    /// Replies the socket has not taken yet; they go out at its next "writable" event.
    pending: Vec<u8>,
    /// The client has closed its side: send what is pending, then close.
    closing: bool,
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
        // Readable: the client sent something (or closed). Writable: room again for
        // replies that did not fit.
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut stream, token, interest)?;
        out.line(format!("connection from {peer}"));
        let (pending, closing) = (Vec::new(), false);
        let conn = Connection {
            stream,
            peer,
            pending,
            closing,
        };
        connections.insert(token, conn);
    }
    Ok(())
}

// ANCHOR: solution
/// A client's socket is ready: write what is pending, read what arrived, upper-case it,
/// write it back — until the socket is empty (or full). `Some(end)`: the connection is
/// over.
fn on_ready(conn: &mut Connection, buf: &mut [u8], out: Out) -> Option<End> {
    loop {
        if let Err(end) = flush(conn, out) {
            return Some(end);
        }
        if conn.closing {
            // Over once every reply is sent; until then, wait to be writable.
            return conn.pending.is_empty().then_some(End::Closed);
        }
        // A client that sends and never reads is held back: its bytes wait in the
        // system's buffers, and nobody else waits for it.
        if conn.pending.len() >= MAX_PENDING {
            return None;
        }
        match conn.stream.read(buf) {
            Ok(0) => conn.closing = true,
            Ok(n) => {
                out.trace_read(buf.len(), &buf[..n]);
                // The client's bytes, escaped and cut short: never raw on a terminal.
                out.line(format!(
                    "received from {}: {}",
                    conn.peer,
                    preview(&buf[..n])
                ));
                conn.pending
                    .extend(buf[..n].iter().map(u8::to_ascii_uppercase));
            }
            // Edge-triggered: the socket is empty; its next bytes raise a new event.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Some(End::Failed(e)),
        }
    }
}

/// Writes pending replies until none are left or the socket is full (`WouldBlock`: the
/// rest stays pending, and a "writable" event will come when there is room).
fn flush(conn: &mut Connection, out: Out) -> Result<(), End> {
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(n) => {
                out.trace_write(&conn.pending[..n]);
                conn.pending.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(End::Failed(e)),
        }
    }
    Ok(())
}
// ANCHOR_END: solution

/// Takes a connection out of the loop and says how it ended.
fn close(mut conn: Connection, end: End, poll: &Poll, out: Out) {
    let _ = poll.registry().deregister(&mut conn.stream);
    match end {
        End::Closed => out.line(format!("{} closed the connection", conn.peer)),
        End::Failed(e) => out.line(format!("{}: {e}", conn.peer)),
    }
    // Dropping the stream closes the socket.
}
