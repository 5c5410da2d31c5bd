//! Lesson 10: one thread serves every client, run for real over 127.0.0.1. The event loop
//! passes lesson 08's behaviour tests with lesson 08's own client and steps, and holds its
//! ground against the hostile clients: one that never speaks, one that never reads, one
//! that sends 100 MB.

mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const SERVER: &str = "lesson10-server";
const CLIENT: &str = "lesson10-client";
const MB: usize = 1_000_000;

/// The peak resident memory (VmHWM) of process `pid`, in MiB.
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib / 1024.0
}

#[test]
fn two_clients_are_answered_exactly_as_lesson08_answers_them() {
    let (event_loop, event_loop_log) = two_clients_at_once(SERVER);
    let (threads, threads_log) = two_clients_at_once("lesson08-server");
    // The same lines on the server's terminal (ports aside), the same replies.
    let lines = |run: &Run| redact_ports(&run.stdout, None, None);
    assert_eq!(lines(&event_loop), lines(&threads));
    assert_eq!(event_loop_log, threads_log);
    assert_transcript(
        "lesson10_two_at_once",
        &scripted_transcript(&event_loop, &event_loop_log),
    );
}

#[test]
fn one_thread_serves_every_connected_client() {
    let (server, log, counts) = threads_with_two_clients(SERVER);
    // Before any client, with A, with A and B: the same one thread.
    assert_eq!(counts, [1, 1, 1]);
    assert_transcript("lesson10_one_thread", &scripted_transcript(&server, &log));
}

