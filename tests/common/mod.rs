//! The test harness: runs the real lesson binaries over 127.0.0.1 and records what they print.
//!
//! A server is started with `--port 0` and the harness reads its first line,
//! `listening on HOST:PORT`, to learn the real port: no fixed ports, no sleeps. Clients are run
//! against that port with scripted stdin. The outputs become a transcript that reads like two
//! terminals (ports redacted), which is snapshot-tested with insta and shown by the book.
#![allow(dead_code)] // each test file uses its own part of the harness

use std::io::{BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use wait_timeout::ChildExt;

/// How long any program of the lab may take in a test before it counts as hung.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A finished program: what it printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// The command as a student would type it (no `--port 0`).
    pub shown: String,
    pub stdout: String,
    pub stderr: String,
    /// The exit code; `None` when it was killed.
    pub code: Option<i32>,
}

/// The path of one of the lab's binaries, built by cargo for the integration tests.
pub fn bin_path(bin: &str) -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin(bin)
}

/// A base command for a lab binary: no colours, no inherited stdin.
pub fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin_path(bin));
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    // Under `cargo test` the binaries are already built: `lab demo` must not run cargo itself.
    cmd.env_remove("CARGO");
    cmd
}

/// The default port of a lesson binary: 9000 + the lesson number.
pub use socket_lab::cli::default_port;

/// How the book shows a command line: `cargo run --bin NAME -- ARGS`, with any scripted stdin
/// shown as `printf '...' |`, and without the `--port 0` the tests add to servers.
pub fn shown_command(bin: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut shown = String::new();
    if let Some(input) = stdin {
        shown.push_str(&format!("printf '{}' | ", input.escape_default()));
    }
    shown.push_str(&format!("cargo run --bin {bin}"));
    let mut kept = Vec::new();
    let mut skip_next = false;
    for (i, arg) in args.iter().enumerate() {
        if skip_next {
            skip_next = false;
        } else if *arg == "--port" && args.get(i + 1) == Some(&"0") {
            skip_next = true;
        } else {
            kept.push(if arg.contains(' ') || arg.is_empty() {
                format!("'{arg}'")
            } else {
                arg.to_string()
            });
        }
    }
    if !kept.is_empty() {
        shown.push_str(" -- ");
        shown.push_str(&kept.join(" "));
    }
    shown
}

