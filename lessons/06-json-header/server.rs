//! Lesson 06 — the JSON-header server: file transfer and the remote-command service.
//!
//! Every message is a 4-byte header length, a JSON header that describes the body
//! (`file_name`, `total_size`, `sha256`, and the `command` or `status`), then the body itself.
//! The header can say anything the protocol needs, and the receiver always knows how many
//! bytes to read next.
//!
//! Run it:   cargo run --bin lesson06-server        (files go to target/lesson06/server-files)
//! Then, in a second terminal:
//!           cargo run --bin lesson06-client -- put Cargo.toml
//!           cargo run --bin lesson06-client -- get Cargo.toml  (into target/lesson06/downloads)
//!           echo help | cargo run --bin lesson06-client -- run
//!
//! Look for: with `--trace`, the 4 length bytes, then the header, then the body in chunks.
//! Send a name like `../x`, a header that is not JSON or a body that is cut short: the client
//! gets a clear error and the server goes on serving. `--classic` speaks the course's own
//! protocol, so its Python client works unchanged. Connect with `nc 127.0.0.1 9006` and send
//! nothing: after `--idle-timeout-ms` (10 s) the server gives up on you and serves the next.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::commands::{execute, Policy};
use socket_lab::errors::{bind_error, is_timeout, timed_out};
use socket_lab::frame::ByteOrder;
use socket_lab::json_header::{
    parse_request, recv_header, send_header, Reply, Request, Status, MAX_HEADER_LEN,
};
use socket_lab::out::{escape, plural};
use socket_lab::transfer::{
    copy_body, keep_checksum, kept_checksum, receive_file, send_file, sha256_of,
    sha256_of_file, Received,
};
use socket_lab::{Out, Side, Style};

/// After a refusal that ends a connection: how much of what the client still sends is
/// read and thrown away, and for how long at most in all, before closing.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The longest command line a `run` request may carry, in bytes.
const MAX_COMMAND_LEN: u64 = socket_lab::commands::MAX_LINE as u64;

/// Lesson 06: store and send files, run commands; every message has a JSON header.
#[derive(Parser)]
#[command(name = "lesson06-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9006)]
    port: u16,

    /// The directory files are stored in and served from (created if missing). Nothing
    /// outside it is ever read or written. The default is under cargo's target/ folder,
    /// so the files a lesson leaves behind are never mixed with your own.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/lesson06/server-files"
    )]
    root: PathBuf,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// Byte order of the 4-byte header length: network (big-endian) or native
    /// (Python's struct.pack('i', n) on this machine).
    #[arg(long, value_enum, default_value_t = ByteOrder::Network, value_name = "ORDER")]
    byte_order: ByteOrder,

    /// The course's own protocol: a command arrives unframed (one read of up to 1024
    /// bytes); the reply is a native-order length, a JSON header with total_size, and the
    /// output.
    #[arg(long)]
    classic: bool,

    /// The largest header accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_HEADER_LEN)]
    max_header: u32,

    /// How long to wait for a client, in milliseconds: for its next request header, whole,
    /// and for each read or write of a body. A client that sends nothing (or a byte now
    /// and then) is dropped after this, and the next client is served.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,

    /// Also allow running these programs (comma-separated: ls,date). Without it only the
    /// built-in commands run. There is never a shell.
    #[arg(long, value_name = "PROGRAMS", value_delimiter = ',')]
    allow_exec: Vec<String>,

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
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    std::fs::create_dir_all(&args.root)
        .with_context(|| format!("creating the directory {}", args.root.display()))?;
    // Built-in commands, plus the programs named by --allow-exec (none unless asked).
    let policy = Policy::with_programs(args.allow_exec.clone());

    let idle = Duration::from_millis(args.idle_timeout_ms);
    let mut served = 0;
    // ANCHOR: accept
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        let out = out.on(&conn); // this connection's lines (for --trace-file)
        out.line(format!("connection from {peer}"));
        // Header and body are separate writes. Without TCP_NODELAY a small body would
        // wait for the acknowledgement of the header (Nagle's algorithm): ~40 ms per
        // message.
        conn.set_nodelay(true)?;
        // This server talks to ONE client at a time: while it waits for this one, the
        // next ones wait in the backlog. So no wait may be endless: a read or a write
        // that gets nowhere for `idle` fails with a timeout, and the client is dropped.
        conn.set_read_timeout(Some(idle))?;
        conn.set_write_timeout(Some(idle))?;
        let mut client = Client {
            conn,
            peer,
            args,
            policy: &policy,
            out,
            idle,
        };
        if args.classic {
            client.serve_classic();
        } else {
            client.serve();
        }
        served += 1;
    }
    // ANCHOR_END: accept
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}

