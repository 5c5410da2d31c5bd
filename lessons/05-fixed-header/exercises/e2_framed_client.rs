// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 05.2
//! Exercise 05.2 — a framed client that is right under any cutting.
//!
//! The client of lesson 05: each line of stdin is a command, sent as a frame (a 4-byte
//! big-endian length, then the bytes); each reply comes back as a frame, and is printed
//! (without its last newline). This starter reads the way the classic course does: one
//! read for the 4 header bytes, one read for the body. On loopback that usually works.
//! Make it right whatever the reads return: read until the 4 bytes are in, check the length
//! against a maximum of 1 MiB BEFORE allocating anything, then read until the whole body is
//! in. A server that closes before a whole reply, or announces a length over the maximum,
//! is an error: exit code 1 and one line that says what happened.
//!
//! Check it:   cargo run --bin lab -- check 05.2
//! Or run it, in three terminals:
//!             cargo run --bin lesson05-server
//!             cargo run --bin lab -- proxy --to 127.0.0.1:9005 --chunk 1 --delay-ms 5
//!             cargo run --example ex05-2 -- --port 9090
//!
//! The check runs lesson05-server behind the lab's proxy, which cuts every write at random
//! points (the same ones every run), and types `seq 3`, `seq 40` and `echo done`. Then it
//! plays a server that announces a reply of 4 GiB.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// Exercise 05.2: send commands to lesson05-server, print each whole reply.
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
        let command = line.trim();
        if command.is_empty() {
            continue;
        }
        let mut frame = (command.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(command.as_bytes());
        conn.write_all(&frame).context("sending")?;
        let reply = read_reply(&mut conn)?;
        out.line(String::from_utf8_lossy(&reply).trim_end_matches('\n'));
    }
    Ok(())
}

/// Reads one reply frame: the 4-byte length, then the body.
fn read_reply(conn: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    let n = conn.read(&mut header).context("receiving the header")?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    let len = u32::from_be_bytes(header) as usize;
    let mut body = vec![0u8; len];
    let n = conn.read(&mut body).context("receiving the body")?;
    body.truncate(n);
    Ok(body)
}
