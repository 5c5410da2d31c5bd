//! Running the lab's programs: a server in a [`Session`], a client or any program with
//! [`run`], and what each one did as a [`Run`].

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use rustix::process::Resource;
use rustix::process::{setrlimit, Rlimit};
use wait_timeout::ChildExt;

/// How long any program of the lab may take in a test before it counts as hung.
pub const LIMIT: Duration = Duration::from_secs(30);

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

/// A finished program: what it printed and how it exited.
#[derive(Clone, Debug)]
pub struct Run {
    /// The program's name, e.g. `lesson01-server`.
    pub bin: String,
    /// The command as a student would type it (no `--port 0`).
    pub shown: String,
    pub stdout: String,
    pub stderr: String,
    /// The exit code; `None` when it was stopped.
    pub code: Option<i32>,
    /// For a server: the port it really listened on. A transcript shows the lesson's default
    /// port in its place, as a student who started it without `--port` would see.
    pub port: Option<u16>,
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
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Run {
        assert!(
            self.code == Some(expected),
            "expected exit code {expected}, observed {:?}:\n{}",
            self.code,
            self.terminal()
        );
        self
    }

    /// Asserts that stdout contains `expected`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, expected: &str) -> &Run {
        assert_contains(
            &format!("the stdout of `{}`", self.shown),
            &self.stdout,
            expected,
        );
        self
    }

    /// Asserts that stdout does not contain `unexpected`.
    #[track_caller]
    pub fn assert_stdout_lacks(&self, unexpected: &str) -> &Run {
        assert!(
            !self.stdout.contains(unexpected),
            "expected the stdout of `{}` NOT to contain:\n  {unexpected:?}\nobserved:\n{}",
            self.shown,
            self.stdout
        );
        self
    }

    /// Asserts that stderr contains `expected`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, expected: &str) -> &Run {
        assert_contains(
            &format!("the stderr of `{}`", self.shown),
            &self.stderr,
            expected,
        );
        self
    }

    /// Asserts that stderr starts with `expected`.
    #[track_caller]
    pub fn assert_stderr_starts_with(&self, expected: &str) -> &Run {
        assert!(
            self.stderr.starts_with(expected),
            "expected the stderr of `{}` to start with:\n  {expected}\nobserved:\n  {}",
            self.shown,
            self.stderr.trim_end().replace('\n', "\n  ")
        );
        self
    }

    /// Asserts that stderr is exactly one line, `expected`: the lab's errors are one line.
    #[track_caller]
    pub fn assert_error(&self, expected: &str) -> &Run {
        assert!(
            self.stderr.trim_end() == expected && self.stderr.lines().count() == 1,
            "expected this one line on the stderr of `{}`:\n  {expected}\nobserved:\n  {}",
            self.shown,
            self.stderr.trim_end().replace('\n', "\n  ")
        );
        self
    }

    /// How many times `text` occurs in stdout.
    pub fn count(&self, text: &str) -> usize {
        self.stdout.matches(text).count()
    }

    /// Asserts that `text` occurs `expected` times in stdout.
    #[track_caller]
    pub fn assert_count(&self, text: &str, expected: usize) -> &Run {
        let observed = self.count(text);
        assert!(
            observed == expected,
            "expected {text:?} {expected} times in the stdout of `{}`, observed {observed} \
             times:\n{}",
            self.shown,
            self.stdout
        );
        self
    }
}

/// Asserts that `text` contains `expected`; `what` names the text in the failure message.
#[track_caller]
pub fn assert_contains(what: &str, text: &str, expected: &str) {
    assert!(
        text.contains(expected),
        "expected {what} to contain:\n  {expected:?}\nobserved:\n{text}"
    );
}

/// Runs `bin` to completion with `args` and optional stdin, within [`LIMIT`].
#[track_caller]
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
        bin: bin.to_string(),
        shown: shown_command(bin, args, stdin),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
        port: None,
    }
}

