//! What every bench of the lab needs: saying which machine and how busy it was, watching a
//! program's memory, threads and CPU time from /proc, and enough file descriptors.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Prints the machine and its load average before the run: other programs on the same
/// cores change every figure, so a figure is only worth its load.
pub fn print_machine() {
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "machine: Linux {}, {cpus} CPUs; load average before the run (1, 5, 15 min): {}",
        kernel.trim(),
        load.join(" ")
    );
}

/// Lets the calling thread, and the processes and threads it starts from now on, run only
/// on `cpus` (all of them when `cpus` is empty).
pub fn run_on(cpus: &[usize]) {
    use rustix::thread::{sched_setaffinity, CpuSet};
    let mut set = CpuSet::new();
    let all: Vec<usize> =
        (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    for &cpu in if cpus.is_empty() { &all } else { cpus } {
        set.set(cpu);
    }
    sched_setaffinity(None, &set).expect("sched_setaffinity");
}

/// What was seen of a process while it ran.
#[derive(Default, Clone, Copy, Debug)]
pub struct Seen {
    /// VmHWM, the peak of its resident memory, in KiB.
    pub peak_kib: u64,
    /// The most threads it ran at once (among the samples).
    pub max_threads: u64,
    /// utime + stime at the last sample, in clock ticks (1/100 s).
    pub cpu_ticks: u64,
}

impl Seen {
    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }

    pub fn cpu_secs(&self) -> f64 {
        self.cpu_ticks as f64 / 100.0
    }
}

/// Samples a process every few milliseconds until [`Watch::stop`]: VmHWM is itself a
/// high-water mark, so any sample after the peak reads the peak exactly; the CPU time of
/// the last sample misses at most the last few milliseconds.
pub struct Watch {
    running: Arc<AtomicBool>,
    thread: thread::JoinHandle<Seen>,
}

impl Watch {
    pub fn start(pid: u32) -> Watch {
        let running = Arc::new(AtomicBool::new(true));
        let still = running.clone();
        let thread = thread::spawn(move || {
            let mut seen = Seen::default();
            while still.load(Ordering::Relaxed) {
                let Some(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .filter(|s| !s.contains("State:\tZ"))
                else {
                    // Gone, or a zombie (its memory is already released).
                    break;
                };
                seen.peak_kib = seen.peak_kib.max(field(&status, "VmHWM:"));
                seen.max_threads = seen.max_threads.max(field(&status, "Threads:"));
                if let Some(ticks) = cpu_ticks(pid) {
                    seen.cpu_ticks = ticks;
                }
                thread::sleep(Duration::from_millis(5));
            }
            seen
        });
        Watch { running, thread }
    }

    /// Stops watching (call it once the process has ended, or when its peak is past).
    pub fn stop(self) -> Seen {
        self.running.store(false, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// A number field of /proc/PID/status (`VmHWM:   3712 kB` -> 3712).
fn field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process from /proc/PID/stat, in clock ticks (1/100 s on Linux).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A server a bench started; it is stopped when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `program args`, reads its `listening on HOST:PORT` line, and throws the rest
    /// of its output away (in a thread, so its pipe never fills up).
    pub fn start(program: &str, args: &[&str]) -> Option<Server> {
        let started = socket_lab::spawn::start(
            std::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
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

    /// Waits for the server to end by itself (its `--max-clients`).
    pub fn wait(mut self) -> bool {
        self.child.wait().is_ok_and(|s| s.success())
    }
}

/// Python's own threaded server, serving the same upper-case echo as lessons 08 and 10.
/// Its backlog (`request_queue_size`) is the first argument: Python's default is 5.
pub const PYTHON_SERVER: &str = r#"
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

/// Starts [`PYTHON_SERVER`] with a backlog of `backlog`; `None` when python3 is missing.
pub fn start_python_server(backlog: &str) -> Option<Server> {
    let script = std::env::temp_dir().join(format!(
        "socketlab-bench-{}-{backlog}.py",
        std::process::id()
    ));
    std::fs::write(&script, PYTHON_SERVER).ok()?;
    let server = Server::start("python3", &[script.to_string_lossy().as_ref(), backlog]);
    // Python has read the script by the time it says where it listens.
    let _ = std::fs::remove_file(&script);
    server
}

/// What `lesson10-client` reported for one load run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    pub open_at_once: u64,
    pub exact: u64,
    pub wrong: u64,
    pub lost: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The server's CPU time per round trip, in microseconds (when the bench measured it).
    pub server_cpu_us: f64,
}

impl Load {
    pub fn all_exact(&self) -> bool {
        self.wrong == 0 && self.lost == 0
    }

    /// One line: rate, latency, counts.
    pub fn summary(&self) -> String {
        format!(
            "{:>7.0} round trips/s, p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms; server CPU \
             {:.1} us per round trip; {} exact, {} wrong, {} lost ({:.2} s)",
            self.per_second,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.server_cpu_us,
            self.exact,
            self.wrong,
            self.lost,
            self.seconds
        )
    }
}

/// The numbers of a line, in order (`p50 0.912 ms, p99 2.3 ms` -> [50, 0.912, 99, 2.3]).
fn numbers(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.trim_matches('.').parse().ok())
        .collect()
}

/// Runs the lab's own load client, `lesson10-client` (one thread, an event loop: it costs
/// the machine far less than the servers it loads), against `addr`, and reads its report.
pub fn load_client(
    addr: std::net::SocketAddr,
    connections: usize,
    rounds: usize,
) -> Load {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lesson10-client"))
        .args([
            "--host",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args(["--connections", &connections.to_string()])
        .args(["--rounds", &rounds.to_string(), "--color", "never"])
        .output()
        .expect("run lesson10-client");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut load = Load::default();
    for line in text.lines() {
        let n = numbers(line);
        let at = |i: usize| n.get(i).copied().unwrap_or(0.0);
        if line.contains("connections open at once") {
            load.open_at_once = at(0) as u64;
        } else if line.starts_with("round trips:") {
            (load.exact, load.wrong, load.lost) =
                (at(0) as u64, at(1) as u64, at(2) as u64);
        } else if line.starts_with("time:") {
            (load.seconds, load.per_second) = (at(0), at(1));
        } else if line.starts_with("round trip:") {
            (load.p50_ms, load.p99_ms, load.max_ms) = (at(1), at(3), at(4));
        }
    }
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    load
}
