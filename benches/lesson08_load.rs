//! Lesson 08's load bench: many clients at once against the server with a thread per client,
//! the same server on the socketserver module (a thread per client, then a pool of 16), the
//! same load (smaller) against lesson 02's one-at-a-time server, against Python's
//! `socketserver.ThreadingTCPServer` when python3 is there, and a burst of connects against
//! a listen backlog of 5 and of 1024.
//!
//!     cargo bench --bench lesson08_load
//!     cargo bench --bench lesson08_load -- --target 127.0.0.1:9008 --clients 100 --rounds 50
//!
//! With `--target HOST:PORT` it aims the load at any upper-case echo server that is already
//! running, and measures only that one.
//!
//! Every reply is checked: a round trip counts only when the reply is exactly the upper-cased
//! message (each message is unique, so a reply meant for another client, or a piece of one,
//! is caught as "mixed"). A client that gets no reply within 5 s counts as "lost". This is a
//! bench, not a test: the figures depend on the machine; nothing here is asserted in CI.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// No single reply may take longer than this: past it, the client counts its reply as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connect may take in the load runs (SYN retries come at 1 s, 3 s, 7 s, 15 s…).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The time cap of the backlog burst: connects not done by then are counted, not waited for.
const BURST_CAP: Duration = Duration::from_secs(10);

/// What one load run measured.
#[derive(Default)]
struct Outcome {
    round_trips: usize,
    lost: usize,
    mixed: usize,
    failed_connects: usize,
    latencies: Vec<Duration>,
    /// From the start to the client's first reply: connect, waiting to be served, round trip.
    first_replies: Vec<Duration>,
    elapsed: Duration,
}

/// One client: connect, then `rounds` round trips of a unique message, each reply checked.
fn client(addr: SocketAddr, id: usize, rounds: usize, start: &Barrier) -> Outcome {
    let mut out = Outcome::default();
    start.wait();
    let began = Instant::now();
    let mut conn = match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(c) => c,
        Err(_) => {
            out.failed_connects = 1;
            out.lost = rounds;
            return out;
        }
    };
    let _ = conn.set_nodelay(true);
    let _ = conn.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut reply = Vec::new();
    for round in 0..rounds {
        let msg = format!("client {id:03} round {round:03} hello");
        let expected = msg.to_ascii_uppercase();
        reply.clear();
        reply.resize(expected.len(), 0);
        let sent = Instant::now();
        if conn.write_all(msg.as_bytes()).is_err() || conn.read_exact(&mut reply).is_err()
        {
            out.lost += rounds - round;
            return out;
        }
        out.latencies.push(sent.elapsed());
        if round == 0 {
            out.first_replies.push(began.elapsed());
        }
        if reply == expected.as_bytes() {
            out.round_trips += 1;
        } else {
            out.mixed += 1;
        }
    }
    out
}

