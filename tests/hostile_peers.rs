//! Hostile peers: every server of the lab against clients that do what a client should not —
//! send nothing, send a byte now and then, never read, send terminal escapes, open more
//! connections than the server has descriptors, send names or lengths at the limits. Each
//! test keeps one case of a review of every server, so that none comes back: the server
//! keeps its promises (nobody else waits for longer than the configured timeout, nothing
//! half-written, no raw control byte on a terminal, at most one line a second about one
//! problem).
//!
//! Waits are bounded (LIMIT, or a read timeout) but never assert a speed: "a client is
//! served after an idle one was dropped" holds on a busy machine too. The speeds are in
//! `cargo bench --bench chat_slow_members`.

mod common;
use common::*;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// SHA-256 of `hello\n`.
const HELLO_SHA256: &str =
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

/// What a hostile peer sends to be shown on the server's terminal: an escape sequence that
/// clears the screen, a `\r` that would overwrite the line with a forged one, a bell, and
/// bytes that are not UTF-8.
const HOSTILE: &[u8] = b"\x1b[2J\rserver: all clear\x07\xff";
/// The same bytes as the lab shows them.
const HOSTILE_SHOWN: &str = r"\e[2J\rserver: all clear\x07\xff";

/// Asserts that a program's stdout has no control character but line ends: no byte a peer
/// sent reached the terminal raw.
#[track_caller]
fn assert_no_raw_controls(run: &Run) {
    let raw: Vec<(usize, char)> = run
        .stdout
        .char_indices()
        .filter(|(_, c)| c.is_control() && *c != '\n')
        .collect();
    assert!(
        raw.is_empty(),
        "raw control characters {raw:?} in the stdout of `{}`:\n{}",
        run.shown,
        run.stdout.escape_debug()
    );
}

/// A message as lesson 06 frames it: 4-byte big-endian header length, header, body.
fn frame06(header: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Reads one lesson 06 reply header (a frame) from `conn`.
fn reply06(conn: &mut TcpStream) -> String {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).expect("a reply length");
    let mut json = vec![0u8; u32::from_be_bytes(len) as usize];
    conn.read_exact(&mut json).expect("a reply header");
    String::from_utf8_lossy(&json).into_owned()
}

/// Connects with a read timeout of LIMIT: a test that waits for ever is a hang, never a
/// pass.
fn connect(addr: &str) -> TcpStream {
    let conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(LIMIT)).expect("read timeout");
    conn
}

/// Everything `conn` receives until the server closes it.
fn rest_of(conn: &mut TcpStream) -> String {
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    String::from_utf8_lossy(&rest).into_owned()
}

/// lesson06-server serving `root`, with `args` and resource `limits`.
fn lesson06(root: &str, args: &[&str], limits: &[(Resource, u64)]) -> Session {
    let mut all = vec!["--root", root];
    all.extend_from_slice(args);
    Session::start_limited("lesson06-server", &all, limits)
}

