// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 08.2
//! Exercise 08.2 — a fixed pool of threads.
//!
//! This server starts a thread for every client: a thousand clients, a thousand threads.
//! Make it serve with a fixed pool of `--pool N` threads, started once: at most N clients
//! are served at the same time, and the others wait (connected, but unanswered) until a
//! thread is free. With `--max-clients`, it stops accepting after that many, lets every
//! accepted client be served, and exits.
//!
//! Check it:   cargo run --bin lab -- check 08.2
//! Or run it:  cargo run --example ex08-2 -- --pool 2                   (terminal 1)
//!             cargo run --bin lesson08-client -- --connections 3       (terminal 2)
//!
//! The check starts it with `--pool 2 --max-clients 3` and connects three clients: the
//! third must get no reply while the first two are connected, and its reply once one of
//! them has left.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 08.2: the upper-case echo server on a fixed pool of threads.
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

    /// Serve at most N clients at once, on N threads started once.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pool: u16,

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
    out.line(format!("a pool of {} threads", args.pool));
    let mut clients: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        out.line(format!("connection from {peer}"));
        clients.push(thread::spawn(move || communicate(conn, peer, out)));
    }
    for client in clients {
        let _ = client.join();
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
