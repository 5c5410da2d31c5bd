//! Lesson 08 — a process per client: the classic Unix server, done the Rust way.
//!
//! Where the course stops ("使用多进程", using processes), the classic Unix server forks a
//! child process for every client. This server accepts a connection and starts a child
//! program whose standard input and output ARE that connection — the way `inetd` starts a
//! service. The child is this same program, run again with a hidden `--child`: it reads
//! the client's messages from stdin and writes the upper-cased replies to stdout, never
//! knowing that a network is involved. What it prints for you goes to its stderr, which
//! the server points at its own terminal.
//!
//! Run it:   cargo run --bin lesson08-process-server
//! Then, in two more terminals:   cargo run --bin lesson08-client
//!
//! Look for: each client gets a child with its own pid. Kill one (`kill -9 PID`): its
//! client loses the connection, the server reports how the child ended and goes on
//! serving the others. Every child is waited for, so none is left a zombie.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use colored::Colorize;
use socket2::SockRef;
use socket_lab::errors::bind_error;
use socket_lab::out::escape;
use socket_lab::out::{plural, preview};
use socket_lab::{Out, Side, Style};

/// Lesson 08: the upper-case echo server, a child process per client (inetd-style).
#[derive(Parser)]
#[command(name = "lesson08-process-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Stop accepting after this many clients, wait for their children, then exit
    /// (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// A child whose client sends nothing for this many seconds hangs up: an idle client
    /// must not keep a process forever.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    idle_timeout: u64,

    /// Internal: run as the child that serves one client on its stdin and stdout.
    #[arg(long, hide = true)]
    child: bool,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.child {
        args.style.apply();
        return socket_lab::exit_code(child(&args));
    }
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: accept_loop
fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    // The child is this very program, started again with --child.
    let program = std::env::current_exe().context("finding this program's path")?;

    let mut waiters: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a client"),
        };
        accepted += 1;
        out.line(format!("connection from {peer}: starting a child process"));
        match start_child(&program, conn, args) {
            // A thread waits for the child to end, and says how it ended.
            Ok(child) => waiters.push(thread::spawn(move || wait_for(child, peer, out))),
            Err(e) => out.line(format!("{peer}: no child process for this client: {e}")),
        }
        waiters.retain(|waiter| !waiter.is_finished());
    }
    // A graceful stop: no new clients; the children serve theirs until they leave.
    for waiter in waiters {
        let _ = waiter.join();
    }
    out.line(format!("served {}, stopping", plural(accepted, "client")));
    Ok(())
}
// ANCHOR_END: accept_loop

// ANCHOR: start_child
/// Starts this program again with `--child`, the connection as its stdin and stdout.
fn start_child(program: &Path, conn: TcpStream, args: &Args) -> std::io::Result<Child> {
    // Two descriptors for the one socket: one becomes the child's stdin (fd 0), the
    // other its stdout (fd 1).
    let input = OwnedFd::from(conn.try_clone()?);
    let output = OwnedFd::from(conn);
    // The child's stderr is our stdout: what it prints shows up in the server's terminal.
    let log = std::io::stdout().as_fd().try_clone_to_owned()?;
    let colour = colored::control::SHOULD_COLORIZE.should_colorize();
    let mut command = Command::new(program);
    command
        .args(["--child", "--idle-timeout", &args.idle_timeout.to_string()])
        .args(["--color", if colour { "always" } else { "never" }])
        .args(args.style.trace.then_some("--trace"))
        .stdin(Stdio::from(input))
        .stdout(Stdio::from(output))
        .stderr(Stdio::from(log));
    command.spawn()
    // `command` is dropped here, and with it the server's copies of the socket. Only the
    // child holds the connection now: when the child ends, the client sees it close.
}
// ANCHOR_END: start_child

// ANCHOR: wait_for
/// Waits for one child to end. Waiting is what removes an ended child from the system's
/// process table: a child nobody waits for stays there as a zombie.
fn wait_for(mut child: Child, peer: SocketAddr, out: Out) {
    let pid = child.id();
    match child.wait() {
        Ok(status) => out.line(format!("child pid {pid} ({peer}) {}", ended(status))),
        Err(e) => out.line(format!("child pid {pid} ({peer}): waiting failed: {e}")),
    }
}

/// How a child ended: its exit code, or the signal that killed it.
fn ended(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(9)) => "was killed by signal 9 (SIGKILL)".to_string(),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended: {status}"),
    }
}
// ANCHOR_END: wait_for

// ANCHOR: child
/// The child: serves one client, whose connection is its stdin and stdout.
fn child(args: &Args) -> anyhow::Result<()> {
    let pid = std::process::id();
    let stdin = std::io::stdin();
    // fd 0 is a socket: socket2's SockRef makes the socket calls on it (the peer's
    // address, a read timeout) without taking it over.
    let socket = SockRef::from(&stdin);
    let peer = socket.peer_addr()?.as_socket().context("a TCP peer")?;
    socket.set_read_timeout(Some(Duration::from_secs(args.idle_timeout.max(1))))?;
    let log = Log {
        pid,
        trace: args.style.trace,
    };
    log.say(format!("serves {peer}"));

    // Lesson 02's communication loop, on stdin and stdout.
    let mut input = stdin.lock();
    let mut output = std::io::stdout().lock();
    let mut buf = [0u8; 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => {
                log.say(format!("{peer} closed the connection"));
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                log.say(format!(
                    "{peer} sent nothing for {}s: hanging up",
                    args.idle_timeout
                ));
                return Ok(());
            }
            Err(e) => {
                log.say(format!("{peer}: read failed: {e}"));
                return Ok(());
            }
        };
        log.trace(format!("read(buf of 1024) -> {}", preview(&buf[..n])));
        let text = escape(&buf[..n]);
        log.say(format!("received: {text}"));
        let reply = buf[..n].to_ascii_uppercase();
        // stdout is buffered: flush, or the reply waits in the buffer.
        if let Err(e) = output.write_all(&reply).and_then(|()| output.flush()) {
            log.say(format!("{peer}: could not reply: {e}"));
            return Ok(());
        }
        log.trace(format!("write_all({})", plural(reply.len(), "byte")));
    }
}
// ANCHOR_END: child

/// What a child prints: on its stderr (its stdout is the connection), one whole line per
/// write so that lines of several children never mix.
struct Log {
    pid: u32,
    trace: bool,
}

impl Log {
    fn say(&self, text: impl std::fmt::Display) {
        let line = format!("child pid {}: {text}", self.pid).cyan();
        let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    }

    fn trace(&self, text: impl std::fmt::Display) {
        if self.trace {
            let line = format!("  · child pid {}: {text}", self.pid).dimmed();
            let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
        }
    }
}
