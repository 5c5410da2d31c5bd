//! Exercise 03.2 — what did the read say? The solution.
//!
//! `Ok(0)` is the end of the stream; `Ok(n)` is data; a reset and a timeout are errors,
//! told apart by their kind. A timeout is `WouldBlock` on Linux and macOS, `TimedOut` on
//! Windows: portable code accepts both.
//!
//! Check it:   cargo run --bin lab -- check 03.2 --solution

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::{Out, Side, Style};

/// Exercise 03.2: read once and say what the read returned.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9003)]
    port: u16,

    /// How long the read may wait, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

// ANCHOR: solution
fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn =
        TcpStream::connect(&addr).map_err(|e| connect_error(e, &addr, "the server"))?;
    // Without a timeout, a silent server would keep this read waiting forever.
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    conn.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 1024];
    let said = match conn.read(&mut buf) {
        Ok(0) => "closed".to_string(),
        Ok(n) => format!("data: {}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => "reset".to_string(),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            "timeout".to_string()
        }
        Err(e) => return Err(e).context("receiving"),
    };
    out.line(said);
    Ok(())
}
// ANCHOR_END: solution
