//! Lesson 06's file transfer against the limit of its protocol, over loopback, in one run.
//!
//!   cargo bench --bench lesson06_transfer            1 GiB (the default)
//!   LESSON06_BENCH_MIB=256 cargo bench --bench lesson06_transfer
//!
//! Baselines, measured first in the same run:
//! 1. raw TCP: one thread `write_all`s 1 MiB buffers, another reads them and throws them
//!    away. No file, no header, no checksum: the most loopback TCP does here;
//! 2. SHA-256 of the file's bytes on one core, the hashing alone (the reads not counted);
//! 3. the protocol's limit, derived from those two. The checksum travels in the header,
//!    BEFORE the body, so a sender must hash the whole file before it can send anything: a
//!    `put` takes at least one hash of the file, then the transfer. The receiver hashes
//!    what arrives, so the transfer itself goes no faster than the slower of TCP and
//!    SHA-256. put limit = T(sha256) + max(T(raw), T(sha256)). A `get` whose checksum the
//!    server kept (from the put) skips the first hash: get limit = max(T(raw), T(sha256)).
//!
//! Then the real release binaries: `lesson06-client put` to `lesson06-server`, `get` back
//! (with the kept checksum, and with the checksum computed on the spot), a Python client
//! doing the same `get` with `recv_into` into a 64 KiB buffer and an md5 (and a sha256)
//! check, and lesson 06's framing alone (its header and body code, no file, no checksum)
//! against raw TCP. Each transfer is run three times and the fastest run counts (other
//! programs on the machine only ever make a run slower); the baselines and the framing,
//! a third of a second each, seven times. Peak memory (VmHWM) and CPU time come from
//! /proc/PID of the real processes.
//!
//! The files are made in a temporary directory on tmpfs (/dev/shm) when there is one, so
//! that the disk is not what is measured, and deleted at the end. Figures, not assertions.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{print_machine, Seen, Watch};

const MIB: u64 = 1024 * 1024;
/// Runs of each transfer; the fastest counts.
const RUNS: usize = 3;
/// Runs of each baseline and of the framing alone (a third of a second each: one
/// disturbance weighs more, so they get more tries).
const SHORT_RUNS: usize = 7;

