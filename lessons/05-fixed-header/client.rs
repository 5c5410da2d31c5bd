//! Lesson 05 — the remote-command client, with framed messages.
//!
//! Type a command, get its whole output, however long: the client reads the 4-byte length
//! first, then loops until exactly that many bytes are in. Lesson 04's client read at most
//! 1024 bytes and left the rest of a long reply to spill into the next one.
//!
//! Start the server first:   cargo run --bin lesson05-server
//! Then:                     cargo run --bin lesson05-client
//!
//! Look for: `seq 1000` prints all 1000 numbers, and the next command gets its own reply.
//! Run both sides with `--trace` to watch the header and the reads that fill the body. The
//! protocol flags must match the server's: `--byte-order`, `--classic`, `--handshake`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::encoding::Encoding;
use socket_lab::errors::connect_error;
use socket_lab::frame::{
    read_frame, write_frame, ByteOrder, ReadError, DEFAULT_MAX_FRAME,
};
use socket_lab::input::Lines;
use socket_lab::out::{escape_lines, plural, preview};
use socket_lab::{Out, Side, Style};

/// Lesson 05: send commands to lesson05-server and print each whole reply.
#[derive(Parser)]
#[command(name = "lesson05-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9005)]
    port: u16,

    /// How the 4-byte length is laid out: network (big-endian) or native (Python's
    /// struct.pack('i', n)). It must match the server's.
    #[arg(long, value_enum, default_value_t = ByteOrder::Network, value_name = "ORDER")]
    byte_order: ByteOrder,

    /// The largest reply accepted, in bytes. A longer length is refused before
    /// allocating.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME, value_name = "BYTES")]
    max_frame: u32,

    /// The classic course's protocol: send each command unframed, read a reply framed
    /// with a native-order length. For `lesson05-server --classic` or the course's Python
    /// server.
    #[arg(long, conflicts_with_all = ["byte_order", "handshake"])]
    classic: bool,

    /// The course's other fix: read `Ready|<size>`, answer `Start`, read <size> bytes.
    #[arg(long)]
    handshake: bool,

    /// With --handshake: answer `start` (the course's second spelling) instead of
    /// `Start`.
    #[arg(long, requires = "handshake")]
    lowercase: bool,

    /// Print at most N lines of each reply, then how many more there were.
    #[arg(long, value_name = "N")]
    head: Option<usize>,

    /// How long to wait for the server before giving up, in milliseconds. A server that
    /// waits for something else than we sent (`start` for `Start`) never answers.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,

    /// How replies are decoded: utf-8, or gbk (the course's Python client decodes the
    /// output of a Windows server in Chinese as gbk).
    #[arg(long, value_enum, default_value_t = Encoding::Utf8, value_name = "ENCODING")]
    encoding: Encoding,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson05-server"))?;
    out.line(format!("connected to {addr}"));
    // Every read waits at most this long: a silent server ends the client with an error.
    conn.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;

    let mut lines = Lines::stdin();
    // Bytes received but not used yet (framed mode keeps them for the next reply).
    let mut buf = Vec::new();
    while let Some(line) = lines.next_line()? {
        let command = line.trim();
        if command.is_empty() {
            continue;
        }
        if command == "exit" || command == "quit" {
            break;
        }
        let reply = if args.classic {
            classic(&mut conn, command, &mut buf, args, out)?
        } else if args.handshake {
            handshake(&mut conn, command, args, out)?
        } else {
            framed(&mut conn, command, &mut buf, args, out)?
        };
        let Some(reply) = reply else {
            bail!("the server closed the connection before replying to `{command}`");
        };
        show(&reply, args.head, args.encoding, out);
    }
    Ok(())
}

// ANCHOR: framed
/// The default protocol: the command goes out as a frame, the reply comes back as one.
fn framed(
    conn: &mut TcpStream,
    command: &str,
    buf: &mut Vec<u8>,
    args: &Args,
    out: Out,
) -> anyhow::Result<Option<Vec<u8>>> {
    write_frame(
        conn,
        command.as_bytes(),
        args.byte_order,
        args.max_frame,
        &out,
    )
    .context("sending the command")?;
    // Read the 4-byte length, check it, then read until the whole body is in.
    match read_frame(conn, buf, args.byte_order, args.max_frame, &out) {
        // A server that refuses our frame closes with our bytes unread: its system then
        // resets the connection instead of closing it in order.
        Err(ReadError::Io(e)) if e.kind() == ErrorKind::ConnectionReset => bail!(
            "the server reset the connection instead of replying to `{command}` \
             (did it refuse our frame? Its output says why)"
        ),
        reply => Ok(reply.context("receiving the reply")?),
    }
}
// ANCHOR_END: framed

