//! Lesson 10 — a load client on one thread: N connections open at once, R round trips on
//! each, every reply checked.
//!
//! It is built like lesson 10's server: non-blocking sockets, one `poll`, a registry of
//! connections. That is how one process holds thousands of connections without a thread
//! for each, so it can load a server without being the slow side itself.
//!
//! Start a server first:   cargo run --release --bin lesson10-server
//! Then:                   cargo run --release --bin lesson10-client -- --connections 1000
//! Against lesson 08:      cargo run --release --bin lesson10-client -- --port 9008
//!
//! Look for: first every connection is opened and answered once, so all N are open at the
//! same time; then the rounds run on all of them at once. Each message is unique
//! (`client 00042 round 007 hello`), so a reply meant for another connection, or a piece
//! of one, counts as wrong. The last lines say how fast and how evenly it went.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket_lab::errors::connect_error;
use socket_lab::out::plural;
use socket_lab::{Out, Side, Style};

/// At most this many connections are being opened (connected, first reply not yet in) at
/// once. A server's backlog of 1024 always has room for them: no SYN is dropped, and no
/// client waits a second for its system to try again (lesson 08, "The backlog").
const OPENING_AT_ONCE: usize = 500;

/// Lesson 10: open many connections at once from one thread and time their round trips.
#[derive(Parser)]
#[command(name = "lesson10-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port (lesson 08's server: 9008).
    #[arg(long, default_value_t = 9010)]
    port: u16,

    /// How many connections to hold open at once.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    connections: u64,

    /// How many round trips each connection makes (the first one proves it was accepted).
    #[arg(long, value_name = "R", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    rounds: u64,

    /// Count a reply as lost when it takes longer than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(run(&args, out))
}

/// Where one connection is.
#[derive(PartialEq, Eq)]
enum Stage {
    /// `connect` started; not connected yet.
    Connecting,
    /// A message is out; its reply is not complete yet.
    Waiting,
    /// Answered once; waiting for every other connection to be open too.
    Open,
    /// All rounds done, or lost.
    Done,
}

struct Conn {
    stream: TcpStream,
    id: usize,
    stage: Stage,
    /// Round trips completed.
    rounds: u64,
    /// The message not yet taken by the socket, and the reply expected for it.
    outbox: Vec<u8>,
    expected: Vec<u8>,
    /// The reply's bytes so far (it may come in pieces).
    reply: Vec<u8>,
    sent_at: Instant,
    /// Where `--trace` lines go.
    out: Out,
}

/// What the run counted.
#[derive(Default)]
struct Tally {
    exact: u64,
    wrong: u64,
    lost: u64,
    failed_connects: u64,
    first_error: Option<std::io::Error>,
    /// How many connections have had their first reply.
    answered_once: u64,
    /// How many connections are done (all rounds made, or lost).
    done: u64,
    latencies: Vec<Duration>,
}

fn run(args: &Args, out: Out) -> anyhow::Result<()> {
    let _ = socket_lab::limits::raise_open_file_limit();
    let addr = format!("{}:{}", args.host, args.port);
    let target: SocketAddr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let n = args.connections as usize;
    out.line(format!(
        "opening {} to {addr}, at most {OPENING_AT_ONCE} at a time, on one thread",
        plural(n, "connection")
    ));

    // ANCHOR: client_loop
    let mut poll = Poll::new().context("creating the poll instance")?;
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut tally = Tally::default();
    let mut started = 0;
    let mut all_open = false;
    let timeout = Duration::from_millis(args.timeout_ms);
    let began = Instant::now();
    let mut last_check = began;

    while tally.done < n as u64 {
        // Keep OPENING_AT_ONCE connections being opened until all N are started.
        let settled = (tally.answered_once + tally.failed_connects) as usize;
        let opening = started - settled;
        for _ in 0..(OPENING_AT_ONCE - opening).min(n - started) {
            open(&poll, target, started, &mut conns, out)?;
            started += 1;
        }
        // Every connection open and answered once: start the rounds on all of them.
        if !all_open && settled == n {
            all_open = true;
            for conn in conns.values_mut() {
                next_round(conn, args.rounds, &mut tally);
            }
        }
        match poll.poll(&mut events, Some(Duration::from_millis(100))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("waiting in poll"),
        }
        for event in events.iter() {
            if let Some(conn) = conns.get_mut(&event.token()) {
                let closed = event.is_read_closed();
                on_ready(conn, closed, all_open, args.rounds, &mut tally);
            }
        }
        if last_check.elapsed() >= Duration::from_millis(100) {
            give_up_on_late_replies(&mut conns, timeout, args.rounds, &mut tally);
            last_check = Instant::now();
        }
    }
    let took = began.elapsed();
    // ANCHOR_END: client_loop
    report(args, &addr, tally, took, out)
}

