//! Lesson 07 — the UDP server: `recv_from` and `send_to`, and nothing else.
//!
//! A UDP server binds a port and then simply receives datagrams. There is no `listen`, no
//! `accept` and no connection: every `recv_from` returns one datagram together with the
//! address of whoever sent it, and the reply goes back with `send_to` to that address.
//!
//! Run it:   cargo run --bin lesson07-server
//! Then, in a second terminal:   cargo run --bin lesson07-client
//!
//! The other cases each show one property of datagrams; run the client with the same case:
//!   --case boundaries   two sends arrive as two receives, even when both are queued
//!   --case truncation   a 2000-byte datagram read into 1024 bytes: the rest is gone
//!   --case loss         a burst into a server that is busy for a moment: some never arrive
//!
//! Look for: the first line still says "listening on", but nothing listens in the TCP sense:
//! the socket is only bound. A client started before the server does not fail; its
//! datagram is simply lost (try it).

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use rustix::net::RecvFlags;
use socket2::SockRef;
use socket_lab::errors::bind_error;
use socket_lab::out::{escape, plural, preview};
use socket_lab::{Out, Side, Style};

/// What the server demonstrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// Echo every datagram back upper-cased, to the address it came from.
    Echo,
    /// Wait until two datagrams are queued, then receive them: they stay two.
    Boundaries,
    /// Receive a big datagram into a 1024-byte buffer, then the next datagram.
    Truncation,
    /// Be busy for a moment while a burst arrives, then count what is left to read.
    Loss,
}

/// Lesson 07: a UDP server (bind, then recv_from / send_to; no listen, no accept).
#[derive(Parser)]
#[command(name = "lesson07-server", version)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to bind; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9007)]
    port: u16,

    /// What to demonstrate (run the client with the same case).
    #[arg(long, value_enum, default_value_t = Case::Echo)]
    case: Case,

    /// Echo: stop after this many datagrams (default: serve forever).
    /// UDP has no connections: where a TCP server counts clients (`--max-clients`), a UDP
    /// program counts datagrams.
    #[arg(long, value_name = "N")]
    max_datagrams: Option<usize>,

    /// Loss: how long the server stays busy (not reading) after the first datagram
    /// arrives.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    busy_ms: u64,

    /// Loss: ask for this receive buffer size (SO_RCVBUF) instead of the system's
    /// default.
    #[arg(long, value_name = "BYTES")]
    rcvbuf: Option<usize>,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    // ANCHOR: bind
    // socket(AF_INET, SOCK_DGRAM) + bind: that is all a UDP server needs. There is no
    // listen() and no accept(): datagrams from anyone can arrive as soon as it is bound.
    let addr = format!("{}:{}", args.host, args.port);
    let socket = UdpSocket::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    // "listening on" in the lab's usual words: the socket is bound and receiving.
    out.listening(socket.local_addr()?);
    // ANCHOR_END: bind
    match args.case {
        Case::Echo => echo(&socket, args.max_datagrams, out),
        Case::Boundaries => boundaries(&socket, out),
        Case::Truncation => truncation(&socket, out),
        Case::Loss => loss(
            &socket,
            Duration::from_millis(args.busy_ms),
            args.rcvbuf,
            out,
        ),
    }
}

/// One datagram, received.
struct Datagram {
    /// How many bytes of it are in the buffer.
    n: usize,
    /// How long it really was: more than `n` when it did not fit the buffer.
    len: usize,
    from: SocketAddr,
}

// ANCHOR: receive
/// Receives one datagram into `buf` and traces the call: `recv_from`, with one more thing
/// to know. std's `socket.recv_from(buf)` returns how many bytes it put in `buf`, and
/// cannot say whether the datagram was longer. The system call can: with the flag
/// MSG_TRUNC (Linux), recvfrom returns the datagram's real length even when only part of
/// it fit. rustix makes that call for us.
fn receive(socket: &UdpSocket, buf: &mut [u8], out: Out) -> anyhow::Result<Datagram> {
    let (n, len, from) = rustix::net::recvfrom(socket, &mut *buf, RecvFlags::TRUNC)
        .context("receiving a datagram")?;
    let from = from
        .and_then(|addr| SocketAddr::try_from(addr).ok())
        .context("a datagram without a sender's address")?;
    let cut = if len > n {
        format!(" (the datagram had {len}: cut)")
    } else {
        String::new()
    };
    out.trace(
        format!(
            "recv_from(buf of {}) -> {}{cut} from {from} {}",
            buf.len(),
            plural(n, "byte"),
            preview(&buf[..n])
        )
        .trim_end(),
    );
    Ok(Datagram { n, len, from })
}
// ANCHOR_END: receive

