//! Exercise 09.2 — a TFTP client that survives loss: the solution.
//!
//! UDP resends nothing, so TFTP's two sides do: each wait has a timeout, and when it
//! passes the last packet goes again (the RRQ, or the last ACK), a bounded number of
//! times. A DATA that comes twice means the server missed our ACK: it is ACKed again, and
//! not written again.
//!
//! Check it:   cargo run --bin lab -- check 09.2 --solution

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use socket_lab::json_header::check_name;
use socket_lab::tftp::{escaped, parse, Mode, Packet, Request, BLOCK_SIZE, MAX_PACKET};
use socket_lab::{Out, Side, Style};

/// Exercise 09.2: download one file from a TFTP server (RRQ, octet mode), through loss.
#[derive(Parser)]
struct Args {
    /// The file to download: a plain name, saved under the same name in --out.
    name: String,

    /// The directory to save the file in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port, where requests go.
    #[arg(long, default_value_t = 9009)]
    port: u16,

    /// How long to wait for the next DATA before sending the last packet again.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout_ms: u64,

    /// How many times the last packet is sent again before the client gives up.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    retries: u32,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(get(&args, out))
}

fn get(args: &Args, out: Out) -> anyhow::Result<()> {
    check_name(&args.name).map_err(|e| anyhow!("cannot save {:?}: {e}", args.name))?;
    let server = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .with_context(|| format!("cannot resolve {}:{}", args.host, args.port))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    // Written under a temporary name, renamed only when the last block is in.
    let dest = args.out.join(&args.name);
    let part = args.out.join(format!(".{}.part", args.name));
    let mut file = File::create(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    match receive(args, server, &mut file, out) {
        Ok(size) => {
            drop(file);
            std::fs::rename(&part, &dest)
                .with_context(|| format!("cannot rename to {}", dest.display()))?;
            out.line(format!("saved {}: {size} bytes", dest.display()));
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

// ANCHOR: solution
/// Sends the RRQ, then writes each DATA once, in order, and ACKs it; after a wait with
/// nothing, sends its last packet again. Returns the file's size.
fn receive(
    args: &Args,
    server: SocketAddr,
    file: &mut File,
    out: Out,
) -> anyhow::Result<u64> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    socket.set_read_timeout(Some(Duration::from_millis(args.timeout_ms)))?;
    let rrq = Packet::Rrq(Request {
        filename: args.name.clone(),
        mode: Mode::Octet,
        options: Vec::new(),
    });
    // What we sent last, and where: sent again when an answer does not come.
    let (mut last, mut to) = (rrq, server);
    socket
        .send_to(&last.encode(), to)
        .context("sending the RRQ")?;
    let mut tries = 1;

    let mut tid: Option<SocketAddr> = None;
    let mut expected: u16 = 1;
    let mut size: u64 = 0;
    let mut buf = [0u8; MAX_PACKET + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Lost: our packet, or the answer to it. Send ours again, a few times.
                if tries > args.retries {
                    bail!("no DATA block {expected} after {tries} tries; giving up");
                }
                tries += 1;
                out.line(format!(
                    "no DATA block {expected} within {} ms: sending {} again",
                    args.timeout_ms,
                    last.label()
                ));
                socket.send_to(&last.encode(), to)?;
                continue;
            }
            Err(e) => return Err(e).context("receiving"),
        };
        if from.ip() != server.ip() || tid.is_some_and(|tid| tid != from) {
            continue;
        }
        tid = Some(from);
        match parse(&buf[..n]) {
            Ok(Packet::Data { block, data }) if block == expected => {
                file.write_all(&data).context("writing the file")?;
                size += data.len() as u64;
                (last, to) = (Packet::Ack { block }, from);
                socket.send_to(&last.encode(), to)?;
                tries = 1;
                if data.len() < BLOCK_SIZE {
                    return Ok(size);
                }
                expected = expected.checked_add(1).context("more than 65 535 blocks")?;
            }
            // The block before: the server did not get our ACK and sent it again. It is
            // in the file already: ACK it again, write nothing.
            Ok(Packet::Data { block, .. }) if expected > 1 && block == expected - 1 => {
                out.line(format!(
                    "DATA block {block} again: our ACK was lost; ACKed again, not written"
                ));
                socket.send_to(&Packet::Ack { block }.encode(), from)?;
            }
            Ok(Packet::Data { .. }) => {}
            Ok(Packet::Error { code, message }) => {
                bail!("the server answered ERROR {code}: {}", escaped(&message))
            }
            Ok(other) => bail!("the server sent {}, not DATA", other.label()),
            Err(e) => bail!("the server sent {n} bytes that are not TFTP: {e}"),
        }
    }
}
// ANCHOR_END: solution
