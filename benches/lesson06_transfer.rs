//! Lesson 06's file transfer against raw TCP, over loopback, in the same run.
//!
//!   cargo bench --bench lesson06_transfer            1 GiB (the default)
//!   LESSON06_BENCH_MIB=256 cargo bench --bench lesson06_transfer
//!
//! 1. Raw TCP: one thread `write_all`s 1 MiB buffers, another reads them into a buffer and
//!    throws them away. No file, no header, no checksum: the most loopback TCP can do here.
//! 2. Lesson 06: the real release binaries, `lesson06-client put FILE` to
//!    `lesson06-server --root DIR`, then `get` back — file read, sha256 on both sides, file
//!    written under a temporary name and renamed. Timed from starting the client to its exit.
//! 3. Peak memory: VmHWM (the resident-set high-water mark) from /proc/PID/status of the real
//!    server and client processes, sampled while they run.
//!
//! The file is generated in a temporary directory at run time and deleted at the end.
//! Figures, not assertions: this is a measurement, never a timed test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

fn main() {
    let mib: u64 = std::env::var("LESSON06_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib * MIB;
    // The files live on tmpfs (memory) when there is one: raw TCP touches no disk, so the
    // comparison measures the protocol, not how fast this machine's disk absorbs writes.
    let shm = Path::new("/dev/shm");
    let scratch = if shm.is_dir() && std::env::var_os("LESSON06_BENCH_ON_DISK").is_none()
    {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a scratch directory");
    let file = scratch.path().join("payload.bin");
    let root = scratch.path().join("server-files");
    let back = scratch.path().join("downloads");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::create_dir(&back).expect("mkdir");

    println!(
        "lesson 06 transfer bench: {mib} MiB over 127.0.0.1, files in {}",
        scratch
            .path()
            .parent()
            .map_or("?".into(), |p| p.display().to_string())
    );
    write_payload(&file, size);

    let cpu_before = cpu_ticks(std::process::id()).unwrap_or(0);
    let raw = raw_tcp(size);
    let raw_cpu = cpu_ticks(std::process::id()).unwrap_or(0) - cpu_before;
    println!(
        "raw TCP (write_all 1 MiB buffers, reader discards): {}, CPU {} (both ends)",
        rate(size, raw),
        secs(raw_cpu)
    );

    let cpu_before = cpu_ticks(std::process::id()).unwrap_or(0);
    let framed = framing_only(size);
    let framed_cpu = cpu_ticks(std::process::id()).unwrap_or(0) - cpu_before;
    println!(
        "lesson 06 framing alone (JSON header, body through copy_body; no file, no checksum): {}, CPU {}  ratio {:.2}",
        rate(size, framed),
        secs(framed_cpu),
        raw.as_secs_f64() / framed.as_secs_f64()
    );

    let put = lesson06(&["put", path_str(&file)], &root, size);
    print_run("lesson 06 put (client -> server)", size, raw, raw_cpu, &put);
    // At most two copies at a time: writing a third GiB into fresh memory is measurably
    // slower on a virtual machine (the host backs never-touched pages on first use).
    std::fs::remove_file(&file).expect("remove the original");
    let file = root.join("payload.bin");
    let get = lesson06(
        &["get", "payload.bin", "--out", path_str(&back)],
        &root,
        size,
    );
    print_run("lesson 06 get (server -> client)", size, raw, raw_cpu, &get);

    // `file` is now the server's copy; `back` holds the one that made the round trip.
    let sha = sha256_time(&file);
    println!(
        "for scale: sha256 of the file in one thread: {} (each transfer hashes it twice: \
         once before sending, because the header carries the checksum, once on arrival)",
        rate(size, sha)
    );
    let same = files_equal(&file, &back.join("payload.bin"));
    println!(
        "round trip byte for byte: {}",
        if same { "yes" } else { "NO" }
    );
    // `scratch` is dropped here: the payload and both copies are deleted.
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 scratch path")
}

/// Writes `size` bytes of varied data, 1 MiB at a time.
fn write_payload(path: &Path, size: u64) {
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(path).expect("create payload"));
    let mut buf = vec![0u8; MIB as usize];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut left = size;
    while left > 0 {
        for b in buf.iter_mut() {
            // xorshift: cheap bytes that no layer can compress or skip.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(MIB) as usize;
        file.write_all(&buf[..n]).expect("write payload");
        left -= n as u64;
    }
    file.flush().expect("flush payload");
}

/// Raw TCP over loopback: the time to move `size` bytes from a writer to a discarding reader.
fn raw_tcp(size: u64) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; MIB as usize];
        let mut total = 0u64;
        loop {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) => panic!("raw reader: {e}"),
            }
        }
        total
    });
    let start = Instant::now();
    let mut conn = TcpStream::connect(addr).expect("connect");
    let buf = vec![7u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB) as usize;
        conn.write_all(&buf[..n]).expect("raw write");
        left -= n as u64;
    }
    drop(conn);
    let got = reader.join().expect("reader");
    let took = start.elapsed();
    assert_eq!(got, size, "the raw reader got every byte");
    took
}

