// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 05.3
//! Exercise 05.3 — a framed echo server that no client can fool.
//!
//! Each request is a frame (a 4-byte big-endian length, then the bytes); each reply is a
//! frame with the request upper-cased. This starter reads one frame with one read for the
//! header and one for the body. Make it right whatever the reads bring — two frames in one
//! read, a header in three — and safe: a length over 1 MiB is refused before anything is
//! allocated (that client's connection is closed, and the server goes on with the next).
//!
//! Check it:   cargo run --bin lab -- check 05.3
//! Or run it:  cargo run --example ex05-3 -- --trace             (terminal 1)
//!             cargo run --bin lesson05-client -- --trace        (terminal 2)
//!
//! The check starts it with `--max-clients 3`: one client behind the lab's proxy, which
//! cuts and joins at random points; one that announces a 4 GiB frame; one that checks the
//! server still works.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 05.3: echo frames upper-cased; refuse lengths over 1 MiB.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9005)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

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
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (mut conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        // Whatever one client does ends at most its own connection.
        match echo_frames(&mut conn, out) {
            Ok(()) => out.line(format!("{peer} closed the connection")),
            Err(e) => out.line(format!("{peer}: {e:#}; closing the connection")),
        }
        served += 1;
    }
    Ok(())
}

/// Answers frame after frame until the client closes.
fn echo_frames(conn: &mut TcpStream, out: Out) -> anyhow::Result<()> {
    loop {
        let mut header = [0u8; 4];
        let n = conn.read(&mut header).context("receiving a header")?;
        if n == 0 {
            return Ok(());
        }
        let len = u32::from_be_bytes(header) as usize;
        let mut body = vec![0u8; len];
        let n = conn.read(&mut body).context("receiving a body")?;
        out.trace_read(len, &body[..n]);
        let reply = body[..n].to_ascii_uppercase();
        let mut frame = (reply.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&reply);
        conn.write_all(&frame).context("replying")?;
    }
}
