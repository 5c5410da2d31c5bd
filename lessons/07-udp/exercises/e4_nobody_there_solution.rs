//! Exercise 07.4 — a UDP client that hears "nobody is there": the solution.
//!
//! `connect` on a UDP socket sends nothing: it records the peer, so that `send` and
//! `recv` need no address, datagrams from others are filtered out, and errors about that
//! peer (an ICMP "port unreachable") are reported to the socket's next call.
//!
//! Check it:   cargo run --bin lab -- check 07.4 --solution

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::{Out, Side, Style};

/// Exercise 07.4: send one datagram on a connected socket; hear when nobody is there.
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
    #[arg(long, value_name = "MS", default_value_t = 2000)]
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
    let server = format!("{}:{}", args.host, args.port);
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    socket.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;
    // Connected: this socket now talks to the server only, and hears its errors.
    socket.connect(&server).context("connecting the socket")?;
    socket.send(args.message.as_bytes()).context("sending")?;
    let mut buf = [0u8; 1024];
    match socket.recv(&mut buf) {
        Ok(n) => {
            out.line(String::from_utf8_lossy(&buf[..n]));
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            bail!("{server} refused the datagram: nothing receives on that port")
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            bail!("no reply from {server} within {} ms", args.timeout_ms)
        }
        Err(e) => Err(e).context("receiving"),
    }
}
// ANCHOR_END: solution