/// A running server started with `--port 0`.
pub struct Server {
    pub bin: String,
    pub port: u16,
    /// The first line it printed (`listening on 127.0.0.1:PORT`).
    pub first_line: String,
    shown: String,
    child: Child,
    rest: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// Starts `bin` with `args` and `--port 0`, and waits for its `listening on` line.
pub fn start_server(bin: &str, args: &[&str]) -> Server {
    let mut cmd = command(bin);
    cmd.args(args)
        .args(["--port", "0"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let mut started = socket_lab::spawn::start(&mut cmd).unwrap_or_else(|e| panic!("{e:#}"));
    let stderr = started.child.stderr.take().map(read_all_in_background);
    Server {
        bin: bin.to_string(),
        port: started.addr.port(),
        first_line: started.first_line,
        shown: shown_command(bin, args, None),
        child: started.child,
        rest: Some(read_rest_in_background(started.stdout)),
        stderr,
    }
}

fn read_all_in_background<R: Read + Send + 'static>(mut r: R) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = r.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn read_rest_in_background(r: BufReader<ChildStdout>) -> JoinHandle<String> {
    read_all_in_background(r)
}

impl Server {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port as an argument: `["--port", "PORT"]` for a client.
    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    /// Waits for the server to exit by itself (its `--max-clients` bound, say) and collects
    /// everything it printed. A server still running after [`LIMIT`] is killed and the test fails.
    pub fn finish(mut self) -> Run {
        let status = self
            .child
            .wait_timeout(LIMIT)
            .expect("waiting for the server");
        let hung = status.is_none();
        if hung {
            let _ = self.child.kill();
        }
        let status = self.child.wait().expect("reaping the server");
        let run = self.collect(status.code());
        assert!(
            !hung,
            "{} did not exit within {LIMIT:?}; it printed:\n{}\n{}",
            self.bin, run.stdout, run.stderr
        );
        run
    }

    /// Stops a server that would run forever, and collects what it printed.
    pub fn stop(mut self) -> Run {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect(None)
    }

    fn collect(&mut self, code: Option<i32>) -> Run {
        let rest = self.rest.take().map(|h| h.join().unwrap_or_default());
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        Run {
            shown: self.shown.clone(),
            stdout: format!("{}\n{}", self.first_line, rest.unwrap_or_default()),
            stderr: stderr.unwrap_or_default(),
            code,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failing test must not leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `bin` to completion with `args` and optional stdin, within [`LIMIT`].
pub fn run(bin: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = assert_cmd::Command::from_std(command(bin));
    cmd.args(args).timeout(LIMIT);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    Run {
        shown: shown_command(bin, args, stdin),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    }
}

/// Runs a client `bin` against `server` (adding `--port`).
pub fn run_client(bin: &str, server: &Server, args: &[&str], stdin: Option<&str>) -> Run {
    let port = server.port_arg();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--port", port.as_str()]);
    Run {
        // The student's client finds the server on its default port: no `--port` shown.
        shown: shown_command(bin, args, stdin),
        ..run(bin, &all, stdin)
    }
}

impl Run {
    /// This run as a terminal shows it: the command, its output, its exit code.
    pub fn terminal(&self) -> String {
        let mut text = format!("$ {}\n", self.shown);
        for part in [&self.stdout, &self.stderr] {
            let part = part.trim_end_matches('\n');
            if !part.is_empty() {
                text.push_str(part);
                text.push('\n');
            }
        }
        match self.code {
            Some(code) => text.push_str(&format!("[exit code {code}]\n")),
            None => text.push_str("[stopped]\n"),
        }
        text
    }

    /// Asserts the exit code, showing everything the program printed when it differs.
    pub fn assert_code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "expected exit code {expected} from `{}`; it printed:\n{}",
            self.shown,
            self.terminal()
        );
        self
    }
}

/// A transcript of several terminals, one after another, with the ports redacted: the
/// server's port becomes the lesson's default port (what a student sees with no `--port`),
/// every other port (a client's, picked by the system) becomes `[port]`.
pub fn transcript(server_port: Option<u16>, default: Option<u16>, runs: &[&Run]) -> String {
    let text: Vec<String> = runs.iter().map(|r| r.terminal()).collect();
    redact_ports(&text.join("\n"), server_port, default)
}

/// See [`transcript`]. Explicit `--port N` arguments become `--port [port]` and process ids
/// `pid [pid]`: they change from run to run.
pub fn redact_ports(text: &str, server_port: Option<u16>, default: Option<u16>) -> String {
    let re = regex::Regex::new(r"127\.0\.0\.1:(\d+)").expect("valid regex");
    let text = re.replace_all(text, |caps: &regex::Captures| {
        let port: Option<u16> = caps[1].parse().ok();
        match (port, server_port, default) {
            (Some(p), Some(s), Some(d)) if p == s => format!("127.0.0.1:{d}"),
            _ => "127.0.0.1:[port]".to_string(),
        }
    });
    let text = regex::Regex::new(r"--port [1-9]\d*")
        .expect("valid regex")
        .replace_all(&text, "--port [port]");
    regex::Regex::new(r"pid \d+")
        .expect("valid regex")
        .replace_all(&text, "pid [pid]")
        .into_owned()
}

/// Snapshot-tests a transcript. The file is `tests/snapshots/NAME.snap`: the book includes
/// the same file, so the book can only show output that the code really produces.
pub fn assert_transcript(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// The common case: one server, its clients, one transcript.
pub fn session_transcript(
    server: &Run,
    server_port: u16,
    server_bin: &str,
    clients: &[&Run],
) -> String {
    let mut runs = vec![server];
    runs.extend_from_slice(clients);
    transcript(Some(server_port), default_port(server_bin), &runs)
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A TCP port where nobody listens.
pub fn free_port() -> u16 {
    unused_port(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
}

/// A UDP port where nobody receives.
pub fn free_udp_port() -> u16 {
    unused_port(|port| std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok())
}

/// A free port chosen BELOW the system's ephemeral range (where clients' own ports come
/// from), starting at a random place. A port from inside that range could be handed to the
/// very client we run against it: a UDP client would then receive its own datagram, and a
/// TCP client connecting to its own port connects to itself ("self-connect").
fn unused_port(is_free: impl Fn(u16) -> bool) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let first: u16 = 20000;
    let span = ephemeral_low.saturating_sub(first).max(1);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let start = (random % u64::from(span)) as u16;
    (0..span)
        .map(|i| first + (start + i) % span)
        .find(|&port| is_free(port))
        .expect("a free port below the ephemeral range")
}

/// The `[[bin]]` entries of Cargo.toml as (name, path).
pub fn bins() -> Vec<(String, String)> {
    let manifest = std::fs::read_to_string("Cargo.toml").expect("Cargo.toml");
    let mut bins = Vec::new();
    for block in manifest.split("[[bin]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(key)?
                    .trim()
                    .strip_prefix('=')
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        };
        if let (Some(name), Some(path)) = (field("name"), field("path")) {
            bins.push((name, path));
        }
    }
    bins
}

/// Whether python3 is installed, for the tests that run the classic course's Python peers.
/// Where it is missing, the test says so and passes without running.
pub fn python3_available() -> bool {
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            eprintln!("skipped: python3 is not installed");
            false
        }
    }
}

/// Runs a Python script and returns what it printed; fails the test with Python's stderr
/// when the script fails.
pub fn run_python(script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `lab demo NN` and checks that it ended by itself, successfully.
pub fn run_demo(lesson: &str) -> Run {
    let demo = run("lab", &["demo", lesson], None);
    demo.assert_code(0);
    assert!(
        demo.stdout
            .ends_with("demo finished (server exit code 0)\n"),
        "{}",
        demo.stdout
    );
    demo
}
