//! Exercise 07.1 — a UDP client with a timeout and three tries: the solution.
//!
//! A read timeout turns "wait forever" into "wait this long"; an expired wait means the
//! datagram or its reply was lost (or nobody is there), so the client sends again. After
//! the last try it gives up and says so.
//!
//! Check it:   cargo run --bin lab -- check 07.1 --solution

use std::io::ErrorKind;
use std::net::{ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::{Out, Side, Style};

/// How many times the message is sent before the client gives up.
const TRIES: u32 = 3;

/// Exercise 07.1: send one datagram, up to three times, until a reply comes.
#[derive(Parser)]
struct Args {
    /// The message to send, as one datagram.
    message: String,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9007)]
    port: u16,

    /// How long to wait for a reply, in milliseconds.
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
    let server = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .with_context(|| format!("cannot resolve {}:{}", args.host, args.port))?;
    // A socket of our own, on a port the system picks.
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    // Each wait for a reply lasts at most this long.
    socket.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;
    let mut buf = [0u8; 1024];
    for attempt in 1..=TRIES {
        socket
            .send_to(args.message.as_bytes(), server)
            .context("sending")?;
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                out.line(String::from_utf8_lossy(&buf[..n]));
                return Ok(());
            }
            // Nothing came in time: lost on the way there, or on the way back.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.trace(format!(
                    "try {attempt}: no reply within {} ms",
                    args.timeout_ms
                ));
            }
            Err(e) => return Err(e).context("receiving"),
        }
    }
    bail!("no reply after {TRIES} tries from {server}")
}
// ANCHOR_END: solution
