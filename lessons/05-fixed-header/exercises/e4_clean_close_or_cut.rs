// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 05.4
//! Exercise 05.4 — a clean close, or a frame cut short?
//!
//! The server sends frames (a 4-byte big-endian length, then the bytes) and then closes.
//! The client prints each frame's bytes on a line. A close BETWEEN two frames is the normal
//! end: exit code 0. A close INSIDE a frame means data was lost: exit code 1, and one line
//! that says where, with the count of bytes that came: `… (3 of 10 bytes)` in a body,
//! `… (2 of 4 bytes)` in a header. This starter uses `read_exact`, which cannot tell the
//! two apart: at the clean end it fails too, and its error says neither where nor how much.
//!
//! Check it:   cargo run --bin lab -- check 05.4
//!
//! The check plays three servers: one that sends two frames and closes, one that closes in
//! the middle of a body, one that closes in the middle of a header.

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// The largest frame accepted: 1 MiB.
const MAX_FRAME: u32 = 1024 * 1024;

/// Exercise 05.4: print the server's frames; tell a clean close from a cut.
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
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    loop {
        let mut header = [0u8; 4];
        conn.read_exact(&mut header).context("receiving a header")?;
        let len = u32::from_be_bytes(header).min(MAX_FRAME);
        let mut body = vec![0u8; len as usize];
        conn.read_exact(&mut body).context("receiving a body")?;
        out.line(String::from_utf8_lossy(&body));
    }
}