fn scratch() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let root = dir.path().join("server-files");
    std::fs::create_dir(&root).expect("mkdir");
    (dir, root.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------------------------------
// 1. lesson06-server serves one client at a time: an idle client must not freeze it.

#[test]
fn lesson06_an_idle_client_delays_the_next_one_only_until_the_idle_timeout() {
    let (dir, root) = scratch();
    let mut session = lesson06(
        &root,
        &["--idle-timeout-ms", "500", "--max-clients", "3"],
        &[],
    );
    // One client that connects and sends nothing; one that sends half a header.
    let mut silent = connect(&session.addr());
    session.wait_for_line(|l| l.starts_with("connection from"));
    let mut half = connect(&session.addr());
    half.write_all(&[0, 0, 0, 40, b'{']).expect("send");
    // A real put, queued behind them: it is served once both were dropped.
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello\n").expect("write");
    let put = session.client("lesson06-client", &["put", &file.to_string_lossy()], None);
    put.assert_code(0);
    put.assert_stdout_contains("server: stored a.txt (6 bytes, sha256 verified)");
    // Each dropped client was told why, and closed.
    for conn in [&mut silent, &mut half] {
        let reply = reply06(conn);
        assert_contains(
            "the reply",
            &reply,
            "reading a request header: nothing came for 500 ms (--idle-timeout-ms)",
        );
        assert_eq!(rest_of(conn), "");
    }
    let server = session.finish();
    server.assert_code(0);
    server.assert_count("nothing came for 500 ms (--idle-timeout-ms)", 2);
}

#[test]
fn lesson06_a_header_must_arrive_whole_within_the_idle_timeout_however_it_trickles() {
    let (_dir, root) = scratch();
    let session = lesson06(
        &root,
        &["--idle-timeout-ms", "1000", "--max-clients", "1"],
        &[],
    );
    // A slowloris: one byte of a 200-byte header every 100 ms. Every read gets a byte well
    // within the timeout, so only a deadline for the whole header stops it: 20 s of
    // trickling would otherwise hold the server.
    let mut conn = connect(&session.addr());
    let header = frame06(
        &format!(r#"{{"command":"get","file_name":"{}"}}"#, "a".repeat(168)),
        b"",
    );
    assert_eq!(header.len(), 4 + 200);
    let mut sent = 0;
    for byte in &header {
        if conn.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        // The server answered (its reply) or closed: it has given up on us.
        conn.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        match conn.peek(&mut [0u8; 1]) {
            Ok(_) => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    assert!(
        sent < header.len(),
        "the server waited for the whole slow header"
    );
    conn.set_read_timeout(Some(LIMIT)).expect("timeout");
    assert_contains(
        "the reply",
        &reply06(&mut conn),
        "nothing came for 1000 ms (--idle-timeout-ms)",
    );
    session.finish().assert_code(0);
}

#[test]
fn lesson06_a_client_that_never_reads_a_download_is_dropped_and_the_next_one_served() {
    let (dir, root) = scratch();
    // 32 MiB: more than the socket buffers of both ends can hold.
    std::fs::write(Path::new(&root).join("big.bin"), vec![7u8; 32 << 20]).expect("write");
    std::fs::write(Path::new(&root).join("small.txt"), b"hello\n").expect("write");
    let session = lesson06(
        &root,
        &["--idle-timeout-ms", "500", "--max-clients", "2"],
        &[],
    );
    let mut greedy = connect(&session.addr());
    greedy
        .write_all(&frame06(r#"{"command":"get","file_name":"big.bin"}"#, b""))
        .expect("send");
    let out = dir.path().to_string_lossy().into_owned();
    let get = session.client(
        "lesson06-client",
        &["get", "small.txt", "--out", &out],
        None,
    );
    get.assert_code(0);
    get.assert_stdout_contains("saved small.txt (6 bytes, sha256 verified)");
    drop(greedy);
    let server = session.finish();
    server.assert_code(0);
    // The file goes out by sendfile: its write timeout is what stops it.
    server.assert_stdout_contains("sending big.bin failed: sending the body (");
    server.assert_stdout_contains(
        "bytes): the client took nothing for 500 ms (--idle-timeout-ms)",
    );
}

#[test]
fn lesson06_client_gives_up_on_a_server_that_never_answers_and_says_why() {
    let (dir, _root) = scratch();
    // A server that accepts and then does nothing at all.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello\n").expect("write");
    let file = file.to_string_lossy().into_owned();
    let args = ["put", &file, "--port", &port, "--timeout-ms", "300"];
    let put = run("lesson06-client", &args, None);
    drop(listener);
    put.assert_code(1);
    put.assert_error(
        "error: receiving the server's reply: the server did nothing for 300 ms. It may be \
         busy with another client (lesson06-server serves one at a time) or stuck; try \
         again, or wait longer with --timeout-ms",
    );
}

// ---------------------------------------------------------------------------------------
// 2. The chat: members who never read cannot slow down the others.

/// A chat member driven by the test.
struct Member {
    conn: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Member {
    fn join(addr: &str, name: &str) -> Member {
        let mut conn = connect(addr);
        conn.write_all(format!("{name}\n").as_bytes())
            .expect("name");
        let reader = BufReader::new(conn.try_clone().expect("clone"));
        Member { conn, reader }
    }

    fn say(&mut self, line: &str) {
        self.conn
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    /// The next line, without its end.
    fn next(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a line");
        assert!(line.ends_with('\n'), "the connection ended: {line:?}");
        line.trim_end_matches('\n').to_string()
    }
}

/// A chat server that stops after `max` members, and alice, its first.
fn chat_with_alice(max: &str) -> (Session, String, Member) {
    let session = Session::start("lesson08-chat-server", &["--max-clients", max]);
    let addr = session.addr();
    let mut alice = Member::join(&addr, "alice");
    assert_eq!(alice.next(), "* welcome alice; nobody else is here yet");
    (session, addr, alice)
}

#[test]
fn chat_three_members_who_never_read_are_dropped_and_two_others_exchange_20000_lines() {
    let (session, addr, mut alice) = chat_with_alice("5");
    let mut bob = Member::join(&addr, "bob");
    assert_eq!(bob.next(), "* welcome bob; here: alice");
    assert_eq!(alice.next(), "* bob joined");
    // Three members who join and then never read a byte.
    let mut idle = Vec::new();
    for name in ["nr1", "nr2", "nr3"] {
        idle.push(Member::join(&addr, name));
        for member in [&mut alice, &mut bob] {
            assert_eq!(member.next(), format!("* {name} joined"));
        }
    }
    // Lock-step: alice says a line, bob hears it, bob says one, alice hears it. Lines of
    // 900 bytes, so that what the three do not read soon outgrows their socket buffers.
    let padding = "x".repeat(890);
    let mut dropped: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut hear = |member: &mut Member, which: usize, expected: &str| loop {
        let line = member.next();
        if line == expected {
            return;
        }
        // The only other lines: a non-reader dropped, once each, saying why.
        assert!(
            line.starts_with("* nr")
                && line.ends_with(" left (not reading: too many lines waiting)"),
            "expected {:?}, heard {line:?}",
            &expected[..20]
        );
        dropped[which].push(line);
    };
    for i in 0..10_000 {
        let line = format!("a{i:05} {padding}");
        alice.say(&line);
        hear(&mut bob, 1, &format!("alice: {line}"));
        let line = format!("b{i:05} {padding}");
        bob.say(&line);
        hear(&mut alice, 0, &format!("bob: {line}"));
    }
    for heard in &mut dropped {
        heard.sort();
        assert_eq!(
            *heard,
            ["nr1", "nr2", "nr3"]
                .map(|n| format!("* {n} left (not reading: too many lines waiting)")),
        );
    }
    // The dropped members' connections were closed.
    for mut member in idle {
        let _ = member.conn.shutdown(Shutdown::Write);
        let _ = rest_of(&mut member.conn);
    }
    for member in [&mut alice, &mut bob] {
        member.say("bye");
    }
    let server = session.finish();
    server.assert_code(0);
    server.assert_count("left (not reading: too many lines waiting)", 3);
}

#[test]
fn chat_a_line_with_escapes_or_a_carriage_return_reaches_the_others_escaped() {
    let (session, addr, mut alice) = chat_with_alice("2");
    let mut mallory = Member::join(&addr, "mal\x1b[31mlory");
    assert_eq!(mallory.next(), r"* welcome mal\e[31mlory; here: alice");
    assert_eq!(alice.next(), r"* mal\e[31mlory joined");
    // `hi\r* bob left` would show on a terminal as a line of the server's own.
    mallory
        .conn
        .write_all(b"hi\r* bob left\n\x1b[2J\x07\xff\n")
        .expect("send");
    assert_eq!(alice.next(), r"mal\e[31mlory: hi\r* bob left");
    assert_eq!(alice.next(), r"mal\e[31mlory: \e[2J\x07\xff");
    mallory.say("bye");
    alice.say("bye");
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains(r"mal\e[31mlory: hi\r* bob left");
    assert_no_raw_controls(&server);
}

// ---------------------------------------------------------------------------------------
// 3. Bytes from the network reach no terminal raw.

/// Starts `bin`, lets `peer` talk to it, waits for it to end, and checks that its log shows
/// the hostile bytes escaped.
#[track_caller]
fn log_shows_escaped(bin: &str, args: &[&str], peer: impl FnOnce(&str)) -> Run {
    let session = Session::start(bin, args);
    peer(&session.addr());
    let server = session.finish();
    server.assert_code(0);
    assert_no_raw_controls(&server);
    server.assert_stdout_contains(HOSTILE_SHOWN);
    server
}

/// Sends `bytes`, stops sending, and reads until the server closes.
fn send_and_close(addr: &str, bytes: &[u8]) {
    let mut conn = connect(addr);
    conn.write_all(bytes).expect("send");
    conn.shutdown(Shutdown::Write).expect("shutdown");
    let _ = rest_of(&mut conn);
}

#[test]
fn tcp_servers_show_a_peers_bytes_escaped_in_their_logs() {
    let once = ["--max-clients", "1"];
    let tcp = [
        "lesson01-server",
        "lesson02-server",
        "lesson08-server",
        "lesson10-server",
    ];
    for bin in tcp {
        let args: &[&str] = if bin == "lesson01-server" { &[] } else { &once };
        log_shows_escaped(bin, args, |addr| send_and_close(addr, HOSTILE));
    }
    log_shows_escaped("lesson08-socketserver-echo", &once, |addr| {
        send_and_close(addr, HOSTILE)
    });
    log_shows_escaped(
        "lesson04-server",
        &["--case", "receiver", "--max-clients", "1"],
        |addr| send_and_close(addr, HOSTILE),
    );
    let mut framed = (HOSTILE.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(HOSTILE);
    log_shows_escaped("lesson05-server", &once, |addr| {
        send_and_close(addr, &framed)
    });
}

#[test]
fn lesson06_shows_a_peers_bytes_escaped_in_its_log_and_in_its_errors() {
    let (_dir, root) = scratch();
    let args = ["--root", &root, "--max-clients", "3"];
    let server = log_shows_escaped("lesson06-server", &args, |addr| {
        // A command line with escapes.
        let header = format!(r#"{{"command":"run","total_size":{}}}"#, HOSTILE.len());
        send_and_close(addr, &frame06(&header, HOSTILE));
        // A name with an escape and a forged line: the error quotes it escaped.
        let name =
            r#"{"command":"get","file_name":"x\u001b[2J\rserver: all clear\u0007"}"#;
        let mut conn = connect(addr);
        conn.write_all(&frame06(name, b"")).expect("send");
        let reply = reply06(&mut conn);
        assert_contains("the reply", &reply, r#"x\\e[2J\\rserver: all clear\\x07"#);
        drop(conn);
        // And the course's unframed commands (--classic is another server start; here a
        // plain unknown command that quotes the peer).
        send_and_close(addr, &frame06("{\"command\":\"\\u001b[2J\"}", b""));
    });
    server.assert_stdout_contains(r#"file name "x\e[2J\rserver: all clear\x07" refused"#);
    server.assert_stdout_contains(r"unknown variant `\e[2J`");
}

#[test]
fn udp_programs_show_one_hostile_datagram_escaped() {
    log_shows_escaped("lesson07-server", &["--max-datagrams", "1"], |addr| {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(LIMIT)).expect("timeout");
        socket.send_to(HOSTILE, addr).expect("send");
        let _ = socket.recv_from(&mut [0u8; 64]);
    });
}

// ---------------------------------------------------------------------------------------
// 4. lesson 08: a thread per connection, and the descriptors that come with it.

/// lesson 08's three servers, with arguments that make them end by themselves.
const LESSON08_SERVERS: [&str; 3] = [
    "lesson08-server",
    "lesson08-socketserver-echo",
    "lesson08-chat-server",
];

#[test]
fn lesson08_beyond_max_connections_a_client_is_told_busy_at_once() {
    // And lesson 10's event loop, which takes lesson 08's limits.
    for bin in LESSON08_SERVERS.into_iter().chain(["lesson10-server"]) {
        let session = Session::start_limited(
            bin,
            &["--max-connections", "20", "--idle-timeout-ms", "60000"],
            &[(Resource::Nofile, 64)],
        );
        let addr = session.addr();
        // 20 connections are served (each says something and hears back, so we know it
        // is being served); the 21st and later are told why they are not, and closed.
        let mut served = Vec::new();
        for i in 0..20 {
            let mut conn = connect(&addr);
            conn.write_all(format!("c{i}\n").as_bytes()).expect("send");
            if bin != "lesson08-chat-server" {
                let mut buf = [0u8; 16];
                let n = conn.read(&mut buf).expect("the echo");
                assert_eq!(&buf[..n], format!("C{i}\n").as_bytes(), "{bin}");
            } else {
                let mut line = String::new();
                BufReader::new(&conn).read_line(&mut line).expect("welcome");
                assert!(
                    line.starts_with(&format!("* welcome c{i}")),
                    "{bin}: {line}"
                );
            }
            served.push(conn);
        }
        for _ in 0..5 {
            let mut extra = connect(&addr);
            let said = rest_of(&mut extra);
            let expected = match bin {
                "lesson08-chat-server" => {
                    "* the room is full (20 members); try again later\n"
                }
                _ => "busy: this server serves 20 clients at once; try again later\n",
            };
            assert_eq!(said, expected, "{bin}");
        }
        let server = session.stop();
        server.assert_stdout_contains(
            "open files: up to 64 (the hard limit); at most 20 connections at once",
        );
        server.assert_count("refused: ", 5);
        drop(served);
    }
}

#[test]
fn out_of_descriptors_the_servers_back_off_say_so_once_a_second_and_recover() {
    // Lesson 10's loop too: edge-triggered, it hears of the clients left in the backlog
    // only if it tries `accept` again by itself.
    for bin in LESSON08_SERVERS.into_iter().chain(["lesson10-server"]) {
        // 32 descriptors and a cap above what fits: `accept` runs out of descriptors
        // (EMFILE). Idle connections are closed after 1 s, which frees descriptors again.
        let started = Instant::now();
        let session = Session::start_limited(
            bin,
            &[
                "--max-connections",
                "1000",
                "--idle-timeout-ms",
                "1000",
                "--max-clients",
                "40",
            ],
            &[(Resource::Nofile, 32)],
        );
        // 40 clients that connect and send nothing: the system completes all 40
        // handshakes (the backlog), the server can hold only some of them at once.
        let mut conns: Vec<TcpStream> =
            (0..40).map(|_| connect(&session.addr())).collect();
        // Every one of them is served in the end — and dropped for being idle: the server
        // closes it (an end of stream, not this test's read timeout).
        for (i, conn) in conns.iter_mut().enumerate() {
            let ended = conn.read_to_end(&mut Vec::new());
            assert!(
                ended.is_ok(),
                "{bin}: client {i} was never served: {ended:?}"
            );
        }
        let server = session.finish();
        let elapsed = started.elapsed().as_secs_f64();
        server.assert_code(0);
        server.assert_stdout_contains(" fit: lower --max-connections");
        let lines = server
            .stderr
            .lines()
            .filter(|l| l.starts_with("accept failed"))
            .count();
        // It did run out of descriptors, and said so at most once a second.
        assert!(
            lines >= 1,
            "{bin} never ran out of descriptors:\n{}",
            server.stderr
        );
        assert!(
            lines as f64 <= elapsed + 1.0,
            "{bin}: {lines} lines about failed accepts in {elapsed:.1} s:\n{}",
            server.stderr
        );
        assert_contains(
            "the stderr",
            &server.stderr,
            "Too many open files (os error 24); waiting 100 ms before trying again",
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5.–7. lesson06: names, header lengths, error replies.

#[test]
fn lesson06_a_name_whose_temporary_name_would_not_fit_is_refused_before_its_body() {
    let (_dir, root) = scratch();
    let session = lesson06(&root, &["--max-clients", "1"], &[]);
    let mut conn = connect(&session.addr());
    // 250 bytes: `.NAME.part` would be 256, one over the file system's 255. 249 fit.
    for (len, ok) in [(250, false), (249, true)] {
        let name = "n".repeat(len);
        let header = format!(
            r#"{{"command":"put","file_name":"{name}","total_size":6,"sha256":"{HELLO_SHA256}"}}"#
        );
        conn.write_all(&frame06(&header, b"hello\n")).expect("send");
        let reply = reply06(&mut conn);
        if ok {
            assert!(reply.starts_with(r#"{"status":"ok""#), "{reply}");
        } else {
            assert_contains(
                "the reply",
                &reply,
                "refused: it is 250 bytes long; the limit is 249 (its temporary name \
                 .NAME.part must fit in 255)",
            );
        }
    }
    drop(conn);
    session.finish().assert_code(0);
    let stored: Vec<usize> = std::fs::read_dir(&root)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().len())
        .collect();
    assert_eq!(stored, [249]);
}

#[test]
fn lesson06_a_huge_header_length_reserves_nothing_before_the_bytes_arrive() {
    let (_dir, root) = scratch();
    // 256 MiB of address space in all: reserving the 4 GiB the length announces would
    // fail (and abort the server).
    let session = lesson06(
        &root,
        &["--max-header", "4294967295", "--max-clients", "2"],
        &[(Resource::As, 256 << 20)],
    );
    let mut conn = connect(&session.addr());
    conn.write_all(&[0xff, 0xff, 0xff, 0xff]).expect("send");
    conn.write_all(&vec![b'{'; 1 << 20]).expect("send");
    conn.shutdown(Shutdown::Write).expect("shutdown");
    assert_contains(
        "the reply",
        &reply06(&mut conn),
        "the peer closed the connection in the middle of a frame body \
         (1048576 of 4294967295 bytes received)",
    );
    // And the server is still there for the next client.
    let mut next = connect(&session.addr());
    next.write_all(&frame06(r#"{"command":"get","file_name":"nope"}"#, b""))
        .expect("send");
    assert_contains(
        "the reply",
        &reply06(&mut next),
        "cannot send nope: no such file",
    );
    drop(next);
    session.finish().assert_code(0);
}

#[test]
fn lesson06_a_put_onto_a_folder_is_refused_before_its_body_and_no_reply_names_the_root() {
    let (_dir, root) = scratch();
    std::fs::create_dir(Path::new(&root).join("sub")).expect("mkdir");
    let session = lesson06(&root, &["--max-clients", "1"], &[]);
    let mut conn = connect(&session.addr());
    let mut replies = Vec::new();
    // A put onto the folder's name, then a get of it, then a good put: one connection.
    for name in ["sub", "ok.txt"] {
        let header = format!(
            r#"{{"command":"put","file_name":"{name}","total_size":6,"sha256":"{HELLO_SHA256}"}}"#
        );
        conn.write_all(&frame06(&header, b"hello\n")).expect("send");
        replies.push(reply06(&mut conn));
        conn.write_all(&frame06(
            &format!(r#"{{"command":"get","file_name":"{name}"}}"#),
            b"",
        ))
        .expect("send");
        replies.push(reply06(&mut conn));
    }
    assert_contains(
        "the reply",
        &replies[0],
        "cannot store sub: a folder (or something else that is not a file) has that name",
    );
    assert_contains(
        "the reply",
        &replies[1],
        "cannot send sub: not a regular file",
    );
    assert!(replies[2].starts_with(r#"{"status":"ok""#), "{replies:?}");
    assert!(replies[3].starts_with(r#"{"status":"ok""#), "{replies:?}");
    for reply in &replies {
        assert!(!reply.contains(&root), "a reply names the root: {reply}");
    }
    let mut body = [0u8; 6];
    conn.read_exact(&mut body).expect("the body of ok.txt");
    assert_eq!(&body, b"hello\n");
    drop(conn);
    session.finish().assert_code(0);
    assert!(Path::new(&root).join("sub").is_dir());
}

// ---------------------------------------------------------------------------------------
// 8. Lengths said as they are.

#[test]
fn a_command_that_is_not_utf8_is_measured_in_its_bytes() {
    let session = Session::start("lesson05-server", &["--max-clients", "1"]);
    let mut conn = connect(&session.addr());
    let mut replies = Vec::new();
    for len in [1000usize, 1030] {
        let mut request = (len as u32).to_be_bytes().to_vec();
        request.extend(std::iter::repeat_n(0xffu8, len));
        conn.write_all(&request).expect("send");
        let mut n = [0u8; 4];
        conn.read_exact(&mut n).expect("a reply length");
        let mut reply = vec![0u8; u32::from_be_bytes(n) as usize];
        conn.read_exact(&mut reply).expect("a reply");
        replies.push(String::from_utf8_lossy(&reply).into_owned());
    }
    drop(conn);
    let server = session.finish();
    server.assert_code(0);
    assert_eq!(
        replies,
        [
            "refused: the command is not UTF-8 text; nothing was run\n",
            "refused: the command is 1030 bytes long; the limit is 1024\n",
        ]
    );
    assert_no_raw_controls(&server);
}

#[test]
fn lesson07_echo_says_when_a_datagram_was_cut_to_its_buffer() {
    let session = Session::start("lesson07-server", &["--max-datagrams", "1"]);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(LIMIT)).expect("timeout");
    // The largest UDP datagram over IPv4: 65,507 bytes.
    socket
        .send_to(&vec![b'a'; 65_507], session.addr())
        .expect("send");
    let mut echo = vec![0u8; 65_536];
    let (n, _) = socket.recv_from(&mut echo).expect("the echo");
    assert_eq!(n, 1024, "the echo sends back what fit");
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains(
        "(cut: the datagram had 65507 bytes, the buffer holds 1024; the other 64483 are gone)",
    );
}
