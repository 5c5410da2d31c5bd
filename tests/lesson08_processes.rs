//! Lesson 08: a process per client (`lesson08-process-server`), run for real: each client
//! its own child, a killed child costs only its own client, every ended child is waited for
//! (no zombies), and the server keeps no copy of a client's connection. Linux: the process
//! facts are read from /proc.
//!
//! The test drives raw sockets step by step and waits for each step's visible effect (a
//! reply, the server's line) before the next, so the transcripts are the same in every run.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

const SERVER: &str = "lesson08-process-server";

/// A client driven by the test.
struct Client {
    name: &'static str,
    conn: TcpStream,
}

impl Client {
    fn connect(name: &'static str, session: &Session, log: &mut Vec<String>) -> Client {
        let conn = TcpStream::connect(session.addr()).expect("connect");
        conn.set_read_timeout(Some(LIMIT)).expect("read timeout");
        log.push(format!("{name}: connects"));
        Client { name, conn }
    }

    /// Sends `msg` and reads its reply: as many bytes as were sent.
    fn round_trip(&mut self, msg: &str, log: &mut Vec<String>) {
        self.conn.write_all(msg.as_bytes()).expect("send");
        let mut buf = vec![0u8; msg.len()];
        self.conn.read_exact(&mut buf).expect("a reply");
        let reply = String::from_utf8_lossy(&buf).into_owned();
        assert_eq!(reply, msg.to_uppercase(), "the reply to {}", self.name);
        log.push(format!("{}: sends {msg:?}, gets {reply:?}", self.name));
    }

    /// Connects, makes one round trip, and returns the client with its child's pid.
    fn served(
        name: &'static str,
        session: &mut Session,
        log: &mut Vec<String>,
    ) -> (Client, u32) {
        let mut client = Client::connect(name, session, log);
        client.round_trip(&format!("hello from {}", name.to_lowercase()), log);
        (client, child_pid(session))
    }

    /// Reads until the connection ends, which must come with no more bytes.
    fn reads_the_end(&mut self, log: &mut Vec<String>) {
        let mut rest = Vec::new();
        self.conn
            .read_to_end(&mut rest)
            .expect("the end of the stream");
        assert!(rest.is_empty(), "{} got {rest:?}", self.name);
        log.push(format!(
            "{}: reads 0 bytes: the connection is closed",
            self.name
        ));
    }

    /// An orderly close, complete once the child has closed its side too.
    fn leaves(mut self, log: &mut Vec<String>) {
        self.conn.shutdown(Shutdown::Write).expect("shutdown");
        log.push(format!("{}: closes", self.name));
        let mut rest = Vec::new();
        let _ = self.conn.read_to_end(&mut rest);
    }
}

/// Waits for the child's `child pid N: serves ...` line and returns N.
#[track_caller]
fn child_pid(session: &mut Session) -> u32 {
    let line = session.wait_for_line(|l| l.contains(": serves 127.0.0.1:"));
    let pid = line
        .strip_prefix("child pid ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|pid| pid.parse().ok());
    pid.unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// Waits for the server's line saying how child `pid` ended.
#[track_caller]
fn waits_for_end_of(session: &mut Session, pid: u32) -> String {
    session.wait_for_line(|l| l.starts_with(&format!("child pid {pid} (")))
}

/// A field of /proc/PID/status (`PPid`, `State`), or `None` once the process is gone.
fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))?;
    Some(line[field.len() + 1..].trim().to_string())
}

/// The processes whose parent is `pid`, each with its state (`S (sleeping)`, `Z (zombie)`).
fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if status_field(child, "PPid") == Some(pid.to_string()) {
            let state = status_field(child, "State").unwrap_or_default();
            children.push((child, state));
        }
    }
    children
}

/// The transcript, with each child's pid shown as the name of its client.
fn shown(server: &Run, log: &[String], pids: &[(u32, &str)]) -> String {
    let mut server = server.clone();
    for (pid, name) in pids {
        let named = format!("pid [{name}]");
        server.stdout = server.stdout.replace(&format!("pid {pid}"), &named);
    }
    format!(
        "{}\n# the clients, step by step:\n{}\n",
        transcript(&[&server]),
        log.join("\n")
    )
}

#[test]
fn each_client_is_served_by_a_child_process_of_its_own() {
    let mut session = Session::start(SERVER, &["--max-clients", "2"]);
    let mut log = Vec::new();
    let (mut a, pid_a) = Client::served("A", &mut session, &mut log);
    let (mut b, pid_b) = Client::served("B", &mut session, &mut log);

    // Two clients, two processes, both children of the server.
    assert_ne!(pid_a, pid_b);
    for pid in [pid_a, pid_b] {
        assert_ne!(pid, session.pid());
        assert_eq!(
            status_field(pid, "PPid"),
            Some(session.pid().to_string()),
            "the parent of child {pid}"
        );
    }
    a.round_trip("a again", &mut log);
    a.leaves(&mut log);
    waits_for_end_of(&mut session, pid_a);
    b.round_trip("b still served", &mut log);
    b.leaves(&mut log);
    let server = session.finish();
    server.assert_code(0);
    server.assert_count("exited with code 0", 2);
    let pids = [(pid_a, "A"), (pid_b, "B")];
    assert_transcript("lesson08_processes", &shown(&server, &log, &pids));
}

