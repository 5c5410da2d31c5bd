//! What `lab check` uses to test a student's program black-box: start it, talk to it over
//! 127.0.0.1 as the lab's own peers, and compare what was observed with what the exercise
//! asks. Everything here is bounded: every wait has a deadline, and a program's output is
//! kept up to a cap and counted beyond it (a program that prints without end is cut off).
//!
//! A check returns an [`Outcome`]: `Ok` or a [`Failure`] that says what was expected, what
//! was observed, where they first differ, and which hint to read.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{kill_process, Pid, Signal};
use socket2::SockRef;
use wait_timeout::ChildExt;

/// How long a program may take to do one thing the check waits for: print its first line,
/// connect, answer, exit. Generous for a correct program on a busy machine; a program that
/// waits forever is stopped after it.
pub const LIMIT: Duration = Duration::from_secs(2);

/// How much of a program's stdout and stderr is kept to be shown and compared.
const KEEP: usize = 64 * 1024;

/// A program that prints more than this is cut off: the lab stops reading its output.
pub const FLOOD: u64 = 16 * 1024 * 1024;

/// Why a check failed, as the student will read it.
#[derive(Debug)]
pub struct Failure {
    /// One line: what went wrong.
    pub summary: String,
    pub expected: Option<String>,
    pub observed: Option<String>,
    /// Where expected and observed first differ.
    pub difference: Option<String>,
    /// More lines: how the program was run, what it said on stderr, how it ended.
    pub details: Vec<String>,
    /// Which hint of the exercise to read next (1-based); 0 when no hint helps (the
    /// program could not even be started).
    pub hint: usize,
}

/// What a check, or one step of it, comes to.
pub type Outcome<T = ()> = Result<T, Failure>;

impl Failure {
    pub fn new(summary: impl Into<String>, hint: usize) -> Failure {
        Failure {
            summary: summary.into(),
            expected: None,
            observed: None,
            difference: None,
            details: Vec::new(),
            hint,
        }
    }

    pub fn expected(mut self, text: impl Into<String>) -> Failure {
        self.expected = Some(text.into());
        self
    }

    pub fn observed(mut self, text: impl Into<String>) -> Failure {
        self.observed = Some(text.into());
        self
    }

    pub fn detail(mut self, line: impl Into<String>) -> Failure {
        self.details.push(line.into());
        self
    }

    /// More lines of details at once (how a program ended, say).
    pub fn details(mut self, lines: Vec<String>) -> Failure {
        self.details.extend(lines);
        self
    }

    /// The hint that fits what went wrong better than the one chosen so far.
    pub fn hint(mut self, hint: usize) -> Failure {
        self.hint = hint;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Comparing and showing bytes.

/// Bytes as a student can read them on a terminal: text escaped like a Rust string
/// (`"a\n"`), cut after `max` bytes with how many there were. Nothing a program sends
/// reaches the terminal unescaped.
pub fn shown(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let text = format!("{:?}", String::from_utf8_lossy(cut));
    if bytes.len() > cut.len() {
        format!("{text} … ({} bytes in all)", bytes.len())
    } else {
        text
    }
}

/// One byte, as `'a' (0x61)` or `'\0' (0x00)`.
fn byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}' (0x{b:02x})", b as char)
    } else {
        format!("{:?} (0x{b:02x})", b as char)
    }
}

/// Where two byte strings first differ: the first byte that is not the same, or where the
/// shorter one ends; `None` when they are equal.
pub fn differ_at(expected: &[u8], observed: &[u8]) -> Option<usize> {
    let at = expected.iter().zip(observed).position(|(a, b)| a != b);
    let shorter = expected.len().min(observed.len());
    at.or((expected.len() != observed.len()).then_some(shorter))
}

/// Where two byte strings first differ, in words; `None` when they are equal.
pub fn first_difference(expected: &[u8], observed: &[u8]) -> Option<String> {
    let i = differ_at(expected, observed)?;
    Some(match (expected.get(i), observed.get(i)) {
        (Some(&e), Some(&o)) => {
            format!("byte {i}: expected {}, observed {}", byte(e), byte(o))
        }
        (Some(&e), None) => format!(
            "byte {i}: expected {}, observed the end ({} of {} bytes)",
            byte(e),
            observed.len(),
            expected.len()
        ),
        _ => format!(
            "byte {i}: expected the end, observed {} more: {}",
            observed.len() - expected.len(),
            shown(&observed[expected.len()..], 40)
        ),
    })
}

