// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 07.3
//! Exercise 07.3 — a UDP echo server that never cuts a datagram.
//!
//! A datagram is read whole in one call, or cut: what does not fit in the buffer is thrown
//! away, silently on Linux. This server reads into 1024 bytes, so a longer datagram comes
//! back cut. Make it echo every datagram whole, up to the largest one UDP can carry over
//! IPv4 (65 507 bytes of data), and echo an empty datagram as an empty datagram.
//!
//! Check it:   cargo run --bin lab -- check 07.3
//! Or run it:  cargo run --example ex07-3                                  (terminal 1)
//!             head -c 3000 /dev/zero | nc -u -w1 127.0.0.1 9007 | wc -c   (terminal 2)
//!
//! The check sends a datagram of 5000 bytes, one of 65 507, and an empty one, and compares
//! each reply with what it sent.

use std::net::UdpSocket;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 07.3: echo datagrams upper-cased, whole, up to the largest UDP allows.
#[derive(Parser)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to bind; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9007)]
    port: u16,

    /// Stop after this many datagrams (default: serve forever).
    #[arg(long, value_name = "N")]
    max_datagrams: Option<usize>,

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
    let socket = UdpSocket::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(socket.local_addr()?);
    let mut buf = [0u8; 1024];
    let mut served = 0;
    while args.max_datagrams.is_none_or(|max| served < max) {
        let (n, peer) = socket.recv_from(&mut buf).context("receiving")?;
        out.line(format!("{n} bytes from {peer}"));
        socket
            .send_to(&buf[..n].to_ascii_uppercase(), peer)
            .context("replying")?;
        served += 1;
    }
    Ok(())
}
