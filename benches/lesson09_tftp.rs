//! Lesson 09: how fast lock-step TFTP moves a 40 MiB file over loopback, with no loss and with
//! 1 % loss, for lesson09-client and for tftp-hpa against the same lesson09-server, in one run.
//!
//!   cargo bench --bench lesson09_tftp
//!   LESSON09_BENCH_MIB=8 cargo bench --bench lesson09_tftp      a smaller file
//!
//! The real release binaries: one lesson09-server (`--timeout-ms 10`: on loopback a round trip
//! takes tens of microseconds, so 10 ms is still a very patient timeout, and a lost packet costs
//! about that much), and lesson09-relay in front of it for the loss runs (`--loss 1 --seed 7`:
//! 1 % of the datagrams, in both directions, the same choices every run). The relay with no loss
//! is measured too: it is what the relay itself costs. Each download is timed from starting the
//! client to its exit, and checked byte for byte; without loss, the best of 5 runs is shown.
//!
//! Everything runs on one core (the bench pins itself; the programs it starts inherit it).
//! Lock-step means each side waits for the other at every block, 81,920 times for 40 MiB.
//! On one core each wait ends in a switch from one process to the other. On two, it ends
//! in a wake-up of the other core, which may have gone to sleep meanwhile: on a quiet
//! virtual machine that costs tens of microseconds, and where the scheduler happens to put
//! each program changed the figures fourfold from run to run (see lesson 05's handshake
//! bench, which measures both).
//!
//! Figures, not assertions: this is a measurement, never a timed test.

mod common;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

fn main() {
    let mib: u64 = std::env::var("LESSON09_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let size = mib * MIB;
    // tmpfs when there is one: the figures are about the protocol, not this machine's disk.
    let shm = Path::new("/dev/shm");
    let scratch = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a scratch directory");
    let root = scratch.path().join("server-files");
    let downloads = scratch.path().join("downloads");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::create_dir(&downloads).expect("mkdir");
    write_payload(&root.join("big.bin"), size);

    common::print_machine();
    common::run_on(&[0]);
    println!(
        "lesson 09 TFTP bench: a {mib} MiB download over 127.0.0.1, 512-byte blocks, \
         every program on one core"
    );
    let tftp = which("tftp");
    if tftp.is_none() {
        println!("(tftp-hpa is not installed: its rows are left out; apt-get install tftp-hpa)");
    }

    let root_arg = root.display().to_string();
    let server = Spawned::start(
        env!("CARGO_BIN_EXE_lesson09-server"),
        &[
            "--root",
            &root_arg,
            "--timeout-ms",
            "10",
            "--retries",
            "50",
            "--max-active",
            "4",
        ],
    );
    let server_addr = format!("127.0.0.1:{}", server.port);

    // Runs without loss vary with what else the machine does (and the very first download
    // writes into never-touched memory, which a virtual machine makes slow): the best of 5.
    // A run with loss takes its time in timeouts: one run, through a fresh relay, so that
    // both clients meet the same drops (the same seed, the same sequence of datagrams).
    let runs: [(&str, Option<&[&str]>, usize); 3] = [
        ("no loss", None, 5),
        ("through the relay, no loss", Some(&[]), 5),
        (
            "1 % loss (relay, seed 7)",
            Some(&["--loss", "1", "--seed", "7"]),
            1,
        ),
    ];
    let mut baseline = None;
    for (how, relay, tries) in runs {
        // The port to download from: the server's, or a new relay's in front of it.
        let via = |rules: &[&str]| {
            let args = [&["--to", server_addr.as_str()][..], rules].concat();
            Spawned::start(env!("CARGO_BIN_EXE_lesson09-relay"), &args)
        };
        let took = best_of(tries, || {
            let relay = relay.map(via);
            let port = relay.as_ref().map_or(server.port, |r| r.port);
            let took = ours(port, &downloads, size);
            (took, server.summary())
        });
        let base = *baseline.get_or_insert(took.0);
        row("lesson09-client", how, size, took, base);
        if let Some(tftp) = &tftp {
            let took = best_of(tries, || {
                let relay = relay.map(via);
                let port = relay.as_ref().map_or(server.port, |r| r.port);
                let took = theirs(tftp, port, &downloads, size);
                (took, server.summary())
            });
            row("tftp-hpa       ", how, size, took, base);
        }
    }
    println!(
        "(ratio: the time of lesson09-client with no loss divided by this row's time; \
         below 1 is slower)"
    );
}

/// One download with lesson09-client; the time from its start to its exit.
fn ours(port: u16, downloads: &Path, size: u64) -> Duration {
    let out = downloads.display().to_string();
    let _ = std::fs::remove_file(downloads.join("big.bin"));
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_lesson09-client"))
        .args(["get", "big.bin", "--out", &out, "--port", &port.to_string()])
        .args([
            "--timeout-ms",
            "1000",
            "--retries",
            "50",
            "--color",
            "never",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("run lesson09-client");
    let took = start.elapsed();
    assert!(status.success(), "lesson09-client failed");
    check(&downloads.join("big.bin"), size);
    took
}

/// One download with tftp-hpa (`tftp -m binary … -c get`).
fn theirs(tftp: &Path, port: u16, downloads: &Path, size: u64) -> Duration {
    let local = downloads.join("by-tftp.bin");
    let _ = std::fs::remove_file(&local);
    let start = Instant::now();
    let out = Command::new(tftp)
        .args(["-m", "binary", "127.0.0.1", &port.to_string(), "-c", "get"])
        .arg("big.bin")
        .arg(&local)
        .stdin(Stdio::null())
        .output()
        .expect("run tftp");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "tftp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(&local, size);
    took
}

/// The fastest of `tries` runs, with what the server said about it.
fn best_of(
    tries: usize,
    mut run: impl FnMut() -> (Duration, String),
) -> (Duration, String) {
    (0..tries)
        .map(|_| run())
        .min_by_key(|(took, _)| *took)
        .unwrap_or_default()
}

fn row(
    who: &str,
    how: &str,
    size: u64,
    (took, said): (Duration, String),
    base: Duration,
) {
    let rate = size as f64 / MIB as f64 / took.as_secs_f64();
    println!(
        "{who}  {how:<28} {:>7.2} s  {rate:>7.2} MiB/s  ratio {:.2}{said}",
        took.as_secs_f64(),
        base.as_secs_f64() / took.as_secs_f64()
    );
}

/// The download has the payload's size and bytes (regenerated and compared 1 MiB at a time).
fn check(path: &Path, size: u64) {
    let got = std::fs::read(path).expect("the downloaded file");
    assert_eq!(got.len() as u64, size, "size of {}", path.display());
    let mut expected = Payload::new();
    for chunk in got.chunks(MIB as usize) {
        assert!(
            chunk == expected.next_chunk(chunk.len()),
            "{} differs",
            path.display()
        );
    }
}

fn write_payload(path: &Path, size: u64) {
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(path).expect("create payload"));
    let mut payload = Payload::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB) as usize;
        file.write_all(&payload.next_chunk(n))
            .expect("write payload");
        left -= n as u64;
    }
    file.flush().expect("flush payload");
}

