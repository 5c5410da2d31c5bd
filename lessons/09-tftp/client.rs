//! Lesson 09 — the TFTP client: get a file (RRQ) or put one (WRQ), RFC 1350, octet mode.
//!
//!   lesson09-client get NAME [--out DIR] [--force]   download NAME into DIR
//!                                                    (default: target/lesson09/downloads)
//!   lesson09-client put FILE [--as NAME]              upload FILE (the server needs --allow-write)
//!
//! Start the server first:   cargo run --bin lesson09-server -- --root lessons/09-tftp/files
//! Then:                     cargo run --bin lesson09-client -- get hello.txt --trace
//!
//! Look for: with --trace, every packet. The RRQ goes to the server's port; the DATA
//! comes back from a NEW port (the server's transfer ID), and each DATA is answered by an
//! ACK: lock-step. Through the lossy relay (lesson09-relay), the timeouts and the
//! duplicates. A downloaded file is written as `.NAME.part` and renamed at the end: a
//! failed transfer leaves nothing.

use std::fs::File;
use std::io::BufReader;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use socket_lab::errors::start_command;
use socket_lab::json_header::check_name;
use socket_lab::out::plural;
use socket_lab::tftp::{Mode, Packet, Request, MAX_PACKET};
use socket_lab::tftp_transfer::{
    receive_file, send_file, start_write, Link, PartFile, Patience,
};
use socket_lab::{Out, Side, Style};

/// Lesson 09: get or put a file with TFTP (RFC 1350, octet mode).
#[derive(Parser)]
#[command(
    name = "lesson09-client",
    version,
    after_help = "Examples:\n  lesson09-client get hello.txt --trace\n  lesson09-client get hello.txt --out /tmp --force\n  lesson09-client put notes.txt --as copy.txt"
)]
struct Args {
    /// get: download NAME (RRQ); put: upload FILE (WRQ).
    #[arg(value_enum)]
    action: Action,

    /// The name to download (get) or the file to upload (put).
    #[arg(value_name = "NAME|FILE")]
    target: String,

    /// With get: the directory to save the file in (created if missing). The default is
    /// under cargo's target/ folder, so downloads are never mixed with your own files.
    #[arg(long, value_name = "DIR", default_value = "target/lesson09/downloads")]
    out: PathBuf,

    /// With get: replace a file of the same name in DIR (without it, the client refuses).
    #[arg(long)]
    force: bool,

    /// With put: the name the server stores the file under (default: the file's own
    /// name).
    #[arg(long = "as", value_name = "NAME")]
    as_name: Option<String>,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port (where requests go; the transfer itself runs on a new port).
    #[arg(long, default_value_t = 9009)]
    port: u16,

    #[command(flatten)]
    patience: Patience,

    /// With get: after the final ACK, wait this long in case the last DATA comes again
    /// (our final ACK was lost), and ACK it again. 0, the default, ends at once, like
    /// tftp and curl.
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    dally_ms: u64,

    #[command(flatten)]
    style: Style,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Action {
    Get,
    Put,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(match args.action {
        Action::Get => get(&args, out),
        Action::Put => put(&args, out),
    })
}

// ANCHOR: get
fn get(args: &Args, out: Out) -> anyhow::Result<()> {
    let name = &args.target;
    // The local name is the last part of the remote one, and it must be a plain file
    // name: a server cannot make us write outside DIR.
    let local = name.rsplit('/').next().unwrap_or(name);
    check_name(local).map_err(|e| anyhow!("cannot save {name:?} here: {e}"))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating the directory {}", args.out.display()))?;
    let dest = args.out.join(local);
    if dest.exists() && !args.force {
        bail!(
            "{} exists already: add --force to replace it",
            dest.display()
        );
    }
    let rrq = request(Packet::Rrq, name)?;
    let part = PartFile::create(&dest, args.force)
        .with_context(|| format!("creating a file in {}", args.out.display()))?;

    let server = server_addr(args)?;
    let mut link = Link::to_server(own_socket(server)?, server, args.patience, out);
    out.line(format!(
        "get {name:?} from {server} into {}",
        dest.display()
    ));
    let dally = Duration::from_millis(args.dally_ms);
    // The "saved" line comes from receive_file, before the final ACK.
    receive_file(&mut link, rrq, part, u64::MAX, dally)
        .map_err(|e| explain(e, &link, args))?;
    Ok(())
}
// ANCHOR_END: get

// ANCHOR: put
fn put(args: &Args, out: Out) -> anyhow::Result<()> {
    let path = Path::new(&args.target);
    let name = match &args.as_name {
        Some(name) => name.clone(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?,
    };
    let file =
        File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let size = match file.metadata() {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => bail!("{} is not a regular file", path.display()),
    };
    let wrq = request(Packet::Wrq, &name)?;

    let server = server_addr(args)?;
    let mut link = Link::to_server(own_socket(server)?, server, args.patience, out);
    out.line(format!(
        "put {} as {name:?} to {server} ({})",
        path.display(),
        plural(size as usize, "byte")
    ));
    // The WRQ is answered by ACK 0 from the server's new port; then DATA 1, ACK 1, …
    let sent = start_write(&mut link, &wrq)
        .and_then(|()| send_file(&mut link, &mut BufReader::new(file)))
        .map_err(|e| explain(e, &link, args))?;
    out.line(format!(
        "sent {}: {} in {}{}",
        path.display(),
        plural(sent.bytes as usize, "byte"),
        plural(sent.blocks as usize, "DATA packet"),
        link.stats
    ));
    Ok(())
}
// ANCHOR_END: put

/// An RRQ or WRQ for `name` in octet mode; refused if it does not fit in one packet.
fn request(kind: fn(Request) -> Packet, name: &str) -> anyhow::Result<Packet> {
    let packet = kind(Request {
        filename: name.to_string(),
        mode: Mode::Octet,
        options: Vec::new(),
    });
    let len = packet.encode().len();
    if len > MAX_PACKET {
        bail!(
            "the name is too long: a request must fit in one {MAX_PACKET}-byte packet, and \
             this one would need {len} bytes"
        );
    }
    Ok(packet)
}

fn server_addr(args: &Args) -> anyhow::Result<SocketAddr> {
    (args.host.as_str(), args.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| anyhow!("cannot resolve {}:{}", args.host, args.port))
}

/// Our own UDP socket, on a port the system picks: our TID for this transfer.
fn own_socket(server: SocketAddr) -> anyhow::Result<UdpSocket> {
    let any = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    UdpSocket::bind(any).context("creating a UDP socket")
}

/// A transfer that failed before the server ever answered: say how to start the server.
fn explain(e: anyhow::Error, link: &Link, args: &Args) -> anyhow::Error {
    if link.answered() {
        return e;
    }
    let start = start_command(&format!("{}:{}", args.host, args.port), "lesson09-server");
    anyhow!(
        "{e:#}. Is the server running? UDP says nothing when nobody receives; start it in \
         another terminal: {start}"
    )
}
