//! Lesson 02: the connection loop and the communication loop, run for real over 127.0.0.1.

mod common;
use common::*;

const SERVER: &str = "lesson02-server";
const CLIENT: &str = "lesson02-client";

#[test]
fn the_server_echoes_every_line_until_the_client_says_exit() {
    let session = Session::start(SERVER, &["--max-clients", "1"]);
    let port = session.port;
    // The empty line is skipped by the client: the trace shows only two writes.
    let input = "hello\n\nhow are you?\nexit\n";
    let client = session.client(CLIENT, &["--trace"], Some(input));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    let replies: Vec<&str> = client
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert_eq!(
        replies,
        [
            format!("connected to 127.0.0.1:{port}"),
            "HELLO".into(),
            "HOW ARE YOU?".into(),
            "leaving with an orderly close".into()
        ]
    );
    client.assert_count("write_all(", 2);
    assert_transcript("lesson02_loop", &transcript(&[&server, &client]));
}

#[test]
fn clients_are_served_one_after_another() {
    let session = Session::start(SERVER, &["--max-clients", "3"]);
    let a = session.client(CLIENT, &[], Some("first\n"));
    let b = session.client(CLIENT, &[], Some("second\n"));
    let c = session.client(CLIENT, &[], Some("third\n"));
    let server = session.finish();
    for (client, reply) in [(&a, "FIRST"), (&b, "SECOND"), (&c, "THIRD")] {
        client.assert_code(0).assert_stdout_contains(reply);
    }
    server.assert_code(0);
    server.assert_count("connection from", 3);
    server.assert_stdout_contains("served 3 clients, stopping");
    assert_transcript(
        "lesson02_clients_in_a_row",
        &transcript(&[&server, &a, &b, &c]),
    );
}

#[test]
fn end_of_input_closes_in_order_and_the_server_reads_0_bytes() {
    let session = Session::start(SERVER, &["--max-clients", "1", "--trace"]);
    let client = session.client(CLIENT, &[], Some("bye for now\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    server.assert_stdout_contains("· read(buf of 1024) -> 0 bytes");
    server.assert_stdout_contains("closed the connection (read returned 0 bytes)");
}

#[test]
fn a_reset_is_reported_as_econnreset_and_the_server_serves_the_next_client() {
    let session = Session::start(SERVER, &["--max-clients", "2"]);
    let resetting = session.client(CLIENT, &["--reset"], Some("hello\n"));
    let next = session.client(CLIENT, &[], Some("still there?\n"));
    let server = session.finish();
    resetting.assert_code(0);
    next.assert_code(0);
    server.assert_code(0);
    server.assert_stdout_contains("reset the connection (read failed: ECONNRESET)");
    next.assert_stdout_contains("STILL THERE?");
    assert_transcript("lesson02_reset", &transcript(&[&server, &resetting, &next]));
}

#[test]
fn the_naive_loop_reads_0_bytes_again_and_again_after_the_client_leaves() {
    let args = ["--max-clients", "1", "--naive", "--spin-limit", "3"];
    let session = Session::start(SERVER, &args);
    let client = session.client(CLIENT, &[], Some("hello\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    server.assert_count("received 0 bytes: \"\"", 3);
    assert_transcript("lesson02_naive_spin", &transcript(&[&server, &client]));
}

#[test]
fn a_python_style_raw_peer_works_against_the_server() {
    // Any TCP peer will do: connect, send, read up to 1024 bytes, close.
    use std::io::{Read, Write};
    let session = Session::start(SERVER, &["--max-clients", "1"]);
    let mut peer = std::net::TcpStream::connect(session.addr()).expect("connect");
    peer.write_all(b"raw peer").expect("send");
    let mut buf = [0u8; 1024];
    let n = peer.read(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"RAW PEER");
    drop(peer);
    session.finish().assert_code(0);
}

#[test]
fn connection_refused_names_the_server_and_the_command_that_starts_it() {
    let port = free_port();
    let client = run(CLIENT, &["--port", &port.to_string()], Some("hello\n"));
    client.assert_code(1);
    client.assert_error(&format!(
        "error: connection refused by 127.0.0.1:{port}: no server is listening there. \
         Start the server first, in another terminal: cargo run --bin lesson02-server -- --port {port}"
    ));
}

#[test]
fn address_in_use_is_one_line_with_exit_code_1() {
    let first = Session::start(SERVER, &[]);
    let second = run(SERVER, &["--port", &first.port.to_string()], None);
    second.assert_code(1);
    assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    second.assert_stderr_contains(&format!(
        "pid {} (lesson02-server) holds it",
        first.pid()
    ));
    first.stop();
}

#[test]
fn the_classic_courses_python_client_gets_its_reply() {
    // The course's own client, unchanged but for the port.
    if skip_without("python3") {
        return;
    }
    let session = Session::start(SERVER, &["--max-clients", "1"]);
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         s.connect_ex(('127.0.0.1', {}))\n\
         s.send('hello from python'.encode('utf-8'))\n\
         print(s.recv(1024).decode('utf-8'))\n\
         s.close()\n",
        session.port
    );
    assert_eq!(run_python(&script), "HELLO FROM PYTHON\n");
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("received: hello from python");
}

#[test]
fn lab_demo_02_runs_server_and_clients_together_and_ends_by_itself() {
    let demo = run_demo("02");
    assert_transcript("lab_demo_02", &demo.transcript(&["server", "client"]));
}

#[test]
fn a_peers_control_bytes_are_shown_escaped_on_the_servers_terminal() {
    // nc, or any program, can send bytes that command a terminal: ESC [2J clears the screen,
    // \r goes back to overwrite the line, \x07 rings the bell; \xff is not UTF-8.
    let session = Session::start(SERVER, &["--max-clients", "1"]);
    let mut peer = std::net::TcpStream::connect(session.addr()).expect("connect");
    let sent = b"\x1b[2J\rserver: all clear\x07\xff";
    std::io::Write::write_all(&mut peer, sent).expect("send");
    let mut reply = [0u8; 64];
    let n = std::io::Read::read(&mut peer, &mut reply).expect("the reply");
    assert_eq!(&reply[..n], b"\x1b[2J\rSERVER: ALL CLEAR\x07\xff");
    drop(peer);
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains(r"received: \e[2J\rserver: all clear\x07\xff");
    assert!(
        !server.stdout.contains(['\x1b', '\r', '\x07']),
        "a raw control byte on the terminal: {:?}",
        server.stdout
    );
    let text = format!(
        "{}\n# what the peer sent: ESC [2J (clear the screen), a carriage return (back to \
         the\n# start of the line), \"server: all clear\", BEL (0x07) and 0xff (not UTF-8)\n",
        transcript(&[&server])
    );
    assert_transcript("lesson02_escaped", &text);
}
