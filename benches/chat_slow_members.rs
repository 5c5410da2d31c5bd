//! The chat with members who do not keep up: how fast two members talk with nobody else
//! there, with three members who never read, and with one who reads 4 KiB a second.
//!
//!     cargo bench --bench chat_slow_members
//!     cargo bench --bench chat_slow_members -- --lines 5000
//!
//! Two members, alice and bob, exchange lines in lock-step (alice says one, bob hears it and
//! says one, alice hears it): every line is a full trip through the server, and the
//! longest wait for one line is the longest the room stood still. Each run starts a fresh
//! release build of lesson08-chat-server; the first run, alone, is the baseline of the
//! ratios; each is run three times (the median rate, the longest wait of the three). Short
//! lines (16 bytes) and long ones (900 bytes: what members who do not read
//! then leave in their queues and socket buffers soon passes the server's bound, and they
//! are dropped during the run). A bench, not a test: nothing is asserted in CI.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socket_lab::spawn::start;

/// A member: a connection and a reader of its lines.
struct Member {
    conn: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Member {
    fn join(addr: &str, name: &str) -> Member {
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        conn.write_all(format!("{name}\n").as_bytes())
            .expect("name");
        let reader = BufReader::new(conn.try_clone().expect("clone"));
        Member { conn, reader }
    }

    /// Reads lines until one that starts with `prefix`; counts the others (members who
    /// joined or were dropped).
    fn hear(&mut self, prefix: &str, others: &mut usize) {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).expect("a line");
            assert!(n > 0, "the server closed the connection");
            if line.starts_with(prefix) {
                return;
            }
            *others += 1;
        }
    }
}

/// Who else is in the room.
#[derive(Clone, Copy, PartialEq)]
enum Others {
    Nobody,
    NonReaders(usize),
    SlowReader,
}

struct Figures {
    lines_per_s: f64,
    longest_wait: Duration,
    /// Lines other than the exchange that alice heard: members dropped.
    dropped: usize,
}

fn run(others: Others, lines: usize, len: usize) -> Figures {
    let server = env!("CARGO_BIN_EXE_lesson08-chat-server");
    let mut cmd = Command::new(server);
    cmd.args(["--port", "0"]).stderr(Stdio::null());
    let started = start(&mut cmd).expect("start the chat server");
    let addr = started.addr.to_string();
    let mut child = started.drain_stdout();

    let mut alice = Member::join(&addr, "alice");
    let mut joined = 0;
    alice.hear("* welcome alice", &mut joined);
    let mut bob = Member::join(&addr, "bob");
    alice.hear("* bob joined", &mut joined);
    let mut idle = Vec::new();
    let mut slow = None;
    let done = Arc::new(AtomicBool::new(false));
    match others {
        Others::Nobody => {}
        Others::NonReaders(n) => {
            for i in 0..n {
                idle.push(Member::join(&addr, &format!("nr{i}")));
                alice.hear(&format!("* nr{i} joined"), &mut joined);
            }
        }
        Others::SlowReader => {
            // Reads 4 KiB, then nothing for a second, until the server drops it or the run
            // is over.
            let mut member = Member::join(&addr, "slow");
            alice.hear("* slow joined", &mut joined);
            let over = done.clone();
            slow = Some(thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = member.conn.read(&mut buf) {
                    if n == 0 || over.load(Ordering::Relaxed) {
                        break;
                    }
                    thread::sleep(Duration::from_secs(1));
                }
            }));
        }
    }

    let padding = "x".repeat(len.saturating_sub(7));
    let mut heard_by_alice = 0;
    let mut longest_wait = Duration::ZERO;
    let begin = Instant::now();
    for i in 0..lines / 2 {
        let step = Instant::now();
        let line = format!("a{i:05} {padding}\n");
        alice.conn.write_all(line.as_bytes()).expect("send");
        bob.hear(&format!("alice: a{i:05}"), &mut joined);
        longest_wait = longest_wait.max(step.elapsed());
        let step = Instant::now();
        let line = format!("b{i:05} {padding}\n");
        bob.conn.write_all(line.as_bytes()).expect("send");
        alice.hear(&format!("bob: b{i:05}"), &mut heard_by_alice);
        longest_wait = longest_wait.max(step.elapsed());
    }
    let elapsed = begin.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    drop(idle);
    if let Some(slow) = slow {
        let _ = slow.join();
    }
    // Everyone had joined before the exchange: what else alice heard were drops.
    Figures {
        lines_per_s: (lines / 2 * 2) as f64 / elapsed.as_secs_f64(),
        longest_wait,
        dropped: heard_by_alice,
    }
}

fn main() {
    let lines: usize = std::env::args()
        .skip_while(|a| a != "--lines")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    println!(
        "chat bench: alice and bob exchange {lines} lines in lock-step (release build)"
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!("(load average of the last minute before the run: {one_minute})");
    }
    for len in [16, 900] {
        println!("\nlines of {len} bytes:");
        let mut baseline = None;
        for (others, what) in [
            (Others::Nobody, "nobody else"),
            (Others::NonReaders(3), "3 members who never read"),
            (Others::SlowReader, "1 member reading 4 KiB/s"),
        ] {
            // Three runs: the median rate (the machine's other work moves single runs a
            // lot), the longest wait and the drops of all three.
            let mut runs: Vec<Figures> =
                (0..3).map(|_| run(others, lines, len)).collect();
            runs.sort_by(|a, b| a.lines_per_s.total_cmp(&b.lines_per_s));
            let f = Figures {
                lines_per_s: runs[1].lines_per_s,
                longest_wait: runs
                    .iter()
                    .map(|r| r.longest_wait)
                    .max()
                    .unwrap_or_default(),
                dropped: runs.iter().map(|r| r.dropped).max().unwrap_or(0),
            };
            let base = *baseline.get_or_insert(f.lines_per_s);
            println!(
                "  {what:<26} {:>7.0} lines/s (ratio {:.2}), longest wait for a line {:>6.1} ms, \
                 members dropped (most in a run): {}",
                f.lines_per_s,
                f.lines_per_s / base,
                f.longest_wait.as_secs_f64() * 1000.0,
                f.dropped
            );
        }
    }
}
