//! Lesson 09 — the TFTP server (RFC 1350, octet mode): one directory's files, over UDP.
//!
//! The server's own port (69 for real TFTP; 9009 here, because ports below 1024 need
//! privileges) only takes requests. Each request it accepts gets a socket of its own, on
//! a new port the system picks — the transfer ID (TID) — and a thread that runs the
//! lock-step there: DATA, ACK, DATA, ACK… A slow or silent client holds up only its own
//! transfer. Uploads are refused unless the server was started with `--allow-write`.
//!
//! Run it:   cargo run --bin lesson09-server -- --root lessons/09-tftp/files
//! Then:     cargo run --bin lesson09-client -- get hello.txt --trace
//! Or any TFTP client:   tftp -m binary 127.0.0.1 9009 -c get hello.txt /tmp/hello.txt
//!                       curl -o /tmp/hello.txt tftp://127.0.0.1:9009/hello.txt
//!
//! Look for: each transfer's first line names the new port it runs on. Put the lossy
//! relay (lesson09-relay) in between to see timeouts, retransmissions and duplicates.

use std::fs::File;
use std::io::{BufReader, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::json_header::check_name;
use socket_lab::out::plural;
use socket_lab::record::Op;
use socket_lab::tftp::{
    describe, escaped, parse, ErrorCode, Mode, Packet, ParseError, Request, MAX_PACKET,
};
use socket_lab::tftp_transfer::{receive_file, send_file, Link, PartFile, Patience};
use socket_lab::{Out, Side, Style};

/// Lesson 09: a TFTP server (RFC 1350, octet mode) for the files of one directory.
#[derive(Parser, Clone)]
#[command(name = "lesson09-server", version)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port requests come to (real TFTP uses 69, which needs privileges); 0 picks a
    /// free one.
    #[arg(long, default_value_t = 9009)]
    port: u16,

    /// The directory served (created if missing); the default is under cargo's target/
    /// folder, so uploads are never mixed with your own files. Only plain file names
    /// inside it can be asked for: no `..`, no `/`, no hidden names.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/lesson09/server-files"
    )]
    root: PathBuf,

    /// Accept uploads (WRQ). Without it the server is read-only and answers ERROR 2.
    #[arg(long)]
    allow_write: bool,

    #[command(flatten)]
    patience: Patience,

    /// How many transfers may run at once; further requests get ERROR 0 ("busy").
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    max_active: u64,

    /// The largest upload accepted, in bytes (larger ones end with ERROR 3).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    max_upload: u64,

    /// Stop after this many datagrams at the server's port (requests, or anything else
    /// sent there), once their transfers have ended (default: serve forever).
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

/// What an accepted request becomes: a file to send, or a file to receive.
enum Job {
    /// RRQ: send this file.
    Send { name: String, file: File, size: u64 },
    /// WRQ: receive into this part file.
    Receive { name: String, part: PartFile },
}

/// A request the server turns down, and the ERROR packet that says why.
struct Refusal {
    code: ErrorCode,
    message: String,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

// ANCHOR: serve
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let socket = UdpSocket::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(socket.local_addr()?);
    let at_port = out.on(&socket); // what happens at the server's port (--trace-file)
    std::fs::create_dir_all(&args.root)
        .with_context(|| format!("creating the directory {}", args.root.display()))?;
    out.line(format!(
        "serving {} ({})",
        args.root.display(),
        if args.allow_write {
            "downloads and uploads"
        } else {
            "read-only: start with --allow-write to accept uploads"
        }
    ));

