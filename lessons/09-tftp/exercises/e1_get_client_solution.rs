//! Exercise 09.1 — a TFTP client that gets a whole file: the solution.
//!
//! A read request (RRQ) goes to the server's port; the file comes back in DATA packets of
//! 512 bytes from a new port (the server's transfer ID), each one answered with an ACK of
//! its block number, to that new port. A DATA with fewer than 512 bytes is the last one —
//! also when it has none at all, after a file of exactly 1024 bytes.
//!
//! Check it:   cargo run --bin lab -- check 09.1 --solution

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

/// How long the client waits for the next DATA before it gives up.
const WAIT: Duration = Duration::from_secs(5);

/// Exercise 09.1: download one file from a TFTP server (RRQ, octet mode).
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
    match receive(&args.name, server, &mut file, out) {
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
/// Sends the RRQ, then writes each DATA in order and ACKs it; returns the file's size.
fn receive(
    name: &str,
    server: SocketAddr,
    file: &mut File,
    out: Out,
) -> anyhow::Result<u64> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("creating a UDP socket")?;
    socket.set_read_timeout(Some(WAIT))?;
    let rrq = Packet::Rrq(Request {
        filename: name.to_string(),
        mode: Mode::Octet,
        options: Vec::new(),
    });
    socket
        .send_to(&rrq.encode(), server)
        .context("sending the RRQ")?;

    // The server answers from a new port: its transfer ID (TID). We learn it from the
    // first DATA, and from then on our ACKs go there, not to `server`.
    let mut tid: Option<SocketAddr> = None;
    let mut expected: u16 = 1;
    let mut size: u64 = 0;
    // One byte more than the largest packet: a datagram that fills it is too long.
    let mut buf = [0u8; MAX_PACKET + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!("no DATA block {expected} within {} s", WAIT.as_secs())
            }
            Err(e) => return Err(e).context("receiving"),
        };
        // Only the server's host may answer; only one port of it, once it has.
        if from.ip() != server.ip() || tid.is_some_and(|tid| tid != from) {
            continue;
        }
        tid = Some(from);
        match parse(&buf[..n]) {
            Ok(Packet::Data { block, data }) if block == expected => {
                file.write_all(&data).context("writing the file")?;
                size += data.len() as u64;
                socket.send_to(&Packet::Ack { block }.encode(), from)?;
                out.trace(format!("DATA {block}: {} bytes, ACKed", data.len()));
                // Fewer than 512 bytes (maybe 0): the last block.
                if data.len() < BLOCK_SIZE {
                    return Ok(size);
                }
                expected = expected.checked_add(1).context("more than 65 535 blocks")?;
            }
            // Any other block: not the one we wait for.
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
