//! Exercise 05.1 — send frames: the solution.
//!
//! `to_be_bytes` lays the length out in network order, most significant byte first: 5 is
//! `00 00 00 05`, on every machine. The length is `body.len()`, a count of bytes.
//!
//! Check it:   cargo run --bin lab -- check 05.1 --solution

use std::io::Write;
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// Exercise 05.1: send each line of stdin as a frame.
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
    // ANCHOR: solution
    while let Some(line) = lines.next_line()? {
        // The length counts bytes: "报告" is 2 characters and 6 bytes.
        let body = line.as_bytes();
        let Ok(len) = u32::try_from(body.len()) else {
            bail!("a line of {} bytes is too long for a frame", body.len());
        };
        // Network byte order, then the body: one buffer, one write_all.
        let mut frame = len.to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        conn.write_all(&frame).context("sending")?;
        out.trace_write(&frame);
    }
    // ANCHOR_END: solution
    Ok(())
}
