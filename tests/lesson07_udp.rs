//! Lesson 07: UDP datagrams, run for real over 127.0.0.1 — boundaries kept, truncation,
//! loss, connected and unconnected sends to a port where nobody listens, and the two chats.

mod common;
use common::*;

const SERVER: &str = "lesson07-server";
const CLIENT: &str = "lesson07-client";
const QQ_PERSON: &str = "lesson07-qq-person";
const QQ_CLIENT: &str = "lesson07-qq-client";
const CHAT: &str = "lesson07-chat-peer";

/// The number in `text` between `before` and `after`, e.g. "received 92 datagrams".
fn number_in(text: &str, before: &str, after: &str) -> usize {
    let re = regex::Regex::new(&format!(
        "{}(\\d+){}",
        regex::escape(before),
        regex::escape(after)
    ))
    .expect("valid regex");
    re.captures(text)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no `{before}N{after}` in:\n{text}"))
}

#[test]
fn each_line_is_one_datagram_and_comes_back_upper_cased() {
    let session = Session::start(SERVER, &["--max-datagrams", "3"]);
    let port = session.port;
    // The empty line is sent too: an empty datagram is a real message in UDP.
    let client = session.client(CLIENT, &[], Some("hello\n\nhow are you?\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    let server_addr = format!("127.0.0.1:{port}");
    assert_eq!(
        client.stdout.lines().collect::<Vec<_>>(),
        [
            format!("sending to {server_addr}: one datagram per line, no connection"),
            format!("reply from {server_addr}: HELLO"),
            format!("reply from {server_addr}: (an empty datagram)"),
            format!("reply from {server_addr}: HOW ARE YOU?"),
        ]
    );
    server.assert_stdout_contains(": 0 bytes (an empty datagram)");
    server.assert_stdout_contains("echoed 3 datagrams, stopping");
    assert_transcript("lesson07_echo", &transcript(&[&server, &client]));
}

#[test]
fn trace_shows_each_send_to_and_recv_from_with_the_peer_address() {
    let session = Session::start(SERVER, &["--max-datagrams", "1", "--trace"]);
    let port = session.port;
    let client = session.client(CLIENT, &["--trace"], Some("hello\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    client.assert_stdout_contains(&format!(
        "· recv_from(buf of 1024) -> 5 bytes from 127.0.0.1:{port} \"HELLO\""
    ));
    assert_transcript("lesson07_trace", &transcript(&[&server, &client]));
}

#[test]
fn a_client_started_before_any_server_sends_fine_and_reports_no_reply_after_its_timeout()
{
    let port = free_udp_port();
    let client = run(
        CLIENT,
        &["--port", &port.to_string(), "--timeout-ms", "300"],
        Some("hello\n"),
    );
    client.assert_code(1);
    client.assert_error(&format!(
            "error: no reply from 127.0.0.1:{port} within 300 ms. Sending did not fail: UDP has \
             no connection, so nothing tells the sender that nobody received the datagram. Is the \
             server running? Start it in another terminal: cargo run --bin lesson07-server -- --port {port}"
        ));
    assert_transcript("lesson07_no_server", &transcript(&[&client]));
}

#[test]
fn two_sends_arrive_as_two_receives_even_when_both_are_queued() {
    let session = Session::start(SERVER, &["--case", "boundaries"]);
    let client = session.client(CLIENT, &["--case", "boundaries"], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    let received: Vec<&str> = server
        .stdout
        .lines()
        .filter(|l| l.starts_with("recv_from -> "))
        .collect();
    assert_eq!(received.len(), 2, "{}", server.stdout);
    assert!(received[0].ends_with(": \"hello\""), "{received:?}");
    assert!(received[1].ends_with(": \"world\""), "{received:?}");
    assert_transcript("lesson07_boundaries", &transcript(&[&server, &client]));
}

#[test]
fn a_2000_byte_datagram_read_into_1024_bytes_gives_1024_and_the_rest_is_gone() {
    let session = Session::start(SERVER, &["--case", "truncation"]);
    let client = session.client(CLIENT, &["--case", "truncation"], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    client.assert_stdout_contains("-> 2000 bytes: 1000 × \"a\", 1000 × \"b\"");
    // 1024 bytes: all the "a"s and 24 "b"s. The next receive is the next datagram, not the
    // remaining 976 "b"s.
    server.assert_stdout_contains(
        "first recv_from(buf of 1024) -> 1024 bytes of a 2000-byte datagram: \
         1000 × \"a\", 24 × \"b\"",
    );
    server.assert_stdout_contains("next recv_from(buf of 1024) -> 4 bytes: \"next\"");
    assert_transcript("lesson07_truncation", &transcript(&[&server, &client]));
}

#[test]
fn a_burst_into_a_busy_receiver_loses_datagrams() {
    let session = Session::start(SERVER, &["--case", "loss"]);
    let client = session.client(CLIENT, &["--case", "loss"], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    let sent = number_in(&client.stdout, "sent ", " datagrams");
    let received = number_in(&server.stdout, "received ", " datagrams");
    assert_eq!(sent, 10000);
    // How many survive depends on the receive buffer and on timing: never an exact count.
    assert!(
        received >= 1 && received < sent,
        "expected some but not all of the {sent} datagrams to arrive; {received} arrived"
    );
    let text = transcript(&[&server, &client]);
    let text = regex::Regex::new(r"received \d+ datagrams \(\d+ bytes\)")
        .expect("valid regex")
        .replace(&text, "received [count] datagrams ([bytes] bytes)");
    // The default buffer size is the system's choice (net.core.rmem_default).
    let text = regex::Regex::new(r"receive buffer: \d+ bytes")
        .expect("valid regex")
        .replace(&text, "receive buffer: [bytes] bytes");
    assert_transcript("lesson07_loss", &text);
}

#[test]
fn connected_udp_to_a_dead_port_fails_the_next_receive_with_connection_refused() {
    let client = run(CLIENT, &["--case", "connected-refused"], None);
    client.assert_code(0);
    client.assert_stdout_contains("recv -> error: connection refused (ECONNREFUSED)");
    assert_transcript("lesson07_connected_refused", &transcript(&[&client]));
}

#[test]
fn unconnected_udp_to_a_dead_port_just_times_out() {
    let client = run(
        CLIENT,
        &["--case", "unconnected-timeout", "--timeout-ms", "300"],
        None,
    );
    client.assert_code(0);
    client.assert_stdout_contains(
        "recv_from -> nothing within 300 ms: no error, no reply, only silence",
    );
    assert_transcript("lesson07_unconnected_timeout", &transcript(&[&client]));
}

#[test]
fn the_qq_client_picks_a_person_by_name_and_one_socket_talks_to_everyone() {
    let alice = Session::start(
        QQ_PERSON,
        &["--name", "alice", "--auto-reply", "--max-datagrams", "2"],
    );
    let bob = Session::start(
        QQ_PERSON,
        &["--name", "bob", "--auto-reply", "--max-datagrams", "1"],
    );
    let (alice_port, bob_port) = (alice.port, bob.port);
    let input = "alice\nhello alice\nhow are you?\nq\ncarol\nbob\nhi bob\nq\n";
    let peers = [
        format!("alice=127.0.0.1:{alice_port}"),
        format!("bob=127.0.0.1:{bob_port}"),
    ];
    let mut client = run(
        QQ_CLIENT,
        &["--peer", &peers[0], "--peer", &peers[1]],
        Some(input),
    );
    let alice = alice.finish();
    let mut bob = bob.finish();
    client.assert_code(0);
    alice.assert_code(0);
    bob.assert_code(0);
    client.assert_stdout_contains("alice: (auto-reply) got \"how are you?\"");
    client.assert_stdout_contains("bob: (auto-reply) got \"hi bob\"");
    client.assert_stdout_contains("nobody called \"carol\" in the table");
    // Alice and Bob saw the same client address: one socket for every person.
    let from = |run: &Run| number_in(&run.stdout, "message from 127.0.0.1:", ":");
    assert_eq!(from(&alice), from(&bob));

    // The transcript as a student sees it with the default table: alice on 9007, bob on 9077.
    client.shown = shown_command(QQ_CLIENT, &[], Some(input));
    bob.shown =
        "cargo run --bin lesson07-qq-person -- --name bob --port BOB --auto-reply \
                 --max-datagrams 1"
            .to_string();
    let text = [&alice, &bob, &client]
        .iter()
        .map(|r| r.terminal())
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&format!("127.0.0.1:{bob_port}"), "127.0.0.1:BOB");
    let text = alice.redact_ports(&text).replace("BOB", "9077");
    assert_transcript("lesson07_qq", &text);
}

#[test]
fn the_two_thread_chat_prints_what_arrives_while_it_sends_what_is_typed() {
    // Chat A answers whoever writes first; its keyboard is driven by this test.
    let mut a = Session::start_typing(CHAT, &["--max-datagrams", "1"]);
    let a_port = a.port;

    // Chat B writes to A, then stays until one message has arrived.
    let to = a.addr();
    let b = std::thread::spawn(move || {
        run(
            CHAT,
            &["--port", "0", "--to", &to, "--max-datagrams", "1"],
            Some("hello from B\n"),
        )
    });
    // Wait until A has printed B's message, then type A's answer and end A's input.
    a.wait_for_line(|line| line.starts_with("<< "));
    a.type_line("hi B");
    a.end_input();
    let b = b.join().expect("chat B");
    let mut a = a.finish();
    // A's line was typed after B's message arrived, not piped in at the start.
    a.shown.push_str("    # then type: hi B");

    a.assert_code(0);
    b.assert_code(0);
    a.assert_stdout_contains("<< 127.0.0.1:");
    a.assert_stdout_contains(": hello from B");
    b.assert_stdout_contains(&format!("<< 127.0.0.1:{a_port}: hi B"));
    for side in [&a, &b] {
        assert!(
            side.stdout.ends_with("received 1 message, leaving\n"),
            "expected the last line `received 1 message, leaving`; observed:\n{}",
            side.stdout
        );
    }
    assert_transcript("lesson07_chat", &transcript(&[&a, &b]));
}

#[test]
fn binding_a_port_already_bound_is_one_line_with_exit_code_1() {
    let first = Session::start(SERVER, &[]);
    let second = run(SERVER, &["--port", &first.port.to_string()], None);
    second.assert_code(1);
    assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    second.assert_stderr_contains(&format!(
        "address 127.0.0.1:{} is already in use",
        first.port
    ));
    first.stop();
}

#[test]
fn lab_demo_07_runs_the_udp_echo_and_the_dead_port_cases_and_ends_by_itself() {
    run_demo("07").assert_shows(&[
        "client │ reply from 127.0.0.1:",
        "server │ echoed 2 datagrams, stopping",
        "client │ recv -> error: connection refused (ECONNREFUSED)",
        "client │ recv_from -> nothing within 500 ms",
    ]);
}

#[test]
fn a_python_udp_peer_gets_its_reply_from_the_server() {
    // Any UDP peer will do: sendto the server, recvfrom the reply. Skipped without python3.
    if skip_without("python3") {
        return;
    }
    let session = Session::start(SERVER, &["--max-datagrams", "1"]);
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.settimeout(10)\n\
         s.sendto(b'hello from python', ('127.0.0.1', {}))\n\
         data, addr = s.recvfrom(1024)\n\
         print(data.decode('utf-8'))\n",
        session.port
    );
    assert_eq!(run_python(&script), "HELLO FROM PYTHON\n");
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains(": hello from python");
}
