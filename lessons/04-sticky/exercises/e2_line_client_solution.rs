//! Exercise 04.2 — a client that finds the lines in a stream: the solution.
//!
//! The bytes go into a buffer that lives across reads. After each read, every complete
//! line (up to a `\n`) is taken out and printed; a part of a line stays for the next read.
//! The buffer is bounded: a line that does not end within 1024 bytes is refused.
//!
//! Check it:   cargo run --bin lab -- check 04.2 --solution

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// The longest line accepted, with its newline.
const MAX_LINE: usize = 1024;

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

// ANCHOR: solution
fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    // What has arrived and is not printed yet: at most one line, a part of the next.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1024];
    let mut count = 0;
    loop {
        let n = conn.read(&mut buf).context("receiving")?;
        if n == 0 {
            if !pending.is_empty() {
                bail!("the server closed in the middle of a line");
            }
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        // Every complete line in the buffer: print it and take it out.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            count += 1;
            let text = String::from_utf8_lossy(&line[..end]);
            out.line(format!("{count}: {text}"));
        }
        if pending.len() > MAX_LINE {
            bail!("a line longer than {MAX_LINE} bytes: refused");
        }
    }
}
// ANCHOR_END: solution
