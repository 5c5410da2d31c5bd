// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 08.3
//! Exercise 08.3 — one counter for all the threads.
//!
//! This server answers every message with a number and the message upper-cased:
//! `1: HELLO`, `2: AGAIN`… The numbers must count every message the server answers, from
//! all clients together, with no number given twice. Here each client's thread keeps its
//! own counter, so two clients both get `1:`. Share one counter between all the threads.
//!
//! Check it:   cargo run --bin lab -- check 08.3
//! Or run it:  cargo run --example ex08-3                               (terminal 1)
//!             cargo run --bin lesson08-client -- --connections 3       (terminal 2)
//!
//! The check connects three clients at once, and has them send five messages each, in
//! turn: the fifteen replies must be numbered 1 to 15.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 08.3: number every reply, across all clients at once.
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
    let mut clients: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        clients.push(thread::spawn(move || communicate(conn, peer, out)));
    }
    for client in clients {
        let _ = client.join();
    }
    Ok(())
}

/// Answers each message with its number and the message upper-cased.
fn communicate(mut conn: TcpStream, peer: SocketAddr, out: Out) {
    let mut count = 0;
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        count += 1;
        let reply = format!(
            "{count}: {}",
            String::from_utf8_lossy(&buf[..n]).to_uppercase()
        );
        out.line(format!("to {peer}: {reply}"));
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
