// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 03.1
//! Exercise 03.1 — `recv_exact`: exactly n bytes, however they arrive.
//!
//! The server sends the 26 letters of the alphabet, in pieces, with pauses between them.
//! The client must print all 26 on one line, answer `ok`, then read the server's 4-byte
//! `done` and print it. `recv_exact` below reads once, and a read returns what has arrived:
//! write it with `read` so that it returns exactly `n` bytes. If the server closes before
//! `n` bytes came, it must fail with an error that says how many came: `… 10 of 26 …`.
//! (std's `read_exact` does the loop, but its error does not say how far it got.)
//!
//! Check it:   cargo run --bin lab -- check 03.1
//!
//! The check's server cuts its bytes into pieces with pauses between them, then, in a
//! second run, closes after 10 of the 26 letters.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.1: read exactly 26 bytes, answer, read exactly 4.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9003)]
    port: u16,

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
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    let letters = recv_exact(&mut conn, 26)?;
    out.line(String::from_utf8_lossy(&letters));
    conn.write_all(b"ok").context("answering")?;
    let done = recv_exact(&mut conn, 4)?;
    out.line(String::from_utf8_lossy(&done));
    Ok(())
}

/// Reads exactly `n` bytes from `conn`.
fn recv_exact(conn: &mut TcpStream, n: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let got = conn.read(&mut buf).context("receiving")?;
    buf.truncate(got);
    Ok(buf)
}
