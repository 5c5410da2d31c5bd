// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 01.2
//! Exercise 01.2 — a server that tells each caller who they are.
//!
//! This is lesson 01's server: it echoes one message upper-cased. Change it so that it
//! replies `you are HOST:PORT`: the address of the client, as the server sees it. Then, as
//! before, it closes the connection and exits.
//!
//! Check it:   cargo run --bin lab -- check 01.2
//! Or run it:  cargo run --example ex01-2                  (terminal 1)
//!             cargo run --bin lesson01-client -- hi       (terminal 2)
//!
//! The check connects, sends a message, and compares the reply with the address of its
//! own end of the connection.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 01.2: accept one client, tell it who it is, exit.
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

    let (mut conn, _peer) = listener.accept().context("accepting a client")?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving from the client")?;
    out.line(format!("received: {}", String::from_utf8_lossy(&buf[..n])));

    let reply = buf[..n].to_ascii_uppercase();
    conn.write_all(&reply).context("replying to the client")?;
    Ok(())
}
