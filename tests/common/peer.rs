//! Raw clients driven by a test, step by step, against the echo and chat servers of lessons
//! 08 and 10: each step waits for its visible effect (a reply, a line, the end of a stream)
//! before the next, so the transcripts are the same in every run.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use socket2::SockRef;
use socket_lab::out::plural;

use super::{transcript, Run, Session, LIMIT};

/// How long "no reply" must last to count as "not answered". A reply on loopback takes well
/// under a millisecond, so 300 ms of silence means the server is not serving this client.
pub const SILENCE: Duration = Duration::from_millis(300);

/// A raw client driven by the test, which writes down what it did and what it got.
pub struct Peer {
    pub name: &'static str,
    pub conn: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    pub fn connect(name: &'static str, addr: &str, log: &mut Vec<String>) -> Peer {
        let conn = TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(LIMIT)).expect("read timeout");
        let reader = BufReader::new(conn.try_clone().expect("clone"));
        log.push(format!("{name}: connects"));
        Peer { name, conn, reader }
    }

    /// Sends `msg` and reads the reply (one read: short messages arrive whole on loopback).
    pub fn round_trip(&mut self, msg: &str, log: &mut Vec<String>) -> String {
        self.conn.write_all(msg.as_bytes()).expect("send");
        let mut buf = [0u8; 1024];
        let n = read_retrying(&mut self.conn, &mut buf).expect("a reply");
        let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
        log.push(format!("{}: sends {msg:?}, gets {reply:?}", self.name));
        reply
    }

    pub fn send(&mut self, msg: &str, log: &mut Vec<String>) {
        self.conn.write_all(msg.as_bytes()).expect("send");
        log.push(format!("{}: sends {msg:?}", self.name));
    }

    /// Asserts that no reply arrives for [`SILENCE`].
    pub fn gets_no_reply(&mut self, log: &mut Vec<String>) {
        let deadline = std::time::Instant::now() + SILENCE;
        let mut buf = [0u8; 1024];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            self.conn.set_read_timeout(Some(left)).expect("timeout");
            match self.conn.read(&mut buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                // A signal (the harness's SIGCHLD) cuts a read with a timeout short: go on waiting.
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => panic!("{} expected no reply yet, got {other:?}", self.name),
            }
        }
        self.conn.set_read_timeout(Some(LIMIT)).expect("timeout");
        log.push(format!("{}: no reply within {SILENCE:?}", self.name));
    }

    /// Reads the reply that was held back.
    pub fn gets(&mut self, expected: &str, log: &mut Vec<String>) {
        let mut buf = [0u8; 1024];
        let n = read_retrying(&mut self.conn, &mut buf).expect("the reply");
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert_eq!(got, expected, "{}", self.name);
        log.push(format!("{}: gets {got:?}", self.name));
    }

    /// An orderly close that waits until the server has finished with us: we stop sending
    /// (FIN), the server reads 0 bytes, its handler ends and closes, and we read the end.
    pub fn leaves(mut self, log: &mut Vec<String>) {
        self.conn
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        let mut rest = Vec::new();
        let _ = self.conn.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{} got {rest:?} after leaving", self.name);
        log.push(format!("{}: closes", self.name));
    }

    /// Vanishes with a reset (SO_LINGER 0), as a crashed client may.
    pub fn resets(self, log: &mut Vec<String>) {
        SockRef::from(&self.conn)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        log.push(format!("{}: resets the connection", self.name));
    }

    /// Chat: one line as sent.
    pub fn say(&mut self, line: &str, log: &mut Vec<String>) {
        self.conn
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
        log.push(format!("{}> {line}", self.name));
    }

    /// Chat: the next line that arrives, which must be `expected`.
    pub fn hears(&mut self, expected: &str, log: &mut Vec<String>) {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a line");
        assert_eq!(line.trim_end(), expected, "what {} heard", self.name);
        log.push(format!("{}< {}", self.name, line.trim_end()));
    }

    /// Chat: the server closes our connection, with nothing more before it.
    pub fn hears_the_end(mut self, log: &mut Vec<String>) {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        assert_eq!(rest, "", "{} heard more before the end", self.name);
        log.push(format!("{}: the server closed the connection", self.name));
    }
}

/// `read`, tried again when a signal interrupts it (a read with a timeout is not restarted
/// automatically).
pub fn read_retrying(conn: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match conn.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The server's terminal, then what the test's clients did, as the book shows it.
pub fn scripted_transcript(server: &Run, log: &[String]) -> String {
    let mut text = transcript(&[server]);
    text.push_str("\n# the clients, step by step:\n");
    for line in log {
        text.push_str(&server.redact_ports(line));
        text.push('\n');
    }
    text
}

/// How many threads the process `pid` runs now (Linux: `/proc/PID/task` has one entry each).
pub fn threads_of(pid: u32) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    tasks
        .map(|t| t.count())
        .expect("/proc/PID/task (this lab measures on Linux)")
}

/// Two clients, driven step by step, against `bin`: A is answered; B connects and is answered
/// while A is still connected; A leaves; B is still served, then resets. Returns the server's
/// run and what the clients did.
pub fn two_clients_at_once(bin: &str) -> (Run, Vec<String>) {
    let session = Session::start(bin, &["--max-clients", "2"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let mut a = Peer::connect("A", &addr, log);
    assert_eq!(a.round_trip("hello from a", log), "HELLO FROM A");
    let mut b = Peer::connect("B", &addr, log);
    // Lesson 02 would leave B waiting here until A leaves.
    assert_eq!(b.round_trip("hello from b", log), "HELLO FROM B");
    assert_eq!(a.round_trip("a again", log), "A AGAIN");
    a.leaves(log);
    // A's leaving does not disturb B, and neither does B's reset disturb the server.
    assert_eq!(b.round_trip("b still served", log), "B STILL SERVED");
    b.resets(log);
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("(serving 2 clients now)");
    server.assert_stdout_contains("served 2 clients, stopping");
    (server, log.to_vec())
}

/// Counts the threads of server `bin` (in `/proc/PID/task`) before any client, with A
/// connected and answered, and with A and B: returns the server's run, what happened, and
/// the three counts.
pub fn threads_with_two_clients(bin: &str) -> (Run, Vec<String>, Vec<usize>) {
    let session = Session::start(bin, &["--max-clients", "2"]);
    let (addr, pid) = (session.addr(), session.pid());
    let mut log = Vec::new();
    let mut counts = Vec::new();
    let mut count = |log: &mut Vec<String>| {
        let n = threads_of(pid);
        log.push(format!("/proc: the server runs {}", plural(n, "thread")));
        counts.push(n);
    };
    count(&mut log);
    let mut a = Peer::connect("A", &addr, &mut log);
    assert_eq!(a.round_trip("a", &mut log), "A");
    count(&mut log);
    let mut b = Peer::connect("B", &addr, &mut log);
    assert_eq!(b.round_trip("b", &mut log), "B");
    count(&mut log);
    a.leaves(&mut log);
    b.leaves(&mut log);
    let server = session.finish();
    server.assert_code(0);
    (server, log, counts)
}