#[test]
fn a_killed_child_costs_only_its_client_and_no_zombie_is_left() {
    if skip_without("kill") {
        return;
    }
    let mut session = Session::start(SERVER, &[]);
    let mut log = Vec::new();
    let (mut a, pid_a) = Client::served("A", &mut session, &mut log);
    let (mut b, pid_b) = Client::served("B", &mut session, &mut log);

    // A's child dies at once, as a crash or the out-of-memory killer would end it.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid_a.to_string()])
        .status()
        .expect("running kill");
    assert!(killed.success(), "kill -KILL {pid_a}");
    log.push("the test: kill -KILL (A's child)".to_string());
    // The system closes the dead child's socket: A reads the end of the stream.
    a.reads_the_end(&mut log);
    let ended = waits_for_end_of(&mut session, pid_a);
    assert!(
        ended.ends_with("was killed by signal 9 (SIGKILL)"),
        "{ended}"
    );

    // The server and B's child go on; a new client gets a new child.
    b.round_trip("b still served", &mut log);
    let (c, pid_c) = Client::served("C", &mut session, &mut log);

    // The server has waited for A's child: it is gone, not a zombie. The server's
    // children are exactly B's and C's, and neither is a zombie.
    assert_eq!(
        status_field(pid_a, "State"),
        None,
        "A's child is still listed"
    );
    let mut children = children_of(session.pid());
    children.sort();
    let mut expected = vec![pid_b, pid_c];
    expected.sort();
    let pids: Vec<u32> = children.iter().map(|(pid, _)| *pid).collect();
    assert_eq!(pids, expected, "the server's children: {children:?}");
    assert!(
        children.iter().all(|(_, state)| !state.starts_with('Z')),
        "a zombie among the server's children: {children:?}"
    );

    b.leaves(&mut log);
    waits_for_end_of(&mut session, pid_b);
    c.leaves(&mut log);
    waits_for_end_of(&mut session, pid_c);
    // Every child has ended and been waited for: none is left, zombie or not.
    assert_eq!(children_of(session.pid()), vec![], "children left behind");
    let server = session.stop();
    let pids = [(pid_a, "A"), (pid_b, "B"), (pid_c, "C")];
    assert_transcript("lesson08_processes_kill", &shown(&server, &log, &pids));
}

/// The sockets a process holds open: `socket:[INODE]` links in /proc/PID/fd.
fn sockets_of(pid: u32) -> usize {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc/PID/fd");
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

#[test]
fn the_server_keeps_no_copy_of_a_clients_connection() {
    let mut session = Session::start(SERVER, &["--max-clients", "1"]);
    let mut log = Vec::new();
    let (a, pid_a) = Client::served("A", &mut session, &mut log);
    // The server holds its listening socket only; the connection is the child's fd 0
    // and fd 1 (stdin and stdout), both the same socket. The server drops its copies just
    // after the child has started, and the child may answer A before that: look until the
    // count settles, for at most LIMIT.
    let deadline = std::time::Instant::now() + LIMIT;
    let mut sockets = sockets_of(session.pid());
    while sockets != 1 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
        sockets = sockets_of(session.pid());
    }
    assert_eq!(sockets, 1, "the server's sockets");
    let stdin = std::fs::read_link(format!("/proc/{pid_a}/fd/0")).expect("fd 0");
    let stdout = std::fs::read_link(format!("/proc/{pid_a}/fd/1")).expect("fd 1");
    assert!(stdin.to_string_lossy().starts_with("socket:"), "{stdin:?}");
    assert_eq!(stdin, stdout, "the child's stdin and stdout");
    a.leaves(&mut log);
    session.finish().assert_code(0);
}

#[test]
fn a_child_hangs_up_on_a_client_that_stays_silent_past_the_idle_timeout() {
    let mut session =
        Session::start(SERVER, &["--max-clients", "1", "--idle-timeout", "1"]);
    let mut log = Vec::new();
    let mut a = Client::connect("A", &session, &mut log);
    let pid = child_pid(&mut session);
    // A sends nothing: after a second its child stops waiting, and A reads the end.
    a.reads_the_end(&mut log);
    let ended = waits_for_end_of(&mut session, pid);
    assert!(ended.ends_with("exited with code 0"), "{ended}");
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("sent nothing for 1s: hanging up");
}
