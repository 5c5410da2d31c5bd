//! Lesson 07 — the UDP client: `send_to` a datagram, `recv_from` the reply.
//!
//! Each line you type is sent as one datagram to the server's address; the reply is printed.
//! Nothing connects first, so nothing fails when no server is running: the datagram is just
//! lost, and the client reports that no reply came within `--timeout-ms` instead of waiting
//! forever. An empty line is sent too: in UDP an empty datagram is a real message. `exit`,
//! `quit` or the end of input (Ctrl-D) ends the client.
//!
//! Start the server first:   cargo run --bin lesson07-server
//! Then:                     cargo run --bin lesson07-client
//!
//! The cases (run the server with the same case for the first three):
//!   --case boundaries           send "hello" and "world" as two datagrams
//!   --case truncation           send a 2000-byte datagram, then a short one
//!   --case loss                 send a burst of --count datagrams as fast as possible
//!   --case connected-refused    no server needed: connect, send, and the receive is refused
//!   --case unconnected-timeout  no server needed: the same without connect just times out
//!
//! Look for: start the client without a server — no error at sending, only silence.

use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use socket_lab::errors::start_command;
use socket_lab::input::Lines;
use socket_lab::out::{escape, plural, preview};
use socket_lab::{Out, Side, Style};

/// What the client demonstrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// Send each line of input as a datagram and print the reply.
    Echo,
    /// Send two datagrams, "hello" and "world", back to back.
    Boundaries,
    /// Send one 2000-byte datagram, then a short one.
    Truncation,
    /// Send a burst of --count datagrams of --size bytes, as fast as possible.
    Loss,
    /// No server needed: connected UDP to a port where nobody listens; the receive is
    /// refused.
    ConnectedRefused,
    /// No server needed: unconnected UDP to a port where nobody listens; the receive
    /// times out.
    UnconnectedTimeout,
}

/// Lesson 07: send datagrams to lesson07-server (no connection) and print the replies.
#[derive(Parser)]
#[command(name = "lesson07-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9007)]
    port: u16,

    /// What to demonstrate (the server runs the same case).
    #[arg(long, value_enum, default_value_t = Case::Echo)]
    case: Case,

    /// How long to wait for a reply (or an error) before saying that none came.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    timeout_ms: u64,

    /// Loss: how many datagrams to send.
    #[arg(long, value_name = "N", default_value_t = 10000)]
    count: usize,

    /// Loss: the size of each datagram in bytes (at most 65507).
    #[arg(long, value_name = "BYTES", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=65507))]
    size: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(run(&args, out))
}

fn run(args: &Args, out: Out) -> anyhow::Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    match args.case {
        Case::ConnectedRefused => return connected_refused(timeout, out),
        Case::UnconnectedTimeout => return unconnected_timeout(timeout, out),
        _ => {}
    }
    let server = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| anyhow!("cannot resolve {}:{}", args.host, args.port))?;
    // ANCHOR: socket
    // A UDP socket of our own. Port 0: the system picks a free one (Python's client skips
    // bind, and its first sendto does the same thing implicitly).
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(any).context("creating a UDP socket")?;
    // ANCHOR_END: socket
    match args.case {
        Case::Boundaries => {
            send(&socket, b"hello", server, out)?;
            send(&socket, b"world", server, out)?;
            Ok(())
        }
        Case::Truncation => truncation(&socket, server, out),
        Case::Loss => loss(&socket, server, args.count, usize::from(args.size), out),
        _ => echo(&socket, server, timeout, args, out),
    }
}

/// Whether a receive gave up because its timeout passed: the error is WouldBlock on
/// Linux and macOS, TimedOut on Windows.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Sends one datagram and says so.
fn send(socket: &UdpSocket, msg: &[u8], to: SocketAddr, out: Out) -> anyhow::Result<()> {
    let n = socket.send_to(msg, to).context("sending a datagram")?;
    out.line(format!(
        "send_to({}, {to}) -> {} {}",
        plural(msg.len(), "byte"),
        plural(n, "byte"),
        preview(msg)
    ));
    Ok(())
}

// ANCHOR: echo
fn echo(
    socket: &UdpSocket,
    server: SocketAddr,
    timeout: Duration,
    args: &Args,
    out: Out,
) -> anyhow::Result<()> {
    out.line(format!(
        "sending to {server}: one datagram per line, no connection"
    ));
    // Without a timeout, a lost datagram would leave recv_from waiting forever.
    socket.set_read_timeout(Some(timeout))?;
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        if line == "exit" || line == "quit" {
            break;
        }
        // sendto: the address goes with every datagram. An empty line is sent too: unlike
        // a TCP write of 0 bytes, it is a real (empty) datagram.
        let sent = socket.send_to(line.as_bytes(), server).context("sending")?;
        out.trace(format!(
            "send_to({}, {server}) -> {}",
            plural(line.len(), "byte"),
            plural(sent, "byte")
        ));

        // recvfrom: one whole datagram, and who sent it. Anyone may send to our port,
        // so a datagram that does not come from the server is not the reply.
        let (n, from) = loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if from == server => break (n, from),
                Ok((_, from)) => out.line(format!("ignored a datagram from {from}")),
                Err(e) if timed_out(&e) => {
                    return Err(no_reply(server, timeout, args));
                }
                Err(e) => return Err(e).context("receiving the reply"),
            }
        };
        out.trace(
            format!(
                "recv_from(buf of {}) -> {} from {from} {}",
                buf.len(),
                plural(n, "byte"),
                preview(&buf[..n])
            )
            .trim_end(),
        );
        if n == 0 {
            out.line(format!("reply from {from}: (an empty datagram)"));
        } else {
            out.line(format!("reply from {from}: {}", escape(&buf[..n])));
        }
    }
    Ok(())
}
// ANCHOR_END: echo