/// One connected client and what the server needs to answer it.
struct Client<'a> {
    conn: TcpStream,
    peer: SocketAddr,
    args: &'a Args,
    policy: &'a Policy,
    out: Out,
    /// --idle-timeout-ms.
    idle: Duration,
}

/// How one request went, seen from the connection.
enum Next {
    /// Answered (success or refusal): the stream is in step, read the next request.
    Continue,
    /// The stream can no longer be trusted (a bad header, a body cut short): close it.
    Close,
}

impl Client<'_> {
    // ANCHOR: serve
    /// The communication loop: one request after another until the client leaves. A bad
    /// request ends at most this connection; `serve` returns and the server goes on.
    fn serve(&mut self) {
        let (order, max) = (self.args.byte_order, self.args.max_header);
        loop {
            // A header is small: it must arrive whole within the idle timeout.
            let mut conn = Deadline::after(&self.conn, self.idle);
            let received = recv_header(&mut conn, order, max, &self.out);
            let header = match received.context("reading a request header") {
                Ok(Some(header)) => header,
                Ok(None) => {
                    self.out
                        .line(format!("{} closed the connection", self.peer));
                    return;
                }
                Err(e) => {
                    self.refuse_and_close(e);
                    return;
                }
            };
            // A body takes as long as it takes, as long as bytes keep coming: each of its
            // reads waits at most the idle timeout.
            if let Err(e) = self.conn.set_read_timeout(Some(self.idle)) {
                self.out.line(format!("{}: {e}", self.peer));
                return;
            }
            // After a header that is not a valid request we cannot know how long its body
            // is, so we cannot find the next message: refuse and close.
            let request = match parse_request(&header) {
                Ok(request) => request,
                Err(e) => {
                    self.refuse_and_close(anyhow::anyhow!(e));
                    return;
                }
            };
            // A well-formed request with a bad name or checksum, or a put onto a name
            // that is a folder: refuse it before its body, then skip the body, and the
            // connection stays in step for the next request.
            if let Err(e) = request.check().and_then(|()| self.can_store(&request)) {
                if let Next::Close = self.refuse(e, request.body_size()) {
                    return;
                }
                continue;
            }
            let next = match request {
                Request::Put {
                    file_name,
                    total_size,
                    sha256,
                } => self.put(&file_name, total_size, &sha256),
                Request::Get { file_name } => self.get(&file_name),
                Request::Run { total_size } => self.run(total_size),
            };
            if let Next::Close = next {
                return;
            }
        }
    }
    // ANCHOR_END: serve

    /// A put may not replace what is not a file: a folder of that name stays, and the put
    /// is refused before a byte of its body is stored.
    fn can_store(&self, request: &Request) -> Result<(), String> {
        let Request::Put { file_name, .. } = request else {
            return Ok(());
        };
        match std::fs::symlink_metadata(self.args.root.join(file_name)) {
            Ok(meta) if !meta.is_file() => Err(format!(
                "cannot store {file_name}: a folder (or something else that is not a \
                 file) has that name"
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a well-formed request: says why, skips its body (so the next request can
    /// follow on this connection), then answers.
    fn refuse(&mut self, why: String, body: u64) -> Next {
        self.out.line(format!("refused: {why}"));
        let skipped = copy_body(&mut self.conn, &mut std::io::sink(), body, |_| {});
        if let Err(e) = skipped {
            return self.refuse_and_close(e);
        }
        self.reply(&Reply::error(why))
    }

    // ANCHOR: put
    /// `put`: receive the body into a part file, check its sha256, rename it into place.
    /// The verified checksum is kept next to the file, for the `get`s to come.
    fn put(&mut self, name: &str, total: u64, sha256: &str) -> Next {
        self.out.line(format!(
            "put {name}: receiving {}",
            plural(total as usize, "byte")
        ));
        let root = self.args.root.clone();
        match receive_file(&mut self.conn, &root, name, total, sha256, |_| {}) {
            Ok(Received::Saved) => {
                // Without it a `get` hashes the file again: slower, never wrong.
                if let Err(e) = keep_checksum(&root, name, sha256) {
                    self.out.line(format!("{e:#}"));
                }
                let done = format!(
                    "stored {name} ({}, sha256 verified)",
                    plural(total as usize, "byte")
                );
                self.out.line(&done);
                self.reply(&Reply::ok(done))
            }
            // The whole body was read, only the checksum differed: the stream is in step.
            Ok(Received::ChecksumMismatch(e)) => {
                self.out.line(format!("refused: {e}"));
                self.reply(&Reply::error(e))
            }
            Err(e) => self.refuse_and_close(e),
        }
    }
    // ANCHOR_END: put

    // ANCHOR: get
    /// `get`: a header with the size and the sha256 of the file, then the file, sent by
    /// the kernel (`sendfile`).
    fn get(&mut self, name: &str) -> Next {
        let root = self.args.root.clone();
        let (file, total, sha256, how) = match open_with_facts(&root, name) {
            Ok(facts) => facts,
            Err(e) => {
                let e = format!("cannot send {name}: {e:#}");
                self.out.line(format!("refused: {e}"));
                return self.reply(&Reply::error(e));
            }
        };
        self.out.line(format!(
            "get {name}: sending {}, sha256 {how}",
            plural(total as usize, "byte")
        ));
        let header = Reply {
            status: Status::Ok,
            message: String::new(),
            file_name: name.to_string(),
            total_size: total,
            sha256,
        };
        if let Next::Close = self.reply(&header) {
            return Next::Close;
        }
        match send_file(&file, &self.conn, total, |_| {}) {
            Ok(()) => {
                self.out.line(format!("sent {name}"));
                Next::Continue
            }
            // Half a body is on the wire: the client cannot find the next message.
            Err(e) => {
                // A client that stopped reading: said in words, not as "os error 11".
                let why = match timed_out(&e) {
                    true => format!(
                        "{e}: the client took nothing for {} ms (--idle-timeout-ms)",
                        self.idle.as_millis()
                    ),
                    false => format!("{e:#}"),
                };
                self.out.line(format!("sending {name} failed: {why}"));
                Next::Close
            }
        }
    }
    // ANCHOR_END: get

    /// `run`: the body is a command line (lesson 04's service); the reply's body is the
    /// output.
    fn run(&mut self, total: u64) -> Next {
        if total > MAX_COMMAND_LEN {
            return self.refuse_and_close(anyhow::anyhow!(
                "a command line of {total} bytes is over the limit of {MAX_COMMAND_LEN}"
            ));
        }
        let mut line = Vec::new();
        if let Err(e) = copy_body(&mut self.conn, &mut line, total, |_| {}) {
            return self.refuse_and_close(e);
        }
        self.out.trace_read(total as usize, &line);
        // The command line is the client's bytes: shown escaped, run as bytes.
        self.out.line(format!("run: {}", escape(line.trim_ascii())));
        let output = execute(&line, self.policy);
        self.send_output(&output, self.args.byte_order)
    }

    // ANCHOR: classic
    /// `--classic`: the course's final protocol. The command comes unframed, in one read
    /// of up to 1024 bytes (lesson 04 showed what that costs); the reply is framed with a
    /// native-order length, exactly what the course's client unpacks with
    /// struct.unpack('i').
    fn serve_classic(&mut self) {
        let mut buf = [0u8; 1024];
        loop {
            let n = match self.conn.read(&mut buf) {
                Ok(0) => {
                    self.out
                        .line(format!("{} closed the connection", self.peer));
                    return;
                }
                Ok(n) => n,
                Err(e) if is_timeout(&e) => {
                    let ms = self.idle.as_millis();
                    let peer = self.peer;
                    self.out.line(format!(
                        "{peer} sent nothing for {ms} ms (--idle-timeout-ms); closing"
                    ));
                    return;
                }
                Err(e) => {
                    self.out.line(format!("{}: read failed: {e}", self.peer));
                    return;
                }
            };
            self.out.trace_read(buf.len(), &buf[..n]);
            let line = &buf[..n];
            self.out.line(format!("run: {}", escape(line.trim_ascii())));
            let output = execute(line, self.policy);
            if let Next::Close = self.send_output(&output, ByteOrder::Native) {
                return;
            }
        }
    }
    // ANCHOR_END: classic

    /// A command's output as a reply: header (with total_size, as the course's client
    /// needs), then the output as the body.
    fn send_output(&mut self, output: &[u8], order: ByteOrder) -> Next {
        let header = Reply {
            status: Status::Ok,
            message: String::new(),
            file_name: String::new(),
            total_size: output.len() as u64,
            sha256: sha256_of(output),
        };
        let sent =
            send_header(&mut self.conn, &header, order, &self.out).and_then(|()| {
                self.conn.write_all(output).context("sending the output")?;
                self.out.trace_write(output);
                Ok(())
            });
        match sent {
            Ok(()) => Next::Continue,
            Err(e) => {
                self.out.line(format!("{}: {e:#}", self.peer));
                Next::Close
            }
        }
    }

    /// Sends a header; a failure to send ends the connection.
    fn reply(&mut self, reply: &Reply) -> Next {
        match send_header(&mut self.conn, reply, self.args.byte_order, &self.out) {
            Ok(()) => Next::Continue,
            Err(e) => {
                self.out.line(format!("{}: {e:#}", self.peer));
                Next::Close
            }
        }
    }

    // ANCHOR: refuse_and_close
    /// The request was bad in a way that breaks the stream: say why (the client may still
    /// be listening), then close the connection. The server itself goes on.
    fn refuse_and_close(&mut self, e: anyhow::Error) -> Next {
        // A client that let the idle timeout pass: said in words, not as "os error 11".
        let idle = timed_out(&e);
        let e = match idle {
            // `{e}` is the outermost context only: what we were doing.
            true => anyhow::anyhow!(
                "{e}: nothing came for {} ms (--idle-timeout-ms)",
                self.idle.as_millis()
            ),
            false => e,
        };
        self.out
            .line(format!("refused: {e:#}; closing the connection"));
        let _ = send_header(
            &mut self.conn,
            &Reply::error(format!("{e:#}")),
            self.args.byte_order,
            &self.out,
        );
        if idle {
            return Next::Close; // everything the client sent was read: nothing to drain
        }
        // Closing with unread bytes from the client would make our system answer with a
        // reset (RST), and the client could lose the reply above. So: shut our sending
        // side, then read and throw away what the client still sends until it closes —
        // for DRAIN_TIME in all at most, so a client that never stops cannot keep us.
        let _ = self.conn.shutdown(Shutdown::Write);
        let mut rest = Deadline::after(&self.conn, DRAIN_TIME).take(DRAIN_LIMIT);
        let _ = std::io::copy(&mut rest, &mut std::io::sink());
        Next::Close
    }
    // ANCHOR_END: refuse_and_close
}

// ANCHOR: deadline
/// The connection, read with a deadline for a whole message: each read waits only for
/// the time that is left. A per-read timeout alone would let a client that sends one
/// byte every few seconds (a "slowloris") hold this one-client-at-a-time server for
/// hours.
struct Deadline<'a> {
    conn: &'a TcpStream,
    until: Instant,
}

impl<'a> Deadline<'a> {
    fn after(conn: &'a TcpStream, wait: Duration) -> Deadline<'a> {
        let until = Instant::now() + wait;
        Deadline { conn, until }
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        self.conn.set_read_timeout(Some(left))?;
        (&mut &*self.conn).read(buf)
    }
}
// ANCHOR_END: deadline

// ANCHOR: open_with_facts
/// Opens `root/name` to send it, with its size, its sha256, and where the sha256 came
/// from.
/// The checksum kept at `put` time is used while it matches the file; otherwise the file
/// is hashed (one full read of it before the first byte can go) and the result kept for
/// the next time. A directory or a missing file is an error. The errors name no path:
/// the client hears them, and the server's folders are none of its business.
fn open_with_facts(
    root: &Path,
    name: &str,
) -> anyhow::Result<(File, u64, String, &'static str)> {
    let path = root.join(name);
    // Looked at before it is opened: opening a named pipe would wait for a writer.
    let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("no such file"),
        _ => anyhow::anyhow!(e),
    })?;
    if !meta.is_file() {
        bail!("not a regular file");
    }
    let file = File::open(&path).map_err(|e| anyhow::anyhow!("cannot open it: {e}"))?;
    if let Some(sha256) = kept_checksum(root, name) {
        return Ok((file, meta.len(), sha256, "kept from before"));
    }
    let sha256 = sha256_of_file(&path, |_| ())
        .map_err(|e| anyhow::anyhow!("cannot read it: {}", e.root_cause()))?;
    // Not kept (a read-only folder, say): the next `get` hashes again, nothing worse.
    let _ = keep_checksum(root, name, &sha256);
    Ok((file, meta.len(), sha256, "computed now"))
}
// ANCHOR_END: open_with_facts
