// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 07.4
//! Exercise 07.4 — a UDP client that hears "nobody is there".
//!
//! Sent to a port where nothing is bound, a datagram is answered by the receiving system
//! with an ICMP "port unreachable". An unconnected socket is not told (it could be talking
//! to anyone); a connected one is: its next call fails with ECONNREFUSED. This client uses
//! an unconnected socket, so with no server it waits out its whole timeout and says only
//! that no reply came. Make it `connect` its socket to the server, use `send` and `recv`,
//! and fail at once with one line that says `refused` when nobody is there.
//!
//! Check it:   cargo run --bin lab -- check 07.4
//! Or run it:  cargo run --example ex07-4 -- hello           (no server running)
//!
//! The check runs it against a server of its own, then against a port where nothing is
//! bound, with `--timeout-ms 500`.

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

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let server = format!("{}:{}", args.host, args.port);
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    socket.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;
    socket
        .send_to(args.message.as_bytes(), &server)
        .context("sending")?;
    let mut buf = [0u8; 1024];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => {
            out.line(String::from_utf8_lossy(&buf[..n]));
            Ok(())
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            bail!("no reply from {server} within {} ms", args.timeout_ms)
        }
        Err(e) => Err(e).context("receiving"),
    }
}
