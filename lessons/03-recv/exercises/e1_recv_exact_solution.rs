//! Exercise 03.1 — `recv_exact`: exactly n bytes, however they arrive. The solution.
//!
//! A loop of reads, each one asking only for what is still missing, until `n` bytes are
//! in. A read of 0 bytes before that means the peer has closed: the bytes can never come,
//! so it is an error, and the error says how far it got.
//!
//! Check it:   cargo run --bin lab -- check 03.1 --solution

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.1: read exactly 26 bytes, answer, read exactly 4.
#[derive(Parser)]
struct Args {
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
    let letters = recv_exact(&mut conn, 26)?;
    out.line(String::from_utf8_lossy(&letters));
    conn.write_all(b"ok").context("answering")?;
    let done = recv_exact(&mut conn, 4)?;
    out.line(String::from_utf8_lossy(&done));
    Ok(())
}

// ANCHOR: solution
/// Reads exactly `n` bytes from `conn`: reads until they are all in, asking each time
/// only for what is missing (so it never takes a byte of what comes next).
fn recv_exact(conn: &mut TcpStream, n: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = conn.read(&mut buf[got..]).context("receiving")?;
        if k == 0 {
            bail!("the server closed the connection after {got} of {n} bytes");
        }
        got += k;
    }
    Ok(buf)
}
// ANCHOR_END: solution