/// `clients` clients at once (they all connect in the same instant), `rounds` round trips each.
fn load(addr: SocketAddr, clients: usize, rounds: usize) -> Outcome {
    let start = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|id| {
            let start = start.clone();
            thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || client(addr, id, rounds, &start))
                .expect("a client thread")
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut total = Outcome::default();
    for t in threads {
        let one = t.join().unwrap_or_default();
        total.round_trips += one.round_trips;
        total.lost += one.lost;
        total.mixed += one.mixed;
        total.failed_connects += one.failed_connects;
        total.latencies.extend(one.latencies);
        total.first_replies.extend(one.first_replies);
    }
    total.elapsed = began.elapsed();
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn report(name: &str, clients: usize, rounds: usize, mut o: Outcome) -> bool {
    o.latencies.sort();
    o.first_replies.sort();
    let rate = o.round_trips as f64 / o.elapsed.as_secs_f64().max(1e-9);
    println!("{name}");
    println!(
        "  {clients} clients x {rounds} round trips: {} ok, {} lost, {} mixed, {} failed connects, in {:.2} s",
        o.round_trips,
        o.lost,
        o.mixed,
        o.failed_connects,
        o.elapsed.as_secs_f64()
    );
    println!(
        "  {rate:.0} round trips/s; round-trip latency p50 {} p99 {} max {}",
        ms(percentile(&o.latencies, 0.50)),
        ms(percentile(&o.latencies, 0.99)),
        ms(o.latencies.last().copied().unwrap_or_default()),
    );
    println!(
        "  time to a client's first reply (connect + waiting to be served): p50 {} p99 {}",
        ms(percentile(&o.first_replies, 0.50)),
        ms(percentile(&o.first_replies, 0.99)),
    );
    o.lost == 0 && o.mixed == 0 && o.failed_connects == 0
}

/// A server this bench started; it is killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args`, reads its `listening on HOST:PORT` line, and throws the rest of
/// its output away (in a thread, so its pipe never fills up).
fn start(program: &str, args: &[&str]) -> Option<Server> {
    let started = socket_lab::spawn::start(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .env("NO_COLOR", "1"),
    );
    match started {
        Ok(server) => Some(Server {
            addr: server.addr,
            child: server.drain_stdout(),
        }),
        Err(e) => {
            eprintln!("{e:#}");
            None
        }
    }
}

/// Python's own threaded server, serving the same upper-case echo. Its backlog is set like
/// ours (Python's default `request_queue_size` is 5: see the backlog section below).
const PYTHON_SERVER: &str = r#"
import socketserver, sys

class UpperEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                return
            self.request.sendall(data.upper())

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = int(sys.argv[1])

with Server(("127.0.0.1", 0), UpperEcho) as server:
    print("listening on %s:%d" % server.server_address, flush=True)
    server.serve_forever()
"#;

/// A burst of `clients` connects at the same instant, each followed by one round trip: how
/// long until each client had its first reply. A client whose SYN (or handshake ACK) was
/// dropped because the accept queue was full waits for the retry: 1 s, then 3 s, 7 s...
fn burst(name: &str, addr: SocketAddr, clients: usize) {
    let start = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|id| {
            let start = start.clone();
            thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    start.wait();
                    let began = Instant::now();
                    let mut conn = TcpStream::connect_timeout(&addr, BURST_CAP).ok()?;
                    // The rest of the time cap is all the reply may take.
                    let left = BURST_CAP.checked_sub(began.elapsed())?;
                    conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                        .ok()?;
                    let msg = format!("burst {id}");
                    let mut reply = vec![0u8; msg.len()];
                    conn.write_all(msg.as_bytes()).ok()?;
                    conn.read_exact(&mut reply).ok()?;
                    (reply == msg.to_ascii_uppercase().as_bytes())
                        .then(|| began.elapsed())
                })
                .expect("a client thread")
        })
        .collect();
    start.wait();
    let mut times: Vec<Duration> = Vec::new();
    let mut not_done = 0;
    for t in threads {
        match t.join().ok().flatten() {
            Some(took) => times.push(took),
            None => not_done += 1,
        }
    }
    times.sort();
    let second = Duration::from_secs(1);
    let fast = times.iter().filter(|t| **t < second).count();
    println!("{name}");
    println!(
        "  {clients} clients connect at once and send one message: {fast} answered within 1 s, \
         {} only after SYN retries, {not_done} not answered within the {} s cap; \
         slowest answered {}",
        times.len() - fast,
        BURST_CAP.as_secs(),
        ms(times.last().copied().unwrap_or_default()),
    );
}