/// Lesson 06's header and body code in this process: a put header, then the body streamed with
/// `copy_body` from memory into the socket, received with `recv_header` + `copy_body` into a
/// sink. What the framing itself costs, without the file and the checksum.
fn framing_only(size: u64) -> Duration {
    use socket_lab::frame::ByteOrder;
    use socket_lab::json_header::{parse_request, recv_header, send_header, Request};
    use socket_lab::transfer::copy_body;
    use socket_lab::{Out, Side, Style};
    let style = Style {
        color: socket_lab::ColorWhen::Never,
        trace: false,
        trace_file: None,
    };
    let out = Out::new(Side::Server, &style);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let header = recv_header(&mut conn, ByteOrder::Network, 65536, &out)
            .expect("header")
            .expect("a header");
        let request = parse_request(&header).expect("a request");
        copy_body(&mut conn, &mut std::io::sink(), request.body_size(), |_| {})
            .expect("body");
        request.body_size()
    });
    let start = Instant::now();
    let mut conn = TcpStream::connect(addr).expect("connect");
    let request = Request::Put {
        file_name: "payload.bin".into(),
        total_size: size,
        sha256: "0".repeat(64),
    };
    send_header(&mut conn, &request, ByteOrder::Network, &out).expect("send header");
    let mut zeros = std::io::repeat(7).take(size);
    copy_body(&mut zeros, &mut conn, size, |_| {}).expect("send body");
    drop(conn);
    let got = reader.join().expect("reader");
    let took = start.elapsed();
    assert_eq!(got, size);
    took
}

struct Transfer {
    took: Duration,
    server: Sampled,
    client: Sampled,
}

/// What was sampled from /proc while a process ran.
#[derive(Default)]
struct Sampled {
    /// VmHWM, in KiB.
    peak_kib: u64,
    /// utime + stime, in clock ticks, at the last sample.
    cpu_ticks: u64,
}

/// One lesson 06 client run against a fresh server; both are real release binaries.
fn lesson06(client_args: &[&str], root: &Path, size: u64) -> Transfer {
    let server = socket_lab::spawn::start(
        Command::new(env!("CARGO_BIN_EXE_lesson06-server"))
            .args(["--port", "0", "--max-clients", "1", "--color", "never"])
            .args(["--root", path_str(root)]),
    )
    .expect("start lesson06-server");
    let port = server.addr.port().to_string();
    let mut server = server.drain_stdout();

    let start = Instant::now();
    let mut client = Command::new(env!("CARGO_BIN_EXE_lesson06-client"))
        .args(["--color", "never", "--port", &port])
        .args(client_args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start lesson06-client");
    let running = Arc::new(AtomicBool::new(true));
    let server_peak = watch_peak(server.id(), running.clone());
    let client_peak = watch_peak(client.id(), running.clone());
    let status = client.wait().expect("client");
    let took = start.elapsed();
    if !status.success() {
        let _ = server.kill();
    }
    let server_status = wait_server(&mut server);
    running.store(false, Ordering::Relaxed);
    assert!(status.success(), "the client failed");
    assert!(server_status, "the server failed");
    let _ = size;
    Transfer {
        took,
        server: server_peak.join().unwrap_or_default(),
        client: client_peak.join().unwrap_or_default(),
    }
}

fn wait_server(server: &mut Child) -> bool {
    server.wait().map(|s| s.success()).unwrap_or(false)
}

/// Samples VmHWM and the CPU time of a process every few milliseconds while it runs.
/// VmHWM is itself a high-water mark, so any sample after the peak moment reads the peak
/// exactly; the CPU time of the last sample misses at most the last few milliseconds.
fn watch_peak(pid: u32, running: Arc<AtomicBool>) -> thread::JoinHandle<Sampled> {
    thread::spawn(move || {
        let mut seen = Sampled::default();
        while running.load(Ordering::Relaxed) {
            // Gone, or a zombie (its memory is already released): stop.
            let Some(kib) = vm_hwm_kib(pid) else { break };
            seen.peak_kib = seen.peak_kib.max(kib);
            if let Some(ticks) = cpu_ticks(pid) {
                seen.cpu_ticks = ticks;
            }
            thread::sleep(Duration::from_millis(5));
        }
        seen
    })
}

/// utime + stime of a process from /proc/PID/stat, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn secs(ticks: u64) -> String {
    format!("{:.2} s", ticks as f64 / 100.0)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn print_run(label: &str, size: u64, raw: Duration, raw_cpu: u64, run: &Transfer) {
    println!(
        "{label}: {}  ratio to raw TCP {:.2} (target >= 0.9)",
        rate(size, run.took),
        raw.as_secs_f64() / run.took.as_secs_f64()
    );
    let cpu = run.server.cpu_ticks + run.client.cpu_ticks;
    println!(
        "  CPU: server {}, client {}, together {} = {:.1} x raw TCP's {}",
        secs(run.server.cpu_ticks),
        secs(run.client.cpu_ticks),
        secs(cpu),
        cpu as f64 / raw_cpu.max(1) as f64,
        secs(raw_cpu)
    );
    println!(
        "  peak RSS: server {:.1} MiB, client {:.1} MiB (target < 32 MiB)",
        run.server.peak_kib as f64 / 1024.0,
        run.client.peak_kib as f64 / 1024.0
    );
}

fn rate(size: u64, took: Duration) -> String {
    format!(
        "{:.0} MiB/s ({:.2} s)",
        size as f64 / MIB as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

/// How long hashing the file takes in this process (sha2, as the binaries use it).
fn sha256_time(path: &Path) -> Duration {
    use sha2::{Digest, Sha256};
    let start = Instant::now();
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let _ = hasher.finalize();
    start.elapsed()
}

fn files_equal(a: &Path, b: &Path) -> bool {
    let (Ok(mut a), Ok(mut b)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut x = vec![0u8; MIB as usize];
    let mut y = vec![0u8; MIB as usize];
    loop {
        let n = match a.read(&mut x) {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 {
            return b.read(&mut y).map(|m| m == 0).unwrap_or(false);
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}
