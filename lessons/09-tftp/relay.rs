//! Lesson 09 — the lossy relay: it sits between a TFTP client and a TFTP server, passes
//! their datagrams on, and drops some on purpose, so that loss — and how TFTP recovers
//! from it — can be seen every time, the same way.
//!
//!   terminal 1:  cargo run --bin lesson09-server -- --root lessons/09-tftp/files --timeout-ms 300
//!   terminal 2:  cargo run --bin lesson09-relay -- --drop-every 3
//!   terminal 3:  cargo run --bin lesson09-client -- get hello.txt --port 9109 --trace
//!
//! The client sends its request to the relay (port 9109), which passes every datagram on,
//! both ways, except those its rules drop:
//!   --drop-every N         the Nth, 2Nth, 3Nth… datagram, counted over both directions
//!   --loss PCT --seed S    each datagram with a chance of PCT %, from a seeded generator
//!   --drop-data B          the first DATA with block number B (and --drop-ack B for an ACK)
//!
//! Look for: the relay names every datagram it drops; the server's "no answer … sending
//! again" and the client's "a duplicate … ACKed again" lines are the answers to it.
//!
//! For each transfer the relay opens two sockets: one faces the server (the server sees
//! the relay as its client) and one faces the client (the client sees a new port answer,
//! as it would from the server itself).

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::out::plural;
use socket_lab::record::Op;
use socket_lab::tftp::{describe, parse, Packet};
use socket_lab::{Out, Side, Style};

/// A transfer with no datagram in either direction for this long is over for the relay.
const IDLE: Duration = Duration::from_secs(30);

/// At most this many transfers are relayed at once; datagrams for more are dropped.
const MAX_SESSIONS: usize = 64;

/// At most this many server ports per transfer (a repeated request can start another).
const MAX_FACES: usize = 8;

/// Lesson 09: a UDP relay that drops datagrams on purpose, to show TFTP recovering from
/// loss.
#[derive(Parser)]
#[command(
    name = "lesson09-relay",
    version,
    after_help = "Examples:\n  lesson09-relay --drop-every 3\n  lesson09-relay --loss 1 --seed 7 --to 127.0.0.1:9009\n  lesson09-relay --drop-ack 65535 --drop-data 0"
)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port clients send their requests to (instead of the server's); 0 picks a free
    /// one.
    #[arg(long, default_value_t = 9109)]
    port: u16,

    /// The TFTP server the datagrams go on to.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9009")]
    to: String,

    /// Drop every Nth datagram (counting both directions together).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    drop_every: Option<u64>,

    /// Drop each datagram with this chance, in percent (0 to 100).
    #[arg(long, value_name = "PCT", value_parser = percent)]
    loss: Option<f64>,

    /// The seed of the generator behind --loss: the same seed drops the same datagrams of
    /// the same sequence.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,

    /// Drop the first DATA packet with this block number (repeat the option for more).
    #[arg(long, value_name = "BLOCK")]
    drop_data: Vec<u16>,

    /// Drop the first ACK packet with this block number (repeat the option for more).
    #[arg(long, value_name = "BLOCK")]
    drop_ack: Vec<u16>,

    #[command(flatten)]
    style: Style,
}

fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a percentage from 0 to 100")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(relay(&args, out))
}

// ANCHOR: judge
/// Decides, datagram by datagram, which ones get through. One judge sees both directions,
/// in the order the datagrams arrive, so `--drop-every` counts them all.
struct Judge {
    drop_every: Option<u64>,
    loss: Option<f64>,
    random: SplitMix64,
    drop_data: Vec<u16>,
    drop_ack: Vec<u16>,
    /// Datagrams seen so far, both directions.
    count: u64,
    out: Out,
}

