// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 01.1
//! Exercise 01.1 — an echo client, written by you.
//!
//! Connect to the server, send the message given as the argument, read the reply and print
//! it on a line of its own. Lesson 01's client (`lessons/01-echo/client.rs`) does it; write
//! it here without copying, then compare.
//!
//! Check it:   cargo run --bin lab -- check 01.1
//! Or run it:  cargo run --bin lesson01-server            (terminal 1)
//!             cargo run --example ex01-1 -- hello        (terminal 2)
//!
//! The check listens itself, runs `ex01-1 --port PORT 'hello from lab check'`, looks at the
//! bytes its server receives, replies, and looks for the reply in what you printed.

use std::process::ExitCode;

use clap::Parser;
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

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    out.trace(format!("connecting to {addr}"));
    // Your code: connect to `addr` (TcpStream::connect), send the message's bytes
    // (write_all), read the reply (read), print it (out.line).
    todo!("connect to {addr}, send the message, print the reply")
}
