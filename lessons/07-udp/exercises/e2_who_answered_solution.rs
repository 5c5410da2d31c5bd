//! Exercise 07.2 — a reply from the server, not from anyone: the solution.
//!
//! `recv_from` returns the sender's address with every datagram. Only a datagram from the
//! address the message went to is the reply; anything else is noted and skipped.
//!
//! Check it:   cargo run --bin lab -- check 07.2 --solution

use std::net::{ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_lab::{Out, Side, Style};

/// Exercise 07.2: send one datagram, print the server's reply and no one else's.
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

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let server = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .with_context(|| format!("cannot resolve {}:{}", args.host, args.port))?;
    // A socket of our own, on a port the system picks.
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    socket.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;
    socket
        .send_to(args.message.as_bytes(), server)
        .context("sending")?;
    // ANCHOR: solution
    let mut buf = [0u8; 1024];
    loop {
        let (n, from) = socket.recv_from(&mut buf).context("receiving")?;
        // Anyone may send to our port: only the server's datagram is the reply.
        if from != server {
            out.line(format!("ignored a datagram from {from}"));
            continue;
        }
        out.line(String::from_utf8_lossy(&buf[..n]));
        return Ok(());
    }
    // ANCHOR_END: solution
}
