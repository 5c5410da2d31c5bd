//! Lesson 10 — one thread, many sockets: the upper-case echo server as an event loop.
//!
//! Lesson 08 gives every client a thread, and each thread blocks in `read` until its client
//! speaks. Here ONE thread serves every client. No call ever blocks on one client: every
//! socket is non-blocking, and the thread waits in one place only, `poll`, which returns
//! the sockets that are ready (a client connected, bytes arrived, room to write again).
//! The loop does what each one allows, and waits again. This is what Python's
//! `selectors`, Beej's `poll()`, nginx and tokio do underneath.
//!
//! Run it:   cargo run --bin lesson10-server
//! Then:     cargo run --bin lesson08-client -- --connections 3 --port 9010
//! Or load:  cargo run --release --bin lesson10-client -- --connections 1000 --rounds 100
//!
//! Look for: one thread (`ls /proc/$(pgrep lesson10-server)/task`) however many clients
//! are connected; a client that stops reading is held back without holding anyone else
//! back; a client that says nothing for `--idle-timeout-ms` is closed; one client more
//! than `--max-connections` is told "busy" (the same limits as lesson 08, see its
//! `limits.rs`).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Socket, Type};
use socket_lab::errors::bind_error;
use socket_lab::limits::{raise_open_file_limit, tell_busy, AcceptBackoff};
use socket_lab::out::{escape, plural};
use socket_lab::{Out, Side, Style};

/// The most reply bytes kept for one client that does not read them. Past it, the server
/// stops reading from that client until it has taken its replies: a client cannot make
/// the server's memory grow by sending without reading.
const MAX_PENDING: usize = 64 * 1024;

/// The token of the listening socket; clients get 0, 1, 2... and never 0 twice.
const LISTENER: Token = Token(usize::MAX);

/// Lesson 10: the upper-case echo server, every client on one thread (an event loop).
#[derive(Parser)]
#[command(name = "lesson10-server", version)]
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

    /// Serve at most N clients at once; one more is told "busy" and closed. The default
    /// fits the common open-file limit of 1024, as lesson 08's does; 10,000 clients need
    /// `--max-connections 10000` (and a hard limit above it).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Close a client that has sent nothing and taken nothing for this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,

    /// The listen backlog: connections the system may complete and queue before we accept
    /// them (lesson 08 says why not 5).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    backlog: i32,

    /// Print only the first and the last line (for load tests: printing every message
    /// costs time).
    #[arg(long)]
    quiet: bool,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: connection
/// One client, as the loop remembers it between two events.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Replies the socket has not taken yet: `write` on a non-blocking socket takes what
    /// fits and says how much; the rest waits here for the next "writable" event.
    pending: Vec<u8>,
    /// The client has closed its side: send what is pending, then close.
    closing: bool,
    /// When bytes last moved, either way (for the idle timeout).
    last_active: Instant,
}
// ANCHOR_END: connection

/// Why a connection ends.
enum End {
    Closed,
    Reset,
    Failed(std::io::Error),
}

// ANCHOR: listen
/// socket → SO_REUSEADDR → bind → listen(backlog), as in lesson 08; then the one change
/// of this lesson: the socket is made non-blocking and handed to mio.
fn listen(args: &Args) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", args.host, args.port);
    let resolved = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let resolved = resolved.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let socket = Socket::new(Domain::for_address(resolved), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket
        .bind(&resolved.into())
        .map_err(|e| bind_error(e, &addr))?;
    socket.listen(args.backlog)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}