    let active = Arc::new(AtomicUsize::new(0));
    // The transfers running, each with the client it serves.
    let mut transfers: Vec<(SocketAddr, JoinHandle<()>)> = Vec::new();
    // One byte more than the largest packet: a datagram that fills the buffer is too long
    // (recv_from silently cuts what does not fit: lesson 07).
    let mut buf = [0u8; MAX_PACKET + 1];
    let mut answered = 0;
    while args.max_requests.is_none_or(|max| answered < max) {
        // The server's port waits for anyone: no timeout, as in every server's accept.
        let (n, client) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            // An ICMP error about an earlier answer (a client has gone): not a request.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e).context("receiving a request"),
        };
        answered += 1;
        at_port.record(Op::recv_from(client, buf.len(), &buf[..n]));
        let packet = parse(&buf[..n]);
        let shown = describe(&packet, n);
        out.trace(format!("← {client} {shown} ({})", plural(n, "byte")));
        // A request from a client whose transfer is running is that request again: our
        // first answer was slow or lost, and the client repeated it (RFC 1350). A second
        // transfer would fight the first (an upload's part file exists already: ERROR 6).
        // The running transfer answers it, by repeating its first packet.
        transfers.retain(|(_, t)| !t.is_finished());
        let request = matches!(packet, Ok(Packet::Rrq(_) | Packet::Wrq(_)));
        if request && transfers.iter().any(|(served, _)| *served == client) {
            out.line(format!(
                "{client}: {shown} again, its transfer runs: ignored"
            ));
            continue;
        }
        let busy = active.load(Ordering::SeqCst) >= args.max_active as usize;
        match decide(args, packet, client, busy, out) {
            Ok(Some(job)) => {
                let transfer = start_transfer(args, job, client, &active, out);
                transfers.push((client, transfer));
            }
            Ok(None) => {}
            Err(refusal) => {
                // Refusals are answered from the server's port: there is no transfer.
                out.line(format!(
                    "{client}: refused with ERROR {}: {}",
                    refusal.code, refusal.message
                ));
                let error = Packet::error(refusal.code, refusal.message);
                let bytes = error.encode();
                let _ = socket.send_to(&bytes, client);
                at_port.record(Op::send_to(client, &bytes));
            }
        }
    }
    for (_, transfer) in transfers {
        let _ = transfer.join();
    }
    out.line(format!(
        "answered {} at the server's port, stopping",
        plural(answered, "datagram")
    ));
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: decide
/// What a datagram at the server's port becomes: a transfer to start, nothing (an ERROR
/// is never answered: two programs could answer each other forever), or a refusal.
fn decide(
    args: &Args,
    packet: Result<Packet, ParseError>,
    client: SocketAddr,
    busy: bool,
    out: Out,
) -> Result<Option<Job>, Refusal> {
    match packet {
        Ok(Packet::Rrq(_) | Packet::Wrq(_)) if busy => Err(refuse(
            ErrorCode::NotDefined,
            format!(
                "busy: {} transfers are running, the most this server runs at once; \
                 try again later",
                args.max_active
            ),
        )),
        Ok(Packet::Rrq(request)) => prepare_read(args, &request, client, out).map(Some),
        Ok(Packet::Wrq(request)) => prepare_write(args, &request, client, out).map(Some),
        Ok(Packet::Error { code, message }) => {
            out.line(format!(
                "{client}: ERROR {code}: {} sent to the server's port: ignored",
                escaped(&message)
            ));
            Ok(None)
        }
        Ok(other) => Err(refuse(
            ErrorCode::IllegalOperation,
            format!(
                "{} sent to the server's port, which takes only RRQ and WRQ \
                 (a transfer's packets go to the transfer's own port)",
                other.name()
            ),
        )),
        Err(e) => Err(refuse(
            ErrorCode::IllegalOperation,
            format!("not a TFTP request: {e}"),
        )),
    }
}
// ANCHOR_END: decide

// ANCHOR: start_transfer
/// A new socket on a new port (the transfer's TID), and a thread that runs it there.
fn start_transfer(
    args: &Args,
    job: Job,
    client: SocketAddr,
    active: &Arc<AtomicUsize>,
    out: Out,
) -> JoinHandle<()> {
    let patience = args.patience;
    let (host, max_upload) = (args.host.clone(), args.max_upload);
    active.fetch_add(1, Ordering::SeqCst);
    let active = Arc::clone(active);
    thread::spawn(move || {
        // Port 0: the system picks a port; the client learns it from our first packet.
        match UdpSocket::bind((host.as_str(), 0)) {
            Ok(tid) => {
                let here = tid
                    .local_addr()
                    .map_or_else(|_| "?".to_string(), |a| a.to_string());
                let link = Link::to_client(tid, client, patience, out);
                run(job, link, &here, max_upload, patience, out);
            }
            Err(e) => out.line(format!("{client}: no socket for the transfer: {e}")),
        }
        active.fetch_sub(1, Ordering::SeqCst);
    })
}
// ANCHOR_END: start_transfer

