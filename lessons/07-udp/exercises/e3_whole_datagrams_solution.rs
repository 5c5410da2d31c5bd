//! Exercise 07.3 — a UDP echo server that never cuts a datagram: the solution.
//!
//! The buffer is the largest datagram accepted. Over IPv4 a datagram carries at most
//! 65 507 bytes of data (65 535, less the 8-byte UDP header and the 20-byte IP header),
//! so a buffer of that size never cuts one.
//!
//! Check it:   cargo run --bin lab -- check 07.3 --solution

use std::net::UdpSocket;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// The largest payload of a UDP datagram over IPv4.
const MAX_DATAGRAM: usize = 65_507;

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
    // ANCHOR: solution
    // As big as the biggest datagram: recv_from then never throws a part away. (On the
    // heap: 64 KiB is a lot for a stack frame.)
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // ANCHOR_END: solution
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
