//! Lesson 08 — many clients at once: an accept loop that starts a thread per client.
//!
//! Lesson 02's server talks to one client at a time: a second client connects (the system
//! completes the handshake) but waits, unanswered, until the first one leaves. This
//! server does the same bind, listen and accept, and then hands each connection to a new
//! thread, which runs lesson 02's communication loop. The accept loop is back in `accept`
//! at once, so every connected client is answered, each by its own thread.
//!
//! Run it:   cargo run --bin lesson08-server
//! Then, in two more terminals:   cargo run --bin lesson08-client
//! Or one client with three connections:   cargo run --bin lesson08-client -- --connections 3
//!
//! Look for: "(serving 2 clients now)" — the server talks to both clients while both are
//! connected. Compare with lesson02-server, where the second client hangs until the first
//! one leaves. `lesson08-socketserver-echo` is the same server on a small framework.
//!
//! A thread per client has a price: every connection holds a thread and a file descriptor
//! for as long as it is open. So the server raises its open-file limit at start, serves at
//! most `--max-connections` at once (one more is told "busy"), closes connections idle for
//! `--idle-timeout-ms`, and backs off when `accept` fails (see `limits.rs`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use socket2::{Domain, Socket, Type};
use socket_lab::errors::{bind_error, is_timeout};
use socket_lab::limits::{raise_open_file_limit, tell_busy, AcceptBackoff};
use socket_lab::out::{escape, plural};
use socket_lab::{Out, Side, Style};

/// Lesson 08: the upper-case echo server, a thread per client.
#[derive(Parser)]
#[command(name = "lesson08-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Stop accepting after this many clients, let them finish, then exit (default: serve
    /// forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// The listen backlog: connections the system may complete and queue before we accept
    /// them. The classic course's listen(5) makes a burst of clients wait seconds in SYN
    /// retries.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    backlog: i32,

    /// Serve at most N clients at once; one more is told "busy" and closed. The default
    /// fits the common open-file limit of 1024.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Close a connection that sends nothing (or reads nothing) for this many
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,

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

// ANCHOR: listen
/// socket → SO_REUSEADDR → bind → listen(backlog). std's `TcpListener::bind` does all
/// four but always listens with a backlog of 128; socket2 lets us choose it.
fn listen(args: &Args) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", args.host, args.port);
    let resolved = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let resolved = resolved.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let socket = Socket::new(Domain::for_address(resolved), Type::STREAM, None)?;
    // Restart at once, even while connections of the last run sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket
        .bind(&resolved.into())
        .map_err(|e| bind_error(e, &addr))?;
    socket.listen(args.backlog)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let listener = listen(args)?;
    out.listening(listener.local_addr()?);
    // One descriptor per client: the open-file limit as high as it goes (see limits.rs).
    let limit = raise_open_file_limit().context("raising the open-file limit")?;
    if !args.quiet {
        out.line(limit.describe(args.max_connections as usize, 1));
    }
    let idle = Duration::from_millis(args.idle_timeout_ms);

    // ANCHOR: accept_loop
    // The connection loop of lesson 02, except that it never talks to a client itself.
    let mut clients: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    let mut backoff = AcceptBackoff::default();
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Out of descriptors (EMFILE), say: wait a little, say so at most once a
            // second, try again. A client that left before we took it: take the next.
            Err(e) => {
                if let Some(line) = backoff.failed(&e) {
                    eprintln!("{line}");
                }
                continue;
            }
        };
        backoff.accepted();
        // Threads that have ended are forgotten; the rest are clients being served now.
        clients.retain(|client| !client.is_finished());
        if clients.len() >= args.max_connections as usize {
            refuse(conn, peer, args, out);
            continue;
        }
        accepted += 1;
        let out = out.on(&conn); // this connection's lines (for --trace-file)
        let now = plural(clients.len() + 1, "client");
        if !args.quiet {
            out.line(format!("connection from {peer} (serving {now} now)"));
        }
        // No wait on this client may be endless: idle for `idle`, it is closed.
        conn.set_read_timeout(Some(idle))?;
        conn.set_write_timeout(Some(idle))?;
        // The thread gets the connection (`move`): from here on, only it talks to this
        // client, while this loop goes straight back to `accept`. The Rust book's
        // `thread::spawn` panics when the system has no thread to give; `Builder::spawn`
        // is the same call returning an error instead, so one client too many loses its
        // connection, not everyone theirs.
        let quiet = args.quiet;
        match thread::Builder::new().spawn(move || communicate(conn, peer, quiet, out)) {
            Ok(client) => clients.push(client),
            Err(e) => out.line(format!("{peer}: no thread for this client: {e}")),
        }
    }
    // A graceful stop: no new clients, but those connected are served until they leave.
    for client in clients {
        let _ = client.join();
    }
    // ANCHOR_END: accept_loop
    out.line(format!("served {}, stopping", plural(accepted, "client")));
    Ok(())
}

/// One client too many: a line that says so, then the connection closes.
fn refuse(mut conn: TcpStream, peer: SocketAddr, args: &Args, out: Out) {
    tell_busy(&mut conn, args.max_connections);
    if !args.quiet {
        out.line(format!("{peer} refused: busy"));
    }
}

// ANCHOR: communicate
/// Lesson 02's communication loop: a `read` that blocks, blocks only this client's
/// thread (and, with the idle timeout, not for ever).
fn communicate(mut conn: TcpStream, peer: SocketAddr, quiet: bool, out: Out) {
    // How the client left, said unless --quiet.
    let left = |how: &str| {
        if !quiet {
            out.line(format!("{peer} {how}"));
        }
    };
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => {
                out.trace_read(buf.len(), &[]);
                left("closed the connection");
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.trace_read_failed(buf.len(), &e);
                left("reset the connection");
                return;
            }
            Err(e) if is_timeout(&e) => {
                left("sent nothing for --idle-timeout-ms: closed");
                return;
            }
            Err(e) => {
                out.line(format!("{peer}: read failed: {e}"));
                return;
            }
        };
        out.trace_read(buf.len(), &buf[..n]);
        if !quiet {
            let text = escape(&buf[..n]);
            out.line(format!("received from {peer}: {text}"));
        }
        // Upper-cased in place, in the buffer it was read into: no new buffer for every
        // message (with 500 threads allocating at once, the allocator is a shared cost).
        let reply = &mut buf[..n];
        reply.make_ascii_uppercase();
        if let Err(e) = conn.write_all(reply) {
            out.line(format!("{peer}: could not reply: {e}"));
            return;
        }
        out.trace_write(reply);
    }
}
// ANCHOR_END: communicate