/// Starts connection number `id`: a non-blocking `connect` returns at once; the socket
/// becomes writable when the handshake is done.
fn open(
    poll: &Poll,
    target: SocketAddr,
    id: usize,
    conns: &mut HashMap<Token, Conn>,
    out: Out,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(target).context("starting a connect")?;
    let token = Token(id);
    poll.registry().register(
        &mut stream,
        token,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let conn = Conn {
        stream,
        id,
        stage: Stage::Connecting,
        rounds: 0,
        outbox: Vec::new(),
        expected: Vec::new(),
        reply: Vec::new(),
        sent_at: Instant::now(),
        out,
    };
    conns.insert(token, conn);
    Ok(())
}

// ANCHOR: on_ready
/// A socket is ready: finish connecting, send what is waiting, gather the reply. `closed`
/// says the event saw the server's FIN.
fn on_ready(
    conn: &mut Conn,
    closed: bool,
    all_open: bool,
    rounds: u64,
    tally: &mut Tally,
) {
    if conn.stage == Stage::Connecting {
        // Connected, refused, or not yet: the pending error and the peer address say.
        if let Ok(Some(e)) | Err(e) = conn.stream.take_error() {
            tally.failed_connects += 1;
            tally.first_error.get_or_insert(e);
            return lose(conn, rounds, tally);
        }
        match conn.stream.peer_addr() {
            Ok(_) => {
                let _ = conn.stream.set_nodelay(true);
                send(conn, tally, rounds);
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => return,
            Err(_) => {
                tally.failed_connects += 1;
                return lose(conn, rounds, tally);
            }
        }
    }
    if conn.stage != Stage::Waiting {
        return;
    }
    if write_outbox(conn).is_err() {
        return lose(conn, rounds, tally);
    }
    let mut buf = [0u8; 256];
    while conn.stage == Stage::Waiting {
        let n = match conn.stream.read(&mut buf) {
            Ok(0) => return lose(conn, rounds, tally),
            Ok(n) => {
                conn.out.trace_read(buf.len(), &buf[..n]);
                conn.reply.extend_from_slice(&buf[..n]);
                n
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return lose(conn, rounds, tally),
        };
        if conn.reply.len() >= conn.expected.len() {
            tally.latencies.push(conn.sent_at.elapsed());
            if conn.reply == conn.expected {
                tally.exact += 1;
            } else {
                tally.wrong += 1;
            }
            conn.rounds += 1;
            if conn.rounds == 1 {
                tally.answered_once += 1;
                conn.stage = Stage::Open;
            }
            if conn.rounds > 1 || all_open {
                next_round(conn, rounds, tally);
            }
        }
        // A short read emptied the socket: what comes later raises a new event (see the
        // server). The next reply cannot be here yet anyway: it was sent just now.
        if n < buf.len() && !closed {
            return;
        }
    }
}
// ANCHOR_END: on_ready

/// The next round trip of an open connection, or done.
fn next_round(conn: &mut Conn, rounds: u64, tally: &mut Tally) {
    if conn.stage == Stage::Done {
        return;
    }
    if conn.rounds >= rounds {
        conn.stage = Stage::Done;
        tally.done += 1;
    } else {
        send(conn, tally, rounds);
    }
}

/// Sends this connection's next unique message; its reply is that message upper-cased.
fn send(conn: &mut Conn, tally: &mut Tally, rounds: u64) {
    let msg = format!("client {:05} round {:03} hello", conn.id, conn.rounds);
    conn.expected = msg.to_ascii_uppercase().into_bytes();
    conn.outbox = msg.into_bytes();
    conn.reply.clear();
    conn.stage = Stage::Waiting;
    conn.sent_at = Instant::now();
    if write_outbox(conn).is_err() {
        lose(conn, rounds, tally);
    }
}

/// Writes what the socket takes of the outbox; the rest waits for "writable".
fn write_outbox(conn: &mut Conn) -> std::io::Result<()> {
    while !conn.outbox.is_empty() {
        match conn.stream.write(&conn.outbox) {
            Ok(n) => {
                conn.out.trace_write(&conn.outbox[..n]);
                conn.outbox.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The rounds this connection had left are lost; it is done.
fn lose(conn: &mut Conn, rounds: u64, tally: &mut Tally) {
    tally.lost += rounds - conn.rounds;
    if conn.rounds == 0 && conn.stage != Stage::Connecting {
        // It connected but never got its first reply: it no longer holds a place among
        // the connections being opened.
        tally.failed_connects += 1;
    }
    conn.stage = Stage::Done;
    tally.done += 1;
}

/// Replies that take longer than `timeout` are lost, and so is the rest of their
/// connection's rounds.
fn give_up_on_late_replies(
    conns: &mut HashMap<Token, Conn>,
    timeout: Duration,
    rounds: u64,
    tally: &mut Tally,
) {
    for conn in conns.values_mut() {
        let waiting = matches!(conn.stage, Stage::Connecting | Stage::Waiting);
        if waiting && conn.sent_at.elapsed() > timeout {
            if conn.stage == Stage::Connecting {
                tally.failed_connects += 1;
            }
            lose(conn, rounds, tally);
        }
    }
}

fn report(
    args: &Args,
    addr: &str,
    mut tally: Tally,
    took: Duration,
    out: Out,
) -> anyhow::Result<()> {
    let n = args.connections;
    let opened = n - tally.failed_connects;
    if opened == 0 {
        let e = tally
            .first_error
            .take()
            .unwrap_or(ErrorKind::TimedOut.into());
        return Err(connect_error(e, addr, "lesson10-server"));
    }
    out.line(format!(
        "{opened} of {n} connections open at once, each answered once"
    ));
    out.line(format!(
        "round trips: {} exact, {} wrong, {} lost",
        tally.exact, tally.wrong, tally.lost
    ));
    let done = tally.exact + tally.wrong;
    out.line(format!(
        "time: {:.2} s, {:.0} round trips/s",
        took.as_secs_f64(),
        done as f64 / took.as_secs_f64().max(1e-9)
    ));
    tally.latencies.sort();
    let at = |p: f64| {
        let i = ((tally.latencies.len() as f64 - 1.0) * p).round() as usize;
        let d = tally.latencies.get(i).copied().unwrap_or_default();
        format!("{:.3} ms", d.as_secs_f64() * 1000.0)
    };
    out.line(format!(
        "round trip: p50 {}, p99 {}, max {}",
        at(0.5),
        at(0.99),
        at(1.0)
    ));
    if tally.wrong > 0 || tally.lost > 0 {
        bail!(
            "{} of {} round trips went wrong ({} wrong replies, {} lost, {} connections \
             failed)",
            tally.wrong + tally.lost,
            n * args.rounds,
            tally.wrong,
            tally.lost,
            tally.failed_connects
        );
    }
    Ok(())
}
