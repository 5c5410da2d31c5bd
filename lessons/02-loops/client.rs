//! Lesson 02 — the client's communication loop.
//!
//! Type a line, the server echoes it upper-cased, repeat. An empty line is not sent (sending
//! nothing would leave both sides waiting); `exit`, `quit` or the end of input (Ctrl-D) ends
//! the client with an orderly close. `--reset` ends it with a reset instead, as a crashed
//! client on Windows would: the server sees ECONNRESET rather than 0 bytes.
//!
//! Start the server first:   cargo run --bin lesson02-server
//! Then:                     cargo run --bin lesson02-client
//!
//! Look for: start a second client while the first one is still connected — it connects
//! (the system completes the handshake) but gets no reply until the first one leaves.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket2::SockRef;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::{Out, Side, Style};

/// Lesson 02: send lines to lesson02-server and print each reply.
#[derive(Parser)]
#[command(name = "lesson02-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    /// Leave with a reset (SO_LINGER 0) instead of an orderly close.
    #[arg(long)]
    reset: bool,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson02-server"))?;
    let out = out.on(&conn); // this connection's lines (for --trace-file)
    out.line(format!("connected to {addr}"));

    // ANCHOR: client_loop
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        let msg = line.trim();
        // Writing 0 bytes sends nothing at all: the server would keep waiting for data
        // and we would keep waiting for its reply. So an empty line is simply skipped.
        if msg.is_empty() {
            continue;
        }
        if msg == "exit" || msg == "quit" {
            break;
        }
        conn.write_all(msg.as_bytes()).context("sending")?;
        out.trace_write(msg.as_bytes());

        let n = conn.read(&mut buf).context("receiving the reply")?;
        out.trace_read(buf.len(), &buf[..n]);
        if n == 0 {
            out.line("the server closed the connection");
            return Ok(());
        }
        out.line(String::from_utf8_lossy(&buf[..n]));
    }
    // ANCHOR_END: client_loop

    // ANCHOR: leave
    if args.reset {
        // SO_LINGER with a zero timeout: close() discards the connection and sends
        // a reset (RST) instead of the orderly FIN. std::net has no setter for it;
        // socket2 does.
        SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
        out.line("leaving with a reset (SO_LINGER 0)");
    } else {
        out.line("leaving with an orderly close");
    }
    // Dropping the stream closes it (Python: conn.close()).
    drop(conn);
    // ANCHOR_END: leave
    Ok(())
}
