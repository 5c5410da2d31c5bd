//! What the course's `Ready|<size>` / `Start` handshake costs, measured against the plain
//! fixed-length header of lesson 05. Both servers are the real `lesson05-server` binary (one
//! started with `--handshake`); the client side is driven from here, command after command.
//!
//! Run: `cargo bench --bench handshake` (prints both rates and their ratio; it asserts nothing,
//! the numbers depend on the machine).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use socket_lab::framing::{read_frame, write_frame, ByteOrder, DEFAULT_MAX_FRAME};
use socket_lab::{ColorWhen, Out, Side, Style};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson05-server");
/// Commands per timed block, and blocks per protocol (the two protocols take turns).
const PER_BLOCK: usize = 2_000;
const BLOCKS: usize = 5;

/// Starts lesson05-server with `args` on a free port; returns it and its port.
fn start(args: &[&str]) -> (Child, u16) {
    let mut child = Command::new(SERVER)
        .args(args)
        .args(["--port", "0", "--max-clients", "1", "--color", "never"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start lesson05-server (build it first: cargo build --release)");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("listening line");
    let port = first
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("listening on HOST:PORT");
    // Keep draining what the server prints, so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, port)
}

fn framed(conn: &mut TcpStream, buf: &mut Vec<u8>, command: &str, out: &Out) -> usize {
    write_frame(conn, command.as_bytes(), ByteOrder::Network, DEFAULT_MAX_FRAME, out)
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

fn main() {
    let out = Out::new(
        Side::Client,
        &Style {
            color: ColorWhen::Never,
            trace: false,
        },
    );
    for command in ["seq 10", "text 4000"] {
        let (mut s1, p1) = start(&[]);
        let (mut s2, p2) = start(&["--handshake"]);
        let mut c1 = TcpStream::connect(("127.0.0.1", p1)).expect("connect");
        let mut c2 = TcpStream::connect(("127.0.0.1", p2)).expect("connect");
        let mut buf = Vec::new();
        // Warm up both connections.
        for _ in 0..200 {
            framed(&mut c1, &mut buf, command, &out);
            handshake(&mut c2, command);
        }
        let (mut t1, mut t2) = (Duration::ZERO, Duration::ZERO);
        let mut size = 0;
        for _ in 0..BLOCKS {
            let start = Instant::now();
            for _ in 0..PER_BLOCK {
                size = framed(&mut c1, &mut buf, command, &out);
            }
            t1 += start.elapsed();
            let start = Instant::now();
            for _ in 0..PER_BLOCK {
                assert_eq!(handshake(&mut c2, command), size);
            }
            t2 += start.elapsed();
        }
        drop((c1, c2));
        let _ = (s1.wait(), s2.wait());
        let n = (PER_BLOCK * BLOCKS) as f64;
        let (r1, r2) = (n / t1.as_secs_f64(), n / t2.as_secs_f64());
        println!(
            "`{command}` ({size}-byte reply), {} commands each over loopback:",
            PER_BLOCK * BLOCKS
        );
        println!(
            "  fixed-length header : {r1:>8.0} commands/s  ({:.1} µs each)",
            1e6 / r1
        );
        println!(
            "  Ready|size / Start  : {r2:>8.0} commands/s  ({:.1} µs each)",
            1e6 / r2
        );
        println!(
            "  ratio {:.2}x: the handshake costs {:.1} µs more per command (one more round trip)",
            r1 / r2,
            1e6 / r2 - 1e6 / r1
        );
    }
}
