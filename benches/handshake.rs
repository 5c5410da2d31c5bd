//! What the course's `Ready|<size>` / `Start` handshake costs, measured against the plain
//! fixed-length header of lesson 05. Both servers are the real `lesson05-server` binary (one
//! started with `--handshake`); the client side is driven from here, command after command.
//!
//! Run: `cargo bench --bench handshake` (prints both rates and their ratio; it asserts nothing,
//! the numbers depend on the machine).
//!
//! On loopback a round trip is two programs waking each other up, and what that costs depends
//! on where they run. On one core, it is a switch from one process to the other. On two, the
//! sender's core must wake the other one, which may have gone to sleep meanwhile (on a
//! virtual machine, one of the costliest things there are). Left to the scheduler, the two
//! servers may each land anywhere, and the two protocols end up measured under different
//! conditions (from one run to the next on the same quiet machine, the ratio went from 0.4 to
//! 3.9). So each loopback case is measured twice, with the processes placed: all on one core,
//! then the client on one core and both servers on the other.

mod common;

use common::run_on;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use socket_lab::frame::{read_frame, write_frame, ByteOrder, DEFAULT_MAX_FRAME};
use socket_lab::{ColorWhen, Out, Side, Style};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson05-server");
/// Commands per timed block, and blocks per protocol (the two protocols take turns).
const PER_BLOCK: usize = 500;
const BLOCKS: usize = 20;

/// Where the processes of a measurement run.
#[derive(Clone, Copy)]
enum Cores {
    /// Client and servers on CPU 0.
    One,
    /// The client on CPU 0, both servers on CPU 1.
    Two,
    /// Wherever the scheduler puts them (the relay case: its delay is the cost).
    Any,
}

/// Starts lesson05-server with `args` on a free port; returns it and its port.
fn start(args: &[&str]) -> (Child, u16) {
    let server = socket_lab::spawn::start(Command::new(SERVER).args(args).args([
        "--port",
        "0",
        "--max-clients",
        "1",
        "--color",
        "never",
    ]))
    .expect("start lesson05-server (build it first: cargo build --release)");
    let port = server.addr.port();
    (server.drain_stdout(), port)
}

fn framed(conn: &mut TcpStream, buf: &mut Vec<u8>, command: &str, out: &Out) -> usize {
    write_frame(
        conn,
        command.as_bytes(),
        ByteOrder::Network,
        DEFAULT_MAX_FRAME,
        out,
    )
    .expect("send");
    read_frame(conn, buf, ByteOrder::Network, DEFAULT_MAX_FRAME, out)
        .expect("reply")
        .expect("a reply, not a close")
        .len()
}

fn handshake(conn: &mut TcpStream, command: &str) -> usize {
    conn.write_all(command.as_bytes()).expect("send");
    let mut tag = [0u8; 64];
    let n = conn.read(&mut tag).expect("Ready");
    let size: usize = std::str::from_utf8(&tag[..n])
        .ok()
        .and_then(|t| t.strip_prefix("Ready|"))
        .and_then(|s| s.parse().ok())
        .expect("Ready|<size>");
    conn.write_all(b"Start").expect("Start");
    let mut reply = vec![0u8; size];
    conn.read_exact(&mut reply).expect("reply");
    size
}

/// A relay that holds every chunk for `one_way` before passing it on, in both directions:
/// a network with a round trip of 2 × `one_way`, built on loopback. Returns its port.
fn slow_relay(to: u16, one_way: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("relay bind");
    let port = listener.local_addr().expect("relay addr").port();
    std::thread::spawn(move || {
        let (down, _) = listener.accept().expect("relay accept");
        let up = TcpStream::connect(("127.0.0.1", to)).expect("relay connect");
        for s in [&down, &up] {
            s.set_nodelay(true).expect("nodelay");
        }
        let pump = |mut from: TcpStream, mut to: TcpStream| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    // The simulated network's one-way delay (the point of this relay).
                    std::thread::sleep(one_way);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            })
        };
        let a = pump(
            down.try_clone().expect("clone"),
            up.try_clone().expect("clone"),
        );
        let b = pump(up, down);
        let _ = (a.join(), b.join());
    });
    port
}