impl Judge {
    /// Whether the datagram goes on; says so if not (and, with --trace, if it does).
    fn passes(&mut self, bytes: &[u8], direction: &str) -> bool {
        self.count += 1;
        let packet = parse(bytes);
        let by_rule = self
            .drop_every
            .is_some_and(|n| self.count.is_multiple_of(n));
        // The generator is asked for every datagram, dropped or not: the same seed then
        // makes the same decisions for the same sequence of datagrams.
        let by_chance = self
            .loss
            .is_some_and(|pct| self.random.next_percent() < pct);
        let by_block = match &packet {
            Ok(Packet::Data { block, .. }) => take(&mut self.drop_data, *block),
            Ok(Packet::Ack { block }) => take(&mut self.drop_ack, *block),
            _ => false,
        };
        let shown = describe(&packet, bytes.len());
        let size = plural(bytes.len(), "byte");
        if by_rule || by_chance || by_block {
            self.out.line(format!(
                "dropped #{} {direction}: {shown} ({size})",
                self.count
            ));
            false
        } else {
            self.out.trace(format!(
                "passed #{} {direction}: {shown} ({size})",
                self.count
            ));
            true
        }
    }
}

/// Removes `block` from `list` if it is there: each `--drop-data B` drops one packet.
fn take(list: &mut Vec<u16>, block: u16) -> bool {
    match list.iter().position(|&b| b == block) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

/// A small, seeded pseudo-random generator (SplitMix64): the same seed, the same numbers.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_percent(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits as a fraction of 1, times 100.
        (z >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }
}
// ANCHOR_END: judge

/// The relay's half of one transfer: the socket that faces the server.
struct Session {
    to_server: UdpSocket,
    /// Ends when the server side has been quiet for [`IDLE`].
    pump: JoinHandle<()>,
}

// ANCHOR: relay
fn relay(args: &Args, out: Out) -> anyhow::Result<()> {
    let server = args
        .to
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| anyhow!("cannot resolve --to {}", args.to))?;
    let addr = format!("{}:{}", args.host, args.port);
    let socket = UdpSocket::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(socket.local_addr()?);
    // With --trace-file, every datagram is recorded on the socket it went through.
    let at_port = out.on(&socket);
    out.line(format!("relaying to {server}, dropping {}", rules(args)));
    let judge = Arc::new(Mutex::new(Judge {
        drop_every: args.drop_every,
        loss: args.loss,
        random: SplitMix64(args.seed),
        drop_data: args.drop_data.clone(),
        drop_ack: args.drop_ack.clone(),
        count: 0,
        out,
    }));

    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    // Room for any datagram: the relay passes on even those too long for TFTP, untouched.
    let mut buf = vec![0u8; 65536];
    loop {
        // Requests (and a client's repeated requests) arrive here, from anyone.
        let (n, client) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e).context("receiving a request"),
        };
        at_port.record(Op::recv_from(client, buf.len(), &buf[..n]));
        sessions.retain(|_, s| !s.pump.is_finished());
        if !sessions.contains_key(&client) {
            if sessions.len() >= MAX_SESSIONS {
                out.line(format!(
                    "{client}: {MAX_SESSIONS} transfers already; dropped"
                ));
                continue;
            }
            match open_session(&args.host, client, server, &judge, out) {
                Ok(session) => sessions.insert(client, session),
                Err(e) => {
                    out.line(format!("{client}: {e:#}; dropped"));
                    continue;
                }
            };
        }
        if !passes(&judge, &buf[..n], "client → server") {
            continue;
        }
        if let Some(session) = sessions.get(&client) {
            // Recorded first: once the datagram is out, the demo may stop this relay at
            // any moment, and a send missing from the record would leave its receive
            // without a cause.
            out.on(&session.to_server)
                .record(Op::send_to(server, &buf[..n]));
            let _ = session.to_server.send_to(&buf[..n], server);
        }
    }
}
// ANCHOR_END: relay

fn passes(judge: &Mutex<Judge>, bytes: &[u8], direction: &str) -> bool {
    match judge.lock() {
        Ok(mut judge) => judge.passes(bytes, direction),
        Err(_) => false,
    }
}

