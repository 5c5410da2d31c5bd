//! Lesson 01: the one-shot echo pair, run for real over 127.0.0.1.

mod common;
use common::*;

const SERVER: &str = "lesson01-server";
const CLIENT: &str = "lesson01-client";

#[test]
fn one_message_comes_back_upper_cased_and_both_exit() {
    let session = Session::start(SERVER, &[]);
    let client = session.client(CLIENT, &["hello"], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    assert_eq!(client.stdout.lines().last(), Some("HELLO"));
    assert_transcript("lesson01_echo", &transcript(&[&server, &client]));
}

#[test]
fn trace_shows_each_write_and_read_with_its_size() {
    let session = Session::start(SERVER, &["--trace"]);
    let client = session.client(CLIENT, &["--trace"], Some("hello world\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    assert_transcript("lesson01_trace", &transcript(&[&server, &client]));
}

#[test]
fn a_client_that_sends_nothing_is_reported_and_the_server_exits_cleanly() {
    // A raw peer that connects and closes at once: the server's read returns 0 bytes.
    let session = Session::start(SERVER, &[]);
    drop(std::net::TcpStream::connect(session.addr()).expect("connect"));
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains(
        "the client closed the connection without sending anything",
    );
}

#[test]
fn an_empty_message_is_refused_before_connecting() {
    let client = run(CLIENT, &["--port", "1", ""], None);
    client.assert_code(1);
    client.assert_error(
        "error: nothing to send: give a message, e.g. lesson01-client hello",
    );
}

#[test]
fn connection_refused_names_the_server_to_start() {
    // Bind a port, then free it: nobody listens there now, so the connect is refused.
    let port = free_port();
    let client = run(CLIENT, &["--port", &port.to_string(), "hello"], None);
    client.assert_code(1);
    client.assert_error(&format!(
        "error: connection refused by 127.0.0.1:{port}: no server is listening there. \
         Start the server first, in another terminal: cargo run --bin lesson01-server -- --port {port}"
    ));
    assert_transcript("lesson01_refused", &transcript(&[&client]));
}

#[test]
fn address_in_use_says_who_holds_it_and_how_to_choose_another_port() {
    let first = Session::start(SERVER, &[]);
    let second = run(SERVER, &["--port", &first.port.to_string()], None);
    second.assert_code(1);
    second.assert_error(&format!(
        "error: address 127.0.0.1:{} is already in use: pid {} (lesson01-server) holds it. \
         Stop that program, or choose another port with --port N (--port 0 picks any free port)",
        first.port,
        first.pid()
    ));
    let first = first.stop();
    // Both terminals as they were: the first server's port is not its default here.
    let first = Run {
        port: None,
        ..first
    };
    assert_transcript("lesson01_address_in_use", &transcript(&[&first, &second]));
}

#[test]
fn a_bad_option_is_a_usage_error_with_exit_code_2() {
    let run = run(SERVER, &["--port", "70000"], None);
    run.assert_code(2);
    run.assert_stderr_contains("invalid value '70000' for '--port <PORT>'");
}

#[test]
fn lab_demo_01_is_the_same_every_run_and_shows_the_echo_then_the_refusal() {
    let demo = assert_demo_is_the_same_every_run("1", &[], 3);
    demo.assert_shows(&[
        "server ▶ received: hello",
        "client ▶ HELLO",
        "client 2 ▶ error: connection refused by 127.0.0.1:",
    ]);
}

#[test]
fn lab_demo_01_passes_trace_to_every_program() {
    let demo = run_demo("01", &["--case", "echo", "--trace"]);
    demo.assert_shows(&[
        "client │   · read(buf of 1024) -> 5 bytes \"HELLO\"",
        "server │   · write_all(5 bytes) \"HELLO\"",
    ]);
}
