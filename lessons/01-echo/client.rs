//! Lesson 01 — the basic echo client.
//!
//! Connect, send one message, print the reply, close. The message is the argument, or one
//! line of stdin when there is no argument.
//!
//! Start the server first:   cargo run --bin lesson01-server
//! Then:                     cargo run --bin lesson01-client -- hello
//!
//! Look for: the reply is your message upper-cased. Start the client with no server running
//! and read the error: TCP needs someone listening before you can connect.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Lesson 01: send one message to lesson01-server and print the reply.
#[derive(Parser)]
#[command(name = "lesson01-client", version)]
struct Args {
    /// The message to send. Without it, one line is read from stdin.
    message: Option<String>,

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
    let message = match &args.message {
        Some(m) => m.clone(),
        None => Lines::stdin().next_line()?.unwrap_or_default(),
    };
    if message.is_empty() {
        // Sending zero bytes sends nothing: the server would wait for data forever
        // and we would wait for its reply forever (lesson 02 shows it).
        bail!("nothing to send: give a message, e.g. lesson01-client hello");
    }

    // ANCHOR: talk
    // connect: the three-way handshake with the server (Python: s.connect(addr)).
    let addr = format!("{}:{}", args.host, args.port);
    let conn = TcpStream::connect(&addr);
    let mut conn = conn.map_err(|e| connect_error(e, &addr, "lesson01-server"))?;
    // Where we are connected really (Python: s.getpeername()): `--host localhost` shows
    // the address that answered.
    out.line(format!("connected to {}", conn.peer_addr()?));

    conn.write_all(message.as_bytes()).context("sending")?;
    out.trace_write(message.as_bytes());

    // One read of up to 1024 bytes, as in the classic course. Enough for a short message;
    // lesson 04 shows what happens to a longer reply.
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving the reply")?;
    out.trace_read(buf.len(), &buf[..n]);
    out.line(escape(&buf[..n]));
    // Dropping `conn` closes the socket: the server's next read would return 0 bytes.
    // ANCHOR_END: talk
    Ok(())
}
