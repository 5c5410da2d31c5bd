// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 08.1
//! Exercise 08.1 — a thread for each client.
//!
//! This is lesson 02's server: it talks to one client at a time. A second client connects
//! (the system completes the handshake) but gets no reply until the first one leaves. Hand
//! each connection to a thread of its own, so that the accept loop goes straight back to
//! `accept` and every connected client is answered at once. With `--max-clients N`, the
//! server stops accepting after N clients, waits until they have all left, and exits.
//!
//! Check it:   cargo run --bin lab -- check 08.1
//! Or run it:  cargo run --example ex08-1                               (terminal 1)
//!             cargo run --bin lesson08-client -- --connections 2       (terminal 2)
//!
//! The check starts it with `--max-clients 2`, connects two clients, and has the second
//! one send while the first is still connected.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 08.1: the upper-case echo server, a thread per client.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Stop accepting after this many clients, let them finish, then exit (default: serve
    /// forever).
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
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        out.line(format!("connection from {peer}"));
        communicate(conn, peer, out);
    }
    Ok(())
}

/// Lesson 02's communication loop: echo upper-cased until the client leaves.
fn communicate(mut conn: TcpStream, peer: SocketAddr, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => {
                out.line(format!("{peer} left"));
                return;
            }
            Ok(n) => n,
        };
        out.line(format!(
            "received from {peer}: {}",
            String::from_utf8_lossy(&buf[..n])
        ));
        if conn.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
            return;
        }
    }
}
