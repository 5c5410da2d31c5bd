//! Exercise 03.4 — leave with a reset, on purpose: the solution.
//!
//! `SO_LINGER` with a zero timeout turns the close into an abort: the system throws the
//! connection away and sends a reset (RST) instead of the orderly FIN.
//!
//! Check it:   cargo run --bin lab -- check 03.4 --solution

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket2::SockRef;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.4: send a message, print the reply, leave with a reset.
#[derive(Parser)]
struct Args {
    /// The message to send.
    message: String,

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
    conn.write_all(args.message.as_bytes()).context("sending")?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving the reply")?;
    out.line(String::from_utf8_lossy(&buf[..n]));
    // ANCHOR: solution
    // SO_LINGER 0: the close that follows sends a reset (RST), not a FIN.
    SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
    drop(conn);
    // ANCHOR_END: solution
    Ok(())
}
