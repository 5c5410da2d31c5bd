//! Exercise 05.2 — a framed client that is right under any cutting: the solution.
//!
//! One loop serves the header and the body alike: `read_exactly` reads until it has the
//! number of bytes it was asked for, and a 0-byte read before that is the server closing
//! mid-frame. Between the two, the length is checked against the maximum, so a wrong or
//! hostile length costs nothing.
//!
//! Check it:   cargo run --bin lab -- check 05.2 --solution

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// The largest reply accepted: 1 MiB.
const MAX_REPLY: u32 = 1024 * 1024;

/// Exercise 05.2: send commands to lesson05-server, print each whole reply.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9005)]
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
        .map_err(|e| connect_error(e, &addr, "lesson05-server"))?;
    let mut lines = Lines::stdin();
    while let Some(line) = lines.next_line()? {
        let command = line.trim();
        if command.is_empty() {
            continue;
        }
        let mut frame = (command.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(command.as_bytes());
        conn.write_all(&frame).context("sending")?;
        let reply = read_reply(&mut conn)?;
        out.line(String::from_utf8_lossy(&reply).trim_end_matches('\n'));
    }
    Ok(())
}

// ANCHOR: solution
/// Reads one reply frame: the 4-byte length, checked, then exactly that many bytes.
fn read_reply(conn: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    read_exactly(conn, &mut header, "the header")?;
    let len = u32::from_be_bytes(header);
    // The length came from the network: check it before allocating anything.
    if len > MAX_REPLY {
        bail!("the server announced {len} bytes, over the maximum of {MAX_REPLY}");
    }
    let mut body = vec![0u8; len as usize];
    read_exactly(conn, &mut body, "the body")?;
    Ok(body)
}

/// Fills `buf` from `conn`, one read after another: each returns what has arrived.
fn read_exactly(conn: &mut TcpStream, buf: &mut [u8], what: &str) -> anyhow::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let n = conn.read(&mut buf[got..]).context("receiving")?;
        if n == 0 {
            let len = buf.len();
            bail!("the server closed in the middle of {what} ({got} of {len} bytes)");
        }
        got += n;
    }
    Ok(())
}
// ANCHOR_END: solution