// ANCHOR: echo
fn echo(socket: &UdpSocket, max: Option<usize>, out: Out) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    let mut served = 0;
    while max.is_none_or(|max| served < max) {
        // recv_from blocks until a datagram arrives, from anyone. It returns ONE whole
        // datagram (up to the buffer's size) and the address it came from.
        let Datagram { n, len, from: peer } = receive(socket, &mut buf, out)?;
        let msg = &buf[..n];
        if n == 0 {
            // Not an end of file (UDP has no connection to close): an empty datagram.
            out.line(format!("datagram from {peer}: 0 bytes (an empty datagram)"));
        } else {
            // The bytes are the sender's: shown escaped, so none of them can command
            // our terminal.
            out.line(format!("datagram from {peer}: {}", escape(msg)));
        }
        if len > n {
            // Said, not hidden: the echo can only send back what fit.
            out.line(format!(
                "  (cut: the datagram had {len} bytes, the buffer holds {n}; \
                 the other {} are gone)",
                len - n
            ));
        }
        // The reply needs the address: there is no connection that remembers it for us.
        let reply = msg.to_ascii_uppercase();
        match socket.send_to(&reply, peer) {
            Ok(sent) => out.trace(
                format!(
                    "send_to({}, {peer}) -> {} {}",
                    plural(reply.len(), "byte"),
                    plural(sent, "byte"),
                    preview(&reply)
                )
                .trim_end(),
            ),
            // A failed reply concerns one peer: the server goes on to the next datagram.
            Err(e) => out.line(format!("could not reply to {peer}: {e}")),
        }
        served += 1;
    }
    out.line(format!("echoed {}, stopping", plural(served, "datagram")));
    Ok(())
}
// ANCHOR_END: echo

// ANCHOR: boundaries
fn boundaries(socket: &UdpSocket, out: Out) -> anyhow::Result<()> {
    // Wait until the first datagram is there (peek looks without taking it), then wait a
    // little more, on purpose, so that the client's second datagram is queued as well.
    // This wait is part of the lesson: lesson 04 waits the same way, and TCP then returns
    // both messages in one read.
    socket
        .peek_from(&mut [0u8; 1])
        .context("waiting for a datagram")?;
    std::thread::sleep(Duration::from_millis(100));
    out.line("two datagrams are queued now; receiving with a 1024-byte buffer, twice:");
    let mut buf = [0u8; 1024];
    for _ in 0..2 {
        let Datagram { n, from: peer, .. } = receive(socket, &mut buf, out)?;
        out.line(format!(
            "recv_from -> {} from {peer}: {}",
            plural(n, "byte"),
            preview(&buf[..n])
        ));
    }
    out.line("two sends, two receives: each datagram keeps its boundaries");
    Ok(())
}
// ANCHOR_END: boundaries

// ANCHOR: truncation
fn truncation(socket: &UdpSocket, out: Out) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    // The first datagram is bigger than the buffer: recv_from fills the buffer and the
    // system throws the rest of that datagram away (Linux; Windows reports an error).
    let Datagram { n, len, .. } = receive(socket, &mut buf, out)?;
    out.line(format!(
        "first recv_from(buf of 1024) -> {} of a {len}-byte datagram: {}",
        plural(n, "byte"),
        runs(&buf[..n])
    ));
    // The next receive does not get the rest: it gets the next datagram.
    let Datagram { n, .. } = receive(socket, &mut buf, out)?;
    out.line(format!(
        "next recv_from(buf of 1024) -> {}: {}",
        plural(n, "byte"),
        preview(&buf[..n])
    ));
    out.line("the part of the first datagram that did not fit is gone");
    Ok(())
}
// ANCHOR_END: truncation

// ANCHOR: loss
fn loss(
    socket: &UdpSocket,
    busy: Duration,
    asked_rcvbuf: Option<usize>,
    out: Out,
) -> anyhow::Result<()> {
    // The receive buffer is where datagrams wait until we read them. std::net cannot
    // show or set its size; socket2 can (Linux doubles the value asked, for bookkeeping).
    let sock = SockRef::from(socket);
    if let Some(size) = asked_rcvbuf {
        sock.set_recv_buffer_size(size)
            .context("setting SO_RCVBUF")?;
    }
    let size = sock.recv_buffer_size().context("reading SO_RCVBUF")?;
    socket
        .peek_from(&mut [0u8; 1])
        .context("waiting for the burst")?;
    out.line(format!(
        "the burst has started; busy for {} ms, not reading \
         (receive buffer: {size} bytes)",
        busy.as_millis()
    ));
    // Busy on purpose, like a server doing other work: the datagrams pile up in the
    // socket's receive buffer, and once it is full the system drops the rest. Nobody
    // tells the sender.
    std::thread::sleep(busy);

    // Now read everything that is left, until nothing more comes for 200 ms.
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = vec![0u8; 65536]; // room for the biggest datagram: nothing is cut here
    let mut received = 0usize;
    let mut bytes = 0usize;
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                received += 1;
                bytes += n;
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break
            }
            Err(e) => return Err(e).context("receiving the burst"),
        }
    }
    out.line(format!(
        "received {received} datagrams ({bytes} bytes), then nothing for 200 ms"
    ));
    out.line("compare with the number the client sent: the difference was dropped");
    Ok(())
}
// ANCHOR_END: loss

/// Describes bytes as runs of one repeated byte: `1000 × "a", 24 × "b"`.
fn runs(bytes: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while let Some(&first) = rest.first() {
        let len = rest.iter().take_while(|&&b| b == first).count();
        parts.push(format!("{len} × {}", preview(&[first])));
        rest = &rest[len..];
    }
    parts.join(", ")
}
