//! Lesson 02: the connection loop and the communication loop, run for real over 127.0.0.1.

mod common;
use common::*;

const SERVER: &str = "lesson02-server";
const CLIENT: &str = "lesson02-client";

#[test]
fn the_server_echoes_every_line_until_the_client_says_exit() {
    let server = start_server(SERVER, &["--max-clients", "1"]);
    let port = server.port;
    // The empty line is skipped by the client: the trace shows only two writes.
    let client = run_client(
        CLIENT,
        &server,
        &["--trace"],
        Some("hello\n\nhow are you?\nexit\n"),
    );
    let server = server.finish();
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
            "connected to 127.0.0.1:".to_string() + &port.to_string(),
            "HELLO".into(),
            "HOW ARE YOU?".into(),
            "leaving with an orderly close".into()
        ]
    );
    assert_eq!(
        client.stdout.matches("write_all(").count(),
        2,
        "{}",
        client.stdout
    );
    assert_transcript(
        "lesson02_loop",
        &session_transcript(&server, port, SERVER, &[&client]),
    );
}

#[test]
fn clients_are_served_one_after_another() {
    let server = start_server(SERVER, &["--max-clients", "3"]);
    let port = server.port;
    let a = run_client(CLIENT, &server, &[], Some("first\n"));
    let b = run_client(CLIENT, &server, &[], Some("second\n"));
    let c = run_client(CLIENT, &server, &[], Some("third\n"));
    let server = server.finish();
    for (client, reply) in [(&a, "FIRST"), (&b, "SECOND"), (&c, "THIRD")] {
        client.assert_code(0);
        assert!(client.stdout.contains(reply), "{}", client.stdout);
    }
    server.assert_code(0);
    assert_eq!(server.stdout.matches("connection from").count(), 3);
    assert!(server.stdout.contains("served 3 clients, stopping"));
    assert_transcript(
        "lesson02_clients_in_a_row",
        &session_transcript(&server, port, SERVER, &[&a, &b, &c]),
    );
}

#[test]
fn end_of_input_closes_in_order_and_the_server_reads_0_bytes() {
    let server = start_server(SERVER, &["--max-clients", "1", "--trace"]);
    let client = run_client(CLIENT, &server, &[], Some("bye for now\n"));
    let server = server.finish();
    client.assert_code(0);
    server.assert_code(0);
    assert!(
        server.stdout.contains("· read(buf of 1024) -> 0 bytes"),
        "{}",
        server.stdout
    );
    assert!(
        server
            .stdout
            .contains("closed the connection (read returned 0 bytes)"),
        "{}",
        server.stdout
    );
}

#[test]
fn a_reset_is_reported_as_econnreset_and_the_server_serves_the_next_client() {
    let server = start_server(SERVER, &["--max-clients", "2"]);
    let port = server.port;
    let resetting = run_client(CLIENT, &server, &["--reset"], Some("hello\n"));
    let next = run_client(CLIENT, &server, &[], Some("still there?\n"));
    let server = server.finish();
    resetting.assert_code(0);
    next.assert_code(0);
    server.assert_code(0);
    assert!(
        server
            .stdout
            .contains("reset the connection (read failed: ECONNRESET)"),
        "{}",
        server.stdout
    );
    assert!(next.stdout.contains("STILL THERE?"), "{}", next.stdout);
    assert_transcript(
        "lesson02_reset",
        &session_transcript(&server, port, SERVER, &[&resetting, &next]),
    );
}

#[test]
fn the_naive_loop_reads_0_bytes_again_and_again_after_the_client_leaves() {
    let server = start_server(
        SERVER,
        &["--max-clients", "1", "--naive", "--spin-limit", "3"],
    );
    let port = server.port;
    let client = run_client(CLIENT, &server, &[], Some("hello\n"));
    let server = server.finish();
    client.assert_code(0);
    server.assert_code(0);
    assert_eq!(
        server.stdout.matches("received 0 bytes: \"\"").count(),
        3,
        "{}",
        server.stdout
    );
    assert_transcript(
        "lesson02_naive_spin",
        &session_transcript(&server, port, SERVER, &[&client]),
    );
}

#[test]
fn a_python_style_raw_peer_works_against_the_server() {
    // Any TCP peer will do: connect, send, read up to 1024 bytes, close.
    use std::io::{Read, Write};
    let server = start_server(SERVER, &["--max-clients", "1"]);
    let mut peer = std::net::TcpStream::connect(server.addr()).expect("connect");
    peer.write_all(b"raw peer").expect("send");
    let mut buf = [0u8; 1024];
    let n = peer.read(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"RAW PEER");
    drop(peer);
    server.finish().assert_code(0);
}

#[test]
fn connection_refused_names_the_server_and_the_command_that_starts_it() {
    let port = free_port();
    let client = run(CLIENT, &["--port", &port.to_string()], Some("hello\n"));
    client.assert_code(1);
    assert_eq!(
        client.stderr.trim(),
        format!(
            "error: connection refused by 127.0.0.1:{port}: no server is listening there. \
             Start the server first, in another terminal: cargo run --bin lesson02-server -- --port {port}"
        )
    );
}

#[test]
fn address_in_use_is_one_line_with_exit_code_1() {
    let first = start_server(SERVER, &[]);
    let second = run(SERVER, &["--port", &first.port.to_string()], None);
    second.assert_code(1);
    assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains(&format!("pid {} (lesson02-server) holds it", first.pid())),
        "{}",
        second.stderr
    );
    first.stop();
}

#[test]
fn the_classic_courses_python_client_gets_its_reply() {
    // The course's own client, unchanged but for the port. Skipped where python3 is missing.
    if !python3_available() {
        return;
    }
    let server = start_server(SERVER, &["--max-clients", "1"]);
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         s.connect_ex(('127.0.0.1', {}))\n\
         s.send('hello from python'.encode('utf-8'))\n\
         print(s.recv(1024).decode('utf-8'))\n\
         s.close()\n",
        server.port
    );
    assert_eq!(run_python(&script), "HELLO FROM PYTHON\n");
    let server = server.finish();
    server.assert_code(0);
    assert!(
        server.stdout.contains("received: hello from python"),
        "{}",
        server.stdout
    );
}
