// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 01.3
//! Exercise 01.3 — a server that counts every byte of a message, however long.
//!
//! The client sends a message of any length, then says it has finished sending (it shuts
//! down its side of the connection). The server must reply `received N bytes`, with N the
//! length of the whole message. This starter reads once: check it to see what one read
//! gets of a 3000-byte message.
//!
//! Check it:   cargo run --bin lab -- check 01.3
//! Or run it:  cargo run --example ex01-3                  (terminal 1)
//!             head -c 3000 /dev/zero | nc -N 127.0.0.1 9001   (terminal 2)
//!
//! The check connects, sends 3000 bytes in one write_all, shuts down its sending side, and
//! reads the reply until the server closes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 01.3: accept one client, count the bytes of its message, reply the count.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
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
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    let (mut conn, peer) = listener.accept().context("accepting a client")?;
    out.line(format!("connection from {peer}"));
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving from the client")?;
    out.trace_read(buf.len(), &buf[..n]);

    let reply = format!("received {n} bytes");
    conn.write_all(reply.as_bytes()).context("replying")?;
    out.line(reply);
    Ok(())
}
