//! The load bench of lessons 08 and 10: 500 clients at once, 100 round trips each, against
//! Python's `socketserver.ThreadingTCPServer` (the baseline, when python3 is there), lesson
//! 08's server with a thread per client, the same server on the socketserver module (a
//! thread per client, then a pool of 16), and lesson 10's event loop; then lesson 02's
//! one-at-a-time server (fewer clients), and a burst of connects against a listen backlog of
//! 5 and of 1024.
//!
//!     cargo bench --bench lesson08_load
//!     cargo bench --bench lesson08_load -- --target 127.0.0.1:9008 --clients 100 --rounds 50
//!
//! With `--target HOST:PORT` it aims the load at any upper-case echo server that is already
//! running, and measures only that one.
//!
//! Each server runs under two loads. The lab's own `lesson10-client`: one thread, an event
//! loop, all 500 connections open at once; it needs about one core and leaves the other to
//! the server. And a thread per client in this bench (the load this bench used first): 500
//! threads that take most of both cores, so it measures the servers together with itself.
//! The servers take turns, three rounds of all of them, and each one's fastest run under
//! each load counts (other programs on the machine only ever slow a run down). Every reply
//! is checked: a round trip counts only when the reply is exactly the upper-cased message
//! (each message is unique, so a reply meant for another client, or a piece of one, is
//! "wrong"); no reply within 5 s is "lost". This is a bench, not a test:
//! the figures depend on the machine; nothing here is asserted in CI.

mod common;

use common::{load_client, print_machine, start_python_server, Load, Server};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
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

/// Rounds of every server, taking turns; each server's fastest run counts.
const ROUNDS_OF_ALL: usize = 3;

fn main() {
    let clients: usize = option("--clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rounds: usize = option("--rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let _ = socket_lab::limits::raise_open_file_limit();

    if let Some(target) = option("--target") {
        let Some(addr) = target.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
            eprintln!("--target {target}: not an address like 127.0.0.1:9008");
            std::process::exit(2);
        };
        let load = load_client(addr, clients, rounds);
        println!("server at {addr}: {}", load.summary());
        std::process::exit(if load.all_exact() { 0 } else { 1 });
    }

    print_machine();
    println!(
        "load bench: {clients} clients at once x {rounds} round trips, every reply checked; \
         latency is one round trip; fastest of {ROUNDS_OF_ALL} runs each"
    );
    println!();
    let max = clients.to_string();
    // Every client at once (--max-connections), whatever --clients asks.
    let quiet = [
        "--port",
        "0",
        "--quiet",
        "--max-clients",
        &max,
        "--max-connections",
        &max,
    ];
    let lesson08 = env!("CARGO_BIN_EXE_lesson08-server");
    let socketserver = env!("CARGO_BIN_EXE_lesson08-socketserver-echo");
    let lesson10 = env!("CARGO_BIN_EXE_lesson10-server");
    let servers: [(&str, &dyn Fn() -> Option<Server>); 4] = [
        (
            "Python ThreadingTCPServer (request_queue_size 1024)",
            &|| start_python_server("1024"),
        ),
        ("lesson08-server (a thread per client)", &|| {
            Server::start(lesson08, &quiet)
        }),
        ("lesson08-socketserver-echo (a thread per client)", &|| {
            Server::start(socketserver, &quiet)
        }),
        ("lesson10-server (one thread, an event loop)", &|| {
            Server::start(lesson10, &quiet)
        }),
    ];
    // Each server under two loads: lesson10-client (one thread), and a thread per client
    // in this bench (the load the bench used before lesson 10; it takes both cores).
    let mut best = [[None; 4]; 2];
    let mut all_ok = true;
    for _ in 0..ROUNDS_OF_ALL {
        for (i, (_, start)) in servers.iter().enumerate() {
            for (by, best) in best.iter_mut().enumerate() {
                let Some(server) = start() else { continue };
                let mut load = match by {
                    0 => load_client(server.addr, clients, rounds),
                    _ => threads_load(server.addr, clients, rounds),
                };
                // The server's own CPU time (a lesson server has exited by now; its
                // times stay readable until it is reaped).
                let ticks = common::cpu_ticks(server.child.id()).unwrap_or(0);
                load.server_cpu_us =
                    ticks as f64 * 10_000.0 / (load.exact + load.wrong).max(1) as f64;
                all_ok &= load.all_exact();
                if best[i].is_none_or(|b: Load| load.per_second > b.per_second) {
                    best[i] = Some(load);
                }
            }
        }
    }
    let names: Vec<&str> = servers.iter().map(|(name, _)| *name).collect();
    compare(
        "the load: lesson10-client, one thread holding every connection",
        &names,
        best[0],
    );
    compare(
        "the load: a thread per client in this bench (it takes both cores too)",
        &names,
        best[1],
    );

    // Servers that serve a bounded number of clients at once cannot take lesson10-client,
    // which opens every connection and has each answered once before the rounds start:
    // the first ones would hold every thread while waiting for the others. Their clients
    // are threads of this bench, each connecting and making its rounds on its own.
    println!();
    if let Some(server) = Server::start(
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
            "lesson08-socketserver-echo --pool 16 (16 threads; each client a thread of the bench)",
            clients,
            rounds,
            outcome,
        );
    }
    // Lesson 02 serves one client at a time: the others wait in the backlog (std's 128).
    // Fewer clients, so that they all fit in that backlog and the run stays short.
    let few = clients.min(50);
    let lesson02 = env!("CARGO_BIN_EXE_lesson02-server");
    if let Some(server) = Server::start(
        lesson02,
        &["--port", "0", "--max-clients", &few.to_string()],
    ) {
        let outcome = load(server.addr, few, rounds);
        all_ok &= report(
            &format!("lesson02-server (one client at a time; {few} clients, each a thread of the bench)"),
            few,
            rounds,
            outcome,
        );
    }

    // The backlog: the same burst of connects against listen(5) and listen(1024).
    println!();
    for backlog in ["5", "1024"] {
        if let Some(server) =
            Server::start(lesson08, &["--port", "0", "--quiet", "--backlog", backlog])
        {
            burst(
                &format!("backlog {backlog}: lesson08-server --backlog {backlog}"),
                server.addr,
                clients,
            );
        }
    }
    if let Some(server) = start_python_server("5") {
        burst(
            "backlog 5: python3 ThreadingTCPServer with its default request_queue_size",
            server.addr,
            clients,
        );
    }

    println!();
    if all_ok {
        println!("no reply lost or wrong");
    } else {
        println!("SOME REPLIES WERE LOST OR WRONG (see above)");
        std::process::exit(1);
    }
}

