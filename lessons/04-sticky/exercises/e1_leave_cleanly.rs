// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 04.1
//! Exercise 04.1 — leave cleanly, with replies still unread.
//!
//! This is lesson 04's receiver-side client: it sends each command and reads ONE reply of
//! at most 1024 bytes. Type `text 2200` and most of the reply stays behind in the receive
//! buffer; the next command's "reply" is that leftover. When the client then closes, the
//! bytes it never read turn the close into a reset, and the server sees ECONNRESET. Make it
//! leave cleanly: tell the server you are done sending, read what is left until the server
//! closes, say how many bytes that was, then close.
//!
//! Check it:   cargo run --bin lab -- check 04.1
//! Or run it:  cargo run --bin lesson04-server -- --case receiver --trace   (terminal 1)
//!             cargo run --example ex04-1                                   (terminal 2)
//!
//! The check's server runs lesson 04's commands; the client types `text 2200`, then
//! `echo hello`, then ends its input. The server looks at how the connection ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// Exercise 04.1: send commands, read one reply each, leave without a reset.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9004)]
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
        .map_err(|e| connect_error(e, &addr, "lesson04-server"))?;
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        let command = line.trim();
        if command.is_empty() {
            continue;
        }
        conn.write_all(command.as_bytes()).context("sending")?;
        // ONE read: the start of a long reply, or the leftover of an earlier one.
        let n = conn.read(&mut buf).context("receiving the reply")?;
        out.line(String::from_utf8_lossy(&buf[..n]).trim_end());
    }
    Ok(())
}
