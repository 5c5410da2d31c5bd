//! Lesson 03 — what `read` (the classic course's `recv`) really does: the server's side.
//!
//! Each experiment is a case; run the server and the client with the same `--case`. The server
//! accepts one client, runs the experiment on that connection, prints every read's outcome
//! and exits.
//!
//!   partial      a 2-byte read of `hello` returns `he`, then `ll`, then `o`
//!   blocking     nothing has arrived: a read waits (here: until its 200 ms timeout expires)
//!   eof          the client sent and closed: the data, then 0 bytes, again and again
//!   reset        the client closed with data unread: the data, then ECONNRESET once, then 0
//!   linger       the same reset, made on purpose with SO_LINGER 0
//!   write-reset  after a reset, the first write fails with ECONNRESET, the next with EPIPE
//!   nonblocking  set_nonblocking: a read with nothing to read fails at once with WouldBlock
//!   full-buffer  a non-blocking write to a peer that does not read takes only part
//!
//! Run it:   cargo run --bin lesson03-server -- --case partial
//! Then:     cargo run --bin lesson03-client -- --case partial
//!
//! Look for: a read returns what is in the receive buffer, at most the size you asked for; it
//! waits only when the buffer is empty; 0 bytes means the peer closed, never "no data yet".
//! Every read and write of the experiment is printed with what it returned, so this lesson
//! needs no `--trace`.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use socket2::SockRef;
use socket_lab::errors::bind_error;
use socket_lab::out::plural;
use socket_lab::record::Op;
use socket_lab::{Out, Side, Style};

/// One experiment of lesson 03 (the client must run the same one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// A small read takes only part of what has arrived; the rest waits.
    Partial,
    /// Nothing has arrived: read waits (shown with a read timeout).
    Blocking,
    /// After the peer closes: its data, then 0 bytes on every read.
    Eof,
    /// The peer closed with unread data: ECONNRESET once, then 0; a write gets EPIPE.
    Reset,
    /// The peer closed with SO_LINGER 0: the same reset.
    Linger,
    /// After a reset, a write fails: ECONNRESET first, then EPIPE.
    WriteReset,
    /// set_nonblocking: a read with nothing to read fails at once (WouldBlock).
    Nonblocking,
    /// A non-blocking write to a peer that does not read takes only part, then
    /// WouldBlock.
    FullBuffer,
}

/// Lesson 03: run one recv experiment on one connection, then exit.
#[derive(Parser)]
#[command(name = "lesson03-server", version)]
struct Args {
    /// The experiment to run (start the client with the same one).
    #[arg(long, value_enum)]
    case: Case,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9003)]
    port: u16,

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
    let (conn, peer) = listener.accept().context("accepting a client")?;
    let out = out.on(&conn); // this connection's lines (for --trace-file)
    out.line(format!("connection from {peer}"));
    match args.case {
        Case::Partial => partial(conn, out),
        Case::Blocking => blocking(conn, out),
        Case::Eof => eof(conn, out),
        Case::Reset | Case::Linger => reset(conn, out),
        Case::WriteReset => write_reset(conn, out),
        Case::Nonblocking => nonblocking(conn, out),
        Case::FullBuffer => full_buffer(conn, &listener, out),
    }
}

// ANCHOR: show_read
/// One `read` into a buffer of `size` bytes, printed as the lesson shows it:
/// `read(2) -> 2 bytes "he"`, `read(1024) -> 0 bytes: the peer has closed`, or the error.
fn show_read(conn: &mut TcpStream, size: usize, out: Out) -> std::io::Result<usize> {
    let mut buf = vec![0u8; size];
    let result = conn.read(&mut buf);
    record_read(size, &buf, &result, out);
    match &result {
        Ok(0) => out.line(format!("read({size}) -> 0 bytes: the peer has closed")),
        Ok(n) => out.line(format!(
            "read({size}) -> {} {:?}",
            plural(*n, "byte"),
            String::from_utf8_lossy(&buf[..*n])
        )),
        Err(e) => out.line(format!("read({size}) -> error {}", error_name(e))),
    }
    result
}
// ANCHOR_END: show_read

