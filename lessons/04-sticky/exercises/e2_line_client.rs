// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 04.2
//! Exercise 04.2 — a client that finds the lines in a stream.
//!
//! The server sends lines of text, each ending with `\n`, then closes. The client must print
//! each line with its number: `1: alpha`, `2: beta`, … This starter takes each read as a
//! line, and a read is not a line: it may hold a part of one, or several. Keep what has
//! arrived in a buffer, print every complete line in it, and keep the rest for later.
//! A line longer than 1024 bytes is an error (exit code 1, one line on stderr that says
//! `1024`): a peer must not make the buffer grow without end.
//!
//! Check it:   cargo run --bin lab -- check 04.2
//!
//! The check's server cuts its lines in the middle and joins others, with pauses between
//! its writes; then, in a second run, sends 5000 bytes with no newline.

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 04.2: print each line the server sends, numbered.
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
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    let mut buf = [0u8; 1024];
    let mut count = 0;
    loop {
        let n = conn.read(&mut buf).context("receiving")?;
        if n == 0 {
            return Ok(());
        }
        count += 1;
        let line = String::from_utf8_lossy(&buf[..n]);
        out.line(format!("{count}: {}", line.trim_end()));
    }
}
