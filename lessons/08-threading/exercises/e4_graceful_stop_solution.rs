//! Exercise 08.4 — stop gracefully: the solution.
//!
//! `thread::spawn` returns a `JoinHandle`: the accept loop keeps them, and once it stops
//! accepting, `join` waits for each thread, that is for each client to leave. Only then
//! does `serve` return, and the process end.
//!
//! Check it:   cargo run --bin lab -- check 08.4 --solution

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 08.4: a thread per client, and a stop that lets every client finish.
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

// ANCHOR: solution
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    let mut clients: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        out.line(format!("connection from {peer}"));
        // Keep the handle: it is how the server waits for this client at the end.
        clients.push(thread::spawn(move || communicate(conn, peer, out)));
    }
    // No one new: the listener is closed, and the clients already here are served.
    drop(listener);
    out.line(format!(
        "accepted {accepted} clients, waiting for them to leave"
    ));
    for client in clients {
        let _ = client.join();
    }
    Ok(())
}
// ANCHOR_END: solution

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