/// Command-line options after `--`: `--target HOST:PORT`, `--clients N`, `--rounds N`.
/// Anything else (cargo passes `--bench`) is ignored.
fn option(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let clients: usize = option("--clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rounds: usize = option("--rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);

    if let Some(target) = option("--target") {
        let Some(addr) = target.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
            eprintln!("--target {target}: not an address like 127.0.0.1:9008");
            std::process::exit(2);
        };
        let ok = report(
            &format!("server at {addr}"),
            clients,
            rounds,
            load(addr, clients, rounds),
        );
        std::process::exit(if ok { 0 } else { 1 });
    }

    let lesson08 = env!("CARGO_BIN_EXE_lesson08-server");
    let socketserver = env!("CARGO_BIN_EXE_lesson08-socketserver-echo");
    let lesson02 = env!("CARGO_BIN_EXE_lesson02-server");
    let mut all_ok = true;
    println!(
        "load bench: every reply checked; latency is one round trip (write, then read the reply)"
    );
    // Other programs busy on the same cores change every figure: say how busy the machine was.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!("(load average of the last minute before the run: {one_minute})");
    }
    println!();

    // Lesson 08: a thread per client, backlog 1024; spelt out, then on the socketserver module.
    let max = clients.to_string();
    for (program, name) in [
        (
            lesson08,
            "lesson08-server (a thread per client, backlog 1024)",
        ),
        (
            socketserver,
            "lesson08-socketserver-echo (a thread per client, backlog 1024)",
        ),
    ] {
        if let Some(server) =
            start(program, &["--port", "0", "--quiet", "--max-clients", &max])
        {
            let outcome = load(server.addr, clients, rounds);
            all_ok &= report(name, clients, rounds, outcome);
        }
    }

    // The socketserver module with a pool smaller than the crowd: clients wait their turn.
    if let Some(server) = start(
        socketserver,
        &[
            "--port",
            "0",
            "--quiet",
            "--pool",
            "16",
            "--max-clients",
            &max,
        ],
    ) {
        let outcome = load(server.addr, clients, rounds);
        all_ok &= report(
            "lesson08-socketserver-echo --pool 16 (16 threads, backlog 1024)",
            clients,
            rounds,
            outcome,
        );
    }

    // Lesson 02 serves one client at a time: the others wait in the backlog (std's 128).
    // Fewer clients, so that they all fit in that backlog and the run stays short.
    let few = clients.min(50);
    if let Some(server) = start(
        lesson02,
        &["--port", "0", "--max-clients", &few.to_string()],
    ) {
        let outcome = load(server.addr, few, rounds);
        all_ok &= report(
            &format!("lesson02-server (one client at a time; {few} clients, not {clients}, so the run stays short)"),
            few,
            rounds,
            outcome,
        );
    }

    // Python's ThreadingTCPServer, when python3 is installed.
    let script =
        std::env::temp_dir().join(format!("socketlab-bench-{}.py", std::process::id()));
    let python = std::fs::write(&script, PYTHON_SERVER)
        .ok()
        .and_then(|_| start("python3", &[script.to_string_lossy().as_ref(), "1024"]));
    match python {
        Some(server) => {
            let outcome = load(server.addr, clients, rounds);
            all_ok &= report(
                "python3 socketserver.ThreadingTCPServer (request_queue_size 1024)",
                clients,
                rounds,
                outcome,
            );
        }
        None => {
            println!("python3 socketserver.ThreadingTCPServer: skipped (python3 did not start)")
        }
    }

    // The backlog: the same burst of connects against listen(5) and listen(1024).
    println!();
    for backlog in ["5", "1024"] {
        if let Some(server) =
            start(lesson08, &["--port", "0", "--quiet", "--backlog", backlog])
        {
            burst(
                &format!("backlog {backlog}: lesson08-server --backlog {backlog}"),
                server.addr,
                clients,
            );
        }
    }
    if let Some(server) = std::fs::metadata(&script)
        .ok()
        .and_then(|_| start("python3", &[script.to_string_lossy().as_ref(), "5"]))
    {
        burst(
            "backlog 5: python3 ThreadingTCPServer with its default request_queue_size",
            server.addr,
            clients,
        );
    }
    let _ = std::fs::remove_file(&script);

    println!();
    if all_ok {
        println!("no reply lost or mixed");
    } else {
        println!("SOME REPLIES WERE LOST OR MIXED (see above)");
        std::process::exit(1);
    }
}
