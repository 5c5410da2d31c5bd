// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 11.3
//! Exercise 11.3 — a server that listens with a backlog of N and never accepts.
//!
//! The course's `s.listen(5)` sizes the accept queue: connections whose handshake the
//! system has finished, waiting for `accept`. This server takes `--backlog N` and never
//! accepts — but it listens with `TcpListener::bind`, which chooses the backlog itself, so
//! N changes nothing. Make it call listen(N): socket2's `Socket::new`, `bind`, then
//! `listen(args.backlog)`.
//!
//! Check it:   cargo run --bin lab -- check 11.3
//! Or run it:  cargo run --example ex11-3 -- --backlog 1                    (terminal 1)
//!             cargo run --bin lesson11-client -- --connect-only 4          (terminal 2)
//!
//! The check starts your server with `--backlog 1`, then `--backlog 3`, and connects to it
//! again and again, one connect at a time, each waiting at most 1 s: on Linux N + 1
//! complete, and the next one times out.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 11.3: listen(N), and never accept.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9011)]
    port: u16,

    /// The listen backlog: listen(N).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(i32).range(0..=1000))]
    backlog: i32,

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
    // bind, then listen with a backlog std chooses (128): not --backlog.
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    out.line(format!(
        "listen({}), and accept is never called",
        args.backlog
    ));
    // The socket stays open, so the system goes on completing handshakes while the queue
    // has room. Nothing here ever takes a connection out of it.
    loop {
        std::thread::park();
    }
}
