//! Exercise 01.3 — a server that counts every byte of a message: the solution.
//!
//! A read returns what has arrived, at most the buffer's size. So the server reads again
//! and again, adding up, until a read returns 0: the client has finished sending.
//!
//! Check it:   cargo run --bin lab -- check 01.3 --solution

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 01.3: accept one client, count the bytes of its message, reply the count.
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

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    let (mut conn, peer) = listener.accept().context("accepting a client")?;
    out.line(format!("connection from {peer}"));
    // ANCHOR: solution
    // Read until 0 bytes: the client shut down its sending side. Each read returns what
    // has arrived, up to 1024 bytes; the count is the sum of them all.
    let mut buf = [0u8; 1024];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).context("receiving from the client")?;
        out.trace_read(buf.len(), &buf[..n]);
        if n == 0 {
            break;
        }
        total += n;
    }
    // ANCHOR_END: solution

    let reply = format!("received {total} bytes");
    conn.write_all(reply.as_bytes()).context("replying")?;
    out.line(reply);
    Ok(())
}
