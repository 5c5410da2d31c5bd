//! Exercise 05.3 — a framed echo server that no client can fool: the solution.
//!
//! The connection keeps a buffer of bytes received and not used yet. A frame is taken from
//! its front as soon as it is whole; whatever follows stays for the next one. The length
//! is checked the moment the 4 header bytes are in, before the body is awaited.
//!
//! Check it:   cargo run --bin lab -- check 05.3 --solution

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// The largest frame accepted: 1 MiB.
const MAX_FRAME: usize = 1024 * 1024;

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

// ANCHOR: solution
/// Answers frame after frame until the client closes.
fn echo_frames(conn: &mut TcpStream, out: Out) -> anyhow::Result<()> {
    // Received and not used yet: the rest of this frame may be in it, or the next one.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // As many whole frames as the buffer holds, each answered at once.
        while let Some(header) = pending.first_chunk::<4>() {
            let len = u32::from_be_bytes(*header) as usize;
            if len > MAX_FRAME {
                bail!("a frame of {len} bytes is over the maximum of {MAX_FRAME}");
            }
            if pending.len() < 4 + len {
                break;
            }
            let frame: Vec<u8> = pending.drain(..4 + len).collect();
            let reply = frame[4..].to_ascii_uppercase();
            let mut out_frame = (reply.len() as u32).to_be_bytes().to_vec();
            out_frame.extend_from_slice(&reply);
            conn.write_all(&out_frame).context("replying")?;
        }
        // Not a whole frame yet: read more (what has arrived, at most 4 KiB).
        let n = conn.read(&mut buf).context("receiving")?;
        out.trace_read(buf.len(), &buf[..n]);
        if n == 0 {
            if !pending.is_empty() {
                bail!("the client closed in the middle of a frame");
            }
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
    }
}
// ANCHOR_END: solution
