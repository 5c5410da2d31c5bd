//! Exercise 04.1 — leave cleanly, with replies still unread: the solution.
//!
//! `shutdown(Write)` sends the FIN: "I will send nothing more". The server's read returns 0
//! bytes and it closes too. Reading until then empties the receive buffer, so the final
//! close has nothing unread to throw away: an orderly close, not a reset.
//!
//! Check it:   cargo run --bin lab -- check 04.1 --solution

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
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
    // ANCHOR: solution
    // Done sending: the FIN tells the server, whose read returns 0 and who closes too.
    conn.shutdown(Shutdown::Write).context("shutting down")?;
    // Read what is left until the server's close: nothing stays unread.
    let mut left = 0;
    loop {
        let n = conn.read(&mut buf).context("reading what was left")?;
        if n == 0 {
            break;
        }
        left += n;
    }
    out.line(format!("left unread until the end: {left} bytes"));
    // ANCHOR_END: solution
    Ok(())
}
