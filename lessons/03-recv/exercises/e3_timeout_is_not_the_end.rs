// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 03.3
//! Exercise 03.3 — a timeout ends the wait, not the connection.
//!
//! This server accepts one client and echoes its messages upper-cased until it closes.
//! Every read waits at most `--timeout-ms` (200 ms), so that the server could do other
//! things meanwhile. But the first timeout ends the whole server: `?` turns it into an
//! error. Make a timeout what it is: print `still waiting` and read again. The connection
//! is still there, and the client may well send something later.
//!
//! Check it:   cargo run --bin lab -- check 03.3
//! Or run it:  cargo run --example ex03-3              (terminal 1)
//!             nc 127.0.0.1 9003                        (terminal 2: wait a second, type a line)
//!
//! The check connects, says nothing for half a second, then sends `late`.

use std::io::{Read, Write};
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

    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf).context("receiving")?;
        if n == 0 {
            out.line("the client closed the connection");
            return Ok(());
        }
        out.line(format!("received: {}", String::from_utf8_lossy(&buf[..n])));
        conn.write_all(&buf[..n].to_ascii_uppercase())
            .context("replying")?;
    }
}
