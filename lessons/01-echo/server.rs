//! Lesson 01 — the basic echo server.
//!
//! The whole life of a TCP server in a dozen lines: make a listening socket (`bind` +
//! `listen`), wait for one client (`accept`), receive up to 1024 bytes (`read`), send them
//! back upper-cased (`write_all`), hang up (`close`) and exit.
//!
//! Run it:   cargo run --bin lesson01-server
//! Then, in a second terminal:   cargo run --bin lesson01-client -- hello
//!
//! Look for: the server prints the client's address (the client's port was picked by the
//! system), and it exits after one client: there is no loop yet (that is lesson 02).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Lesson 01: accept one client, echo one message upper-cased, exit.
#[derive(Parser)]
#[command(name = "lesson01-server", version)]
struct Args {
    /// The address to listen on. 127.0.0.1 keeps the lab private to this machine.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9001)]
    port: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    // ANCHOR: serve
    // bind + listen: Rust's TcpListener::bind does both
    // (Python: socket(), bind(), listen()).
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    // accept blocks until a client connects, then gives a NEW socket for that one client.
    // The listener keeps listening; `conn` is the line to this caller.
    let (mut conn, peer) = listener.accept().context("accepting a client")?;
    out.line(format!("connection from {peer}"));

    // read returns what has arrived so far, at most 1024 bytes: maybe fewer.
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving from the client")?;
    out.trace_read(buf.len(), &buf[..n]);
    if n == 0 {
        // 0 bytes means the client closed its side without sending anything.
        out.line("the client closed the connection without sending anything");
        return Ok(());
    }
    let msg = &buf[..n];
    out.line(format!("received: {}", escape(msg)));

    // write_all keeps writing until every byte is handed to the kernel
    // (Python's sendall; a bare send may take only part of the data).
    let reply = msg.to_ascii_uppercase();
    conn.write_all(&reply).context("replying to the client")?;
    out.trace_write(&reply);
    out.line(format!("replied: {}", escape(&reply)));

    // Dropping `conn` and `listener` closes both sockets
    // (Python: conn.close(); s.close()).
    // ANCHOR_END: serve
    Ok(())
}
