//! Exercise 02.4 — a server that hangs up: the solution.
//!
//! After replying to `bye`, `communicate` returns: `conn` is dropped, which closes the
//! socket, and the client's next read returns 0 bytes.
//!
//! Check it:   cargo run --bin lab -- check 02.4 --solution

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 02.4: an upper-case echo server that hangs up when a client says bye.
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
        communicate(conn, out);
        served += 1;
    }
    Ok(())
}

/// Echoes upper-cased until the client leaves, or says `bye`.
fn communicate(mut conn: TcpStream, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => {
                out.line("the client closed the connection");
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.line("the client reset the connection");
                return;
            }
            Err(e) => {
                out.line(format!("read failed: {e}"));
                return;
            }
        };
        let msg = &buf[..n];
        out.line(format!("received: {}", String::from_utf8_lossy(msg)));
        if let Err(e) = conn.write_all(&msg.to_ascii_uppercase()) {
            out.line(format!("could not reply: {e}"));
            return;
        }
        // ANCHOR: solution
        // The server hangs up: returning drops `conn`, and dropping closes the socket.
        // The client's next read returns 0 bytes, as the server's did when clients left.
        if msg == b"bye" {
            out.line("said goodbye; closing the connection");
            return;
        }
        // ANCHOR_END: solution
    }
}