fn main() {
    let mib: u64 = std::env::var("LESSON06_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib * MIB;
    let shm = Path::new("/dev/shm");
    let scratch = if shm.is_dir() && std::env::var_os("LESSON06_BENCH_ON_DISK").is_none()
    {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a scratch directory");
    let dir = scratch.path();
    let file = dir.join("payload.bin");
    let root = dir.join("server-files");
    let back = dir.join("downloads");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::create_dir(&back).expect("mkdir");

    print_machine();
    println!(
        "lesson 06 transfer bench: {mib} MiB over 127.0.0.1, files in {}, best of {RUNS} runs \
         (baselines: of {SHORT_RUNS})",
        dir.parent().map_or("?".into(), |p| p.display().to_string())
    );
    write_payload(&file, size);

    // The baselines.
    // Raw TCP and the framing take turns, so that both meet the same moments.
    let (mut raw, mut framed) = (Duration::MAX, Duration::MAX);
    for _ in 0..SHORT_RUNS {
        raw = raw.min(raw_tcp(size));
        framed = framed.min(framing_only(size));
    }
    let sha = (0..SHORT_RUNS)
        .map(|_| sha256_only(&file))
        .min()
        .unwrap_or_default();
    let put_limit = sha + raw.max(sha);
    let get_limit = raw.max(sha);
    println!("\nbaselines (same run):");
    println!(
        "  raw TCP, 1 MiB writes, reader discards:   {}",
        rate(size, raw)
    );
    println!(
        "  SHA-256 of the file, one core:             {}",
        rate(size, sha)
    );
    println!(
        "  put limit = T(sha256) + max(T(raw), T(sha256)) = {}",
        rate(size, put_limit)
    );
    println!(
        "  get limit = max(T(raw), T(sha256)), checksum kept = {}",
        rate(size, get_limit)
    );
    println!(
        "\nlesson 06 framing alone (header + body through copy_body, no file, no checksum): {}\n  \
         = {:.2} x raw TCP (target >= 0.95)",
        rate(size, framed),
        raw.as_secs_f64() / framed.as_secs_f64()
    );

    println!();
    let put = best_run(|| {
        let _ = std::fs::remove_file(root.join("payload.bin"));
        lesson06(&["put", path_str(&file)], &root)
    });
    print_run("lesson 06 put", size, &put, put_limit, "put limit");
    // At most two copies at a time: the original goes, the server's copy stays.
    std::fs::remove_file(&file).expect("remove the original");
    let get_args = ["get", "payload.bin", "--out", path_str(&back)];
    let fresh = || {
        let _ = std::fs::remove_file(back.join("payload.bin"));
    };
    let get = best_run(|| {
        fresh();
        lesson06(&get_args, &root)
    });
    print_run(
        "lesson 06 get, checksum kept",
        size,
        &get,
        get_limit,
        "get limit",
    );
    let get_hashing = best_run(|| {
        fresh();
        let _ = std::fs::remove_file(root.join(".payload.bin.sha256"));
        lesson06(&get_args, &root)
    });
    print_run(
        "lesson 06 get, checksum computed",
        size,
        &get_hashing,
        put_limit,
        "put limit",
    );
    let same = files_equal(&root.join("payload.bin"), &back.join("payload.bin"));
    println!(
        "  round trip byte for byte: {}",
        if same { "yes" } else { "NO" }
    );

    println!();
    for algorithm in ["md5", "sha256"] {
        let expected = match algorithm {
            "md5" => python_md5(&root.join("payload.bin")).unwrap_or_default(),
            _ => String::new(),
        };
        let took = (0..RUNS)
            .map(|_| {
                fresh();
                python_get(&root, &back, algorithm, &expected)
            })
            .collect::<Option<Vec<Duration>>>()
            .and_then(|runs| runs.into_iter().min());
        match took {
            Some(took) => println!(
                "Python get (recv_into 64 KiB, {algorithm} check, same server): {}\n  \
                 lesson 06 get (checksum kept) = {:.2} x it (target >= 1.5)",
                rate(size, took),
                took.as_secs_f64() / get.took.as_secs_f64()
            ),
            None => println!("Python get ({algorithm}): skipped (python3 did not run)"),
        }
    }
    // `scratch` is dropped here: the payload and its copies are deleted.
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 scratch path")
}

/// The fastest of [`RUNS`] transfers, with the highest memory peak seen in any of them.
fn best_run(mut run: impl FnMut() -> Transfer) -> Transfer {
    let runs: Vec<Transfer> = (0..RUNS).map(|_| run()).collect();
    let peak = |pick: fn(&Transfer) -> u64| runs.iter().map(pick).max().unwrap_or(0);
    let (server_peak, client_peak) =
        (peak(|t| t.server.peak_kib), peak(|t| t.client.peak_kib));
    let mut fastest = runs
        .into_iter()
        .min_by_key(|t| t.took)
        .expect("at least one run");
    fastest.server.peak_kib = server_peak;
    fastest.client.peak_kib = client_peak;
    fastest
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
    let (mut conn, reader) = connect_to_discarder(|conn| {
        let mut buf = vec![0u8; MIB as usize];
        let mut total = 0u64;
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            total += n as u64;
        }
        total
    });
    let start = Instant::now();
    send_bytes(&mut conn, size);
    drop(conn);
    let got = reader.join().expect("reader");
    let took = start.elapsed();
    assert_eq!(got, size, "the raw reader got every byte");
    took
}

/// A connection to a thread of this process that runs `read` on the accepted socket.
fn connect_to_discarder(
    read: impl FnOnce(&mut TcpStream) -> u64 + Send + 'static,
) -> (TcpStream, thread::JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        read(&mut conn)
    });
    (TcpStream::connect(addr).expect("connect"), reader)
}

/// `size` bytes in 1 MiB `write_all`s, from one buffer.
fn send_bytes(conn: &mut TcpStream, size: u64) {
    let buf = vec![7u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB) as usize;
        conn.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
}

/// Lesson 06's framing in this process: a put header, then the body written as raw TCP
/// writes it; received with lesson 06's `recv_header` and `copy_body` (exact reads of the
/// announced size) into a sink. What the header and the counted body cost, without the
/// file and the checksum.
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
    let (mut conn, reader) = connect_to_discarder(move |conn| {
        let header = recv_header(conn, ByteOrder::Network, 65536, &out)
            .expect("header")
            .expect("a header");
        let request = parse_request(&header).expect("a request");
        copy_body(conn, &mut std::io::sink(), request.body_size(), |_| {}).expect("body");
        request.body_size()
    });
    let start = Instant::now();
    let request = Request::Put {
        file_name: "payload.bin".into(),
        total_size: size,
        sha256: "0".repeat(64),
    };
    send_header(&mut conn, &request, ByteOrder::Network, &out).expect("send header");
    send_bytes(&mut conn, size);
    drop(conn);
    let got = reader.join().expect("reader");
    let took = start.elapsed();
    assert_eq!(got, size);
    took
}

/// The time SHA-256 takes over the file's bytes on one core: the file is read in 1 MiB
/// chunks, and only the hashing is timed.
fn sha256_only(path: &Path) -> Duration {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; MIB as usize];
    let mut hashing = Duration::ZERO;
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        let start = Instant::now();
        hasher.update(&buf[..n]);
        hashing += start.elapsed();
    }
    let _ = hasher.finalize();
    hashing
}

struct Transfer {
    took: Duration,
    server: Seen,
    client: Seen,
}

