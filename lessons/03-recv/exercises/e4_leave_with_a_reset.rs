// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 03.4
//! Exercise 03.4 — leave with a reset, on purpose.
//!
//! This client sends its message, prints the reply and closes: the server's next read
//! returns 0 bytes, an orderly close. Make it leave with a reset instead, the way a crashed
//! program often does: the server's next read must fail with ECONNRESET. (Lesson 03's
//! `linger` case shows how; std has no setter for it, socket2 does.)
//!
//! Check it:   cargo run --bin lab -- check 03.4
//! Or run it:  cargo run --bin lesson02-server                      (terminal 1)
//!             cargo run --example ex03-4 -- --port 9002 hello      (terminal 2)
//!
//! The check's server replies, then reads once more and looks at what that read returns.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.4: send a message, print the reply, leave with a reset.
#[derive(Parser)]
struct Args {
    /// The message to send.
    message: String,

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
    conn.write_all(args.message.as_bytes()).context("sending")?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving the reply")?;
    out.line(String::from_utf8_lossy(&buf[..n]));
    // Dropping the stream closes it: an orderly close.
    drop(conn);
    Ok(())
}
