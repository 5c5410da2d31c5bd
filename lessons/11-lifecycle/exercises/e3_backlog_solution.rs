//! Exercise 11.3 — a server that listens with a backlog of N and never accepts: the
//! solution.
//!
//! `listen(n)` sizes the accept queue: connections whose handshake the system has
//! finished, waiting for `accept`. This server never calls `accept`, so the queue fills,
//! and then the system stops answering SYNs: on Linux n + 1 connects complete, and the
//! next ones get no answer at all — they time out; they are not refused.
//!
//! Check it:   cargo run --bin lab -- check 11.3 --solution

use std::net::ToSocketAddrs;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Parser;
use socket2::{Domain, Socket, Type};
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

// ANCHOR: solution
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let resolved = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let resolved = resolved.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    // socket → bind → listen(N), one call each: std's TcpListener::bind would choose the
    // backlog itself (128).
    let socket = Socket::new(Domain::for_address(resolved), Type::STREAM, None)?;
    socket
        .bind(&resolved.into())
        .map_err(|e| bind_error(e, &addr))?;
    socket.listen(args.backlog)?;
    let local = socket.local_addr()?.as_socket();
    out.listening(local.ok_or_else(|| anyhow!("not an IP socket"))?);
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
// ANCHOR_END: solution
