// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 01.4
//! Exercise 01.4 — a client that says what went wrong, in one line.
//!
//! This echo client works while a server runs. Start it with no server and it panics: a
//! screen of text, and exit code 101. Make it fail the way every lab program does: one line
//! on stderr that says what happened (the address, and that the connection was refused),
//! and exit code 1.
//!
//! Check it:   cargo run --bin lab -- check 01.4
//! Or run it:  cargo run --example ex01-4 -- hello         (no server running)
//!
//! The check runs it twice: against a server of its own (the reply must be printed), and
//! against a port where nobody listens.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use clap::Parser;
use socket_lab::{Out, Side, Style};

/// Exercise 01.4: send one message and print the reply; say clearly when that fails.
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

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr).expect("could not connect");
    conn.write_all(args.message.as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).unwrap();
    out.line(String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
