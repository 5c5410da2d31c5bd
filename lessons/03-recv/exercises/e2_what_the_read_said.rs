// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 03.2
//! Exercise 03.2 — what did the read say?
//!
//! A read has four outcomes, and a program must tell them apart. Connect, read once (at
//! most 1024 bytes, waiting at most `--timeout-ms`), and print exactly one line:
//!
//!   data: TEXT   bytes arrived (print them)
//!   closed       0 bytes: the server closed the connection in order
//!   reset        the read failed with ECONNRESET: the server reset the connection
//!   timeout      nothing arrived within --timeout-ms
//!
//! and exit with code 0 in all four cases. This starter knows only the first.
//!
//! Check it:   cargo run --bin lab -- check 03.2
//!
//! The check runs it four times, against a server that sends `hello`, one that closes, one
//! that resets, and one that says nothing (with `--timeout-ms 300`).

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.2: read once and say what the read returned.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9003)]
    port: u16,

    /// How long the read may wait, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
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
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving")?;
    out.line(format!("data: {}", String::from_utf8_lossy(&buf[..n])));
    Ok(())
}