/// One lesson 06 client run against a fresh server; both are real release binaries.
fn lesson06(client_args: &[&str], root: &Path) -> Transfer {
    let server = socket_lab::spawn::start(
        Command::new(env!("CARGO_BIN_EXE_lesson06-server"))
            .args(["--port", "0", "--max-clients", "1", "--color", "never"])
            .args(["--root", path_str(root)]),
    )
    .expect("start lesson06-server");
    let port = server.addr.port().to_string();
    let mut server = server.drain_stdout();
    let server_watch = Watch::start(server.id());

    let start = Instant::now();
    let mut client = Command::new(env!("CARGO_BIN_EXE_lesson06-client"))
        .args(["--color", "never", "--port", &port])
        .args(client_args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start lesson06-client");
    let client_watch = Watch::start(client.id());
    let status = client.wait().expect("client");
    let took = start.elapsed();
    if !status.success() {
        let _ = server.kill();
    }
    let server_ok = server.wait().is_ok_and(|s| s.success());
    assert!(status.success(), "the client failed");
    assert!(server_ok, "the server failed");
    Transfer {
        took,
        server: server_watch.stop(),
        client: client_watch.stop(),
    }
}

fn print_run(label: &str, size: u64, run: &Transfer, limit: Duration, limit_name: &str) {
    println!(
        "{label}: {}  = {:.2} x the {limit_name} (target >= 0.8)",
        rate(size, run.took),
        limit.as_secs_f64() / run.took.as_secs_f64()
    );
    println!(
        "  CPU: server {:.2} s, client {:.2} s; peak RSS: server {:.1} MiB, client {:.1} MiB \
         (target < 32 MiB)",
        run.server.cpu_secs(),
        run.client.cpu_secs(),
        run.server.peak_mib(),
        run.client.peak_mib(),
    );
    // The limit counts the hashing only. The programs' own CPU times say what else had
    // to be done (copying out of the socket, writing the file): all of it shared this
    // machine's cores, so no run can be shorter than that work spread over all of them.
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = run.server.cpu_secs() + run.client.cpu_secs();
    let bound = cpu / cores as f64;
    println!(
        "  the work on {cores} cores: ({:.2} s + {:.2} s of CPU) / {cores} = {bound:.2} s at \
         best; this run took {:.2} x that",
        run.server.cpu_secs(),
        run.client.cpu_secs(),
        run.took.as_secs_f64() / bound
    );
}

fn rate(size: u64, took: Duration) -> String {
    format!(
        "{:.0} MiB/s ({:.2} s)",
        size as f64 / MIB as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

/// A good Python client for the same `get`: the request framed as lesson 06 frames it,
/// the body received with `recv_into` into one 64 KiB buffer (no copies, no `+=`),
/// written to a file and hashed as it arrives, then checked. With md5 the expected
/// digest comes from the command line (the header carries a sha256).
const PYTHON_GET: &str = r#"
import hashlib, json, socket, struct, sys
port, name, out, algorithm, expected = sys.argv[1:6]
conn = socket.create_connection(("127.0.0.1", int(port)))
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def recv_exact(n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = conn.recv_into(view[got:])
        if k == 0:
            sys.exit("the server closed early")
        got += k
    return bytes(buf)

request = json.dumps({"command": "get", "file_name": name}).encode()
conn.sendall(struct.pack("!I", len(request)) + request)
(length,) = struct.unpack("!I", recv_exact(4))
reply = json.loads(recv_exact(length))
left = reply["total_size"]
digest = hashlib.new(algorithm)
buf = bytearray(65536)
view = memoryview(buf)
with open(out, "wb") as f:
    while left:
        k = conn.recv_into(view[: min(left, len(buf))])
        if k == 0:
            sys.exit("the body ended early")
        digest.update(view[:k])
        f.write(view[:k])
        left -= k
if digest.hexdigest() != (reply["sha256"] if algorithm == "sha256" else expected):
    sys.exit("checksum mismatch")
"#;

/// md5 of a file, computed by Python (not timed).
fn python_md5(path: &Path) -> Option<String> {
    let script = "import hashlib,sys\nh=hashlib.md5()\nf=open(sys.argv[1],'rb')\n\
                  for b in iter(lambda: f.read(1<<20), b''): h.update(b)\nprint(h.hexdigest())";
    let out = Command::new("python3")
        .args(["-c", script, path_str(path)])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One Python `get` against a fresh lesson06-server: the time from starting the client to
/// its exit, like the lab's own client. `None` when python3 is missing or failed.
fn python_get(
    root: &Path,
    back: &Path,
    algorithm: &str,
    expected: &str,
) -> Option<Duration> {
    let server = socket_lab::spawn::start(
        Command::new(env!("CARGO_BIN_EXE_lesson06-server"))
            .args(["--port", "0", "--max-clients", "1", "--color", "never"])
            .args(["--root", path_str(root)]),
    )
    .ok()?;
    let port = server.addr.port().to_string();
    let mut server = server.drain_stdout();
    let out: PathBuf = back.join("payload.bin");
    let start = Instant::now();
    let status = Command::new("python3")
        .args(["-c", PYTHON_GET, &port, "payload.bin", path_str(&out)])
        .args([algorithm, expected])
        .status();
    let took = start.elapsed();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        let _ = server.kill();
    }
    let _ = server.wait();
    status.ok()?.success().then_some(took)
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
