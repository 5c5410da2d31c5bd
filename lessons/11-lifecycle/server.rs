//! Lesson 11 — the life of a connection: the three-way handshake (三次握手) that opens it,
//! the four-way close (四次挥手) that ends it, and the state each end is in at every step,
//! read from Linux's own table of TCP sockets (`/proc/net/tcp`).
//!
//! The server answers one message; then the connection is closed, by the client first
//! (the default) or by the server first (`--close-first server`). The side that closes
//! first keeps the connection in TIME_WAIT for 60 s. When that side is the server, a new
//! server cannot bind the port until then ("address in use", the course's 端口占用), unless
//! the old and the new listening socket both set SO_REUSEADDR (`--reuse-address`).
//!
//! Run it:     cargo run --bin lesson11-server -- --close-first server
//! Then:       cargo run --bin lesson11-client -- --close-first server
//! At once:    cargo run --bin lesson11-server     (address in use, for 60 s)
//! Watch both ends, in a third terminal:   cargo run --bin lab -- states
//!
//! Look for: which end ends in TIME_WAIT. Give the side that closes second
//! `--pause-before-close`, and `lab states` shows the connection half closed: FIN_WAIT2
//! at one end, CLOSE_WAIT at the other. `--backlog N --never-accept` is the listen(n)
//! experiment: run `lesson11-client --connect-only 4` against it.

mod close;

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use close::Closer;
use socket2::{Domain, Socket, Type};
use socket_lab::errors::bind_error;
use socket_lab::out::{plural, preview};
use socket_lab::proc_tcp::State;
use socket_lab::{Out, Side, Style};

/// Lesson 11: the upper-case echo of one message, then a close whose order you choose,
/// and the state of the server's end at every step.
#[derive(Parser)]
#[command(name = "lesson11-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9011)]
    port: u16,

    /// Who closes the connection first: the client (the server closes when its read
    /// returns 0 bytes), or the server (right after its reply, like an HTTP/1.0 server).
    #[arg(long, value_enum, default_value_t = Closer::Client, value_name = "SIDE")]
    close_first: Closer,

    /// Wait for Enter before closing: time to look at both ends (`lab states`).
    #[arg(long)]
    pause_before_close: bool,

    /// Set SO_REUSEADDR on the listening socket before bind (Python:
    /// s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)). Off by default, as in Python; Rust's
    /// TcpListener::bind always sets it on Unix.
    #[arg(long)]
    reuse_address: bool,

    /// The listen backlog, listen(N): how many connections the system completes and
    /// queues before we accept them. The course's listen(5) is the default.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(i32).range(0..))]
    backlog: i32,

    /// Listen, and never accept: connections pile up in the accept queue until it is
    /// full. Stop the server with Ctrl-C.
    #[arg(long)]
    never_accept: bool,

    /// Stop after this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// How long to wait for a client's message or for its FIN, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: listen
/// socket → SO_REUSEADDR (only if asked) → bind → listen(backlog), one call each, as in
/// Python. std's `TcpListener::bind` makes the same calls but always sets SO_REUSEADDR on
/// Unix; this lesson has to choose, so it uses socket2.
fn listen(args: &Args) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", args.host, args.port);
    let resolved = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let resolved = resolved.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let socket = Socket::new(Domain::for_address(resolved), Type::STREAM, None)?;
    if args.reuse_address {
        // Bind even while old connections of this port sit in TIME_WAIT — if they, too,
        // came from a socket that had SO_REUSEADDR.
        socket.set_reuse_address(true)?;
    }
    socket
        .bind(&resolved.into())
        .map_err(|e| bind_error(e, &addr))?;
    socket.listen(args.backlog)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let listener = listen(args)?;
    let addr = listener.local_addr()?;
    out.listening(addr);
    if args.never_accept {
        // ANCHOR: never_accept
        out.line(format!(
            "listen({}), and accept is never called: finished handshakes wait in the \
             accept queue",
            args.backlog
        ));
        // The listening socket stays open, so the system goes on answering SYNs for as
        // long as the queue has room. Nothing here ever takes a connection out of it.
        loop {
            std::thread::park();
        }
        // ANCHOR_END: never_accept
    }
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a client"),
        };
        served += 1;
        // One client's trouble (a timeout, a reset) ends that client, not the server.
        if let Err(e) = serve_one(conn, peer, args, &out) {
            out.line(format!("{peer}: {e:#}"));
        }
    }
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}

// ANCHOR: serve_one
/// One message, one reply; then the close, in the order `--close-first` says.
fn serve_one(
    mut conn: TcpStream,
    peer: SocketAddr,
    args: &Args,
    out: &Out,
) -> anyhow::Result<()> {
    // By the time accept returns, the handshake is long done: the system finished it,
    // and the connection waited in the accept queue for us.
    out.line(format!(
        "connection from {peer}: our end is {}",
        close::state_now(&conn)
    ));
    conn.set_read_timeout(Some(Duration::from_millis(args.timeout_ms)))?;
    let mut buf = [0u8; 1024];
    let n = close::read(&mut conn, &mut buf, out, "client")?;
    if n == 0 {
        close::close_second(conn, out, "client", args.pause_before_close);
        return Ok(());
    }
    let reply = buf[..n].to_ascii_uppercase();
    conn.write_all(&reply).context("replying")?;
    out.trace_write(&reply);
    out.line(format!(
        "received {}, replied {}",
        preview(&buf[..n]),
        preview(&reply)
    ));
    match args.close_first {
        Closer::Server => {
            let local = conn.local_addr()?;
            let state = close::close_first(conn, out, "client", args.pause_before_close);
            if state == Some(State::TimeWait) {
                port_held(local, args.reuse_address, out);
            }
        }
        Closer::Client => {
            // Wait for the client's FIN: our next read returns 0 bytes.
            let n = close::read(&mut conn, &mut buf, out, "client")?;
            if n > 0 {
                bail!(
                    "expected the client to close, it sent {} more",
                    plural(n, "byte")
                );
            }
            close::close_second(conn, out, "client", args.pause_before_close);
        }
    }
    Ok(())
}
// ANCHOR_END: serve_one

/// What TIME_WAIT on the server's end means for the next server on this address.
fn port_held(addr: SocketAddr, reuse_address: bool, out: &Out) {
    if reuse_address {
        out.line(format!(
            "this listener set SO_REUSEADDR: a new one that sets it too can bind \
             {addr} now"
        ));
    } else {
        out.line(format!(
            "for 60 s, no new server can bind {addr}: this listener did not set \
             SO_REUSEADDR"
        ));
    }
}
