//! `lab proxy`: a TCP relay between a client and a server that re-cuts the byte stream.
//!
//! TCP keeps every byte in order and no boundaries at all (lesson 04): where a stream is cut
//! into reads depends on timing. The proxy makes the cuts happen on purpose. Everything it
//! reads from one side it passes on to the other, cut the way you ask, and it prints every
//! piece it writes:
//!
//!   --chunk N       every piece N bytes: one write becomes many reads
//!   --random SEED   pieces of random length (1 to --chunk, or 16), the same every run
//!   --join          hold what arrives until the sender pauses, pass it on in one write:
//!                   many writes become one read
//!   --delay-ms MS   wait before each piece, so that the reader sees each one apart
//!
//!   cargo run --bin lesson05-server                                            terminal 1
//!   cargo run --bin lab -- proxy --to 127.0.0.1:9005 --chunk 1 --delay-ms 20   terminal 2
//!   cargo run --bin lesson05-client -- --port 9090 --trace                     terminal 3
//!
//! A correct client or server works through any cutting, byte for byte; one that assumes
//! one read per message does not. `lab check` runs the framing exercises through it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context};
use socket2::SockRef;
use socket_lab::errors::{bind_error, connect_error};
use socket_lab::out::{plural, preview};
use socket_lab::Out;

/// The most the proxy reads at once, and the most `--join` holds before passing it on.
const READ_BUF: usize = 64 * 1024;
const JOIN_MAX: usize = 1024 * 1024;

/// How many pieces of each direction are printed; after that only counted.
const SHOWN_PIECES: usize = 200;

/// `lab proxy`: relay TCP connections to a server, re-cutting the byte stream.
#[derive(clap::Args)]
pub struct Args {
    /// The server to relay to, HOST:PORT (e.g. 127.0.0.1:9005 for lesson05-server).
    #[arg(long, value_name = "HOST:PORT")]
    to: String,

    /// The address to listen on (clients connect here instead of to the server).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9090)]
    port: u16,

    /// Cut what arrives into pieces of N bytes, each passed on with its own write.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    chunk: Option<u32>,

    /// Cut at random points, the same ones every run for the same SEED: pieces of 1 to
    /// N bytes (N from --chunk, else 16).
    #[arg(long, value_name = "SEED")]
    random: Option<u64>,

    /// Hold what arrives until the sender has been quiet for --hold-ms, then pass it all
    /// on in one write: many writes arrive as one read.
    #[arg(long, conflicts_with_all = ["chunk", "random"])]
    join: bool,

    /// With --join: how long the sender must be quiet before the held bytes go on.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    hold_ms: u64,

    /// Wait this long before passing on each piece, so that the reader sees each one
    /// in a read of its own.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay_ms: u64,

    /// Stop after relaying this many connections (default: relay forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// Close a connection when neither side has sent anything for this long.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    idle_ms: u64,

    /// Print one line per connection instead of every piece.
    #[arg(long)]
    quiet: bool,
}

/// How the proxy cuts a stream.
#[derive(Clone, Debug)]
pub enum Cut {
    /// Pass on each read as it came.
    Whole,
    /// Pieces of N bytes.
    Chunk(usize),
    /// Pieces of 1 to `max` bytes, from a seeded generator: the same cuts every run.
    Random { state: u64, max: usize },
    /// Hold until the sender is quiet for this long, then pass it all on at once.
    Join(Duration),
}

/// How the proxy cuts, and how long it waits before each piece.
#[derive(Clone, Debug)]
pub struct Plan {
    pub cut: Cut,
    pub delay: Duration,
    pub idle: Duration,
}

impl Plan {
    pub fn new(cut: Cut, delay_ms: u64) -> Plan {
        Plan {
            cut,
            delay: Duration::from_millis(delay_ms),
            idle: Duration::from_secs(60),
        }
    }

    /// The plan in words, for the proxy's first lines and for the checks' reports.
    pub fn describe(&self) -> String {
        let cut = match &self.cut {
            Cut::Whole => "each read passed on whole".to_string(),
            Cut::Chunk(n) => {
                format!("every write cut into pieces of {}", plural(*n, "byte"))
            }
            Cut::Random { max, .. } => {
                format!("cut at random points (pieces of 1 to {max} bytes)")
            }
            Cut::Join(hold) => format!(
                "writes held and joined until the sender is quiet for {} ms",
                hold.as_millis()
            ),
        };
        if self.delay.is_zero() {
            cut
        } else {
            format!("{cut}, {} ms before each piece", self.delay.as_millis())
        }
    }
}

