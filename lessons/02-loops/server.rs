//! Lesson 02 — the connection loop and the communication loop.
//!
//! Lesson 01's server served one message and quit. A real server has two loops: the
//! connection loop accepts clients one after another; the communication loop talks to one
//! client until it leaves. A client leaves in one of two ways, and the server must handle
//! both: an orderly close (`read` returns 0 bytes) or a reset (`read` fails with ECONNRESET,
//! the classic course's "WinError 10054").
//!
//! Run it:   cargo run --bin lesson02-server
//! Then, in a second terminal (as often as you like):   cargo run --bin lesson02-client
//!
//! Look for: while one client is connected, a second one waits — this server talks to one
//! client at a time (lesson 08 fixes that). Try `--naive` to see the classic bug: a loop that
//! never checks for 0 bytes spins on empty reads after the client leaves.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::out::plural;
use socket_lab::{Out, Side, Style};

/// Lesson 02: serve clients one after another, echoing upper-cased until each one leaves.
#[derive(Parser)]
#[command(name = "lesson02-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// The classic bug: never check for a 0-byte read, so a closed connection spins.
    #[arg(long)]
    naive: bool,

    /// With --naive: how many empty reads to show before giving up on that client.
    #[arg(long, value_name = "N", default_value_t = 5)]
    spin_limit: usize,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    // ANCHOR: connection_loop
    // The connection loop: one client at a time, for as long as the server runs.
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        let out = out.on(&conn); // this connection's lines (for --trace-file)
        out.line(format!("connection from {peer}"));
        if args.naive {
            naive_loop(conn, peer, args.spin_limit, out);
        } else {
            communicate(conn, peer, out);
        }
        served += 1;
    }
    // ANCHOR_END: connection_loop
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}

// ANCHOR: communication_loop
/// The communication loop: echo upper-cased until this client leaves. Whatever happens to
/// this one client, the function returns and the server goes on to the next.
fn communicate(mut conn: TcpStream, peer: SocketAddr, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            // 0 bytes: the client closed its side (orderly close, a FIN). Every later
            // read would return 0 again, so this is the only way out of the loop.
            Ok(0) => {
                out.trace_read(buf.len(), &[]);
                out.line(format!(
                    "{peer} closed the connection (read returned 0 bytes)"
                ));
                return;
            }
            Ok(n) => n,
            // A reset (RST): the client's system threw the connection away, e.g. the
            // program died with data unread, or closed with SO_LINGER 0.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.trace_read_failed(buf.len(), &e);
                out.line(format!(
                    "{peer} reset the connection (read failed: ECONNRESET)"
                ));
                return;
            }
            Err(e) => {
                out.line(format!("{peer}: read failed: {e}"));
                return;
            }
        };
        out.trace_read(buf.len(), &buf[..n]);
        out.line(format!("received: {}", String::from_utf8_lossy(&buf[..n])));

        let reply = buf[..n].to_ascii_uppercase();
        if let Err(e) = conn.write_all(&reply) {
            out.line(format!("{peer}: could not reply: {e}"));
            return;
        }
        out.trace_write(&reply);
    }
}
// ANCHOR_END: communication_loop

// ANCHOR: naive_loop
/// The classic course's first loop: read, print, reply, repeat — no check for 0 bytes.
/// After the client closes, every read returns 0 bytes at once, so the loop spins as
/// fast as the CPU allows. We stop after `limit` empty reads; the original never stops.
fn naive_loop(mut conn: TcpStream, peer: SocketAddr, limit: usize, out: Out) {
    let mut buf = [0u8; 1024];
    let mut empty_reads = 0;
    while empty_reads < limit {
        let n = match conn.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                out.line(format!("{peer}: read failed: {e}"));
                return;
            }
        };
        out.trace_read(buf.len(), &buf[..n]);
        out.line(format!(
            "received {} bytes: {:?}",
            n,
            String::from_utf8_lossy(&buf[..n])
        ));
        if n == 0 {
            empty_reads += 1;
        }
        // Writing 0 bytes "succeeds" and sends nothing, so nothing here notices either.
        let _ = conn.write_all(&buf[..n].to_ascii_uppercase());
    }
    out.line(format!(
        "stopped after {limit} empty reads: \
         without a check for 0 bytes this loop never ends"
    ));
}
// ANCHOR_END: naive_loop