/// With --trace-file, the read is recorded too (this lesson prints its own trace).
fn record_read(size: usize, buf: &[u8], result: &std::io::Result<usize>, out: Out) {
    match result {
        Ok(n) => out.record(Op::read(size, &buf[..*n])),
        Err(e) => out.record(Op::read_failed(size, e)),
    }
}

/// One `write`, printed the same way.
fn show_write(conn: &mut TcpStream, bytes: &[u8], out: Out) -> std::io::Result<usize> {
    let result = conn.write(bytes);
    match &result {
        Ok(n) => out.record(Op::write(&bytes[..*n])),
        Err(e) => out.record(Op::write_failed(bytes.len(), e)),
    }
    match &result {
        Ok(n) => out.line(format!(
            "write({:?}) -> {} taken",
            String::from_utf8_lossy(bytes),
            plural(*n, "byte")
        )),
        Err(e) => out.line(format!(
            "write({:?}) -> error {}",
            String::from_utf8_lossy(bytes),
            error_name(e)
        )),
    }
    result
}

/// The name a C or Python programmer knows an error by.
fn error_name(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionReset => "ECONNRESET (connection reset by peer)".into(),
        ErrorKind::BrokenPipe => "EPIPE (broken pipe)".into(),
        ErrorKind::WouldBlock => "WouldBlock (EAGAIN)".into(),
        ErrorKind::TimedOut => "TimedOut".into(),
        _ => e.to_string(),
    }
}

fn partial(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    // ANCHOR: partial
    // The client sent `hello` in one write. Each read takes at most what we ask for;
    // what we do not take stays in the receive buffer for the next read.
    show_read(&mut conn, 2, out)?; // "he"
    show_read(&mut conn, 2, out)?; // "ll"
    show_read(&mut conn, 2, out)?; // "o": asked for 2, only 1 was there
    out.line("closing");
    // ANCHOR_END: partial
    Ok(())
}

fn blocking(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    // ANCHOR: blocking
    // The client is connected but sends nothing. A plain read would wait forever; a read
    // timeout (Python: settimeout(0.2)) makes the wait visible and lets us go on.
    let timeout = Duration::from_millis(200);
    conn.set_read_timeout(Some(timeout))?;
    let start = Instant::now();
    let result = show_read(&mut conn, 1024, out);
    let waited = start.elapsed().as_millis();
    match result {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            out.line(format!(
                "the read waited {waited} ms for data, then gave up (timeout {} ms)",
                timeout.as_millis()
            ));
        }
        other => bail!("expected the read to time out, got {other:?}"),
    }
    // A timeout ends the wait, not the connection: it is still there.
    conn.set_read_timeout(None)?; // blocking again, without a limit
    show_write(&mut conn, b"are you there?", out)?;
    show_read(&mut conn, 1024, out)?; // waits until the client answers
    out.line("closing");
    // ANCHOR_END: blocking
    Ok(())
}

fn eof(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    // ANCHOR: eof
    // The client sent `bye` and closed. First its data, then 0 bytes: the end of the
    // stream. 0 is not "nothing yet" (that would wait): it is "nothing ever again",
    // on every read.
    show_read(&mut conn, 1024, out)?;
    show_read(&mut conn, 1024, out)?;
    show_read(&mut conn, 1024, out)?;
    show_read(&mut conn, 1024, out)?;
    // ANCHOR_END: eof
    out.line("closing");
    Ok(())
}

fn reset(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    // ANCHOR: reset
    // We send 32 bytes; the client reads only some of them, sends its last words and
    // closes (or sets SO_LINGER 0 and closes). Either way its system answers with a
    // reset (RST).
    show_write(&mut conn, b"this message is not read in full", out)?;
    show_read(&mut conn, 1024, out)?; // what arrived before the reset is delivered first
    let _ = show_read(&mut conn, 1024, out); // then the reset: ECONNRESET, once
    show_read(&mut conn, 1024, out)?; // then 0 bytes, as after a close
    let _ = show_write(&mut conn, b"anyone there?", out); // and writing: EPIPE
    out.line("closing");
    // ANCHOR_END: reset
    Ok(())
}

