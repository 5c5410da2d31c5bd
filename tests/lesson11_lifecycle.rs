//! Lesson 11: the life of a connection, run for real over 127.0.0.1 and checked in
//! Linux's table of TCP sockets (`/proc/net/tcp`), by the exact two addresses of each
//! end.
//!
//! Only the states that last are asserted: ESTABLISHED; FIN_WAIT2 at the end that closed
//! first and CLOSE_WAIT at the other, for as long as the other has not closed (a program
//! paused before its close holds them); TIME_WAIT at the end that closed first, once both
//! have; nothing at the end that closed second; SYN_SENT for a connect that a full accept
//! queue ignores. The states between them (SYN_RECV, FIN_WAIT1, LAST_ACK) last a moment
//! on loopback, and an ACK may wait for the delayed-ACK timer (tens of ms): where the
//! kernel needs that moment, the test reads the table again until the state appears,
//! within a bound. TIME_WAIT's 60 s are read from its timer, never waited for.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use socket_lab::proc_tcp::{self, State};

const SERVER: &str = "lesson11-server";
const CLIENT: &str = "lesson11-client";

/// How long a state may take to appear: an ACK held back by the delayed-ACK timer, a
/// program that has printed its line and is closing. A state that is not there by then
/// never comes.
const SETTLE: Duration = Duration::from_secs(5);

/// The two ends of one connection, each named by its own address and its peer's.
#[derive(Clone, Copy, Debug)]
struct Ends {
    server: SocketAddr,
    client: SocketAddr,
}

impl Ends {
    /// The connection the server announced: `connection from CLIENT: our end is ...`.
    fn from_server_line(line: &str, port: u16) -> Ends {
        let client = line
            .strip_prefix("connection from ")
            .and_then(|rest| rest.split(": ").next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("not a `connection from` line: {line}"));
        let server = SocketAddr::from(([127, 0, 0, 1], port));
        Ends { server, client }
    }

    fn server_end(&self) -> Option<State> {
        proc_tcp::state_of(self.server, self.client)
    }

    fn client_end(&self) -> Option<State> {
        proc_tcp::state_of(self.client, self.server)
    }

    /// Reads the table until the server's end is `wanted` (or [`SETTLE`] has passed).
    fn server_end_becomes(&self, wanted: Option<State>) -> Option<State> {
        proc_tcp::wait_for(self.server, self.client, SETTLE, |s| s == wanted)
    }
}

/// A client of the test's own: connects to `addr`, sends `msg` and reads the upper-cased
/// reply. Returns the connection, still open, and its two ends.
fn raw_client(addr: &str, msg: &str) -> (TcpStream, Ends) {
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(LIMIT)).expect("timeout");
    conn.write_all(msg.as_bytes()).expect("send");
    let mut reply = vec![0u8; msg.len()];
    conn.read_exact(&mut reply).expect("the reply");
    assert_eq!(reply, msg.to_uppercase().as_bytes());
    let ends = Ends {
        server: conn.peer_addr().expect("peer"),
        client: conn.local_addr().expect("local"),
    };
    (conn, ends)
}

/// Asserts that TIME_WAIT's timer starts at 60 s (Linux's TCP_TIMEWAIT_LEN): at most 60 s
/// are left, and, read a moment after the state began, far more than half of them.
#[track_caller]
fn assert_time_wait_of_60_s(left: Duration) {
    assert!(
        left <= Duration::from_secs(60) && left > Duration::from_secs(30),
        "expected TIME_WAIT's timer to start at 60 s; {left:?} left"
    );
}

