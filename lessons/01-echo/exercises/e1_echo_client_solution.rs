//! Exercise 01.1 — an echo client: the solution.
//!
//! Connect, send the argument, read the reply, print it on a line of its own.
//!
//! Check it:   cargo run --bin lab -- check 01.1 --solution

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 01.1: send one message to lesson01-server and print the reply.
#[derive(Parser)]
struct Args {
    /// The message to send.
    message: String,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9001)]
    port: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

// ANCHOR: solution
fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson01-server"))?;

    // write_all, not write: write may take only part of the bytes.
    conn.write_all(args.message.as_bytes()).context("sending")?;
    out.trace_write(args.message.as_bytes());

    // The server replies once and closes: one read of up to 1024 bytes gets a short
    // reply (lesson 04 shows what a long one does).
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving the reply")?;
    out.trace_read(buf.len(), &buf[..n]);
    out.line(String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
// ANCHOR_END: solution
