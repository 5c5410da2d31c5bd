//! Lesson 08 — a client that can hold several connections at once.
//!
//! With one connection (the default) this is lesson 02's client: type a line, read the reply
//! upper-cased. With `--connections N` it opens N connections first, then sends every line on
//! each of them in turn and reads each reply: exactly the situation of N people using the
//! server at the same time.
//!
//! Start the server first:   cargo run --bin lesson08-server
//! Then:                     cargo run --bin lesson08-client -- --connections 3
//!
//! Look for: all N connections get their replies while all N are open. Point the same client
//! at lesson02-server (`--port 9002`) and connection 2 gets no reply: after `--timeout-ms`
//! milliseconds the client gives up and says why.

use std::io::ErrorKind::{TimedOut, WouldBlock};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Lesson 08: send lines to lesson08-server over one or several connections at once.
#[derive(Parser)]
#[command(name = "lesson08-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// How many connections to open at once; each line is sent on every one of them.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    connections: u16,

    /// Give up when a reply takes longer than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    // ANCHOR: connect_all
    // Open every connection before sending anything: all of them are connected at once.
    let mut conns = Vec::new();
    for i in 1..=args.connections {
        let conn = TcpStream::connect(&addr);
        let conn = conn.map_err(|e| connect_error(e, &addr, "lesson08-server"))?;
        // A bounded wait for each reply, so a server that serves one client at a time
        // (lesson 02) shows up as an error instead of a hang.
        conn.set_read_timeout(Some(timeout))?;
        conns.push(conn);
        out.line(format!("connection {i} connected to {addr}"));
    }
    // ANCHOR_END: connect_all

    // ANCHOR: client_loop
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        let msg = line.trim();
        if msg.is_empty() {
            continue; // writing 0 bytes sends nothing: both sides would wait (lesson 02)
        }
        if msg == "exit" || msg == "quit" {
            break;
        }
        for (i, conn) in conns.iter_mut().enumerate() {
            let i = i + 1;
            conn.write_all(msg.as_bytes())
                .with_context(|| format!("sending on connection {i}"))?;
            out.trace_write(msg.as_bytes());
            let n = match conn.read(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {
                    return Err(no_reply(i, timeout));
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("receiving on connection {i}"));
                }
            };
            out.trace_read(buf.len(), &buf[..n]);
            if n == 0 {
                bail!("the server closed connection {i}");
            }
            // The reply is the server's: shown escaped, on the line of its connection (a
            // line end the server added, like the one after "busy", is not shown).
            let reply = &buf[..n];
            let reply = escape(reply.strip_suffix(b"\n").unwrap_or(reply));
            if args.connections == 1 {
                out.line(reply);
            } else {
                out.line(format!("connection {i}: {reply}"));
            }
        }
    }
    // ANCHOR_END: client_loop
    out.line(format!(
        "leaving: closing {}",
        socket_lab::out::plural(conns.len(), "connection")
    ));
    Ok(())
}

/// The read timed out: say what that means.
fn no_reply(connection: usize, timeout: Duration) -> anyhow::Error {
    anyhow::anyhow!(
        "no reply on connection {connection} within {} ms: the server is not answering this \
         connection while the others are open (does it serve one client at a time, like \
         lesson02-server?)",
        timeout.as_millis()
    )
}
