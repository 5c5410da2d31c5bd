//! Lesson 03 — what `read` really does: the client's side of each experiment.
//!
//! The client plays the peer: it sends, waits, closes or resets exactly as the experiment
//! needs, so that what the server's reads return is the same in every run.
//!
//! Start the server first:   cargo run --bin lesson03-server -- --case partial
//! Then:                     cargo run --bin lesson03-client -- --case partial
//!
//! Look for: in `reset`, the client closes while bytes it never read are still in its receive
//! buffer: that close is a reset, not an orderly goodbye.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use socket2::SockRef;
use socket_lab::cli::typed;
use socket_lab::errors::{connect_error_with, other_case};
use socket_lab::out::plural;
use socket_lab::record::Op;
use socket_lab::{Out, Side, Style};

/// One experiment of lesson 03 (the server must run the same one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// Send `hello` in one write.
    Partial,
    /// Send nothing until the server asks.
    Blocking,
    /// Send `bye` and close.
    Eof,
    /// Read part of the server's message, send last words, close with the rest unread.
    Reset,
    /// Read all of it, send last words, close with SO_LINGER 0.
    Linger,
    /// As `reset`; the server then writes.
    WriteReset,
    /// Send only when the server asks.
    Nonblocking,
    /// Read nothing until the server rings the doorbell, then read everything.
    FullBuffer,
}

/// Lesson 03: the peer of one recv experiment.
#[derive(Parser)]
#[command(name = "lesson03-client", version)]
struct Args {
    /// The experiment to run (the same one as the server).
    #[arg(long, value_enum)]
    case: Case,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9003)]
    port: u16,

    /// How long to wait for the server before saying it does not answer (a server running
    /// another --case waits for something else, and so would we).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    let addr = format!("{}:{}", args.host, args.port);
    let case = typed(&args.case);
    let result = talk(&args, out)
        .map_err(|e| other_case(e, args.timeout_ms, &addr, "lesson03-server", &case));
    socket_lab::exit_code(result)
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let case = typed(&args.case);
    let server_args = ["--case", case.as_str()];
    let connect = || {
        let conn = TcpStream::connect(&addr)
            .map_err(|e| connect_error_with(e, &addr, "lesson03-server", &server_args))?;
        // Never wait forever: a server running another case may never send.
        conn.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;
        anyhow::Ok(conn)
    };
    let mut conn = connect()?;
    let out = out.on(&conn); // this connection's lines (for --trace-file)
    out.line(format!("connected to {addr}"));
    match args.case {
        Case::Partial => {
            send(&mut conn, b"hello", out)?;
            until_closed(&mut conn, out)
        }
        Case::Blocking | Case::Nonblocking => {
            // Say nothing until the server asks: its first read finds nothing.
            read_once(&mut conn, 1024, out)?;
            send(&mut conn, b"here I am", out)?;
            until_closed(&mut conn, out)
        }
        Case::Eof => {
            send(&mut conn, b"bye", out)?;
            out.line("closing (an orderly close: nothing unread here)");
            Ok(())
        }
        Case::Reset | Case::WriteReset => {
            // ANCHOR: reset
            // Read only 4 of the 32 bytes the server sent: 28 stay unread in our
            // receive buffer.
            read_once(&mut conn, 4, out)?;
            send(&mut conn, b"last words", out)?;
            // Closing with unread data: the system cannot deliver those bytes to anyone,
            // so instead of an orderly close (FIN) it resets the connection (RST).
            out.line("closing with 28 bytes unread: a reset");
            drop(conn);
            // ANCHOR_END: reset
            Ok(())
        }
        Case::Linger => {
            // ANCHOR: linger
            read_once(&mut conn, 1024, out)?; // everything: nothing is left unread

            // SO_LINGER 0: close() throws the connection away with a reset.
            SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
            send(&mut conn, b"last words", out)?;
            out.line("closing with SO_LINGER 0: a reset");
            drop(conn);
            // ANCHOR_END: linger
            Ok(())
        }
        Case::FullBuffer => full_buffer(conn, connect()?, out),
    }
}

fn send(conn: &mut TcpStream, bytes: &[u8], out: Out) -> anyhow::Result<()> {
    conn.write_all(bytes).context("sending")?;
    out.record(Op::write(bytes)); // for --trace-file
    out.line(format!("sent {:?}", String::from_utf8_lossy(bytes)));
    Ok(())
}

fn read_once(conn: &mut TcpStream, size: usize, out: Out) -> anyhow::Result<usize> {
    let mut buf = vec![0u8; size];
    let n = conn.read(&mut buf).context("receiving")?;
    out.record(Op::read(size, &buf[..n])); // for --trace-file
    if n == 0 {
        out.line(format!("read({size}) -> 0 bytes: the server has closed"));
    } else {
        out.line(format!(
            "read({size}) -> {} {:?}",
            plural(n, "byte"),
            String::from_utf8_lossy(&buf[..n])
        ));
    }
    Ok(n)
}

/// Reads until the server closes (0 bytes), so that we never close first with data
/// unread.
fn until_closed(conn: &mut TcpStream, out: Out) -> anyhow::Result<()> {
    while read_once(conn, 1024, out)? > 0 {}
    out.line("closing too");
    Ok(())
}

fn full_buffer(mut data: TcpStream, mut bell: TcpStream, out: Out) -> anyhow::Result<()> {
    out.line("doorbell connected; waiting on it, reading no data");
    // ANCHOR: full_buffer_client
    let mut expected = String::new();
    bell.read_to_string(&mut expected)
        .context("waiting on the doorbell")?;
    // (For --trace-file: what the doorbell said.)
    out.on(&bell).record(Op::read(64, expected.as_bytes()));
    let expected: usize = match expected.trim().parse() {
        Ok(n) => n,
        Err(_) => bail!("the doorbell said {expected:?}, not a byte count"),
    };
    // Now read everything the server's write took, until it closes.
    let mut received = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = data.read(&mut buf).context("receiving")?;
        if n == 0 {
            break;
        }
        received += n;
    }
    out.line(format!("received {received} bytes in all"));
    if received == expected {
        out.line("exactly the count the server's write returned: nothing was lost");
    } else {
        out.line(format!("but the server's write said {expected}!"));
    }
    // ANCHOR_END: full_buffer_client
    Ok(())
}
