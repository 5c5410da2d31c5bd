//! Lesson 02 — the client's communication loop.
//!
//! Type a line, the server echoes it upper-cased, repeat. An empty line is not sent (sending
//! nothing would leave both sides waiting); `exit`, `quit` or the end of input (Ctrl-D) ends
//! the client with an orderly close. `--reset` ends it with a reset instead, as a crashed
//! client on Windows would: the server sees ECONNRESET rather than 0 bytes.
//!
//! Start the server first:   cargo run --bin lesson02-server
//! Then:                     cargo run --bin lesson02-client
//!
//! Look for: start a second client while the first one is still connected — it connects
//! (the system completes the handshake) but gets no reply until the first one leaves.
//! `--unix PATH` talks to `lesson02-server --unix PATH` over a Unix domain socket instead.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use socket2::SockRef;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Lesson 02: send lines to lesson02-server and print each reply.
#[derive(Parser)]
#[command(name = "lesson02-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    /// Leave with a reset (SO_LINGER 0) instead of an orderly close.
    #[arg(long)]
    reset: bool,

    /// Connect to the Unix domain socket at PATH (lesson02-server --unix PATH) instead of
    /// HOST:PORT.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port", "reset"])]
    unix: Option<PathBuf>,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    if let Some(path) = &args.unix {
        let mut conn = UnixStream::connect(path).map_err(|e| unix_error(e, path))?;
        out.line(format!("connected to {}", path.display()));
        converse(&mut conn, out)?;
        out.line("leaving with an orderly close");
        return Ok(());
    }
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson02-server"))?;
    out.line(format!("connected to {addr}"));
    converse(&mut conn, out)?;
    leave(conn, args, out)
}

/// Sends each typed line and prints the reply, until `exit`, `quit` or the end of input.
/// `conn` is any stream: TCP, or a Unix domain socket with `--unix`.
fn converse(conn: &mut (impl Read + Write), out: Out) -> anyhow::Result<()> {
    // ANCHOR: client_loop
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        let msg = line.trim();
        // Writing 0 bytes sends nothing at all: the server would keep waiting for data
        // and we would keep waiting for its reply. So an empty line is simply skipped.
        if msg.is_empty() {
            continue;
        }
        if msg == "exit" || msg == "quit" {
            break;
        }
        conn.write_all(msg.as_bytes()).context("sending")?;
        out.trace_write(msg.as_bytes());

        let n = conn.read(&mut buf).context("receiving the reply")?;
        out.trace_read(buf.len(), &buf[..n]);
        if n == 0 {
            out.line("the server closed the connection");
            return Ok(());
        }
        out.line(escape(&buf[..n]));
    }
    // ANCHOR_END: client_loop
    Ok(())
}

/// Closes the connection: in order, or with a reset (`--reset`).
fn leave(conn: TcpStream, args: &Args, out: Out) -> anyhow::Result<()> {
    // ANCHOR: leave
    if args.reset {
        // SO_LINGER with a zero timeout: close() discards the connection and sends
        // a reset (RST) instead of the orderly FIN. std::net has no setter for it;
        // socket2 does.
        SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
        out.line("leaving with a reset (SO_LINGER 0)");
    } else {
        out.line("leaving with an orderly close");
    }
    // Dropping the stream closes it (Python: conn.close()).
    drop(conn);
    // ANCHOR_END: leave
    Ok(())
}

/// Explains a failed connect to a Unix domain socket: the three ways it fails.
fn unix_error(err: std::io::Error, path: &Path) -> anyhow::Error {
    let shown = path.display();
    let start = format!("cargo run --bin lesson02-server -- --unix {shown}");
    match err.kind() {
        ErrorKind::NotFound => anyhow!(
            "no socket file at {shown}: no server has bound it. \
             Start the server first, in another terminal: {start}"
        ),
        ErrorKind::ConnectionRefused => anyhow!(
            "connection refused by {shown}: the socket file is there but nobody listens \
             (a server stopped without removing it). Start the server: {start}"
        ),
        ErrorKind::PermissionDenied => anyhow!(
            "permission denied connecting to {shown}: connecting to a Unix socket needs \
             write permission on its file (see its mode with ls -l {shown})"
        ),
        _ => anyhow!("could not connect to {shown}: {err}"),
    }
}