// ANCHOR_END: listen

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let mut socket = listen(args)?;
    out.listening(socket.local_addr()?);
    // Every client is a file descriptor: allow as many as the system lets this process
    // have (lesson 08's limits.rs: the soft limit is often 1024, the hard limit higher).
    let limit = raise_open_file_limit().context("raising the open-file limit")?;
    if !args.quiet {
        out.line(limit.describe(args.max_connections as usize, 1));
    }
    let idle = Duration::from_millis(args.idle_timeout_ms);

    // ANCHOR: event_loop
    let mut poll = Poll::new().context("creating the poll instance")?;
    let mut events = Events::with_capacity(1024);
    poll.registry()
        .register(&mut socket, LISTENER, Interest::READABLE)?;
    // `None` once --max-clients have been accepted: the listening socket is closed.
    let mut listener = Some(socket);
    // The registry of connections: every client the loop serves, by its token.
    let mut connections: HashMap<Token, Connection> = HashMap::new();
    let mut next_token = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_sweep = Instant::now();
    // When to accept next: at once when the listener has news, and after a pause when
    // `accept` ran out of descriptors (EMFILE). Then it is left alone for a while (lesson
    // 08's back-off) and tried again: not at once (it would fail the same way, thousands
    // of times a second), and not only at the listener's next event, since mio reports a
    // change of state once: the clients already waiting in the backlog raise no new one.
    let mut accept_at: Option<Instant> = None;
    let mut backoff = AcceptBackoff::default();

    // Until the last client has left after the listener closed (--max-clients).
    while listener.is_some() || !connections.is_empty() {
        // The one place this thread waits: until a socket is ready, or until it is time
        // to look for idle clients (or to accept again).
        let mut wait = sweep_interval(idle);
        if let Some(at) = accept_at {
            wait = wait.min(at.saturating_duration_since(Instant::now()));
        }
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("waiting in poll"),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                // Accept after this round's events; in a pause, when the pause ends.
                accept_at.get_or_insert_with(Instant::now);
                continue;
            }
            let Some(conn) = connections.get_mut(&event.token()) else {
                continue; // an event for a connection closed earlier in this round
            };
            let closed = event.is_read_closed();
            let Some(end) = on_ready(conn, &mut buf, closed, args.quiet, out) else {
                continue; // still connected: wait for its next event
            };
            if let Some(conn) = connections.remove(&event.token()) {
                close(conn, end, &poll, args.quiet, out);
            }
        }
        if accept_at.is_some_and(|at| Instant::now() >= at) {
            accept_at = accept_all(
                &mut listener,
                &poll,
                &mut connections,
                &mut next_token,
                &mut backoff,
                args,
                out,
            )?;
        }
        if last_sweep.elapsed() >= sweep_interval(idle) {
            close_idle(&mut connections, idle, &poll, out);
            last_sweep = Instant::now();
        }
    }
    // ANCHOR_END: event_loop
    // Tokens go 0, 1, 2…, one for each client accepted: the next one is their count.
    out.line(format!("served {}, stopping", plural(next_token, "client")));
    Ok(())
}

// ANCHOR: accept_all
/// Accepts every connection waiting in the backlog, until `accept` says `WouldBlock` (mio
/// reports a change of state once, not "still ready").
/// Closes the listener once `--max-clients` are accepted. Returns when to try again if
/// `accept` ran out of descriptors.
fn accept_all(
    listener: &mut Option<TcpListener>,
    poll: &Poll,
    connections: &mut HashMap<Token, Connection>,
    next_token: &mut usize,
    backoff: &mut AcceptBackoff,
    args: &Args,
    out: Out,
) -> anyhow::Result<Option<Instant>> {
    while let Some(socket) = listener.as_mut() {
        // Enough clients: close the listening socket, serve those connected.
        if args.max_clients.is_some_and(|max| *next_token >= max) {
            *listener = None;
            break;
        }
        let (mut stream, peer) = match socket.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            // Out of descriptors (EMFILE), say: the clients stay in the backlog while the
            // loop serves the others. A client that left before we took it: the next.
            Err(e) => match backoff.pause(&e) {
                None => continue,
                Some((line, wait)) => {
                    if let Some(line) = line {
                        eprintln!("{line}");
                    }
                    return Ok(Some(Instant::now() + wait));
                }
            },
        };
        backoff.accepted();
        if connections.len() >= args.max_connections as usize {
            refuse(stream, peer, args, out);
            continue;
        }
        // Replies are small writes: send each at once (lesson 04, Nagle).
        stream.set_nodelay(true)?;
        let token = Token(*next_token);
        *next_token += 1;
        // Readable: the client sent something (or closed). Writable: room again for
        // replies that did not fit.
        poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        if !args.quiet {
            let now = plural(connections.len() + 1, "client");
            out.line(format!("connection from {peer} (serving {now} now)"));
        }
        let last_active = Instant::now();
        let pending = Vec::new();
        let conn = Connection {
            stream,
            peer,
            pending,
            closing: false,
            last_active,
        };
        connections.insert(token, conn);
    }
    Ok(None)
}
// ANCHOR_END: accept_all

