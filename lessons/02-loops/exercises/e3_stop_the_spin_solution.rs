//! Exercise 02.3 — stop the spin: the solution.
//!
//! A read of 0 bytes means the client has closed its side, and every later read would
//! return 0 again at once: it is the only way out of the loop, so the loop must look for
//! it.
//!
//! Check it:   cargo run --bin lab -- check 02.3 --solution

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 02.3: an upper-case echo server whose loop ends when its client leaves.
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
/// Read, print, reply, repeat — until the client leaves.
fn communicate(mut conn: TcpStream, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            // The client closed: nothing will ever come again. Leave the loop.
            Ok(0) => {
                out.line("the client closed the connection");
                return;
            }
            Ok(n) => n,
            Err(e) => {
                out.line(format!("read failed: {e}"));
                return;
            }
        };
        out.line(format!(
            "received {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ));
        if conn.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
            return;
        }
    }
}
// ANCHOR_END: solution
