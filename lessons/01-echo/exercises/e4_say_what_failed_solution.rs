//! Exercise 01.4 — a client that says what went wrong, in one line: the solution.
//!
//! No `unwrap` or `expect` on what the network decides: every call that can fail returns
//! its error with `?`, with a few words of context, and `socket_lab::exit_code` prints it
//! as one line and exits with code 1.
//!
//! Check it:   cargo run --bin lab -- check 01.4 --solution

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
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

// ANCHOR: solution
fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    // `with_context` puts the address in front of the system's words:
    // "connecting to 127.0.0.1:9001: Connection refused (os error 111)".
    let mut conn = TcpStream::connect(&addr)
        .with_context(|| format!("connecting to {addr} (is the server running?)"))?;
    conn.write_all(args.message.as_bytes())
        .context("sending the message")?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving the reply")?;
    out.line(String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
// ANCHOR_END: solution
