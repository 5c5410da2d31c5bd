//! Exercise 05.4 — a clean close, or a frame cut short? The solution.
//!
//! `fill` reads until a buffer is full and returns how many bytes it got: all of them, or
//! fewer when the peer closed. 0 bytes of a header is the clean end; any other shortfall
//! is a frame cut short, reported with the count.
//!
//! Check it:   cargo run --bin lab -- check 05.4 --solution

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// The largest frame accepted: 1 MiB.
const MAX_FRAME: u32 = 1024 * 1024;

/// Exercise 05.4: print the server's frames; tell a clean close from a cut.
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

// ANCHOR: solution
fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    loop {
        let mut header = [0u8; 4];
        match fill(&mut conn, &mut header)? {
            // Nothing of a next frame: the server closed between two frames.
            0 => return Ok(()),
            4 => {}
            got => {
                bail!("the server closed in the middle of a header ({got} of 4 bytes)")
            }
        }
        let len = u32::from_be_bytes(header);
        if len > MAX_FRAME {
            bail!("a frame of {len} bytes is over the maximum of {MAX_FRAME}");
        }
        let mut body = vec![0u8; len as usize];
        let got = fill(&mut conn, &mut body)?;
        if got < body.len() {
            bail!("the server closed in the middle of a body ({got} of {len} bytes)");
        }
        out.line(String::from_utf8_lossy(&body));
    }
}

/// Reads until `buf` is full or the peer closes; returns how many bytes came.
fn fill(conn: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = conn.read(&mut buf[got..]).context("receiving")?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}
// ANCHOR_END: solution
