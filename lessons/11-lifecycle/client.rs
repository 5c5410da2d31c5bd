//! Lesson 11 — the life of a connection, the client's end.
//!
//! Connect (the three-way handshake, 三次握手), send one message, read the reply, then close
//! in the order `--close-first` says, and print the state of the client's end at every
//! step, read from Linux's table of TCP sockets (`/proc/net/tcp`). Give the server the
//! same `--close-first`.
//!
//! Start the server first:   cargo run --bin lesson11-server
//! Then:                     cargo run --bin lesson11-client
//!
//! Look for: the client closes first by default, so its end ends in TIME_WAIT, and the
//! server's end is simply gone. `--connect-only N` is the listen(n) experiment: against
//! `lesson11-server --backlog 1 --never-accept`, two connects complete and the others get
//! no answer at all — they time out, they are not refused.

mod close;

use std::io::{ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use close::Closer;
use socket2::{Domain, Socket, Type};
use socket_lab::errors::connect_error;
use socket_lab::out::preview;
use socket_lab::proc_tcp;
use socket_lab::{Out, Side, Style};

/// Lesson 11: one message to lesson11-server, then a close whose order you choose, and
/// the state of the client's end at every step.
#[derive(Parser)]
#[command(name = "lesson11-client", version)]
struct Args {
    /// The message to send.
    #[arg(default_value = "hello")]
    message: String,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9011)]
    port: u16,

    /// Who closes the connection first: the client (right after the reply), or the server
    /// (the client waits for its FIN). Start the server with the same choice.
    #[arg(long, value_enum, default_value_t = Closer::Client, value_name = "SIDE")]
    close_first: Closer,

    /// Wait for Enter before closing: time to look at both ends (`lab states`).
    #[arg(long)]
    pause_before_close: bool,

    /// How long to wait for the reply, or for the server's FIN, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    timeout_ms: u64,

    /// Instead: open N connections one after another, send nothing, and keep them all
    /// open until the end. How many does the server's listen backlog take?
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    connect_only: Option<u32>,

    /// With --connect-only: how long each connect may wait for the server's answer.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    connect_timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    let result = match args.connect_only {
        Some(n) => connect_only(&args, n, &out),
        None => talk(&args, &out),
    };
    socket_lab::exit_code(result)
}

// ANCHOR: talk
fn talk(args: &Args, out: &Out) -> anyhow::Result<()> {
    // connect: the three-way handshake. Our SYN, the server's SYN-ACK, our ACK: when
    // connect returns, both ends are ESTABLISHED, even before the server calls accept.
    let addr = format!("{}:{}", args.host, args.port);
    let conn = TcpStream::connect(&addr);
    let mut conn = conn.map_err(|e| connect_error(e, &addr, "lesson11-server"))?;
    let local = conn.local_addr()?;
    let state = close::state_now(&conn);
    out.line(format!(
        "connected to {addr} from {local}: our end is {state}"
    ));
    conn.set_read_timeout(Some(Duration::from_millis(args.timeout_ms)))?;

    conn.write_all(args.message.as_bytes()).context("sending")?;
    out.trace_write(args.message.as_bytes());
    let mut buf = [0u8; 1024];
    let n = close::read(&mut conn, &mut buf, out, "server")?;
    let sent = preview(args.message.as_bytes());
    out.line(format!("sent {sent}, got {}", preview(&buf[..n])));

    match args.close_first {
        Closer::Client => {
            close::close_first(conn, out, "server", args.pause_before_close);
        }
        Closer::Server => {
            // Wait for the server's FIN: our next read returns 0 bytes.
            if close::read(&mut conn, &mut buf, out, "server")? > 0 {
                bail!("expected the server to close first; it sent more instead");
            }
            close::close_second(conn, out, "server", args.pause_before_close);
        }
    }
    Ok(())
}
// ANCHOR_END: talk

// ANCHOR: connect_only
/// N connects, one after another, each given --connect-timeout-ms to complete. Every
/// socket is kept (none is closed before the end), so each one stays in the server's
/// queue.
fn connect_only(args: &Args, n: u32, out: &Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let server = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let server = server.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let timeout = Duration::from_millis(args.connect_timeout_ms);
    let mut kept = Vec::new();
    let (mut connected, mut unanswered, mut refused) = (0, 0, 0);
    for i in 1..=n {
        // socket2, not std: std's connect_timeout drops a socket that failed to connect,
        // and we want to look at it.
        let socket = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
        let result = socket.connect_timeout(&server.into(), timeout);
        let local = socket.local_addr()?.as_socket();
        let state = local.and_then(|local| proc_tcp::state_of(local, server));
        let state = close::shown(state);
        let from = local.map_or("?".to_string(), |l| l.to_string());
        match result {
            Ok(()) => {
                connected += 1;
                out.line(format!(
                    "connection {i}: connected from {from}: our end is {state}"
                ));
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                unanswered += 1;
                out.line(format!(
                    "connection {i}: no answer within {} ms, and no refusal: our end is \
                     still {state}",
                    args.connect_timeout_ms
                ));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                refused += 1;
                out.line(format!("connection {i}: refused: nobody listens on {addr}"));
            }
            Err(e) => return Err(connect_error(e, &addr, "lesson11-server")),
        }
        kept.push(socket);
    }
    out.line(format!(
        "{connected} connected, {unanswered} unanswered, {refused} refused"
    ));
    close::pause(out, args.pause_before_close);
    Ok(())
}
// ANCHOR_END: connect_only