/// Checks that `observed` is exactly `expected`; `what` names it in the failure.
pub fn same_bytes(what: &str, expected: &[u8], observed: &[u8], hint: usize) -> Outcome {
    let Some(difference) = first_difference(expected, observed) else {
        return Ok(());
    };
    let mut failure = Failure::new(format!("{what}: not what was expected"), hint)
        .expected(shown(expected, 100))
        .observed(shown(observed, 100));
    failure.difference = Some(difference);
    Err(failure)
}

/// Checks that the lines of `observed` are exactly `expected`; on a difference it names the
/// first line that differs, and the byte in it.
pub fn same_lines(what: &str, expected: &[&str], observed: &str, hint: usize) -> Outcome {
    let got: Vec<&str> = observed.lines().collect();
    for i in 0..expected.len().max(got.len()) {
        let (want, have) = (expected.get(i), got.get(i));
        if want == have {
            continue;
        }
        let show = |line: Option<&&str>| match line {
            Some(line) => shown(line.as_bytes(), 80),
            None => "(no more lines)".to_string(),
        };
        let mut failure = Failure::new(format!("{what}: line {} differs", i + 1), hint)
            .expected(show(want))
            .observed(show(have));
        if let (Some(want), Some(have)) = (want, have) {
            failure.difference = first_difference(want.as_bytes(), have.as_bytes())
                .map(|d| format!("line {}, {d}", i + 1));
        }
        return Err(failure);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The student's program, running.

/// A program under test, and where it runs.
#[derive(Clone, Debug)]
pub struct Program {
    pub path: PathBuf,
    /// A scratch folder for this check: the program runs in it, and the check may put
    /// files there. Removed when the check ends.
    pub dir: PathBuf,
}

/// The path of one of the lab's own programs (a lesson's server, say): next to `lab`.
pub fn lab_program(name: &str) -> Outcome<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("finding the lab's programs: {e}"), 1))?;
    let path = exe.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Failure::new(
            format!("the lab's {name} is not built: cargo build --bin {name}"),
            1,
        ))
    }
}

/// What the reader of one output stream has seen.
#[derive(Default)]
struct Capture {
    kept: Mutex<Vec<u8>>,
    lines: AtomicU64,
    /// Lines that contain the watched text (e.g. `0 bytes`, for a spinning server).
    watched: AtomicU64,
    flooded: AtomicBool,
}

enum Event {
    /// A line of stdout (only the first lines are sent, to wait for one).
    Line(String),
    /// One of the two streams ended.
    Closed,
}

/// A student's program, started. Dropping it stops it.
pub struct Running {
    child: Child,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    events: Receiver<Event>,
    closed: usize,
}

/// A program that has ended (or was stopped), and what it printed.
#[derive(Debug)]
pub struct Finished {
    /// The exit code; `None` when it was stopped or killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when the lab stopped it because it did not end in time.
    pub stopped: bool,
    /// True when it printed more than [`FLOOD`] bytes.
    pub flooded: bool,
}

/// How many stdout lines are sent as events (the rest are only counted).
const LINE_EVENTS: usize = 1000;

/// The longest line a waiting check looks at.
const LONGEST_LINE: usize = 4096;