// ANCHOR: session
/// One client's transfer: a socket that faces the server, and a thread that passes the
/// server's datagrams on to the client. The server answers from its transfer's own port
/// (its TID); for each such port the relay opens a socket of its own that faces the
/// client, so the client sees one port per server port, exactly as without the relay.
fn open_session(
    host: &str,
    client: SocketAddr,
    server: SocketAddr,
    judge: &Arc<Mutex<Judge>>,
    out: Out,
) -> anyhow::Result<Session> {
    let to_server =
        UdpSocket::bind((host, 0)).context("opening a socket towards the server")?;
    to_server.set_read_timeout(Some(IDLE))?;
    out.line(format!(
        "{client}: a new transfer; its packets reach the server from {}",
        to_server.local_addr()?
    ));
    let (from_server, host, judge) =
        (to_server.try_clone()?, host.to_string(), Arc::clone(judge));
    let pump = thread::spawn(move || {
        // Server port (TID) -> our socket that faces the client for it.
        let mut faces: HashMap<SocketAddr, UdpSocket> = HashMap::new();
        let mut buf = vec![0u8; 65536];
        let out_server = out.on(&from_server);
        while let Some((n, tid)) = next_datagram(&from_server, &mut buf) {
            out_server.record(Op::recv_from(tid, buf.len(), &buf[..n]));
            if tid.ip() != server.ip() {
                continue; // only the server's host may answer through this socket
            }
            if !faces.contains_key(&tid) {
                if faces.len() >= MAX_FACES {
                    continue;
                }
                match open_face(&host, client, tid, &from_server, &judge, out) {
                    Ok(face) => faces.insert(tid, face),
                    Err(e) => {
                        out.line(format!("{client}: {e:#}"));
                        continue;
                    }
                };
            }
            if passes(&judge, &buf[..n], "server → client") {
                if let Some(face) = faces.get(&tid) {
                    out.on(face).record(Op::send_to(client, &buf[..n]));
                    let _ = face.send_to(&buf[..n], client);
                }
            }
        }
    });
    Ok(Session { to_server, pump })
}

/// A socket that faces the client for one server port, and a thread that passes what the
/// client sends to it on to that server port.
fn open_face(
    host: &str,
    client: SocketAddr,
    tid: SocketAddr,
    to_server: &UdpSocket,
    judge: &Arc<Mutex<Judge>>,
    out: Out,
) -> anyhow::Result<UdpSocket> {
    let face =
        UdpSocket::bind((host, 0)).context("opening a socket towards the client")?;
    face.set_read_timeout(Some(IDLE))?;
    let (from_client, to_server, judge) =
        (face.try_clone()?, to_server.try_clone()?, Arc::clone(judge));
    thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let (out_client, out_server) = (out.on(&from_client), out.on(&to_server));
        while let Some((n, sender)) = next_datagram(&from_client, &mut buf) {
            out_client.record(Op::recv_from(sender, buf.len(), &buf[..n]));
            if sender != client {
                out.line(format!(
                    "{sender}: not this transfer's client; not passed on"
                ));
                continue;
            }
            if passes(&judge, &buf[..n], "client → server") {
                out_server.record(Op::send_to(tid, &buf[..n]));
                let _ = to_server.send_to(&buf[..n], tid);
            }
        }
    });
    Ok(face)
}
// ANCHOR_END: session

/// The next datagram on one of a session's sockets; `None` once the transfer has been
/// quiet for [`IDLE`] (or the socket fails), which ends that side of the session.
fn next_datagram(socket: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    loop {
        match socket.recv_from(buf) {
            Ok(got) => return Some(got),
            // An ICMP "port unreachable" for a datagram we passed on (a client that has
            // already left): not a reason to stop relaying.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(_) => return None,
        }
    }
}

/// The rules, in words: "every 3rd datagram".
fn rules(args: &Args) -> String {
    let mut rules = Vec::new();
    if let Some(n) = args.drop_every {
        rules.push(format!("every {} datagram (both directions)", ordinal(n)));
    }
    if let Some(pct) = args.loss {
        rules.push(format!("{pct} % of the datagrams (seed {})", args.seed));
    }
    for block in &args.drop_data {
        rules.push(format!("the first DATA block {block}"));
    }
    for block in &args.drop_ack {
        rules.push(format!("the first ACK block {block}"));
    }
    if rules.is_empty() {
        "nothing (add --drop-every N or --loss PCT)".to_string()
    } else {
        rules.join(", ")
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st…
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