/// A server started with `--port 0`, and the clients a test runs against it. A client that
/// must run while the test goes on (the test waits for its lines, types into it) is a
/// `Session` too: [`Session::background`].
pub struct Session {
    bin: String,
    shown: String,
    /// The port it listens on (for a client in the background: its server's port).
    pub port: u16,
    /// Its first line: `listening on 127.0.0.1:PORT` (empty for a client).
    pub first_line: String,
    /// A server (not a client in the background): its [`Run`] knows the port it listened on.
    server: bool,
    child: Child,
    /// Its keyboard, for [`Session::start_typing`].
    keyboard: Option<ChildStdin>,
    /// Its stdout after the first line, line by line as it prints them.
    lines: Receiver<String>,
    /// The lines taken from `lines` so far.
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Session {
    /// Starts server `bin` with `args` and `--port 0`, and waits for its `listening on` line.
    #[track_caller]
    pub fn start(bin: &str, args: &[&str]) -> Session {
        Session::spawn(bin, args, 0, Stdio::null(), &[])
    }

    /// Like [`Session::start`], on `port`: a server restarted where an earlier one listened.
    /// Shown without the port, as a student restarts it on the default port.
    #[track_caller]
    pub fn start_on_port(bin: &str, args: &[&str], port: u16) -> Session {
        Session::spawn(bin, args, port, Stdio::null(), &[])
    }

    /// Like [`Session::start`], with resource limits set on the server's process before it
    /// starts (soft and hard alike): `(Resource::Nofile, 64)` lets it hold 64 descriptors,
    /// `(Resource::As, N)` N bytes of address space. What `prlimit --nofile=64:64` does.
    #[track_caller]
    pub fn start_limited(
        bin: &str,
        args: &[&str],
        limits: &[(Resource, u64)],
    ) -> Session {
        Session::spawn(bin, args, 0, Stdio::null(), limits)
    }

    /// Like [`Session::start`], for a program that also reads its stdin: the test types into
    /// it with [`Session::type_line`].
    #[track_caller]
    pub fn start_typing(bin: &str, args: &[&str]) -> Session {
        Session::spawn(bin, args, 0, Stdio::piped(), &[])
    }

    #[track_caller]
    fn spawn(
        bin: &str,
        args: &[&str],
        port: u16,
        stdin: Stdio,
        limits: &[(Resource, u64)],
    ) -> Session {
        let mut cmd = command(bin);
        cmd.args(args)
            .args(["--port", &port.to_string()])
            .stdin(stdin)
            .stderr(Stdio::piped());
        if !limits.is_empty() {
            let limits = limits.to_vec();
            // SAFETY: the closure runs in the child between fork and exec, where only
            // async-signal-safe calls are allowed: it makes setrlimit system calls and
            // allocates nothing.
            unsafe {
                cmd.pre_exec(move || {
                    for &(resource, n) in &limits {
                        let limit = Rlimit {
                            current: Some(n),
                            maximum: Some(n),
                        };
                        setrlimit(resource, limit)?;
                    }
                    Ok(())
                });
            }
        }
        let started =
            socket_lab::spawn::start(&mut cmd).unwrap_or_else(|e| panic!("{e:#}"));
        let port = started.addr.port();
        let shown = shown_command(bin, args, None);
        let mut session = Session::watch(bin, shown, started.child, started.stdout, port);
        session.first_line = started.first_line;
        session.server = true;
        session
    }

    /// Runs client `bin` against this server (adding `--port`) in the background, with a
    /// keyboard: the test waits for its lines ([`Session::wait_for_line`]), types into it
    /// ([`Session::type_line`]) and collects its [`Run`] with [`Session::finish`].
    #[track_caller]
    pub fn background(&self, bin: &str, args: &[&str]) -> Session {
        let mut cmd = command(bin);
        cmd.args(args)
            .args(["--port", &self.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let stdout = child.stdout.take().expect("its stdout is piped");
        let shown = shown_command(bin, args, None);
        Session::watch(bin, shown, child, BufReader::new(stdout), self.port)
    }

    /// Reads the stdout and stderr of a started program in threads, as they come.
    fn watch(
        bin: &str,
        shown: String,
        mut child: Child,
        mut stdout: BufReader<ChildStdout>,
        port: u16,
    ) -> Session {
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                String::from_utf8_lossy(&bytes).into_owned()
            })
        });
        // The rest of stdout is read by a thread, line by line (each with its `\n`), so the
        // server never blocks on a full pipe and a test can wait for a line.
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut line = Vec::new();
            match stdout.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx
                        .send(String::from_utf8_lossy(&line).into_owned())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        Session {
            bin: bin.to_string(),
            shown,
            port,
            first_line: String::new(),
            server: false,
            keyboard: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs client `bin` against this server (adding `--port`), to completion.
    #[track_caller]
    pub fn client(&self, bin: &str, args: &[&str], stdin: Option<&str>) -> Run {
        let port = self.port.to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--port", port.as_str()]);
        Run {
            // The student's client finds the server on its default port: no `--port` shown.
            shown: shown_command(bin, args, stdin),
            ..run(bin, &all, stdin)
        }
    }

    /// Waits for the next line the server prints that satisfies `wanted`, and returns it
    /// (without its line end). Every line stays in the server's [`Run`].
    #[track_caller]
    pub fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let text = line.trim_end_matches(['\n', '\r']).to_string();
                    self.seen.push(line);
                    if wanted(&text) {
                        return text;
                    }
                }
                Err(e) => panic!(
                    "{} printed no such line ({e:?}); it printed:\n{}\n{}",
                    self.bin,
                    self.first_line,
                    self.seen.concat()
                ),
            }
        }
    }

    /// Types `line` and Enter into a server started with [`Session::start_typing`], or a
    /// client started with [`Session::background`].
    #[track_caller]
    pub fn type_line(&mut self, line: &str) {
        let keyboard = self.keyboard.as_mut().expect("started with a keyboard");
        keyboard
            .write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("typing into {}: {e}", self.bin));
    }

    /// Ends the typed input (Ctrl-D).
    pub fn end_input(&mut self) {
        self.keyboard = None;
    }

    /// Waits for the server to exit by itself and collects everything it printed. A server
    /// still running after [`LIMIT`] is stopped and the test fails.
    #[track_caller]
    pub fn finish(mut self) -> Run {
        self.end_input();
        let status = self
            .child
            .wait_timeout(LIMIT)
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.bin));
        let Some(status) = status else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let run = self.collect(None);
            panic!(
                "{} did not exit within {LIMIT:?}:\n{}",
                self.bin,
                run.terminal()
            );
        };
        self.collect(status.code())
    }

    /// Stops a server that would run forever, and collects what it printed.
    pub fn stop(mut self) -> Run {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect(None)
    }

    fn collect(&mut self, code: Option<i32>) -> Run {
        // The process has ended: its stdout ends too, and the reader thread with it.
        while let Ok(line) = self.lines.recv_timeout(LIMIT) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        let stdout = match self.server {
            true => format!("{}\n{}", self.first_line, self.seen.concat()),
            false => self.seen.concat(),
        };
        Run {
            bin: self.bin.clone(),
            shown: self.shown.clone(),
            stdout,
            stderr: stderr.unwrap_or_default(),
            code,
            port: self.server.then_some(self.port),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failing test must not leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