/// No reply in time: say what that means in UDP, and how to start the server.
fn no_reply(server: SocketAddr, timeout: Duration, args: &Args) -> anyhow::Error {
    let start = start_command(&format!("{}:{}", args.host, args.port), "lesson07-server");
    anyhow!(
        "no reply from {server} within {} ms. Sending did not fail: UDP has no connection, so \
         nothing tells the sender that nobody received the datagram. Is the server running? \
         Start it in another terminal: {start}",
        timeout.as_millis()
    )
}

// ANCHOR: truncation
fn truncation(socket: &UdpSocket, server: SocketAddr, out: Out) -> anyhow::Result<()> {
    // 1000 × "a" then 1000 × "b": whatever the receiver gets shows which part it got.
    let mut big = vec![b'a'; 1000];
    big.extend([b'b'; 1000]);
    let n = socket.send_to(&big, server).context("sending")?;
    out.line(format!(
        "send_to({}, {server}) -> {}: 1000 × \"a\", 1000 × \"b\"",
        plural(big.len(), "byte"),
        plural(n, "byte")
    ));
    send(socket, b"next", server, out)
}
// ANCHOR_END: truncation

// ANCHOR: loss
fn loss(
    socket: &UdpSocket,
    server: SocketAddr,
    count: usize,
    size: usize,
    out: Out,
) -> anyhow::Result<()> {
    let datagram = vec![b'x'; size];
    let mut sent = 0;
    for _ in 0..count {
        // Every send_to succeeds: handing a datagram to the system is all UDP promises.
        // Whether the receiver has room for it is decided later, at the receiver.
        socket.send_to(&datagram, server).context("sending")?;
        sent += 1;
    }
    out.line(format!(
        "sent {sent} datagrams of {} to {server}, every send_to succeeded",
        plural(size, "byte")
    ));
    Ok(())
}
// ANCHOR_END: loss

/// A port where nobody receives: bind a socket to a free port, note it, close the socket.
fn dead_port(out: Out) -> anyhow::Result<SocketAddr> {
    let probe = UdpSocket::bind("127.0.0.1:0").context("finding a free port")?;
    let addr = probe.local_addr()?;
    drop(probe);
    out.line(format!(
        "{addr}: bound a socket there and closed it, so nobody receives on that port"
    ));
    Ok(addr)
}

// ANCHOR: connected_refused
fn connected_refused(timeout: Duration, out: Out) -> anyhow::Result<()> {
    // Our own socket first: while it holds its port, the probe in dead_port cannot be
    // handed that same port (we would be sending to ourselves).
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    let dead = dead_port(out)?;
    // connect on a UDP socket sends nothing: it records the peer, so that send/recv need
    // no address, only datagrams from that peer are accepted, and errors reported for
    // that peer are passed on to us.
    socket.connect(dead).context("connect")?;
    out.line(format!(
        "connect({dead}) -> ok: for UDP, connect only records the peer; nothing is sent"
    ));
    let n = socket.send(b"hello").context("send")?;
    out.line(format!(
        "send({}) -> ok: the datagram left, nobody was asked",
        plural(n, "byte")
    ));
    // The system at `dead` answers with an ICMP "port unreachable" message. Because the
    // socket is connected, the kernel knows it concerns us and fails our next receive.
    socket.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 1024];
    match socket.recv(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            out.line(
                "recv -> error: connection refused (ECONNREFUSED): \
                 the ICMP \"port unreachable\" came back to our connected socket",
            );
            Ok(())
        }
        Err(e) if timed_out(&e) => bail!(
            "recv: nothing within {} ms, where ECONNREFUSED was expected",
            timeout.as_millis()
        ),
        Err(e) => bail!("recv failed, but not with ECONNREFUSED: {e}"),
        Ok(n) => bail!(
            "recv: {} arrived from a port where nobody listens",
            plural(n, "byte")
        ),
    }
}
// ANCHOR_END: connected_refused

// ANCHOR: unconnected_timeout
fn unconnected_timeout(timeout: Duration, out: Out) -> anyhow::Result<()> {
    // Our own socket first, for the same reason as above.
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    let dead = dead_port(out)?;
    let n = socket.send_to(b"hello", dead).context("send_to")?;
    out.line(format!(
        "send_to({}, {dead}) -> ok: the datagram left, nobody was asked",
        plural(n, "byte")
    ));
    // The same ICMP "port unreachable" comes back, but an unconnected socket may talk to
    // anyone, so Linux does not fail its receives for one peer's error: it just waits.
    socket.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 1024];
    match socket.recv_from(&mut buf) {
        Err(e) if timed_out(&e) => {
            out.line(format!(
                "recv_from -> nothing within {} ms: no error, no reply, only silence",
                timeout.as_millis()
            ));
            Ok(())
        }
        Err(e) => bail!("recv_from failed where a timeout was expected: {e}"),
        Ok((n, from)) => bail!("recv_from: {} arrived from {from}", plural(n, "byte")),
    }
}
// ANCHOR_END: unconnected_timeout
