//! Exercise 02.1 — a client loop that never leaves both sides waiting: the solution.
//!
//! Empty lines are skipped, `exit` and `quit` end the loop without being sent, and a 0-byte
//! reply ends it too: the server has closed, and every later read would return 0 again.
//!
//! Check it:   cargo run --bin lab -- check 02.1 --solution

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

    // ANCHOR: solution
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        let msg = line.trim();
        // 0 bytes would send nothing: both sides would wait for each other forever.
        if msg.is_empty() {
            continue;
        }
        if msg == "exit" || msg == "quit" {
            break;
        }
        conn.write_all(msg.as_bytes()).context("sending")?;
        out.trace_write(msg.as_bytes());

        let n = conn.read(&mut buf).context("receiving the reply")?;
        out.trace_read(buf.len(), &buf[..n]);
        // A reply of 0 bytes: the server closed its side. It will never say more.
        if n == 0 {
            out.line("the server closed the connection");
            break;
        }
        out.line(String::from_utf8_lossy(&buf[..n]));
    }
    // ANCHOR_END: solution
    Ok(())
}
