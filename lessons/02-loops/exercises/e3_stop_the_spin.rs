// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 02.3
//! Exercise 02.3 — stop the spin.
//!
//! This is the classic course's first communication loop: read, print, reply, repeat. It
//! never checks for a read of 0 bytes. When a client leaves, every read returns 0 at once,
//! and the loop spins: millions of empty reads a second, and the next client is never
//! served. Make the loop end when its client leaves (0 bytes, or a reset), so that the
//! server goes on to the next client.
//!
//! Check it:   cargo run --bin lab -- check 02.3
//! Or run it:  cargo run --example ex02-3 | tail -3             (terminal 1)
//!             cargo run --bin lesson02-client                   (terminal 2: type a line, then Ctrl-D)
//!
//! The check starts it with `--max-clients 2`. The first client sends `hello` and leaves;
//! the second sends `next` and must get `NEXT` within a second. A spinning server is
//! stopped after that second, and what it did in it is counted.

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

/// Read, print, reply, repeat.
fn communicate(mut conn: TcpStream, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
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
        let _ = conn.write_all(&buf[..n].to_ascii_uppercase());
    }
}
