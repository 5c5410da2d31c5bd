// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 02.1
//! Exercise 02.1 — a client loop that never leaves both sides waiting.
//!
//! This client sends every line typed, reads the reply, prints it, again and again. Three
//! things are missing, and each one hangs or confuses someone:
//! - an empty line must not be sent (sending 0 bytes sends nothing at all: the server keeps
//!   waiting for a message, and the client for a reply);
//! - `exit` or `quit` ends the client, and is not sent;
//! - a reply of 0 bytes means the server closed the connection: say `the server closed the
//!   connection` and stop.
//!
//! Check it:   cargo run --bin lab -- check 02.1
//! Or run it:  cargo run --bin lesson02-server          (terminal 1)
//!             cargo run --example ex02-1               (terminal 2)
//!
//! The check runs it against servers of its own, typing `hello`, an empty line, `world`,
//! `exit` and one more line; and then against a server that leaves after one reply.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// Exercise 02.1: send lines to lesson02-server and print each reply.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9002)]
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
        .map_err(|e| connect_error(e, &addr, "lesson02-server"))?;

    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        conn.write_all(line.as_bytes()).context("sending")?;
        out.trace_write(line.as_bytes());

        let n = conn.read(&mut buf).context("receiving the reply")?;
        out.trace_read(buf.len(), &buf[..n]);
        out.line(String::from_utf8_lossy(&buf[..n]));
    }
    Ok(())
}