impl Cut {
    /// A random plan from `seed`.
    pub fn random(seed: u64, max: usize) -> Cut {
        Cut::Random {
            state: seed,
            max: max.max(1),
        }
    }

    /// The length of the next piece, when `left` bytes are waiting to be passed on.
    fn next_piece(&mut self, left: usize) -> usize {
        let n = match self {
            Cut::Whole | Cut::Join(_) => left,
            Cut::Chunk(n) => *n,
            Cut::Random { state, max } => {
                // SplitMix64: a tiny generator, good enough to scatter cut points, and the
                // same numbers for the same seed on every machine.
                *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = *state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                1 + (z % *max as u64) as usize
            }
        };
        n.clamp(1, left.max(1))
    }
}

/// Where the proxy's lines go: the terminal (`lab proxy`) or a list a check shows.
#[derive(Clone)]
pub enum Log {
    Print(Out),
    Keep(Arc<Mutex<Vec<String>>>),
}

impl Log {
    fn line(&self, text: String) {
        match self {
            Log::Print(out) => out.line(text),
            Log::Keep(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    if lines.len() < 1000 {
                        lines.push(text);
                    }
                }
            }
        }
    }
}

/// `lab proxy`: listen, and relay every connection to `--to`.
pub fn run(args: &Args, out: Out) -> anyhow::Result<()> {
    let to = args
        .to
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .ok_or_else(|| anyhow!("cannot resolve --to {}: give HOST:PORT", args.to))?;
    let cut = match (args.join, args.random, args.chunk) {
        (true, _, _) => Cut::Join(Duration::from_millis(args.hold_ms.max(1))),
        (false, Some(seed), chunk) => Cut::random(seed, chunk.unwrap_or(16) as usize),
        (false, None, Some(n)) => Cut::Chunk(n as usize),
        (false, None, None) => Cut::Whole,
    };
    let plan = Plan {
        idle: Duration::from_millis(args.idle_ms.max(1)),
        ..Plan::new(cut, args.delay_ms)
    };

    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    out.line(format!("relaying to {to}: {}", plan.describe()));

    let mut relays: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (client, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        let number = accepted;
        out.line(format!("#{number} connection from {peer}"));
        let server = match TcpStream::connect(to) {
            Ok(server) => server,
            Err(e) => {
                // The client learns it the way it would without a proxy: the connection
                // ends.
                let e = connect_error(e, &to.to_string(), "the server");
                out.line(format!("#{number} {e:#}"));
                continue;
            }
        };
        let log = Log::Print(out);
        let (plan, quiet) = (plan.clone(), args.quiet);
        relays.push(std::thread::spawn(move || {
            relay(client, server, &plan, &format!("#{number} "), quiet, &log);
        }));
    }
    for relay in relays {
        let _ = relay.join();
    }
    out.line(format!(
        "relayed {}, stopping",
        plural(accepted, "connection")
    ));
    Ok(())
}

/// Relays one connection both ways until both sides have closed, then says what passed.
pub fn relay(
    client: TcpStream,
    server: TcpStream,
    plan: &Plan,
    tag: &str,
    quiet: bool,
    log: &Log,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        log.line(format!(
            "{tag}could not relay: no second handle to a socket"
        ));
        return;
    };
    let up = {
        let (plan, tag, log) = (plan.clone(), tag.to_string(), log.clone());
        std::thread::spawn(move || {
            pump(client2, server2, plan, &tag, "client → server", quiet, &log)
        })
    };
    let down = pump(
        server,
        client,
        plan.clone(),
        tag,
        "server → client",
        quiet,
        log,
    );
    let up = up.join().unwrap_or_default();
    log.line(format!(
        "{tag}closed: client → server {} in {}, server → client {} in {}",
        plural(up.bytes, "byte"),
        plural(up.pieces, "piece"),
        plural(down.bytes, "byte"),
        plural(down.pieces, "piece")
    ));
}

/// What one direction carried.
#[derive(Default)]
struct Carried {
    bytes: usize,
    pieces: usize,
}

