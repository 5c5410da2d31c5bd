//! Exercise 01.2 — a server that tells each caller who they are: the solution.
//!
//! `accept` returns two things: the connection, and the address of the client at its other
//! end. The reply is that address.
//!
//! Check it:   cargo run --bin lab -- check 01.2 --solution

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 01.2: accept one client, tell it who it is, exit.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9001)]
    port: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: solution
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    // `peer` is the client's address: its IP, and the port its system picked for it.
    let (mut conn, peer) = listener.accept().context("accepting a client")?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("receiving from the client")?;
    out.line(format!("received: {}", String::from_utf8_lossy(&buf[..n])));

    let reply = format!("you are {peer}");
    conn.write_all(reply.as_bytes())
        .context("replying to the client")?;
    out.line(format!("replied: {reply}"));
    Ok(())
}
// ANCHOR_END: solution
