//! Exercise 09.3 — a TFTP server that answers from a new port: the solution.
//!
//! The server's port only takes requests. Each transfer gets a socket of its own, bound
//! to port 0: the system picks a free port, and that port is the server's transfer ID
//! (TID). The client learns it from the first DATA and sends its ACKs there. The file
//! goes in blocks of 512 bytes; the last block has fewer — none at all when the size is a
//! multiple of 512, so that the client knows the file has ended.
//!
//! Check it:   cargo run --bin lab -- check 09.3 --solution

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::json_header::check_name;
use socket_lab::tftp::{parse, ErrorCode, Packet, BLOCK_SIZE, MAX_PACKET};
use socket_lab::{Out, Side, Style};

/// How many times a DATA is sent again when its ACK does not come.
const RETRIES: u32 = 5;

/// Exercise 09.3: a read-only TFTP server (RRQ, octet mode) for one directory's files.
#[derive(Parser)]
struct Args {
    /// The directory served: only plain file names inside it can be asked for.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,

    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port requests come to; 0 picks a free one.
    #[arg(long, default_value_t = 9009)]
    port: u16,

    /// How long to wait for an ACK before sending the DATA again, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout_ms: u64,

    /// Stop after this many requests (default: serve forever).
    #[arg(long, value_name = "N")]
    max_requests: Option<usize>,

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
    let mut buf = [0u8; MAX_PACKET + 1];
    let mut served = 0;
    while args.max_requests.is_none_or(|max| served < max) {
        let (n, client) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            // An ICMP error for an earlier datagram: not a request.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e).context("receiving a request"),
        };
        served += 1;
        // One transfer's trouble ends that transfer, not the server.
        if let Err(e) = answer(args, &buf[..n], client, out) {
            out.line(format!("{client}: {e:#}"));
        }
    }
    out.line(format!("answered {served} requests, stopping"));
    Ok(())
}

// ANCHOR: solution
/// Answers one request from a socket of its own, on a new port: the transfer's TID.
fn answer(
    args: &Args,
    request: &[u8],
    client: SocketAddr,
    out: Out,
) -> anyhow::Result<()> {
    let socket =
        UdpSocket::bind((args.host.as_str(), 0)).context("a socket for the transfer")?;
    let tid = socket.local_addr()?;
    let name = match parse(request) {
        Ok(Packet::Rrq(request)) => request.filename,
        Ok(Packet::Wrq(_)) => {
            return refuse(&socket, client, ErrorCode::AccessViolation, "read-only")
        }
        _ => {
            return refuse(
                &socket,
                client,
                ErrorCode::IllegalOperation,
                "not a request",
            )
        }
    };
    if let Err(e) = check_name(&name) {
        return refuse(&socket, client, ErrorCode::AccessViolation, &e);
    }
    let Ok(mut file) = File::open(args.root.join(&name)) else {
        return refuse(&socket, client, ErrorCode::FileNotFound, "no such file");
    };
    out.line(format!(
        "{client}: RRQ {name:?}, answered from the new port {}",
        tid.port()
    ));
    socket.set_read_timeout(Some(Duration::from_millis(args.timeout_ms)))?;
    let mut block: u16 = 1;
    let mut size = 0;
    loop {
        // Up to 512 bytes; fewer only at the end of the file (maybe 0).
        let mut data = Vec::with_capacity(BLOCK_SIZE);
        (&mut file).take(BLOCK_SIZE as u64).read_to_end(&mut data)?;
        size += data.len();
        send_until_acked(
            &socket,
            client,
            &Packet::Data {
                block,
                data: data.clone(),
            },
        )?;
        if data.len() < BLOCK_SIZE {
            out.line(format!(
                "{client}: sent {name:?}: {size} bytes in {block} DATA packets"
            ));
            return Ok(());
        }
        block = block
            .checked_add(1)
            .context("a file of more than 65 535 blocks")?;
    }
}

/// Sends `data`, and again after each wait without its ACK, [`RETRIES`] times at most.
fn send_until_acked(
    socket: &UdpSocket,
    client: SocketAddr,
    data: &Packet,
) -> anyhow::Result<()> {
    let Packet::Data { block, .. } = *data else {
        bail!("not a DATA packet")
    };
    let mut buf = [0u8; MAX_PACKET + 1];
    for _ in 0..=RETRIES {
        socket.send_to(&data.encode(), client)?;
        loop {
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e).context("waiting for an ACK"),
            };
            match parse(&buf[..n]) {
                _ if from != client => {} // not this transfer's client
                Ok(Packet::Ack { block: b }) if b == block => return Ok(()),
                Ok(Packet::Error { .. }) => bail!("the client ended the transfer"),
                _ => {} // a duplicate ACK, or noise: wait on
            }
        }
    }
    bail!("no ACK of block {block} after {} tries", RETRIES + 1)
}
// ANCHOR_END: solution

/// Ends a transfer before it starts: an ERROR to the client, from the new port too.
fn refuse(
    socket: &UdpSocket,
    client: SocketAddr,
    code: ErrorCode,
    why: &str,
) -> anyhow::Result<()> {
    socket.send_to(&Packet::error(code, why).encode(), client)?;
    bail!("refused with ERROR {code}: {why}")
}
