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

/// Raises this process's limit of open file descriptors to the most it may have (the
/// hard limit); the programs it starts inherit it. Returns the new limit.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
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