fn write_reset(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    show_write(&mut conn, b"this message is not read in full", out)?;
    // ANCHOR: write_reset
    show_read(&mut conn, 1024, out)?; // the client's last words

    // The client closes right after its last words; its reset is on the way. This case
    // is about time: we wait 100 ms so that the reset has surely arrived before we write.
    out.line("waiting 100 ms for the reset to arrive");
    std::thread::sleep(Duration::from_millis(100));
    // The first call after a reset reports it, whatever that call is. Here it is a write.
    let _ = show_write(&mut conn, b"a reply", out); // ECONNRESET
    let _ = show_write(&mut conn, b"a reply", out); // EPIPE from now on
    out.line("closing");
    // ANCHOR_END: write_reset
    Ok(())
}

fn nonblocking(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    // ANCHOR: nonblocking
    // Non-blocking (Python: setblocking(False), or settimeout(0)): a call that would
    // have to wait fails at once with WouldBlock instead.
    conn.set_nonblocking(true)?;
    let start = Instant::now();
    let _ = show_read(&mut conn, 1024, out); // nothing has arrived: WouldBlock
    out.line(format!(
        "the read returned after {} µs: it did not wait for data",
        start.elapsed().as_micros()
    ));

    // Blocking again, with a timeout (Python: settimeout(5.0)): a read waits up to 5 s.
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    show_write(&mut conn, b"send now", out)?;
    show_read(&mut conn, 1024, out)?; // waits for the client's answer (well within 5 s)
    out.line("closing");
    // ANCHOR_END: nonblocking
    Ok(())
}

/// How much the non-blocking write of `full-buffer` offers at once: more than any buffer.
const BIG: usize = 64 * 1024 * 1024;

fn full_buffer(
    mut data: TcpStream,
    listener: &TcpListener,
    out: Out,
) -> anyhow::Result<()> {
    // The client opens a second connection, a doorbell: it waits on the doorbell, not on
    // the data connection, so it surely reads nothing while we write.
    let (mut bell, _) = listener.accept().context("accepting the doorbell")?;
    out.line("doorbell connection accepted: the client waits on it and reads no data");

    // ANCHOR: full_buffer
    // The real buffer sizes of this connection (the classic course says 8K).
    let sock = SockRef::from(&data);
    out.line(format!(
        "SO_SNDBUF {} bytes, SO_RCVBUF {} bytes",
        sock.send_buffer_size()?,
        sock.recv_buffer_size()?
    ));

    // A non-blocking write takes what fits in the buffers and says how much:
    // no data is lost.
    data.set_nonblocking(true)?;
    let big = vec![b'x'; BIG];
    let mut taken = data.write(&big).context("the first non-blocking write")?;
    out.line(format!("write({BIG} bytes) -> {taken} bytes taken"));
    // Write the rest until the system refuses: WouldBlock, "the buffers are full, come
    // back later". (Sometimes a little more room has opened meanwhile and a write takes
    // a bit more.)
    loop {
        match data.write(&big[taken..]) {
            Ok(n) => taken += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                out.line(format!("write(the rest) -> error {}", error_name(&e)));
                break;
            }
            Err(e) => return Err(e).context("writing"),
        }
    }
    out.line(format!(
        "taken in all: {taken} bytes; the other {} were never taken, so never lost",
        BIG - taken
    ));
    // ANCHOR_END: full_buffer

    // Hand the count to the client, close the data connection, and let it read
    // everything.
    data.set_nonblocking(false)?;
    data.shutdown(Shutdown::Write)?;
    bell.write_all(taken.to_string().as_bytes())?;
    out.on(&bell)
        .record(Op::write(taken.to_string().as_bytes())); // for --trace-file
    drop(bell);
    out.line("told the client how many bytes to expect; closing");
    // Wait for the client to finish reading before we exit (its close gives us 0 bytes).
    let mut rest = [0u8; 16];
    let _ = data.read(&mut rest);
    Ok(())
}