#[test]
fn lesson08s_client_gets_the_same_replies_from_the_event_loop() {
    let input = Some("hello\nhow are you?\n");
    let mut outputs = Vec::new();
    for server in [SERVER, "lesson08-server"] {
        let session = Session::start(server, &["--max-clients", "3"]);
        let client = session.client("lesson08-client", &["--connections", "3"], input);
        let run = session.finish();
        client.assert_code(0);
        run.assert_code(0);
        run.assert_count("received from", 6);
        outputs.push(redact_ports(&client.stdout, None, None));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(
        outputs[0].contains("connection 3: HOW ARE YOU?\n"),
        "{}",
        outputs[0]
    );
}

#[test]
fn a_client_that_says_nothing_is_closed_after_the_idle_timeout() {
    let session =
        Session::start(SERVER, &["--max-clients", "2", "--idle-timeout-ms", "2000"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let mut silent = Peer::connect("A", &addr, log);
    log.push("A: says nothing".into());
    // Meanwhile B is served as usual: A's silence holds nobody up.
    let mut b = Peer::connect("B", &addr, log);
    assert_eq!(b.round_trip("hello", log), "HELLO");
    b.leaves(log);
    // The server closes A: A reads the end of the stream.
    let mut rest = Vec::new();
    silent
        .conn
        .read_to_end(&mut rest)
        .expect("the end of the stream");
    assert!(rest.is_empty(), "{rest:?}");
    log.push("A: the server closed the connection".into());
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("idle for 2000 ms: closed");
    assert_transcript("lesson10_idle", &scripted_transcript(&server, log));
}

/// Writes up to `limit` bytes of `byte` until the socket takes no more for a while (the
/// peer is not reading); returns how many it took.
fn write_until_stalled(conn: &mut TcpStream, byte: u8, limit: usize) -> usize {
    conn.set_write_timeout(Some(Duration::from_millis(500)))
        .expect("write timeout");
    let chunk = vec![byte; 64 * 1024];
    let mut sent = 0;
    while sent < limit {
        let want = chunk.len().min(limit - sent);
        match conn.write(&chunk[..want]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break
            }
            Err(e) => panic!("writing: {e}"),
        }
    }
    sent
}

#[test]
fn a_client_that_never_reads_is_held_back_and_the_others_are_served() {
    let session = Session::start(SERVER, &["--max-clients", "2", "--quiet"]);
    let addr = session.addr();
    // It sends and sends, and reads nothing: its replies pile up in the server.
    let mut greedy = TcpStream::connect(&addr).expect("connect");
    let accepted = write_until_stalled(&mut greedy, b'a', 100 * MB);
    // The server stopped reading from it once its replies were not taken: what it
    // accepted is what the socket buffers hold, not 100 MB.
    assert!(accepted < 100 * MB, "the server took all {accepted} bytes");
    // Another client is served meanwhile, on the same thread.
    let log = &mut Vec::new();
    let mut other = Peer::connect("B", &addr, log);
    assert_eq!(other.round_trip("still served", log), "STILL SERVED");
    other.leaves(log);
    let peak = peak_mib(session.pid());
    assert!(peak < 32.0, "the server's memory peaked at {peak:.1} MiB");
    // Now it reads: every byte it sent comes back upper-cased, then the end.
    greedy.shutdown(Shutdown::Write).expect("shutdown");
    greedy.set_read_timeout(Some(LIMIT)).expect("timeout");
    let mut back = Vec::new();
    greedy.read_to_end(&mut back).expect("the replies");
    assert_eq!(back.len(), accepted);
    assert!(
        back.iter().all(|&b| b == b'A'),
        "every reply byte is an `A`"
    );
    session.finish().assert_code(0);
}

#[test]
fn a_100_mb_message_is_echoed_exactly_with_bounded_memory() {
    // Two clients: the server is still running (its memory there to read) after the first.
    let session = Session::start(SERVER, &["--max-clients", "2", "--quiet"]);
    let mut conn = TcpStream::connect(session.addr()).expect("connect");
    conn.set_read_timeout(Some(LIMIT)).expect("timeout");
    let mut sender = conn.try_clone().expect("clone");
    // 100 MB of lower-case letters with no line end, written while the replies are read.
    let writer = std::thread::spawn(move || {
        let chunk: Vec<u8> = (0..MB).map(|i| b'a' + (i % 26) as u8).collect();
        for _ in 0..100 {
            sender.write_all(&chunk).expect("send");
        }
        sender.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0usize;
    loop {
        let n = read_retrying(&mut conn, &mut buf).expect("the replies");
        if n == 0 {
            break;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            let want = b'A' + ((got + i) % MB % 26) as u8;
            assert_eq!(b, want, "byte {} of the reply", got + i);
        }
        got += n;
    }
    writer.join().expect("the writer");
    assert_eq!(got, 100 * MB);
    let peak = peak_mib(session.pid());
    assert!(peak < 32.0, "the server's memory peaked at {peak:.1} MiB");
    Peer::connect("B", &session.addr(), &mut Vec::new()).leaves(&mut Vec::new());
    session.finish().assert_code(0);
}

/// The load client's report with its timings (which change from run to run) left out.
fn without_timings(text: &str) -> String {
    let timing = regex::Regex::new(r"\d+\.\d+|\d+( round trips/s)").expect("valid regex");
    text.lines()
        .map(|line| {
            if line.starts_with("time:") || line.starts_with("round trip:") {
                timing.replace_all(line, "…$1").into_owned()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_load_client_opens_every_connection_at_once_and_checks_every_reply() {
    let args = ["--connections", "50", "--rounds", "20"];
    for server in [SERVER, "lesson08-server"] {
        let session = Session::start(server, &["--max-clients", "50", "--quiet"]);
        let client = session.client(CLIENT, &args, None);
        let run = session.finish();
        client.assert_code(0);
        run.assert_code(0);
        client.assert_stdout_contains("50 of 50 connections open at once");
        client.assert_stdout_contains("round trips: 1000 exact, 0 wrong, 0 lost");
        run.assert_stdout_contains("served 50 clients, stopping");
        if server == SERVER {
            let text = without_timings(&transcript(&[&run, &client]));
            assert_transcript("lesson10_load_client", &text);
        }
    }
}

#[test]
fn the_load_client_without_a_server_says_which_server_to_start() {
    let port = free_port().to_string();
    let client = run(CLIENT, &["--port", &port, "--connections", "3"], None);
    client.assert_code(1);
    client.assert_error(&format!(
        "error: connection refused by 127.0.0.1:{port}: no server is listening there. Start \
         the server first, in another terminal: cargo run --bin lesson10-server -- --port \
         {port}"
    ));
}

#[test]
fn zero_connections_rounds_or_idle_time_are_usage_errors() {
    run(CLIENT, &["--connections", "0"], None).assert_code(2);
    run(CLIENT, &["--rounds", "0"], None).assert_code(2);
    run(SERVER, &["--idle-timeout-ms", "0"], None).assert_code(2);
    run(SERVER, &["--backlog", "0"], None).assert_code(2);
}

#[test]
fn lab_demo_10_is_the_same_every_run_and_one_thread_answers_three_connections() {
    let demo = assert_demo_is_the_same_every_run("10", &[], 3);
    demo.assert_shows(&[
        "client ▶ connection 3: HOW ARE YOU?",
        "server ▶ served 3 clients, stopping",
    ]);
}
