//! Exercise 03.3 — a timeout ends the wait, not the connection: the solution.
//!
//! An expired read timeout is an error of its own kind — `WouldBlock` on Linux and macOS
//! (the kernel says EAGAIN), `TimedOut` on Windows — and it changes nothing about the
//! connection. The loop says so and reads again.
//!
//! Check it:   cargo run --bin lab -- check 03.3 --solution

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.3: echo one client upper-cased, with reads that wait at most a moment.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9003)]
    port: u16,

    /// How long a read may wait before the server says it is still waiting.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    timeout_ms: u64,

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
    let (mut conn, peer) = listener.accept().context("accepting a client")?;
    out.line(format!("connection from {peer}"));
    conn.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;

    // ANCHOR: solution
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => {
                out.line("the client closed the connection");
                return Ok(());
            }
            Ok(n) => n,
            // The timeout passed: nothing arrived yet. The connection is fine.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.line("still waiting");
                continue;
            }
            Err(e) => return Err(e).context("receiving"),
        };
        out.line(format!("received: {}", String::from_utf8_lossy(&buf[..n])));
        conn.write_all(&buf[..n].to_ascii_uppercase())
            .context("replying")?;
    }
    // ANCHOR_END: solution
}