/// Starts lesson11-server on a port that no other connection uses. Ports come back: a
/// port that an earlier test's server had may be handed out again while connections to it
/// still sit in TIME_WAIT (for 60 s), and `lab states` would show them too. The book's
/// transcripts show this test's connections only.
#[track_caller]
fn start_alone(args: &[&str], typing: bool) -> Session {
    for _ in 0..20 {
        let session = match typing {
            true => Session::start_typing(SERVER, args),
            false => Session::start(SERVER, args),
        };
        let port = session.port;
        let table = proc_tcp::sockets_on(port).expect("the table");
        let on_port =
            |e: &&proc_tcp::Entry| e.local.port() == port || e.remote.port() == port;
        if table
            .iter()
            .filter(on_port)
            .all(|e| e.state == State::Listen)
        {
            return session;
        }
    }
    panic!("20 ports in a row had old connections on them");
}

/// `lab states --once` against this server's port: the connections and their two ends.
fn states(session: &Session) -> Run {
    let run = session.client("lab", &["states", "--once"], None);
    run.assert_code(0);
    run
}

/// The terminals of one story in the order the book tells it: the server's, the client's,
/// then other commands, each after a `# ...` line that says when it ran. Ports are
/// redacted as the server's, and so are the timers (`ends in [n] s`) and counters of `lab
/// states`.
fn story(server: &Run, client: &Run, later: &[(&str, &Run)]) -> String {
    let mut text = format!("{}\n{}", server.terminal(), client.terminal());
    for (when, run) in later {
        text.push_str(&format!("\n# {when}\n{}", run.terminal()));
    }
    let text = server.redact_ports(&text);
    let timers =
        regex::Regex::new(r"ends in \d+ s|again \d+ times").expect("valid regex");
    timers
        .replace_all(&text, |caps: &regex::Captures| {
            let re = regex::Regex::new(r"\d+").expect("valid regex");
            re.replace(&caps[0], "[n]").into_owned()
        })
        .into_owned()
}

// ---------------------------------------------------------------------------------------
// The close, seen at both ends.

/// Which side sends the first FIN.
#[derive(Clone, Copy, PartialEq, Eq)]
enum First {
    Client,
    Server,
}

/// One connection closed in the order `first` says, while the test reads the table. The
/// side that closes second pauses before its close (`--pause-before-close`) until the
/// test has seen the half-closed connection: FIN_WAIT2 at the first closer's end,
/// CLOSE_WAIT at the other. Then TIME_WAIT at the first closer's end, nothing at the
/// other. Returns the book's transcript.
fn close_in_order(first: First) -> String {
    let (server_args, client_args, paused): (&[&str], &[&str], _) = match first {
        First::Client => (&["--pause-before-close"], &[], "server"),
        First::Server => (
            &["--close-first", "server"],
            &["--close-first", "server", "--pause-before-close"],
            "client",
        ),
    };
    let mut server_args = server_args.to_vec();
    server_args.extend(["--max-clients", "1"]);
    let mut session = start_alone(&server_args, true);
    let mut client = session.background(CLIENT, client_args);
    let line = session.wait_for_line(|l| l.starts_with("connection from"));
    let ends = Ends::from_server_line(&line, session.port);
    // Each end by its role in the close: (its address, its peer's).
    let (closer, other) = match first {
        First::Client => ((ends.client, ends.server), (ends.server, ends.client)),
        First::Server => ((ends.server, ends.client), (ends.client, ends.server)),
    };
    let state = |(local, remote)| proc_tcp::state_of(local, remote);

    // The second closer has read 0 bytes and waits for Enter before its own close.
    let pause = |l: &str| l.starts_with("press Enter");
    match first {
        First::Client => session.wait_for_line(pause),
        First::Server => client.wait_for_line(pause),
    };
    assert_eq!(
        state(other),
        Some(State::CloseWait),
        "the {paused} has not closed"
    );
    // The closer's FIN is acknowledged (the ACK may wait for the delayed-ACK timer).
    let (local, remote) = closer;
    let fin_wait2 = Some(State::FinWait2);
    let seen = proc_tcp::wait_for(local, remote, SETTLE, |s| s == fin_wait2);
    assert_eq!(
        seen, fin_wait2,
        "the first closer waits for the {paused}'s FIN"
    );
    let half_closed = states(&session);

    match first {
        First::Client => session.type_line(""),
        First::Server => client.type_line(""),
    }
    let client = client.finish();
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    assert_eq!(
        state(closer),
        Some(State::TimeWait),
        "TIME_WAIT at the first closer"
    );
    let entry = proc_tcp::find(closer.0, closer.1).expect("the end in TIME_WAIT");
    assert_time_wait_of_60_s(entry.timer.expect("TIME_WAIT runs a timer"));
    assert_eq!(state(other), None, "the end that closed second is gone");
    let (first_run, second_run, other_name) = match first {
        First::Client => (&client, &server, "server"),
        First::Server => (&server, &client, "client"),
    };
    first_run.assert_stdout_contains(&format!(
        "closed first: our FIN is sent; waiting for the {other_name}'s FIN"
    ));
    first_run.assert_stdout_contains("our end is TIME_WAIT: we closed first");
    second_run.assert_stdout_contains("(read returned 0 bytes): our end is CLOSE_WAIT");
    second_run.assert_stdout_contains(
        "closed second: our FIN is sent and acknowledged; our end is gone",
    );

    // `lab states` once more, after the server has exited.
    let port = ends.server.port().to_string();
    let after = Run {
        shown: shown_command("lab", &["states", "--once"], None),
        ..run("lab", &["states", "--once", "--port", &port], None)
    };
    after.assert_code(0);
    let while_paused =
        format!("while the {paused} waited for Enter, in a third terminal:");
    story(
        &server,
        &client,
        &[(&while_paused, &half_closed), ("after Enter:", &after)],
    )
}