/// The classic course's protocol: the command unframed, the reply framed in native order.
fn classic(
    conn: &mut TcpStream,
    command: &str,
    buf: &mut Vec<u8>,
    args: &Args,
    out: Out,
) -> anyhow::Result<Option<Vec<u8>>> {
    conn.write_all(command.as_bytes())
        .context("sending the command")?;
    out.trace_write(command.as_bytes());
    let reply = read_frame(conn, buf, ByteOrder::Native, args.max_frame, &out)
        .context("receiving the reply")?;
    Ok(reply)
}

// ANCHOR: handshake
/// The course's other fix: `Ready|<size>`, then `Start`, then <size> bytes of data.
fn handshake(
    conn: &mut TcpStream,
    command: &str,
    args: &Args,
    out: Out,
) -> anyhow::Result<Option<Vec<u8>>> {
    conn.write_all(command.as_bytes())
        .context("sending the command")?;
    out.trace_write(command.as_bytes());

    // 1. The size, as text. One read: the server sends nothing more until we answer.
    let mut tag = [0u8; 1024];
    let n = conn.read(&mut tag).context("receiving the size")?;
    out.trace_read(tag.len(), &tag[..n]);
    if n == 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&tag[..n]);
    let size = match text
        .strip_prefix("Ready|")
        .or_else(|| text.strip_prefix("ready|"))
    {
        Some(size) => size.trim().parse::<u64>().ok(),
        // No tag: the course's servers answer a failed command with a bare `cmd
        // error...`. Like the course's client, take what this one read brought as the
        // whole reply (it cannot know whether more is coming).
        None => {
            out.line("(no Ready|<size> first: the reply is what one read returned)");
            return Ok(Some(tag[..n].to_vec()));
        }
    };
    let Some(size) = size else {
        bail!(
            "expected `Ready|<size>` from the server, got {}",
            preview(&tag[..n])
        );
    };
    // The size came from the network: bound it before allocating anything.
    if size > u64::from(args.max_frame) {
        bail!(
            "the server announced {size} bytes, over the maximum of {} bytes \
             (raise --max-frame)",
            args.max_frame
        );
    }

    // 2. The go-ahead. This is the extra round trip: the data cannot leave the server
    //    before this word has crossed the network.
    let start: &[u8] = if args.lowercase { b"start" } else { b"Start" };
    conn.write_all(start).context("sending Start")?;
    out.trace_write(start);

    // 3. Read until `size` bytes are in: `read` may return fewer than asked.
    let size = size as usize;
    let mut reply = Vec::with_capacity(size);
    let mut chunk = [0u8; 1024];
    while reply.len() < size {
        let want = chunk.len().min(size - reply.len());
        let n = match conn.read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock && reply.is_empty() => bail!(
                "the server announced {} and then sent nothing for {} ms after our \
                 `{}`: does it wait for another word? (the course's servers differ: \
                 `Start`, or `start` with --lowercase)",
                plural(size, "byte"),
                args.timeout_ms,
                String::from_utf8_lossy(start)
            ),
            Err(e) => return Err(e).context("receiving the reply"),
        };
        out.trace_read(want, &chunk[..n]);
        if n == 0 {
            bail!(
                "the server closed the connection after {} of {}",
                reply.len(),
                plural(size, "byte")
            );
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(reply))
}
// ANCHOR_END: handshake

/// Prints a reply, cut after `head` lines when asked.
fn show(reply: &[u8], head: Option<usize>, encoding: Encoding, out: Out) {
    // The reply is the server's: decoded, then shown escaped, its line breaks kept.
    let text = escape_lines(encoding.decode(reply).as_bytes());
    let lines: Vec<&str> = text.lines().collect();
    let shown = head.unwrap_or(lines.len()).min(lines.len());
    for line in &lines[..shown] {
        out.line(line);
    }
    if shown < lines.len() {
        let more = lines.len() - shown;
        out.line(format!(
            "… and {more} more line{} ({} in all)",
            if more == 1 { "" } else { "s" },
            plural(reply.len(), "byte")
        ));
    }
}
