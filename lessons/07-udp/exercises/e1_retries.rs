// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 07.1
//! Exercise 07.1 — a UDP client with a timeout and three tries.
//!
//! UDP does not resend anything: a lost datagram is simply gone, and a client waiting for
//! its reply waits forever. This client sends its message once and waits without a time
//! limit. Make it wait at most `--timeout-ms` for the reply, and send again when none came:
//! three tries in all. It prints the reply on a line of its own; after three tries with no
//! reply, it fails with one line that says `no reply after 3 tries` (exit code 1).
//!
//! Check it:   cargo run --bin lab -- check 07.1
//! Or run it:  cargo run --bin lesson07-server               (terminal 1)
//!             cargo run --example ex07-1 -- hello           (terminal 2)
//!
//! The check's server drops the first two datagrams, as a lossy network would, and answers
//! the third; then, in a second run, it answers nothing. It counts the datagrams.

use std::net::{ToSocketAddrs, UdpSocket};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::{Out, Side, Style};

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

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let server = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .with_context(|| format!("cannot resolve {}:{}", args.host, args.port))?;
    // A socket of our own, on a port the system picks.
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    socket
        .send_to(args.message.as_bytes(), server)
        .context("sending")?;
    let mut buf = [0u8; 1024];
    let (n, _) = socket.recv_from(&mut buf).context("receiving")?;
    out.line(String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