// ANCHOR: run
/// One transfer, from its first packet to its last, on its own port.
fn run(
    job: Job,
    mut link: Link,
    here: &str,
    max_upload: u64,
    patience: Patience,
    out: Out,
) {
    let client = link.peer();
    match job {
        Job::Send { name, file, size } => {
            out.line(format!(
                "{client}: RRQ {name:?}: sending {} from a new port, {here}",
                plural(size as usize, "byte")
            ));
            match send_file(&mut link, &mut BufReader::new(file)) {
                Ok(sent) => out.line(format!(
                    "{client}: sent {name:?}: {} in {}{}",
                    plural(sent.bytes as usize, "byte"),
                    plural(sent.blocks as usize, "DATA packet"),
                    link.stats
                )),
                Err(e) => out.line(format!(
                    "{client}: sending {name:?} failed: {e:#}{}",
                    link.stats
                )),
            }
        }
        Job::Receive { name, part } => {
            out.line(format!(
                "{client}: WRQ {name:?}: receiving on a new port, {here}"
            ));
            // ACK 0 says "go ahead" (from the new port); then DATA 1, ACK 1, … After the
            // final ACK the server waits one timeout in case that ACK is lost (dallying).
            let ask = Packet::Ack { block: 0 };
            // The "saved" line comes from receive_file, before the final ACK.
            if let Err(e) =
                receive_file(&mut link, ask, part, max_upload, patience.timeout())
            {
                out.line(format!(
                    "{client}: receiving {name:?} failed, nothing kept: {e:#}{}",
                    link.stats
                ));
            }
        }
    }
}
// ANCHOR_END: run

// ANCHOR: prepare
/// RRQ: octet mode, a plain name, a regular file that can be opened.
fn prepare_read(
    args: &Args,
    request: &Request,
    client: SocketAddr,
    out: Out,
) -> Result<Job, Refusal> {
    check_request(request, client, out)?;
    let name = &request.filename;
    let path = args.root.join(name);
    let file = File::open(&path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => {
            refuse(ErrorCode::FileNotFound, format!("no file {name:?} here"))
        }
        ErrorKind::PermissionDenied => refuse(
            ErrorCode::AccessViolation,
            format!("{name:?} may not be read"),
        ),
        _ => refuse(ErrorCode::NotDefined, format!("cannot open {name:?}: {e}")),
    })?;
    let size = match file.metadata() {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => {
            return Err(refuse(
                ErrorCode::AccessViolation,
                format!("{name:?} is not a regular file"),
            ))
        }
    };
    Ok(Job::Send {
        name: name.clone(),
        file,
        size,
    })
}

/// WRQ: allowed at all, octet mode, a plain name, and no file of that name yet.
fn prepare_write(
    args: &Args,
    request: &Request,
    client: SocketAddr,
    out: Out,
) -> Result<Job, Refusal> {
    if !args.allow_write {
        return Err(refuse(
            ErrorCode::AccessViolation,
            "this server is read-only (it accepts uploads only when started with --allow-write)",
        ));
    }
    check_request(request, client, out)?;
    let name = &request.filename;
    let dest = args.root.join(name);
    if exists(&dest) {
        return Err(refuse(
            ErrorCode::FileExists,
            format!("{name:?} exists already, and an upload never replaces a file"),
        ));
    }
    let part = PartFile::create(&dest, false).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => refuse(ErrorCode::FileExists, e.to_string()),
        _ => refuse(
            ErrorCode::AccessViolation,
            format!("cannot write {name:?}: {e}"),
        ),
    })?;
    Ok(Job::Receive {
        name: name.clone(),
        part,
    })
}

/// The checks every request passes: the mode, then the name (lesson 06's rules: one plain
/// file name inside the served directory).
fn check_request(request: &Request, client: SocketAddr, out: Out) -> Result<(), Refusal> {
    match request.mode {
        Mode::Octet => {}
        Mode::Netascii => {
            return Err(refuse(
                ErrorCode::NotDefined,
                "netascii mode is not served: this server sends files byte for byte; \
                 ask in octet mode (tftp: -m binary, or the command `binary`)",
            ))
        }
        Mode::Mail => {
            return Err(refuse(
                ErrorCode::IllegalOperation,
                "mail mode is obsolete (RFC 1350); ask in octet mode",
            ))
        }
    }
    check_name(&request.filename).map_err(|e| refuse(ErrorCode::AccessViolation, e))?;
    if !request.options.is_empty() {
        let names: Vec<String> = request
            .options
            .iter()
            .map(|(n, _)| format!("{n:?}"))
            .collect();
        out.line(format!(
            "{client}: options {} ignored: plain RFC 1350, 512-byte blocks",
            names.join(", ")
        ));
    }
    Ok(())
}
// ANCHOR_END: prepare

/// Whether anything (a file, a directory, a link) has that name.
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}