fn read_stream(
    mut pipe: impl Read,
    capture: Arc<Capture>,
    events: Option<Sender<Event>>,
    closed: Sender<Event>,
    watch: Option<&'static str>,
) {
    let mut buf = [0u8; 8192];
    let mut line = Vec::new();
    let mut sent = 0;
    let mut total: u64 = 0;
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        total += n as u64;
        if let Ok(mut kept) = capture.kept.lock() {
            let room = KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        for &b in &buf[..n] {
            if b != b'\n' {
                if line.len() < LONGEST_LINE {
                    line.push(b);
                }
                continue;
            }
            capture.lines.fetch_add(1, Ordering::Relaxed);
            let text = String::from_utf8_lossy(&line).into_owned();
            if watch.is_some_and(|w| text.contains(w)) {
                capture.watched.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(events) = &events {
                if sent < LINE_EVENTS {
                    sent += 1;
                    let _ = events.send(Event::Line(text));
                }
            }
            line.clear();
        }
        if total > FLOOD {
            // Stop reading: the program's next write fails (a closed pipe), and it is
            // stopped when the check ends anyway.
            capture.flooded.store(true, Ordering::Relaxed);
            break;
        }
    }
    let _ = closed.send(Event::Closed);
}

impl Running {
    /// Starts `program` with `args` in its scratch folder, `stdin` typed into it (then
    /// closed), output captured. `watch`: count the stdout lines containing this text.
    pub fn start(
        program: &Program,
        args: &[&str],
        stdin: Option<&str>,
        watch: Option<&'static str>,
    ) -> Outcome<Running> {
        let mut cmd = Command::new(&program.path);
        cmd.args(args)
            .current_dir(&program.dir)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            Failure::new(
                format!("could not start {}: {e}", program.path.display()),
                0,
            )
        })?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let input = input.to_string();
            // In a thread: a program that never reads its stdin must not block the lab.
            std::thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        let (tx, events) = channel();
        let stdout = Arc::new(Capture::default());
        let stderr = Arc::new(Capture::default());
        if let Some(pipe) = child.stdout.take() {
            let (capture, lines, closed) = (stdout.clone(), tx.clone(), tx.clone());
            std::thread::spawn(move || {
                read_stream(pipe, capture, Some(lines), closed, watch)
            });
        }
        if let Some(pipe) = child.stderr.take() {
            let (capture, closed) = (stderr.clone(), tx.clone());
            std::thread::spawn(move || read_stream(pipe, capture, None, closed, None));
        }
        Ok(Running {
            child,
            stdout,
            stderr,
            events,
            closed: 0,
        })
    }

    /// Waits for the next stdout line, for at most `limit`. `None`: the program ended
    /// its output, or printed nothing more in time.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        while self.closed < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Line(line)) => return Some(line),
                Ok(Event::Closed) => self.closed += 1,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
        None
    }

    /// Whether the program is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How many lines it has printed on stdout so far, and how many of them contained
    /// the watched text.
    pub fn lines(&self) -> (u64, u64) {
        (
            self.stdout.lines.load(Ordering::Relaxed),
            self.stdout.watched.load(Ordering::Relaxed),
        )
    }

    /// Whether it printed so much that the lab stopped reading its output.
    pub fn flooded(&self) -> bool {
        self.stdout.flooded.load(Ordering::Relaxed)
            || self.stderr.flooded.load(Ordering::Relaxed)
    }

    /// The fields of the program's line in Linux's /proc/PID/stat that come after the
    /// command name (which is in parentheses and may hold spaces): its state first.
    fn stat(&self) -> Option<Vec<String>> {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let fields = stat.rsplit_once(')')?.1.split_whitespace();
        Some(fields.map(str::to_string).collect())
    }

    /// The CPU time the program has used so far (user + system), read from Linux's /proc.
    pub fn cpu_time(&self) -> Option<Duration> {
        let fields = self.stat()?;
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; in
        // clock ticks of 1/100 s on Linux.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    /// Holds the program still (SIGSTOP), as a busy machine may: the system goes on
    /// completing handshakes and queueing bytes for its sockets, but the program runs no
    /// code until [`Running::resume`]. Returns once it has stopped (where Linux's /proc
    /// says so; elsewhere as soon as the signal is sent).
    pub fn pause(&mut self) -> Outcome {
        self.signal(Signal::STOP)?;
        let deadline = Instant::now() + LIMIT;
        loop {
            let state = self.stat().and_then(|f| f.first().cloned());
            // `T`: stopped by a signal. No /proc, or no such process: nothing to wait for.
            if state.as_deref().is_none_or(|s| s == "T") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Failure::new(
                    "your server did not stop on SIGSTOP: the lab cannot hold it still",
                    1,
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Lets a program held by [`Running::pause`] go on (SIGCONT).
    pub fn resume(&mut self) -> Outcome {
        self.signal(Signal::CONT)
    }

    fn signal(&mut self, signal: Signal) -> Outcome {
        kill_process(Pid::from_child(&self.child), signal).map_err(|e| {
            Failure::new(format!("the lab could not signal your program: {e}"), 1)
        })
    }

    /// Waits up to `limit` for the program to end by itself; stops it if it does not.
    pub fn finish(mut self, limit: Duration) -> Finished {
        let status = self.child.wait_timeout(limit).ok().flatten();
        let stopped = status.is_none();
        if stopped {
            let _ = self.child.kill();
        }
        let status = self.child.wait().ok();
        let code = if stopped {
            None
        } else {
            status.and_then(|s| s.code())
        };
        self.collect(code, stopped)
    }

    /// Stops the program now, and collects what it printed.
    pub fn stop(mut self) -> Finished {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect(None, true)
    }

    fn collect(&mut self, code: Option<i32>, stopped: bool) -> Finished {
        // The program has ended: its pipes close and both readers report it (unless a
        // program it started still holds them: then do not wait long).
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.closed < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Closed) => self.closed += 1,
                Ok(Event::Line(_)) => {}
                Err(_) => break,
            }
        }
        let take = |c: &Capture| c.kept.lock().map(|k| k.clone()).unwrap_or_default();
        Finished {
            code,
            stdout: take(&self.stdout),
            stderr: take(&self.stderr),
            stopped,
            flooded: self.stdout.flooded.load(Ordering::Relaxed)
                || self.stderr.flooded.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A check that returns early never leaves a program behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Finished {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// How it ended, in a few lines: the exit code (or why it was stopped), and what it
    /// said on stderr (the first lines, escaped).
    pub fn describe(&self, who: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let stderr = self.stderr_text();
        if let Some((place, message)) = panic_message(&stderr) {
            lines.push(format!("{who} panicked at {place}:"));
            lines.push(format!("  {message}"));
            return lines;
        }
        lines.push(if self.flooded {
            format!(
                "{who} printed more than {} MiB: the lab stopped reading it",
                FLOOD >> 20
            )
        } else if self.stopped {
            format!("{who} was still running: the lab stopped it")
        } else {
            match self.code {
                Some(code) => format!("{who} exited with code {code}"),
                None => format!("{who} was ended by a signal"),
            }
        });
        let err: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        for line in err.iter().take(3) {
            lines.push(format!("  its stderr: {}", shown(line.as_bytes(), 120)));
        }
        if err.len() > 3 {
            lines.push(format!("  its stderr: … ({} lines in all)", err.len()));
        }
        lines
    }

    /// Ok when the program exited with code 0; otherwise a failure that says how it ended.
    pub fn expect_success(&self, who: &str, hint: usize) -> Outcome {
        if self.code == Some(0) {
            return Ok(());
        }
        Err(
            Failure::new(format!("{who} did not end with exit code 0"), hint)
                .details(self.describe(who)),
        )
    }

    /// Ok when stdout has the line `line` (other lines may come before and after it).
    pub fn expect_line(&self, who: &str, line: &str, hint: usize) -> Outcome {
        self.expect_line_where(who, line, hint, |l| l == line)
    }

    /// Ok when a line of stdout contains `part`.
    pub fn expect_line_containing(&self, who: &str, part: &str, hint: usize) -> Outcome {
        let expected = format!("a line that contains {}", shown(part.as_bytes(), 60));
        self.expect_line_where(who, &expected, hint, |l| l.contains(part))
            .map_err(|f| f.expected(expected.clone()))
    }

    fn expect_line_where(
        &self,
        who: &str,
        line: &str,
        hint: usize,
        wanted: impl Fn(&str) -> bool,
    ) -> Outcome {
        let stdout = self.stdout_text();
        if stdout.lines().any(wanted) {
            return Ok(());
        }
        let printed: Vec<&str> = stdout.lines().collect();
        let observed = match printed.as_slice() {
            [] => "nothing on stdout".to_string(),
            lines => lines
                .iter()
                .take(3)
                .map(|l| shown(l.as_bytes(), 60))
                .collect::<Vec<_>>()
                .join(", "),
        };
        Err(
            Failure::new(format!("{who} did not print the line it should"), hint)
                .expected(shown(line.as_bytes(), 80))
                .observed(observed)
                .details(self.describe(who)),
        )
    }

    /// Ok when the program failed the way a lab program fails: exit code 1 and exactly
    /// one line on stderr, which contains every one of `words`.
    pub fn expect_one_line_error(
        &self,
        who: &str,
        words: &[&str],
        hint: usize,
    ) -> Outcome {
        let stderr = self.stderr_text();
        let lines: Vec<&str> = stderr.lines().collect();
        let ok = self.code == Some(1)
            && lines.len() == 1
            && words.iter().all(|w| lines[0].contains(w));
        if ok {
            return Ok(());
        }
        let words: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
        let expected = format!(
            "exit code 1 and one line on stderr that says {}",
            words.join(" and ")
        );
        let code = match self.code {
            Some(code) => format!("exit code {code}"),
            None if self.stopped => "still running after the time limit".to_string(),
            None => "ended by a signal".to_string(),
        };
        let observed = match lines.as_slice() {
            [one] => format!("{code}, stderr: {}", shown(one.as_bytes(), 100)),
            _ => format!("{code}, {} lines on stderr", lines.len()),
        };
        Err(
            Failure::new(format!("{who} did not fail the way it should"), hint)
                .expected(expected)
                .observed(observed)
                .details(self.describe(who)),
        )
    }
}

/// Where a Rust panic in `stderr` happened, and its message (e.g. `not yet implemented:
/// …` from a starter's `todo!()`), escaped.
pub fn panic_message(stderr: &str) -> Option<(String, String)> {
    let mut lines = stderr.lines();
    let first = lines.find(|l| l.contains("panicked at"))?;
    let place = first
        .split("panicked at")
        .nth(1)?
        .trim()
        .trim_end_matches(':');
    let message = lines.next().unwrap_or("").trim();
    Some((place.to_string(), shown(message.as_bytes(), 100)))
}

// ---------------------------------------------------------------------------------------
// The student's program as a server.

/// A student's server, started with `--port 0`, that has said where it listens.
pub struct Server {
    pub run: Running,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the server with `args` and `--port 0 --color never`, and waits for its first
    /// line, `listening on HOST:PORT`. `watch`: count the stdout lines containing it.
    pub fn start(
        program: &Program,
        args: &[&str],
        watch: Option<&'static str>,
    ) -> Outcome<Server> {
        let mut all = args.to_vec();
        all.extend(["--port", "0", "--color", "never"]);
        let mut run = Running::start(program, &all, None, watch)?;
        let first = run.next_line(LIMIT);
        let addr = first
            .as_deref()
            .and_then(|l| l.strip_prefix("listening on "))
            .and_then(|a| a.trim().parse::<SocketAddr>().ok());
        match (addr, first) {
            (Some(addr), _) => Ok(Server { run, addr }),
            (None, Some(line)) => {
                let finished = run.stop();
                Err(Failure::new(
                    "your server's first line is not `listening on HOST:PORT`",
                    1,
                )
                .expected("listening on 127.0.0.1:PORT")
                .observed(shown(line.as_bytes(), 80))
                .details(finished.describe("your server")))
            }
            (None, None) => {
                // Its output has ended, or nothing came in time: a moment to exit.
                let finished = run.finish(Duration::from_millis(200));
                // Exit code 2 is clap's: an option the program does not know, say.
                let failure = if finished.code == Some(2) {
                    Failure::new("your server did not take the check's options", 1)
                        .expected(format!("a server that runs with: {}", all.join(" ")))
                } else {
                    Failure::new(
                        format!(
                            "your server did not say where it listens within {} s",
                            LIMIT.as_secs()
                        ),
                        1,
                    )
                    .expected("a first line `listening on 127.0.0.1:PORT`")
                };
                Err(failure.details(finished.describe("your server")))
            }
        }
    }

    /// Adds to `failure` how the server ended, if it did (a crash is often the story).
    pub fn explain(self, failure: Failure) -> Failure {
        // A server that is dying (its sockets closed, which may be what the check saw)
        // gets a moment to finish; one still running after it is stopped.
        let finished = self.run.finish(Duration::from_millis(200));
        if !finished.stopped || panic_message(&finished.stderr_text()).is_some() {
            failure.details(finished.describe("your server"))
        } else {
            failure
        }
    }

    /// Waits for the server to end by itself (a `--max-clients` bound, say), and expects
    /// exit code 0.
    pub fn expect_exit(self, hint: usize) -> Outcome {
        let finished = self.run.finish(LIMIT);
        finished.expect_success("your server", hint)
    }
}

/// Starts the student's server and runs `steps` against it; returns the server, still
/// running, for the check to see how it ends. On a failure, says how the server ended, if
/// it did (a crash is often the story).
pub fn with_server(
    program: &Program,
    args: &[&str],
    steps: impl FnOnce(&mut Server) -> Outcome,
) -> Outcome<Server> {
    with_server_watching(program, args, None, steps)
}

/// Like [`with_server`], counting the server's stdout lines that contain `watch`.
pub fn with_server_watching(
    program: &Program,
    args: &[&str],
    watch: Option<&'static str>,
    steps: impl FnOnce(&mut Server) -> Outcome,
) -> Outcome<Server> {
    let mut server = Server::start(program, args, watch)?;
    match steps(&mut server) {
        Ok(()) => Ok(server),
        Err(failure) => Err(server.explain(failure)),
    }
}

/// Starts the student's client with `args` (and `--color never`), `stdin` typed into it,
/// runs the lab's side of the conversation (`steps`), then waits for the client to end.
/// On a failure, says how the client ended: it may have panicked or hung.
pub fn with_client(
    program: &Program,
    args: &[&str],
    stdin: Option<&str>,
    steps: impl FnOnce(&mut Running) -> Outcome,
) -> Outcome<Finished> {
    let mut all = args.to_vec();
    all.extend(["--color", "never"]);
    let mut client = Running::start(program, &all, stdin, None)?;
    match steps(&mut client) {
        Ok(()) => Ok(client.finish(LIMIT)),
        Err(failure) => {
            let finished = client.finish(Duration::from_millis(300));
            Err(failure.details(finished.describe("your client")))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The lab's side of a TCP connection.

/// A connection the lab holds, to the student's server or from the student's client.
/// Every read and write has a time limit.
pub struct Peer {
    pub conn: TcpStream,
    /// Who this is, in messages: "the lab's client", "the second client".
    pub name: String,
}

/// What a read of the lab's brought, and why it stopped.
pub struct Got {
    pub bytes: Vec<u8>,
    pub end: End,
}

/// Why the lab stopped reading.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// All the bytes it wanted came.
    Full,
    /// The other side closed (0 bytes).
    Closed,
    /// The other side reset the connection.
    Reset,
    /// Nothing more came within the time limit.
    Quiet(Duration),
}

impl End {
    pub fn words(&self) -> String {
        match self {
            End::Full => "all of it came".to_string(),
            End::Closed => {
                "the connection was closed (a read returned 0 bytes)".to_string()
            }
            End::Reset => "the connection was reset (ECONNRESET)".to_string(),
            End::Quiet(limit) => {
                format!("nothing more came within {} ms", limit.as_millis())
            }
        }
    }
}

/// How a connection ended when the lab read from it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// `read` returned 0 bytes: an orderly close (FIN).
    Closed,
    /// `read` failed with ECONNRESET: a reset (RST).
    Reset,
}

impl Ended {
    pub fn words(&self) -> &'static str {
        match self {
            Ended::Closed => "closed (a read returned 0 bytes)",
            Ended::Reset => "reset (ECONNRESET)",
        }
    }
}

impl Peer {
    /// Connects to `addr` as `name`.
    pub fn connect(addr: SocketAddr, name: &str) -> Outcome<Peer> {
        let conn = TcpStream::connect_timeout(&addr, LIMIT).map_err(|e| {
            Failure::new(format!("{name} could not connect to your server: {e}"), 1)
        })?;
        Peer::wrap(conn, name)
    }

    pub fn wrap(conn: TcpStream, name: &str) -> Outcome<Peer> {
        let limits = conn
            .set_read_timeout(Some(LIMIT))
            .and_then(|()| conn.set_write_timeout(Some(LIMIT)))
            .and_then(|()| conn.set_nodelay(true));
        limits.map_err(|e| Failure::new(format!("setting up {name}: {e}"), 1))?;
        Ok(Peer {
            conn,
            name: name.to_string(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> Outcome {
        self.conn.write_all(bytes).map_err(|e| {
            Failure::new(
                format!("{} could not send {}: {e}", self.name, shown(bytes, 40)),
                1,
            )
        })
    }

    /// Sends `bytes` cut into pieces of the given sizes (the rest in one last piece), with
    /// `pause` before each piece but the first: the reader sees them arrive apart.
    pub fn send_in_pieces(
        &mut self,
        bytes: &[u8],
        sizes: &[usize],
        pause: Duration,
    ) -> Outcome {
        let mut at = 0;
        for (i, size) in sizes.iter().chain(std::iter::once(&usize::MAX)).enumerate() {
            if at >= bytes.len() {
                break;
            }
            if i > 0 {
                std::thread::sleep(pause);
            }
            let end = at.saturating_add(*size).min(bytes.len());
            self.send(&bytes[at..end])?;
            at = end;
        }
        Ok(())
    }

    /// Reads until `want` bytes are in, the other side ends the connection, or nothing
    /// more comes within `limit`; returns what came (maybe fewer than `want`) and why the
    /// reading stopped.
    pub fn read_up_to(&mut self, want: usize, limit: Duration) -> Outcome<Got> {
        let _ = self.conn.set_read_timeout(Some(limit));
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        let mut end = End::Full;
        while bytes.len() < want {
            let room = (want - bytes.len()).min(buf.len());
            match self.conn.read(&mut buf[..room]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Ok(0) => end = End::Closed,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if timed_out(&e) => end = End::Quiet(limit),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => end = End::Reset,
                Err(e) => {
                    return Err(Failure::new(
                        format!("{} could not read: {e}", self.name),
                        1,
                    ))
                }
            }
            if end != End::Full {
                break;
            }
        }
        let _ = self.conn.set_read_timeout(Some(LIMIT));
        Ok(Got { bytes, end })
    }

    /// One read of up to 64 KiB, as a server reads one message of a client that sends one
    /// and waits for the reply: what came, or why nothing did.
    pub fn hear(&mut self, limit: Duration) -> Outcome<Got> {
        let _ = self.conn.set_read_timeout(Some(limit));
        let mut buf = vec![0u8; 64 * 1024];
        let result = retry(|| self.conn.read(&mut buf));
        let _ = self.conn.set_read_timeout(Some(LIMIT));
        let (bytes, end) = match result {
            Ok(0) => (Vec::new(), End::Closed),
            Ok(n) => (buf[..n].to_vec(), End::Full),
            Err(e) if timed_out(&e) => (Vec::new(), End::Quiet(limit)),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => (Vec::new(), End::Reset),
            Err(e) => {
                return Err(Failure::new(
                    format!("{} could not read: {e}", self.name),
                    1,
                ))
            }
        };
        Ok(Got { bytes, end })
    }

    /// Reads `expected.len()` bytes (or what comes within the limit) and checks that they
    /// are `expected`.
    pub fn expect(&mut self, what: &str, expected: &[u8], hint: usize) -> Outcome {
        let got = self.read_up_to(expected.len(), LIMIT)?;
        same_bytes(what, expected, &got.bytes, hint).map_err(|f| match got.end {
            End::Full => f,
            _ if got.bytes.is_empty() => Failure {
                summary: format!("{what}: nothing came, {}", got.end.words()),
                observed: None,
                difference: None,
                ..f
            },
            _ => f.detail(format!(
                "after {} bytes, {}",
                got.bytes.len(),
                got.end.words()
            )),
        })
    }

    /// Reads until the other side ends the connection, and says how: an orderly close or
    /// a reset. Bytes that still arrive are a failure; so is nothing within `limit`.
    pub fn read_end(&mut self, limit: Duration, hint: usize) -> Outcome<Ended> {
        self.end_within(limit, hint)?.ok_or_else(|| {
            Failure::new(
                format!(
                    "{} waited {} ms for the connection to end: it stayed open",
                    self.name,
                    limit.as_millis()
                ),
                hint,
            )
        })
    }

    /// Waits up to `limit` for the other side to end the connection: how it ended, or
    /// `None` when the connection is still open (and silent) after `limit`. Bytes that
    /// arrive are a failure.
    pub fn end_within(&mut self, limit: Duration, hint: usize) -> Outcome<Option<Ended>> {
        let _ = self.conn.set_read_timeout(Some(limit));
        let mut buf = [0u8; 1024];
        let result = retry(|| self.conn.read(&mut buf));
        let _ = self.conn.set_read_timeout(Some(LIMIT));
        match result {
            Ok(0) => Ok(Some(Ended::Closed)),
            Ok(n) => Err(Failure::new(
                format!(
                    "{} expected the connection to end, but more bytes came",
                    self.name
                ),
                hint,
            )
            .observed(shown(&buf[..n], 60))),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(Some(Ended::Reset)),
            Err(e) if timed_out(&e) => Ok(None),
            Err(e) => Err(Failure::new(
                format!("{}: read failed: {e}", self.name),
                hint,
            )),
        }
    }

    /// Sends `bytes` and reads nothing, until all are sent or the other side has taken
    /// nothing for `stalled` (it stopped reading); returns how many were sent.
    pub fn send_until_stalled(
        &mut self,
        bytes: &[u8],
        stalled: Duration,
    ) -> Outcome<usize> {
        let _ = self.conn.set_write_timeout(Some(stalled));
        let mut sent = 0;
        while sent < bytes.len() {
            let end = bytes.len().min(sent + 64 * 1024);
            match self.conn.write(&bytes[sent..end]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) => break,
                Err(e) => {
                    return Err(Failure::new(
                        format!("{} could not send (after {sent} bytes): {e}", self.name),
                        1,
                    ))
                }
            }
        }
        let _ = self.conn.set_write_timeout(Some(LIMIT));
        Ok(sent)
    }

    /// Leaves with a reset: SO_LINGER 0, then close.
    pub fn reset(self) {
        let _ = SockRef::from(&self.conn).set_linger(Some(Duration::ZERO));
    }

    /// Says "no more from me" (a FIN); reading stays possible.
    pub fn finish_sending(&self) {
        let _ = self.conn.shutdown(Shutdown::Write);
    }
}

/// Runs a socket call again when a signal interrupted it. (The lab waits for programs with
/// a SIGCHLD handler, and a socket call with a timeout is never restarted by the system:
/// it fails with EINTR.)
fn retry<T>(mut call: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whether a read gave up because its timeout passed (`WouldBlock` on Linux, `TimedOut`
/// on Windows).
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

// ---------------------------------------------------------------------------------------
// The student's program as a client: the lab listens.

/// A listening socket of the lab's, for a student's client to connect to.
pub struct Listener {
    listener: TcpListener,
    pub addr: SocketAddr,
}

impl Listener {
    pub fn new() -> Outcome<Listener> {
        let fail =
            |e: std::io::Error| Failure::new(format!("the lab could not listen: {e}"), 1);
        let listener = TcpListener::bind("127.0.0.1:0").map_err(fail)?;
        let addr = listener.local_addr().map_err(fail)?;
        Ok(Listener { listener, addr })
    }

    /// The port, as an argument for the student's client.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits for the student's client to connect. It gives up when `client` ends without
    /// connecting, or after the limit.
    pub fn accept(&self, client: &mut Running, name: &str) -> Outcome<Peer> {
        let fail =
            |e: std::io::Error| Failure::new(format!("the lab could not accept: {e}"), 1);
        // Non-blocking: `accept` takes a connection that is waiting, or says there is none.
        self.listener.set_nonblocking(true).map_err(fail)?;
        let deadline = Instant::now() + LIMIT;
        loop {
            // The program first, then the backlog. A client completes its connection before
            // `connect` returns, so one that connected and then ended left its connection
            // waiting here: looked at in this order, it is never missed, however late this
            // thread runs on a busy machine.
            let ended = !client.running();
            match self.listener.accept() {
                // (A connection accepted on Linux does not inherit the non-blocking mode.)
                Ok((conn, _)) => return Peer::wrap(conn, name),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(e)),
            }
            if ended || Instant::now() >= deadline {
                break;
            }
            // Neither yet: wait for a connection, 20 ms at most, then look at both again.
            let mut ready = [PollFd::new(&self.listener, PollFlags::IN)];
            let _ = poll(
                &mut ready,
                Some(&Timespec {
                    tv_sec: 0,
                    tv_nsec: 20_000_000,
                }),
            );
        }
        Err(Failure::new(
            format!(
                "your client did not connect to the lab's server (at 127.0.0.1:{})",
                self.addr.port()
            ),
            1,
        ))
    }
}

// ---------------------------------------------------------------------------------------
// UDP, ports, files.

/// A UDP socket of the lab's, on a free port.
pub fn udp_socket() -> Outcome<(UdpSocket, SocketAddr)> {
    let fail = |e: std::io::Error| Failure::new(format!("the lab's UDP socket: {e}"), 1);
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(fail)?;
    let addr = socket.local_addr().map_err(fail)?;
    Ok((socket, addr))
}

/// Receives one datagram within `limit`, or `None`.
pub fn recv_within(
    socket: &UdpSocket,
    limit: Duration,
) -> Outcome<Option<(Vec<u8>, SocketAddr)>> {
    let _ = socket.set_read_timeout(Some(limit));
    let mut buf = vec![0u8; 65536];
    match retry(|| socket.recv_from(&mut buf)) {
        Ok((n, from)) => Ok(Some((buf[..n].to_vec(), from))),
        Err(e) if timed_out(&e) => Ok(None),
        Err(e) => Err(Failure::new(format!("the lab's UDP socket: {e}"), 1)),
    }
}

/// A UDP port where nobody receives.
pub fn dead_udp_port() -> Outcome<u16> {
    socket_lab::spawn::free_udp_port()
        .ok_or_else(|| Failure::new("the lab found no free UDP port", 1))
}

/// A TCP port where nobody listens.
pub fn dead_tcp_port() -> Outcome<u16> {
    socket_lab::spawn::free_tcp_port()
        .ok_or_else(|| Failure::new("the lab found no free TCP port", 1))
}

/// A scratch folder for one check, removed when dropped.
pub fn scratch() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("lab-check-").tempdir()
}

/// Whether `path` exists (as a file, a folder or a link).
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}