/// xorshift bytes: cheap, never the same block twice.
struct Payload(u64);

impl Payload {
    fn new() -> Payload {
        Payload(0x9e37_79b9_7f4a_7c15)
    }

    fn next_chunk(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }
}

/// A program of the lab started with `--port 0`; stopped when dropped.
struct Spawned {
    child: Child,
    port: u16,
    /// The lines it prints after the first one.
    lines: Receiver<String>,
}

impl Spawned {
    /// Starts `bin` with `--port 0` and waits for its `listening on HOST:PORT` line.
    fn start(bin: &str, args: &[&str]) -> Spawned {
        let started = socket_lab::spawn::start(
            Command::new(bin)
                .args(args)
                .args(["--port", "0", "--color", "never"])
                .stdin(Stdio::null()),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        // Keep reading what it prints, so that it never blocks on a full pipe.
        let (tx, rx) = channel();
        let rest = started.stdout;
        thread::spawn(move || {
            for line in rest.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Spawned {
            child: started.child,
            port: started.addr.port(),
            lines: rx,
        }
    }

    /// What the server says when a transfer has ended, from "; " on: `; 1650 timeouts, …`
    /// (nothing for a transfer without loss).
    fn summary(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            let failed = line.contains("failed");
            if line.contains("\"big.bin\"") && (line.contains(": sent ") || failed) {
                let Some((_, stats)) = line.rsplit_once("; ") else {
                    return String::new(); // no loss, nothing to say
                };
                // A failure here is a lost final ACK: the client had already left, with the file.
                let note = if failed {
                    "; the final ACK was lost"
                } else {
                    ""
                };
                return format!("  (server: {stats}{note})");
            }
        }
        String::new()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a program on PATH.
fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
