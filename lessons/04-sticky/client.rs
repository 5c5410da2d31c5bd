//! Lesson 04 — sticky packets: the client's side of both causes.
//!
//!   sender    two writes, `hello` and `world`, then close. `--nodelay` turns Nagle's
//!             algorithm off (TCP_NODELAY): the server still reads `helloworld`.
//!   receiver  the classic remote-command client: send a line, read ONE reply of at most
//!             1024 bytes, print it. A longer reply is left behind in the receive buffer,
//!             and the next read returns that leftover instead of the next reply.
//!
//! Start the server first:   cargo run --bin lesson04-server -- --case sender Then:
//! cargo run --bin lesson04-client -- --case sender --trace
//!
//! Look for: in `receiver`, type `text 2200` then `echo hello`: the second "reply" is
//! lines 00017 to 00032 of the first one. Lesson 05 fixes it with a length header.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use socket2::SockRef;
use socket_lab::encoding::Encoding;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::out::{escape_lines, plural};
use socket_lab::{Out, Side, Style};

/// Which cause of sticky packets to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// Write `hello` and `world` separately, then close.
    Sender,
    /// Send commands read from stdin; read each reply with one 1024-byte read.
    Receiver,
}

/// Lesson 04: two writes that arrive as one read, and replies that spill into the next.
#[derive(Parser)]
#[command(name = "lesson04-client", version)]
struct Args {
    /// Which cause to show (the same one as the server).
    #[arg(long, value_enum)]
    case: Case,

    /// sender: set TCP_NODELAY (Nagle's algorithm off). The two writes still join.
    #[arg(long)]
    nodelay: bool,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9004)]
    port: u16,

    /// receiver: how replies are decoded. The course's client decodes the output of a
    /// Windows server in Chinese as gbk; the lab's server sends utf-8.
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
    let conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson04-server"))?;
    out.line(format!("connected to {addr}"));
    match args.case {
        Case::Sender => sender(conn, args.nodelay, out),
        Case::Receiver => receiver(conn, args.encoding, out),
    }
}

fn sender(mut conn: TcpStream, nodelay: bool, out: Out) -> anyhow::Result<()> {
    // The send buffer holds what we wrote until the other side has it (not 8K either).
    let sndbuf = SockRef::from(&conn).send_buffer_size()?;
    out.line(format!("send buffer (SO_SNDBUF): {sndbuf} bytes"));

    // ANCHOR: sender
    if nodelay {
        // TCP_NODELAY (Nagle off): send each write at once, never holding small
        // writes back.
        conn.set_nodelay(true)?;
        out.line("TCP_NODELAY on: Nagle's algorithm is off");
    }
    // Two writes, two messages in our head. TCP sees only bytes.
    for message in [&b"hello"[..], b"world"] {
        conn.write_all(message).context("sending")?;
        out.trace_write(message);
        out.line(format!("sent {:?}", String::from_utf8_lossy(message)));
    }
    // ANCHOR_END: sender
    out.line("closing");
    Ok(())
}

fn receiver(mut conn: TcpStream, encoding: Encoding, out: Out) -> anyhow::Result<()> {
    // ANCHOR: receiver
    let mut lines = Lines::stdin();
    let mut buf = [0u8; 1024];
    while let Some(line) = lines.next_line()? {
        let command = line.trim();
        if command.is_empty() {
            continue; // sending 0 bytes sends nothing: both sides would wait forever
        }
        if command == "exit" || command == "quit" {
            break;
        }
        conn.write_all(command.as_bytes()).context("sending")?;
        out.trace_write(command.as_bytes());

        // ONE read of at most 1024 bytes, as in the classic client. It returns what has
        // arrived: the start of a long reply, or the leftover of an earlier one.
        let n = conn.read(&mut buf).context("receiving the reply")?;
        out.trace_read(buf.len(), &buf[..n]);
        if n == 0 {
            out.line("the server closed the connection");
            return Ok(());
        }
        out.line(format!("reply to {command:?} ({}):", plural(n, "byte")));
        let text = escape_lines(encoding.decode(&buf[..n]).as_bytes());
        out.line(text.trim_end_matches('\n'));
    }
    // ANCHOR_END: receiver

    // ANCHOR: leave
    // Leave cleanly. Closing with reply bytes still unread would reset the connection
    // (RST), and the server's next write would fail with ECONNRESET (lesson 03, case
    // write-reset). So: tell the server we are done (shutdown), then read what is left
    // until it closes.
    conn.shutdown(Shutdown::Write).context("shutting down")?;
    let mut left = 0;
    loop {
        let n = conn.read(&mut buf).context("reading what was left")?;
        if n == 0 {
            break;
        }
        left += n;
    }
    out.line(format!(
        "done: {} of earlier replies were still unread; read them, then closed",
        plural(left, "byte")
    ));
    // ANCHOR_END: leave
    Ok(())
}
