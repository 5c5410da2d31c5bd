// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 02.2
//! Exercise 02.2 — a server that survives a reset.
//!
//! This upper-case echo server serves one client after another, and handles a client that
//! closes in order (0 bytes). But a client that vanishes with a reset makes `read` fail with
//! ECONNRESET, the `?` passes the error up to `main`, and the whole server stops: every
//! other client loses it. Make a reset end only that client's conversation: say so, and go
//! on to the next client.
//!
//! Check it:   cargo run --bin lab -- check 02.2
//! Or run it:  cargo run --example ex02-2                         (terminal 1)
//!             cargo run --bin lesson02-client -- --reset         (terminal 2, then again)
//!
//! The check starts it with `--max-clients 2`. The first client sends `one` and leaves with
//! a reset; the second sends `two` and must get `TWO`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 02.2: an upper-case echo server that goes on after a client resets.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
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

    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        communicate(conn, out)?;
        served += 1;
    }
    Ok(())
}

/// Echoes upper-cased until the client leaves.
fn communicate(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
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
