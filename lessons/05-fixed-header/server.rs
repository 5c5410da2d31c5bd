//! Lesson 05 — a fixed-length header: lesson 04's remote-command server, framed.
//!
//! Every message is a 4-byte length, then exactly that many bytes. The receiver reads the
//! 4 bytes, checks the length against a maximum, then keeps reading until the whole body is
//! in. A reply of 4000 bytes can no longer spill into the next command's reply (lesson 04's
//! bug), and a length that makes no sense is refused before a single byte is allocated.
//!
//! Run it:   cargo run --bin lesson05-server
//! Then, in a second terminal:   cargo run --bin lesson05-client   (type `seq 1000`, then `seq 3`)
//!
//! Look for: with `--trace`, the 4 header bytes in hex before each reply. Try the modes:
//! `--byte-order native` (the Python course's `struct.pack('i', n)`), `--classic` (exactly the
//! course's protocol, so its Python client works unchanged) and `--handshake` (the course's
//! other fix: `Ready|<size>`, wait for `Start`, then the data — one more round trip each time).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::commands::{execute, Policy};
use socket_lab::errors::bind_error;
use socket_lab::frame::{
    len_bytes, read_frame, write_frame, ByteOrder, DEFAULT_MAX_FRAME, HEADER_LEN,
};
use socket_lab::out::{escape, plural, preview};
use socket_lab::{Out, Side, Style};

/// Lesson 05: run the built-in commands of lesson 04 for each client, every reply framed
/// with a 4-byte length.
#[derive(Parser)]
#[command(name = "lesson05-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9005)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// How the 4-byte length is laid out: network (big-endian) or native (this machine's
    /// order, as Python's struct.pack('i', n) writes it). Both sides must agree.
    #[arg(long, value_enum, default_value_t = ByteOrder::Network, value_name = "ORDER")]
    byte_order: ByteOrder,

    /// The largest frame accepted or sent, in bytes. A longer length closes that
    /// connection.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME, value_name = "BYTES")]
    max_frame: u32,

    /// Exactly the classic course's protocol: each request is ONE read of up to 1024
    /// bytes, unframed; each reply is framed with a native-order length. Its Python
    /// client works.
    #[arg(long, conflicts_with_all = ["byte_order", "handshake"])]
    classic: bool,

    /// The course's other fix: reply `Ready|<size>`, wait for `Start`, then send the
    /// reply.
    #[arg(long)]
    handshake: bool,

    /// With --handshake: say `ready|<size>` (the course's second spelling) instead of
    /// `Ready`.
    #[arg(long, requires = "handshake")]
    lowercase: bool,

    /// Also run these programs (comma-separated, e.g. `ls,date`) when a client asks for
    /// them. Without it, only the built-in commands run. Never through a shell.
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
    // Built-in commands, plus the programs named by --allow-exec (none unless asked).
    let policy = Policy::with_programs(args.allow_exec.clone());

    // The connection loop of lesson 02. Whatever one client does — a bad length, a close
    // in the middle of a frame — ends only that client's session; the server goes on.
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (mut conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        let session = if args.classic {
            classic(&mut conn, peer, &policy, args, out)
        } else if args.handshake {
            handshake(&mut conn, peer, &policy, args, out)
        } else {
            framed(&mut conn, peer, &policy, args, out)
        };
        if let Err(err) = session {
            out.line(format!("{peer}: {err:#}; closing this connection"));
        }
        served += 1;
    }
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}

/// Runs one command; a reply too long for one frame becomes a short error reply instead.
fn run_command(request: &[u8], policy: &Policy, max_frame: u32, out: Out) -> Vec<u8> {
    out.line(format!("command: {}", escape(request)));
    let reply = execute(request, policy);
    if reply.len() > max_frame as usize {
        let mut note = format!(
            "error: the reply ({}) is over the maximum frame of {max_frame} bytes\n",
            plural(reply.len(), "byte")
        )
        .into_bytes();
        // With a tiny maximum even this note does not fit: send what fits.
        note.truncate(max_frame as usize);
        return note;
    }
    reply
}