#[test]
fn the_client_closes_first_waits_in_fin_wait2_and_keeps_time_wait() {
    if skip_unless_linux() {
        return;
    }
    let text = close_in_order(First::Client);
    assert_transcript("lesson11_client_closes_first", &text);
}

#[test]
fn the_server_closes_first_waits_in_fin_wait2_and_keeps_time_wait_on_its_port() {
    if skip_unless_linux() {
        return;
    }
    let text = close_in_order(First::Server);
    assert_transcript("lesson11_server_closes_first", &text);
}

// ---------------------------------------------------------------------------------------
// A restart on the same port: TIME_WAIT and SO_REUSEADDR.

/// A server (with or without SO_REUSEADDR) serves one client and closes first: TIME_WAIT
/// on the server's port.
fn server_closes_first(reuse: bool) -> (Run, Run) {
    let mut args = vec!["--close-first", "server", "--max-clients", "1"];
    if reuse {
        args.push("--reuse-address");
    }
    let session = Session::start(SERVER, &args);
    let client = session.client(CLIENT, &["--close-first", "server"], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    server.assert_stdout_contains("our end is TIME_WAIT: we closed first");
    (server, client)
}

/// A new server on the port of `old`, with or without SO_REUSEADDR, shown as a student
/// restarts it (on the default port). Expected to fail: it exits at once.
fn restart_fails(old: &Run, reuse: bool) -> Run {
    let port = old.port.expect("a server's run").to_string();
    let args: &[&str] = if reuse { &["--reuse-address"] } else { &[] };
    let mut all = args.to_vec();
    all.extend(["--port", &port]);
    let new = Run {
        shown: shown_command(SERVER, args, None),
        ..run(SERVER, &all, None)
    };
    new.assert_code(1);
    new.assert_error(&format!(
        "error: address 127.0.0.1:{port} is already in use: an old connection of this \
         port is in TIME_WAIT, for 60 s, because this side closed it first. Wait for it \
         to end, or choose another port with --port N (--port 0 picks any free port). \
         (A server binds at once if both its listening socket and the old one set \
         SO_REUSEADDR: lesson 11)"
    ));
    new
}

/// A new server on the port of `old` that starts, serves one client, and exits.
fn restart_works(old: &Run, args: &[&str]) -> Run {
    let port = old.port.expect("a server's run");
    let mut all = args.to_vec();
    all.extend(["--max-clients", "1"]);
    let session = Session::start_on_port(SERVER, &all, port);
    assert_eq!(session.port, port);
    session.client(CLIENT, &[], None).assert_code(0);
    let new = session.finish();
    new.assert_code(0);
    new
}

#[test]
fn after_the_server_closed_first_a_new_server_cannot_bind_its_port() {
    if skip_unless_linux() {
        return;
    }
    let (server, client) = server_closes_first(false);
    let new = restart_fails(&server, false);
    assert_transcript(
        "lesson11_restart_address_in_use",
        &transcript(&[&server, &client, &new]),
    );
}

#[test]
fn so_reuseaddr_on_the_new_socket_alone_does_not_help() {
    if skip_unless_linux() {
        return;
    }
    let (server, _) = server_closes_first(false);
    restart_fails(&server, true);
}

#[test]
fn so_reuseaddr_on_the_old_socket_alone_does_not_help() {
    if skip_unless_linux() {
        return;
    }
    let (server, _) = server_closes_first(true);
    restart_fails(&server, false);
}

#[test]
fn with_so_reuseaddr_on_the_old_and_the_new_socket_the_server_restarts_at_once() {
    if skip_unless_linux() {
        return;
    }
    let (server, client) = server_closes_first(true);
    let new = restart_works(&server, &["--reuse-address"]);
    assert_transcript(
        "lesson11_restart_reuse_address",
        &transcript(&[&server, &client, &new]),
    );
}

#[test]
fn after_the_client_closed_first_the_server_restarts_without_so_reuseaddr() {
    if skip_unless_linux() {
        return;
    }
    // The course: stop the client first, then the server, and the restart fails. It does
    // not: the client's end holds TIME_WAIT, on the client's port.
    let session = Session::start(SERVER, &["--max-clients", "1"]);
    let client = session.client(CLIENT, &[], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    let line = server
        .stdout
        .lines()
        .find(|l| l.starts_with("connection from"));
    let port = server.port.expect("a server's run");
    let ends = Ends::from_server_line(line.expect("a connection"), port);
    assert_eq!(ends.client_end(), Some(State::TimeWait));
    assert_eq!(
        ends.server_end(),
        None,
        "nothing is left of the server's end"
    );
    let new = restart_works(&server, &[]);
    assert_transcript(
        "lesson11_restart_after_client_first",
        &transcript(&[&server, &client, &new]),
    );
}

#[test]
fn stopping_the_server_while_a_client_is_connected_makes_the_server_close_first() {
    if skip_unless_linux() {
        return;
    }
    // Each side waits for the other to close; then the server is stopped (Ctrl-C, or
    // here a kill: either way the system closes its sockets, and sends its FIN).
    let mut session = Session::start(SERVER, &[]);
    let mut client = session.background(CLIENT, &["--close-first", "server"]);
    let line = session.wait_for_line(|l| l.starts_with("connection from"));
    let ends = Ends::from_server_line(&line, session.port);
    session.wait_for_line(|l| l.starts_with("received"));
    client.wait_for_line(|l| l.starts_with("sent"));
    let server = session.stop();
    let client = client.finish();
    client.assert_code(0);
    client.assert_stdout_contains(
        "the server closed first (read returned 0 bytes): our end is CLOSE_WAIT",
    );
    assert_eq!(
        ends.server_end_becomes(Some(State::TimeWait)),
        Some(State::TimeWait)
    );
    let new = restart_fails(&server, false);
    assert_transcript(
        "lesson11_server_stopped",
        &transcript(&[&server, &client, &new]),
    );
}

#[test]
fn std_sets_so_reuseaddr_so_lesson02_restarts_on_a_port_in_time_wait() {
    if skip_unless_linux() {
        return;
    }
    // Rust's TcpListener::bind sets SO_REUSEADDR on Unix, for every listener it makes.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let set = socket2::SockRef::from(&listener).reuse_address();
    assert!(set.expect("getsockopt"), "std's listener has SO_REUSEADDR");

    let session = Session::start("lesson02-server", &[]);
    let (mut conn, ends) = raw_client(&session.addr(), "hi");
    let mut buf = [0u8; 16];
    // The server is stopped while we are connected: it closes first.
    let old = session.stop();
    assert_eq!(conn.read(&mut buf).expect("the end"), 0);
    drop(conn);
    assert_eq!(
        ends.server_end_becomes(Some(State::TimeWait)),
        Some(State::TimeWait)
    );
    let port = old.port.expect("a server's run");
    let new = Session::start_on_port("lesson02-server", &[], port);
    assert_eq!(
        new.port, port,
        "lesson02-server binds its TIME_WAIT port at once"
    );
    new.stop();
}

#[test]
fn the_course_s_tcp_tw_recycle_setting_no_longer_exists() {
    if skip_unless_linux() {
        return;
    }
    // The course's recipe sets net.ipv4.tcp_tw_recycle; Linux removed it in 4.12 (2017).
    let setting = std::path::Path::new("/proc/sys/net/ipv4/tcp_tw_recycle");
    assert!(
        !setting.exists(),
        "{} exists on this kernel",
        setting.display()
    );
    // tcp_tw_reuse is still there: it lets a *client* reuse a TIME_WAIT 4-tuple, and does
    // nothing for a server's bind.
    assert!(std::path::Path::new("/proc/sys/net/ipv4/tcp_tw_reuse").exists());
}

#[test]
fn so_reuseaddr_does_not_let_a_second_server_listen_on_a_port_in_use() {
    if skip_unless_linux() {
        return;
    }
    let first = Session::start(SERVER, &["--reuse-address"]);
    let port = first.port.to_string();
    let second = run(SERVER, &["--reuse-address", "--port", &port], None);
    second.assert_code(1);
    second.assert_stderr_contains(&format!(
        "is already in use: pid {} (lesson11-server) holds it",
        first.pid()
    ));
}

// ---------------------------------------------------------------------------------------
// listen(n), and nobody accepts.

/// `--connect-only N` against `listen(backlog)` with no accept: the client's run, its
/// `lab states` while it held its connections, and the server's run.
fn fill_the_queue(backlog: i32, connects: u32) -> (Run, Run, Run, usize) {
    let backlog_arg = backlog.to_string();
    let session = start_alone(&["--backlog", &backlog_arg, "--never-accept"], false);
    let connects = connects.to_string();
    let mut client = session.background(
        CLIENT,
        &[
            "--connect-only",
            &connects,
            "--connect-timeout-ms",
            "300",
            "--pause-before-close",
        ],
    );
    client.wait_for_line(|l| l.starts_with("press Enter"));
    let held = states(&session);
    // How many connections the listener's accept queue holds, from the table.
    let listener = proc_tcp::sockets_on(session.port).expect("the table");
    let listener = listener
        .iter()
        .find(|e| e.state == State::Listen && e.local.port() == session.port)
        .expect("the listening socket");
    let queued = listener.rx_queue as usize;
    client.type_line("");
    let client = client.finish();
    client.assert_code(0);
    (session.stop(), client, held, queued)
}

#[test]
fn listen_n_with_no_accept_completes_n_plus_1_connects_and_the_rest_time_out_unrefused() {
    if skip_unless_linux() {
        return;
    }
    for backlog in [0, 1, 3] {
        let n = backlog as usize;
        let (server, client, _, queued) = fill_the_queue(backlog, backlog as u32 + 3);
        assert_eq!(client.count(": connected from"), n + 1, "{}", client.stdout);
        assert_eq!(
            client.count(": no answer within 300 ms"),
            2,
            "{}",
            client.stdout
        );
        client.assert_stdout_contains(&format!(
            "{} connected, 2 unanswered, 0 refused",
            n + 1
        ));
        client.assert_count("our end is still SYN_SENT", 2);
        assert_eq!(queued, n + 1, "the accept queue of listen({backlog})");
        server.assert_stdout_contains(&format!(
            "listen({backlog}), and accept is never called"
        ));
    }
}

#[test]
fn the_course_s_listen_1_connects_two_and_refuses_none() {
    if skip_unless_linux() {
        return;
    }
    let (server, client, held, queued) = fill_the_queue(1, 4);
    assert_eq!(queued, 2);
    client.assert_stdout_contains("2 connected, 2 unanswered, 0 refused");
    assert_transcript(
        "lesson11_listen_1",
        &story(
            &server,
            &client,
            &[(
                "while the client held its connections, in a third terminal:",
                &held,
            )],
        ),
    );
}

#[test]
fn a_syn_that_a_full_queue_drops_is_sent_again() {
    if skip_unless_linux() {
        return;
    }
    let run = run("lab", &["syn-retries", "--retransmissions", "1"], None);
    run.assert_code(0);
    run.assert_stdout_contains("a listener on 127.0.0.1:");
    run.assert_stdout_contains("connect 1 from 127.0.0.1:");
    run.assert_stdout_contains("  SYN sent again: retransmission 1 at ");
    assert!(
        run.stdout
            .ends_with("stopped after 1 retransmission (--retransmissions 1)\n"),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------
// lab states, watching.

#[test]
fn lab_states_shows_the_ends_of_a_connection_change_as_it_opens_and_closes() {
    if skip_unless_linux() {
        return;
    }
    let mut session =
        Session::start_typing(SERVER, &["--pause-before-close", "--max-clients", "1"]);
    let mut watch = session.background("lab", &["states"]);
    watch.wait_for_line(|l| l.ends_with("LISTEN  (accept queue: 0)"));
    let (mut conn, ends) = raw_client(&session.addr(), "hello");
    let mut buf = [0u8; 16];
    let row = |server: &str, client: &str| {
        format!(
            "{}  {server:<11} ⇄ {client:<11}  {}",
            ends.server, ends.client
        )
    };
    watch.wait_for_line(|l| l.ends_with(&row("ESTABLISHED", "ESTABLISHED")));
    // Our FIN; the server reads 0 bytes and pauses before its close.
    conn.shutdown(std::net::Shutdown::Write).expect("shutdown");
    session.wait_for_line(|l| l.starts_with("press Enter"));
    watch.wait_for_line(|l| l.ends_with(&row("CLOSE_WAIT", "FIN_WAIT2")));
    session.type_line("");
    watch.wait_for_line(|l| l.ends_with(&row("-", "TIME_WAIT")));
    assert_eq!(conn.read(&mut buf).expect("the end"), 0);
    session.finish().assert_code(0);
    watch.wait_for_line(|l| l.contains("  -  (gone)"));
    watch.stop();
}

// ---------------------------------------------------------------------------------------
// The demo and the command line.

#[test]
fn lab_demo_11_closes_on_the_server_side_first_and_ends_by_itself() {
    if skip_unless_linux() {
        return;
    }
    let demo = run_demo("11");
    demo.assert_shows(&[
        "the server closed first (read returned 0 bytes): our end is CLOSE_WAIT",
        "our end is TIME_WAIT: we closed first",
    ]);
}

#[test]
fn a_client_waiting_for_a_fin_that_never_comes_gives_up_and_says_why() {
    // The client waits for the server to close first; the server waits for the client.
    let session = Session::start(SERVER, &["--max-clients", "1"]);
    let client = session.client(
        CLIENT,
        &["--close-first", "server", "--timeout-ms", "300"],
        None,
    );
    client.assert_code(1);
    client.assert_error(
        "error: nothing came from the server within --timeout-ms, not even its FIN (do \
         both sides use the same --close-first?)",
    );
    // The client's exit closed its end: the server read 0 bytes and closed second.
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("the client closed first (read returned 0 bytes)");
}

#[test]
fn a_negative_backlog_or_zero_connections_is_a_usage_error() {
    run(SERVER, &["--backlog", "-1"], None).assert_code(2);
    run(CLIENT, &["--connect-only", "0"], None).assert_code(2);
    run(SERVER, &["--close-first", "nobody"], None).assert_code(2);
}