/// Times `per_block` commands per block, the two protocols taking turns block by block.
/// Returns the fastest block of each (the one least disturbed by other work on the machine),
/// as seconds per command, and the reply size.
fn measure(
    command: &str,
    via: Option<Duration>,
    cores: Cores,
    (per_block, blocks): (usize, usize),
    out: &Out,
) -> (f64, f64, usize) {
    // The servers inherit the placement of this thread when they start; then it moves.
    match cores {
        Cores::One => run_on(&[0]),
        Cores::Two => run_on(&[1]),
        Cores::Any => run_on(&[]),
    }
    let (mut s1, p1) = start(&[]);
    let (mut s2, p2) = start(&["--handshake"]);
    if let Cores::Two = cores {
        run_on(&[0]);
    }
    let (p1, p2) = match via {
        Some(one_way) => (slow_relay(p1, one_way), slow_relay(p2, one_way)),
        None => (p1, p2),
    };
    let mut c1 = TcpStream::connect(("127.0.0.1", p1)).expect("connect");
    let mut c2 = TcpStream::connect(("127.0.0.1", p2)).expect("connect");
    let mut buf = Vec::new();
    // Warm up both connections.
    for _ in 0..per_block.min(100) {
        framed(&mut c1, &mut buf, command, out);
        handshake(&mut c2, command);
    }
    let (mut best1, mut best2) = (f64::MAX, f64::MAX);
    let mut size = 0;
    for _ in 0..blocks {
        let start = Instant::now();
        for _ in 0..per_block {
            size = framed(&mut c1, &mut buf, command, out);
        }
        best1 = best1.min(start.elapsed().as_secs_f64() / per_block as f64);
        let start = Instant::now();
        for _ in 0..per_block {
            assert_eq!(handshake(&mut c2, command), size);
        }
        best2 = best2.min(start.elapsed().as_secs_f64() / per_block as f64);
    }
    drop((c1, c2));
    let _ = (s1.wait(), s2.wait());
    run_on(&[]);
    (best1, best2, size)
}

fn report(title: &str, (t1, t2, _): (f64, f64, usize)) {
    println!("{title}");
    println!(
        "  fixed-length header : {:>8.0} commands/s  ({:>7.1} µs each)",
        1.0 / t1,
        t1 * 1e6
    );
    println!(
        "  Ready|size / Start  : {:>8.0} commands/s  ({:>7.1} µs each)",
        1.0 / t2,
        t2 * 1e6
    );
    println!(
        "  ratio {:.2}x; the handshake adds {:.1} µs per command",
        t2 / t1,
        (t2 - t1) * 1e6
    );
}

/// The course's way of sending a framed reply: `send(header)`, then `send(data)`, as two
/// writes. Against a client that only reads, Nagle's algorithm holds the data back until the
/// header is acknowledged, and the client delays that acknowledgement. Returns seconds per
/// command (median of `count`, the first one skipped).
fn two_writes(count: usize, out: &Out) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = Vec::new();
        let quiet = Out::new(
            Side::Server,
            &Style {
                color: ColorWhen::Never,
                trace: false,
                trace_file: None,
            },
        );
        while let Ok(Some(_)) =
            read_frame(&mut conn, &mut buf, ByteOrder::Network, 1024, &quiet)
        {
            let body = [b'x'; 100];
            let header = (body.len() as u32).to_be_bytes();
            conn.write_all(&header).expect("header");
            conn.write_all(&body).expect("body");
        }
    });
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut buf = Vec::new();
    let mut times = Vec::new();
    for _ in 0..=count {
        let start = Instant::now();
        framed(&mut conn, &mut buf, "x", out);
        times.push(start.elapsed().as_secs_f64());
    }
    drop(conn);
    let _ = server.join();
    let mut times = times.split_off(1);
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    common::print_machine();
    let out = Out::new(
        Side::Client,
        &Style {
            color: ColorWhen::Never,
            trace: false,
            trace_file: None,
        },
    );
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    for command in ["seq 10", "text 4000"] {
        for (cores, place) in [
            (Cores::One, "client and servers on one core"),
            (Cores::Two, "client on one core, servers on the other"),
        ] {
            if matches!(cores, Cores::Two) && !two_cores {
                println!("`{command}`, {place}: skipped (this machine has one core)");
                continue;
            }
            let m = measure(command, None, cores, (PER_BLOCK, BLOCKS), &out);
            let reply = m.2;
            report(
                &format!(
                    "`{command}` ({reply}-byte reply) over loopback, {place}, \
                     best of {BLOCKS} blocks of {PER_BLOCK}:"
                ),
                m,
            );
        }
    }
    let one_way = Duration::from_millis(1);
    let m = measure("seq 10", Some(one_way), Cores::Any, (50, 4), &out);
    report(
        "`seq 10` through a relay adding 1 ms each way (a 2 ms round trip), best of 4 blocks \
         of 50:",
        m,
    );
    let t = two_writes(20, &out);
    println!(
        "header and body sent as TWO writes (the course's send(header); send(data)), median of 20:\n  \
         {:.1} ms per command (one write: see the first line)",
        t * 1e3
    );
}