/// The bench's own thread-per-client load, reported like lesson10-client's.
fn threads_load(addr: SocketAddr, clients: usize, rounds: usize) -> Load {
    let mut o = load(addr, clients, rounds);
    o.latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let seconds = o.elapsed.as_secs_f64();
    Load {
        open_at_once: (clients - o.failed_connects) as u64,
        exact: o.round_trips as u64,
        wrong: o.mixed as u64,
        lost: o.lost as u64,
        seconds,
        per_second: (o.round_trips + o.mixed) as f64 / seconds.max(1e-9),
        p50_ms: ms(percentile(&o.latencies, 0.50)),
        p99_ms: ms(percentile(&o.latencies, 0.99)),
        max_ms: ms(o.latencies.last().copied().unwrap_or_default()),
        server_cpu_us: 0.0,
    }
}

/// Prints each server's best run under one load, and the ratios the lessons aim at.
fn compare(title: &str, names: &[&str], best: [Option<Load>; 4]) {
    println!("{title}");
    for (name, load) in names.iter().zip(&best) {
        match load {
            Some(load) => println!("  {name}\n    {}", load.summary()),
            None => println!("  {name}: skipped (it did not start)"),
        }
    }
    let [python, threads, _, event_loop] = best;
    match python {
        Some(py) => {
            let ratios = |name: &str, load: Option<Load>, target: f64, p99: f64| {
                if let Some(load) = load {
                    println!(
                        "  {name}: {:.2} x Python's round trips/s (target >= {target}); p99 \
                         {:.2} x Python's (target <= {p99}); server CPU per round trip {:.2} x \
                         Python's",
                        load.per_second / py.per_second,
                        load.p99_ms / py.p99_ms,
                        load.server_cpu_us / py.server_cpu_us
                    );
                }
            };
            ratios("lesson08-server, thread per client", threads, 3.0, 1.0);
            ratios("lesson10-server, event loop", event_loop, 5.0, 0.2);
        }
        None => println!("  python3 did not start: no Python baseline, no ratios to it"),
    }
    if let (Some(threads), Some(event_loop)) = (threads, event_loop) {
        println!(
            "  lesson10-server: {:.2} x lesson08-server's round trips/s (target >= 1.5)",
            event_loop.per_second / threads.per_second
        );
    }
    println!();
}
