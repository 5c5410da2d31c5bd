//! Exercise 08.3 — one counter for all the threads: the solution.
//!
//! One `AtomicU64`, owned by an `Arc` that every thread holds a clone of. `fetch_add`
//! adds 1 and returns the value before, in one step no other thread can cut into: no two
//! messages ever get the same number. (A `Mutex<u64>` would do too, with a lock held for
//! the increment.)
//!
//! Check it:   cargo run --bin lab -- check 08.3 --solution

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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

// ANCHOR: solution
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    // One counter for the whole server; each thread gets a handle to it.
    let count = Arc::new(AtomicU64::new(0));
    let mut clients: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        let count = Arc::clone(&count);
        clients.push(thread::spawn(move || communicate(conn, peer, &count, out)));
    }
    for client in clients {
        let _ = client.join();
    }
    Ok(())
}

/// Answers each message with its number and the message upper-cased.
fn communicate(mut conn: TcpStream, peer: SocketAddr, count: &AtomicU64, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Take the next number: one step, whatever the other threads do meanwhile.
        let number = count.fetch_add(1, Ordering::SeqCst) + 1;
        let text = String::from_utf8_lossy(&buf[..n]).to_uppercase();
        let reply = format!("{number}: {text}");
        out.line(format!("to {peer}: {reply}"));
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
// ANCHOR_END: solution
