// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 05.1
//! Exercise 05.1 — send frames.
//!
//! Send each line of stdin as one frame — a 4-byte length, then that many bytes — and
//! close at the end of input. The length is a u32 in network byte order (big-endian), and
//! it counts bytes, not characters. Header and body leave in one `write_all`. This starter
//! writes the length in this machine's own byte order, like the classic course's
//! `struct.pack('i', n)`.
//!
//! Check it:   cargo run --bin lab -- check 05.1
//! Or run it:  cargo run --bin lesson05-server -- --trace               (terminal 1)
//!             echo 'seq 3' | cargo run --example ex05-1                 (terminal 2)
//!
//! The check listens, types three lines into it (one of them not ASCII), and compares every
//! byte its server receives with the frames expected.

use std::io::Write;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// Exercise 05.1: send each line of stdin as a frame.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9005)]
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
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson05-server"))?;
    let mut lines = Lines::stdin();
    while let Some(line) = lines.next_line()? {
        let body = line.as_bytes();
        let mut frame = (body.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(body);
        conn.write_all(&frame).context("sending")?;
        out.trace_write(&frame);
    }
    Ok(())
}
