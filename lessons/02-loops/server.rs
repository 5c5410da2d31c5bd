//! Lesson 02 — the connection loop and the communication loop.
//!
//! Lesson 01's server served one message and quit. A real server has two loops: the
//! connection loop accepts clients one after another; the communication loop talks to one
//! client until it leaves. A client leaves in one of two ways, and the server must handle
//! both: an orderly close (`read` returns 0 bytes) or a reset (`read` fails with ECONNRESET,
//! the classic course's "WinError 10054").
//!
//! Run it:   cargo run --bin lesson02-server
//! Then, in a second terminal (as often as you like):   cargo run --bin lesson02-client
//!
//! Look for: while one client is connected, a second one waits — this server talks to one
//! client at a time (lesson 08 fixes that). Try `--naive` to see the classic bug: a loop that
//! never checks for 0 bytes spins on empty reads after the client leaves.
//!
//! `--unix PATH` serves the same echo on a Unix domain socket (AF_UNIX): the address is a
//! file, `cargo run --bin lesson02-client -- --unix PATH` talks to it, and nothing after
//! `accept` changes.

use std::fmt::Display;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::out::{escape, plural};
use socket_lab::{Out, Side, Style};

/// Lesson 02: serve clients one after another, echoing upper-cased until each one leaves.
#[derive(Parser)]
#[command(name = "lesson02-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// The classic bug: never check for a 0-byte read, so a closed connection spins.
    #[arg(long)]
    naive: bool,

    /// With --naive: how many empty reads to show before giving up on that client.
    #[arg(long, value_name = "N", default_value_t = 5)]
    spin_limit: usize,

    /// Listen on a Unix domain socket at PATH (a file) instead of HOST:PORT. A stale
    /// socket file left by a server that did not clean up is removed first; any other
    /// file there is left alone, and the server refuses to start.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    unix: Option<PathBuf>,

    /// With --unix: the socket file's permissions, in octal (e.g. 600: only its owner
    /// may connect; connecting needs write permission). Default: what the umask gives.
    #[arg(long, value_name = "OCTAL", requires = "unix", value_parser = parse_mode)]
    mode: Option<u32>,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    if let Some(path) = &args.unix {
        return serve_unix(path, args, out);
    }
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    // ANCHOR: connection_loop
    // The connection loop: one client at a time, for as long as the server runs.
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        if args.naive {
            naive_loop(conn, peer, args.spin_limit, out);
        } else {
            communicate(conn, peer, out);
        }
        served += 1;
    }
    // ANCHOR_END: connection_loop
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}

// ANCHOR: unix
/// `--unix PATH`: the same server on a Unix domain socket. Only the address changes: a
/// path in the file system instead of HOST:PORT. What `accept` returns is a stream like a
/// TcpStream (`Read + Write`), so the communication loop is the very same function.
fn serve_unix(path: &Path, args: &Args, out: Out) -> anyhow::Result<()> {
    let stale = remove_stale_socket(path)?;
    // bind creates the socket file; it fails with "address in use" if any file is there.
    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot bind {}", path.display()))?;
    // Who may connect is decided by the file's permissions (connecting needs write
    // permission), set before we say that we listen.
    if let Some(mode) = args.mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    // The first line, as for TCP: where the server listens, now a path.
    let _ = writeln!(std::io::stdout(), "listening on {}", path.display());
    if stale {
        out.line(format!(
            "removed a stale socket file {} first",
            path.display()
        ));
    }
    let mode = fs::metadata(path)?.permissions().mode();
    out.line(format!(
        "socket file {} ({})",
        path.display(),
        mode_string(mode)
    ));

    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, _addr) = listener.accept().context("accepting a client")?;
        // A client's socket has no name unless it binds one: there is no port to show.
        let peer = format!("a client of {}", path.display());
        out.line(format!("connection from {peer}"));
        if args.naive {
            naive_loop(conn, &peer, args.spin_limit, out);
        } else {
            communicate(conn, &peer, out);
        }
        served += 1;
    }
    out.line(format!("served {}, stopping", plural(served, "client")));
    // Closing the socket does not remove its file: without this, the next start finds
    // a stale socket file there.
    drop(listener);
    fs::remove_file(path)?;
    out.line(format!("removed {}", path.display()));
    Ok(())
}