/// Reads from `from` and writes to `to`, cut by `plan`, until `from` closes.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    mut plan: Plan,
    tag: &str,
    direction: &str,
    quiet: bool,
    log: &Log,
) -> Carried {
    let mut carried = Carried::default();
    let mut buf = vec![0u8; READ_BUF];
    let _ = from.set_read_timeout(Some(plan.idle));
    loop {
        let n = match from.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                // A reset (or an idle timeout): end the other side too, with a reset, so
                // that neither side waits for the other.
                log.line(format!("{tag}{direction}: {e}; resetting the other side"));
                let _ = SockRef::from(&to).set_linger(Some(Duration::ZERO));
                let _ = to.shutdown(Shutdown::Read);
                let _ = from.shutdown(Shutdown::Read);
                return carried;
            }
        };
        if n == 0 {
            // An orderly close: pass it on (a FIN), and let the other direction finish.
            let _ = to.shutdown(Shutdown::Write);
            return carried;
        }
        let mut held = buf[..n].to_vec();
        let mut ended = false;
        if let Cut::Join(hold) = plan.cut {
            ended = hold_more(&mut from, &mut held, hold);
            let _ = from.set_read_timeout(Some(plan.idle));
        }
        let mut at = 0;
        while at < held.len() {
            let len = plan.cut.next_piece(held.len() - at);
            let piece = &held[at..at + len];
            if !plan.delay.is_zero() {
                std::thread::sleep(plan.delay);
            }
            // Said before it is written: whatever the piece causes on the other side is
            // printed after it.
            carried.pieces += 1;
            if !quiet && carried.pieces <= SHOWN_PIECES {
                let size = plural(len, "byte");
                log.line(format!("{tag}{direction}  {size:>9}  {}", preview(piece)));
            } else if !quiet && carried.pieces == SHOWN_PIECES + 1 {
                log.line(format!(
                    "{tag}{direction}  … (further pieces are counted, not shown)"
                ));
            }
            if let Err(e) = to.write_all(piece) {
                log.line(format!("{tag}{direction}: could not pass on: {e}"));
                let _ = from.shutdown(Shutdown::Both);
                return carried;
            }
            carried.bytes += len;
            at += len;
        }
        if ended {
            let _ = to.shutdown(Shutdown::Write);
            return carried;
        }
    }
}

/// `--join`: keeps reading into `held` until the sender has been quiet for `hold` (or
/// `held` is full). Returns true when the sender closed meanwhile.
fn hold_more(from: &mut TcpStream, held: &mut Vec<u8>, hold: Duration) -> bool {
    let _ = from.set_read_timeout(Some(hold));
    let mut buf = vec![0u8; READ_BUF];
    while held.len() < JOIN_MAX {
        let room = (JOIN_MAX - held.len()).min(buf.len());
        match from.read(&mut buf[..room]) {
            Ok(0) => return true,
            Ok(n) => held.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Quiet for `hold` (a timeout), or an error the next read will report.
            Err(_) => return false,
        }
    }
    false
}

/// A proxy inside the lab, for a check: it listens on a free port, relays the first
/// connection it gets to `to` with `plan`, and keeps its lines for the report.
pub struct Inline {
    pub addr: SocketAddr,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Inline {
    pub fn start(to: SocketAddr, plan: Plan) -> std::io::Result<Inline> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let log = Log::Keep(lines.clone());
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            match TcpStream::connect(to) {
                Ok(server) => relay(client, server, &plan, "", false, &log),
                Err(e) => log.line(format!("could not connect to {to}: {e}")),
            }
        });
        Ok(Inline { addr, lines })
    }

    /// The first `n` lines the proxy logged (where it cut), for a failure's report.
    pub fn first_lines(&self, n: usize) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| l.iter().take(n).cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(mut cut: Cut, total: usize) -> Vec<usize> {
        let mut left = total;
        let mut all = Vec::new();
        while left > 0 {
            let n = cut.next_piece(left);
            all.push(n);
            left -= n;
        }
        all
    }

    #[test]
    fn a_chunk_cuts_into_equal_pieces_and_a_shorter_last_one() {
        assert_eq!(pieces(Cut::Chunk(4), 10), [4, 4, 2]);
        assert_eq!(pieces(Cut::Whole, 10), [10]);
    }

    #[test]
    fn random_cuts_are_the_same_for_the_same_seed_and_cover_every_byte() {
        let a = pieces(Cut::random(7, 8), 1000);
        let b = pieces(Cut::random(7, 8), 1000);
        let c = pieces(Cut::random(8, 8), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.iter().sum::<usize>(), 1000);
        assert!(a.iter().all(|&n| (1..=8).contains(&n)), "{a:?}");
    }
}