/// One client too many, as in lesson 08: a line that says so, then the connection closes.
fn refuse(mut stream: TcpStream, peer: SocketAddr, args: &Args, out: Out) {
    tell_busy(&mut stream, args.max_connections);
    if !args.quiet {
        out.line(format!("{peer} refused: busy"));
    }
}

// ANCHOR: on_ready
/// A client's socket is ready: write what is pending, read what arrived, upper-case it,
/// write it back — until the socket is empty or full. `closed` says the event saw the
/// client's FIN. `Some(end)` when the connection is over.
fn on_ready(
    conn: &mut Connection,
    buf: &mut [u8],
    closed: bool,
    quiet: bool,
    out: Out,
) -> Option<End> {
    loop {
        if let Err(e) = flush(conn, out) {
            return Some(e);
        }
        if conn.closing {
            // Everything is sent once nothing is pending; otherwise wait to be writable.
            return conn.pending.is_empty().then_some(End::Closed);
        }
        // A client that sends but does not read: hold it back. Its bytes wait in the
        // system's buffers, then its own `write` blocks. Nobody else waits for it.
        if conn.pending.len() >= MAX_PENDING {
            return None;
        }
        let n = match conn.stream.read(buf) {
            Ok(0) => {
                conn.closing = true;
                continue;
            }
            Ok(n) => n,
            // Nothing more to read: wait for the next event.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(End::Reset),
            Err(e) => return Some(End::Failed(e)),
        };
        conn.last_active = Instant::now();
        out.trace_read(buf.len(), &buf[..n]);
        if !quiet {
            // The client's bytes: shown escaped, never raw, on the terminal.
            let text = escape(&buf[..n]);
            out.line(format!("received from {}: {text}", conn.peer));
        }
        conn.pending
            .extend(buf[..n].iter().map(u8::to_ascii_uppercase));
        // A read that did not fill the buffer emptied the socket, and on Linux a byte
        // that arrives later raises a new event. So there is no need to read again only
        // to hear `WouldBlock`: one system call less per message (tokio does the same).
        // Unless the client's FIN came with this event: then read on, to its 0.
        if n < buf.len() && !closed {
            return flush(conn, out).err();
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
                conn.last_active = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(End::Reset),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Err(End::Reset),
            Err(e) => return Err(End::Failed(e)),
        }
    }
    Ok(())
}
// ANCHOR_END: on_ready

/// Takes a connection out of the loop and says how it ended.
fn close(mut conn: Connection, end: End, poll: &Poll, quiet: bool, out: Out) {
    let _ = poll.registry().deregister(&mut conn.stream);
    let peer = conn.peer;
    match end {
        End::Closed if !quiet => out.line(format!("{peer} closed the connection")),
        End::Reset if !quiet => out.line(format!("{peer} reset the connection")),
        End::Failed(e) => out.line(format!("{peer}: {e}")),
        _ => {}
    }
    // Dropping the stream closes the socket.
}

// ANCHOR: close_idle
/// How often the loop looks for idle clients: often enough that a client is closed
/// within a tenth of the timeout after it, rarely enough to cost nothing.
fn sweep_interval(idle: Duration) -> Duration {
    (idle / 10).max(Duration::from_millis(10))
}

/// Closes every client that has been silent (nothing read, nothing written) for longer
/// than `idle`. Without it a client that connects and says nothing holds its slot, and
/// its memory, forever.
fn close_idle(
    connections: &mut HashMap<Token, Connection>,
    idle: Duration,
    poll: &Poll,
    out: Out,
) {
    let now = Instant::now();
    let silent: Vec<Token> = connections
        .iter()
        .filter(|(_, c)| now.duration_since(c.last_active) > idle)
        .map(|(token, _)| *token)
        .collect();
    for token in silent {
        if let Some(mut conn) = connections.remove(&token) {
            let _ = poll.registry().deregister(&mut conn.stream);
            out.line(format!(
                "{} idle for {} ms: closed",
                conn.peer,
                idle.as_millis()
            ));
        }
    }
}
// ANCHOR_END: close_idle
