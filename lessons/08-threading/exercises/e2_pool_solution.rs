//! Exercise 08.2 — a fixed pool of threads: the solution.
//!
//! N workers are started once. The accept loop sends each connection into a channel; the
//! workers share its receiving end (behind a `Mutex`) and take one connection at a time.
//! While all N are busy, new connections wait in the channel, unanswered. When the loop
//! stops it drops the sending end: each worker finishes its client, finds the channel
//! closed and ends, and the server exits once all have.
//!
//! Check it:   cargo run --bin lab -- check 08.2 --solution

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
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

// ANCHOR: solution
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    out.line(format!("a pool of {} threads", args.pool));

    // The workers, started once, share the receiving end of one channel.
    let (jobs, queue) = channel::<(TcpStream, SocketAddr)>();
    let queue = Arc::new(Mutex::new(queue));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for _ in 0..args.pool {
        let queue = Arc::clone(&queue);
        workers.push(thread::spawn(move || work(&queue, out)));
    }

    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        out.line(format!("connection from {peer}"));
        // Waits in the channel until a worker is free.
        let _ = jobs.send((conn, peer));
    }
    // No more jobs: each worker ends when the channel is empty and closed.
    drop(jobs);
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

/// One worker: takes a connection, serves it to the end, takes the next.
fn work(queue: &Mutex<Receiver<(TcpStream, SocketAddr)>>, out: Out) {
    loop {
        // The lock is held only while taking a job, never while serving it.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok((conn, peer)) => communicate(conn, peer, out),
            Err(_) => return,
        }
    }
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
