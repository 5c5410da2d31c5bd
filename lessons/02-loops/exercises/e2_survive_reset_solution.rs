//! Exercise 02.2 — a server that survives a reset: the solution.
//!
//! What happens to one client is that client's business: `communicate` handles every way a
//! conversation can end (0 bytes, a reset, any other error) and returns nothing, so the
//! connection loop always goes on to the next client.
//!
//! Check it:   cargo run --bin lab -- check 02.2 --solution

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 02.2: an upper-case echo server that goes on after a client resets.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9002)]
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
        let (conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        communicate(conn, out);
        served += 1;
    }
    Ok(())
}

// ANCHOR: solution
/// Echoes upper-cased until the client leaves, however it leaves. Nothing is returned:
/// the connection loop goes on to the next client in every case.
fn communicate(mut conn: TcpStream, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => {
                out.line("the client closed the connection");
                return;
            }
            Ok(n) => n,
            // A reset: the client's system threw the connection away.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.line("the client reset the connection");
                return;
            }
            Err(e) => {
                out.line(format!("read failed: {e}"));
                return;
            }
        };
        out.line(format!("received: {}", String::from_utf8_lossy(&buf[..n])));
        if let Err(e) = conn.write_all(&buf[..n].to_ascii_uppercase()) {
            out.line(format!("could not reply: {e}"));
            return;
        }
    }
}
// ANCHOR_END: solution