/// A socket file already at `path`: if nobody listens on it (connecting is refused), it
/// is left over from a server that stopped without removing it, and it is removed
/// (`true`). Anything else at `path` is an error: a live server, or a file that is not a
/// socket at all, which must never be deleted by mistake.
fn remove_stale_socket(path: &Path) -> anyhow::Result<bool> {
    let shown = path.display();
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => bail!("cannot look at {shown}: {e}"),
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{shown} exists and is not a socket; it is left alone. \
             Remove it yourself, or choose another path with --unix PATH"
        );
    }
    match UnixStream::connect(path) {
        Ok(_) => bail!(
            "{shown} is in use: a server is listening there. \
             Stop it, or choose another path with --unix PATH"
        ),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            fs::remove_file(path)?;
            Ok(true)
        }
        Err(e) => bail!("cannot check {shown}: {e}"),
    }
}
// ANCHOR_END: unix

/// `srwxr-xr-x`, as `ls -l` shows a socket file.
fn mode_string(mode: u32) -> String {
    let mut text = String::from("s");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    text
}

/// `--mode 600`: octal permissions.
fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mode| *mode <= 0o777)
        .ok_or_else(|| format!("{text:?} is not an octal mode between 000 and 777"))
}

// ANCHOR: communication_loop
/// The communication loop: echo upper-cased until this client leaves. Whatever happens to
/// this one client, the function returns and the server goes on to the next. `conn` is
/// any stream: a TcpStream, or a UnixStream with `--unix`.
fn communicate(mut conn: impl Read + Write, peer: impl Display, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            // 0 bytes: the client closed its side (orderly close, a FIN). Every later
            // read would return 0 again, so this is the only way out of the loop.
            Ok(0) => {
                out.trace_read(buf.len(), &[]);
                out.line(format!(
                    "{peer} closed the connection (read returned 0 bytes)"
                ));
                return;
            }
            Ok(n) => n,
            // A reset (RST): the client's system threw the connection away, e.g. the
            // program died with data unread, or closed with SO_LINGER 0.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.line(format!(
                    "{peer} reset the connection (read failed: ECONNRESET)"
                ));
                return;
            }
            Err(e) => {
                out.line(format!("{peer}: read failed: {e}"));
                return;
            }
        };
        out.trace_read(buf.len(), &buf[..n]);
        // The bytes are the client's: shown escaped, so that no byte of theirs can
        // command our terminal (see `escape`).
        out.line(format!("received: {}", escape(&buf[..n])));

        let reply = buf[..n].to_ascii_uppercase();
        if let Err(e) = conn.write_all(&reply) {
            out.line(format!("{peer}: could not reply: {e}"));
            return;
        }
        out.trace_write(&reply);
    }
}
// ANCHOR_END: communication_loop

// ANCHOR: naive_loop
/// The classic course's first loop: read, print, reply, repeat — no check for 0 bytes.
/// After the client closes, every read returns 0 bytes at once, so the loop spins as
/// fast as the CPU allows. We stop after `limit` empty reads; the original never stops.
fn naive_loop(mut conn: impl Read + Write, peer: impl Display, limit: usize, out: Out) {
    let mut buf = [0u8; 1024];
    let mut empty_reads = 0;
    while empty_reads < limit {
        let n = match conn.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                out.line(format!("{peer}: read failed: {e}"));
                return;
            }
        };
        out.trace_read(buf.len(), &buf[..n]);
        out.line(format!("received {} bytes: \"{}\"", n, escape(&buf[..n])));
        if n == 0 {
            empty_reads += 1;
        }
        // Writing 0 bytes "succeeds" and sends nothing, so nothing here notices either.
        let _ = conn.write_all(&buf[..n].to_ascii_uppercase());
    }
    out.line(format!(
        "stopped after {limit} empty reads: \
         without a check for 0 bytes this loop never ends"
    ));
}
// ANCHOR_END: naive_loop
