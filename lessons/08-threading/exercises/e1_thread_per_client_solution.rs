//! Exercise 08.1 — a thread for each client: the solution.
//!
//! The accept loop hands each connection to a new thread (`move`: from then on only that
//! thread talks to that client) and goes back to `accept` at once. Its handles are kept,
//! so that a server told to stop can wait for the clients it is still serving.
//!
//! Check it:   cargo run --bin lab -- check 08.1 --solution

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};

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
    // ANCHOR: solution
    let mut clients: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        out.line(format!("connection from {peer}"));
        // The thread owns the connection; this loop is back in accept at once.
        let client = thread::Builder::new().spawn(move || communicate(conn, peer, out));
        match client {
            Ok(client) => clients.push(client),
            Err(e) => out.line(format!("{peer}: no thread for this client: {e}")),
        }
    }
    // Stop accepting, but let the clients being served finish.
    for client in clients {
        let _ = client.join();
    }
    // ANCHOR_END: solution
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
