// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 02.4
//! Exercise 02.4 — a server that hangs up.
//!
//! So far only the client ends a conversation. Make the server end it: when a client sends
//! `bye`, the server replies `BYE` as usual, then closes the connection itself and goes
//! on to the next client. The client then reads 0 bytes: the same signal, from the other
//! side.
//!
//! Check it:   cargo run --bin lab -- check 02.4
//! Or run it:  cargo run --example ex02-4                (terminal 1)
//!             cargo run --bin lesson02-client            (terminal 2: type hi, then bye)
//!
//! The check starts it with `--max-clients 2`. The first client sends `hi`, then `bye`,
//! and waits for the connection to end; the second sends `next`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 02.4: an upper-case echo server that hangs up when a client says bye.
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

/// Echoes upper-cased until the client leaves.
fn communicate(mut conn: TcpStream, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => {
                out.line("the client closed the connection");
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.line("the client reset the connection");
                return;
            }
            Err(e) => {
                out.line(format!("read failed: {e}"));
                return;
            }
        };
        let msg = &buf[..n];
        out.line(format!("received: {}", String::from_utf8_lossy(msg)));
        if let Err(e) = conn.write_all(&msg.to_ascii_uppercase()) {
            out.line(format!("could not reply: {e}"));
            return;
        }
    }
}