// ANCHOR: framed
/// The default protocol: requests and replies are both frames (4-byte length + body).
fn framed(
    conn: &mut TcpStream,
    peer: SocketAddr,
    policy: &Policy,
    args: &Args,
    out: Out,
) -> anyhow::Result<()> {
    // Bytes received on this connection but not used yet. `read_frame` loops on `read`
    // until one whole frame is in, and leaves any bytes of the next frame here.
    let mut buf = Vec::new();
    loop {
        let Some(request) =
            read_frame(conn, &mut buf, args.byte_order, args.max_frame, &out)
                .context("reading a request")?
        else {
            out.line(format!("{peer} closed the connection"));
            return Ok(());
        };
        let reply = run_command(&request, policy, args.max_frame, out);
        // Header and body leave in one write_all: 4 bytes of length, then the reply.
        write_frame(conn, &reply, args.byte_order, args.max_frame, &out)
            .context("sending the reply")?;
        out.line(format!(
            "replied with {} (header {})",
            plural(reply.len(), "byte"),
            preview(&len_bytes(reply.len() as u32, args.byte_order))
        ));
    }
}
// ANCHOR_END: framed

// ANCHOR: classic
/// The classic course's protocol: the request is whatever ONE read returns (up to 1024
/// bytes), the reply is framed with a native-order length (`struct.pack('i', n)`).
fn classic(
    conn: &mut TcpStream,
    peer: SocketAddr,
    policy: &Policy,
    args: &Args,
    out: Out,
) -> anyhow::Result<()> {
    // Python's 'i' is a SIGNED 32-bit number: a Python peer cannot read a length of 2^31
    // or more.
    let max = args.max_frame.min(i32::MAX as u32);
    let mut buf = [0u8; 1024];
    loop {
        // The flaw the course leaves: nothing says where a request ends. Two quick
        // requests can arrive in one read, and a request over 1024 bytes in two.
        let Some(n) = read_some(conn, &mut buf, peer, out)? else {
            return Ok(());
        };
        let reply = run_command(&buf[..n], policy, max, out);
        let mut frame = len_bytes(reply.len() as u32, ByteOrder::Native).to_vec();
        frame.extend_from_slice(&reply);
        conn.write_all(&frame).context("sending the reply")?;
        out.trace_write(&frame);
        out.line(format!(
            "replied with {} (header {})",
            plural(reply.len(), "byte"),
            preview(&frame[..HEADER_LEN])
        ));
    }
}
// ANCHOR_END: classic

// ANCHOR: handshake
/// The course's other fix: announce the size as text, wait for the go-ahead, then send.
fn handshake(
    conn: &mut TcpStream,
    peer: SocketAddr,
    policy: &Policy,
    args: &Args,
    out: Out,
) -> anyhow::Result<()> {
    let (ready, start) = if args.lowercase {
        ("ready", "start")
    } else {
        ("Ready", "Start")
    };
    let mut buf = [0u8; 1024];
    loop {
        let Some(n) = read_some(conn, &mut buf, peer, out)? else {
            return Ok(());
        };
        let reply = run_command(&buf[..n], policy, args.max_frame, out);

        // 1. Announce the size. The client answers only after reading it, so this short
        //    message cannot stick to anything: the two sides take turns.
        let tag = format!("{ready}|{}", reply.len());
        conn.write_all(tag.as_bytes()).context("sending the size")?;
        out.trace_write(tag.as_bytes());

        // 2. Wait for the go-ahead: one extra round trip for every reply.
        let Some(n) = read_some(conn, &mut buf, peer, out)? else {
            return Ok(());
        };
        let answer = &buf[..n];
        if !(answer.starts_with(b"Start") || answer.starts_with(b"start")) {
            bail!("expected `{start}` after `{tag}`, got {}", preview(answer));
        }

        // 3. The data itself, unframed: the client knows how many bytes to read.
        conn.write_all(&reply).context("sending the reply")?;
        out.trace_write(&reply);
        out.line(format!(
            "sent `{tag}`, got `{}`, replied with {}",
            escape(answer),
            plural(reply.len(), "byte")
        ));
    }
}
// ANCHOR_END: handshake

/// One read of up to `buf.len()` bytes. `None` when the client has left (0 bytes or a
/// reset).
fn read_some(
    conn: &mut TcpStream,
    buf: &mut [u8],
    peer: SocketAddr,
    out: Out,
) -> anyhow::Result<Option<usize>> {
    match conn.read(buf) {
        Ok(0) => {
            out.trace_read(buf.len(), &[]);
            out.line(format!("{peer} closed the connection"));
            Ok(None)
        }
        Ok(n) => {
            out.trace_read(buf.len(), &buf[..n]);
            Ok(Some(n))
        }
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {
            out.line(format!("{peer} reset the connection"));
            Ok(None)
        }
        Err(e) => Err(e).context("reading a request"),
    }
}
