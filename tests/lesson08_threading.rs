//! Lesson 08: a server with a thread per client, the same server on the socketserver module,
//! compared with lesson 02, and the group chat, run for real over 127.0.0.1.
//!
//! Where the order of events between several clients matters, the test drives raw sockets
//! itself, one step at a time, and waits for each step's visible effect (a reply, a line, the
//! end of a stream) before taking the next: so the transcripts are the same in every run.

mod common;
use common::*;

const SERVER: &str = "lesson08-server";
const SOCKETSERVER: &str = "lesson08-socketserver-echo";
const CLIENT: &str = "lesson08-client";
const CHAT: &str = "lesson08-chat-server";
const CHAT_CLIENT: &str = "lesson08-chat-client";

#[test]
fn two_clients_are_answered_while_both_are_connected() {
    let (server, log) = two_clients_at_once(SERVER);
    assert_transcript("lesson08_two_at_once", &scripted_transcript(&server, &log));
}

#[test]
fn the_plain_server_runs_a_thread_for_each_connected_client() {
    let (server, log, counts) = threads_with_two_clients(SERVER);
    // Before any client only the accept loop; then A has a thread of its own, and B another.
    assert_eq!(counts, [1, 2, 3]);
    assert_transcript(
        "lesson08_a_thread_each",
        &scripted_transcript(&server, &log),
    );
}

#[test]
fn the_socketserver_echo_serves_like_the_plain_server() {
    let (plain, plain_log) = two_clients_at_once(SERVER);
    let (framework, framework_log) = two_clients_at_once(SOCKETSERVER);
    // Same lines on the server's terminal (ports aside), same replies for the clients.
    let lines = |run: &Run| redact_ports(&run.stdout, None, None);
    assert_eq!(lines(&framework), lines(&plain));
    assert_eq!(framework_log, plain_log);
}

#[test]
fn lesson02_answers_a_second_client_only_after_the_first_leaves() {
    let session = Session::start("lesson02-server", &["--max-clients", "2"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let mut a = Peer::connect("A", &addr, log);
    assert_eq!(a.round_trip("hello from a", log), "HELLO FROM A");
    // B's connect succeeds: the system completes the handshake and queues B in the backlog.
    // But the server is inside A's communication loop and does not accept B yet.
    let mut b = Peer::connect("B", &addr, log);
    b.send("hello from b", log);
    b.gets_no_reply(log);
    // A is still served meanwhile.
    assert_eq!(a.round_trip("a again", log), "A AGAIN");
    a.leaves(log);
    // Only now does the server accept B and answer what B sent long ago.
    b.gets("HELLO FROM B", log);
    b.leaves(log);
    let server = session.finish();
    server.assert_code(0);
    assert_transcript(
        "lesson08_lesson02_one_at_a_time",
        &scripted_transcript(&server, log),
    );
}

#[test]
fn a_pool_of_one_worker_serves_one_client_at_a_time() {
    let session = Session::start(SOCKETSERVER, &["--max-clients", "2", "--pool", "1"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let mut a = Peer::connect("A", &addr, log);
    assert_eq!(a.round_trip("a", log), "A");
    let mut b = Peer::connect("B", &addr, log);
    b.send("b", log);
    b.gets_no_reply(log);
    a.leaves(log);
    b.gets("B", log);
    b.leaves(log);
    session.finish().assert_code(0);
}

#[test]
fn one_client_with_three_connections_gets_every_reply() {
    let session = Session::start(SERVER, &["--max-clients", "3"]);
    let client = session.client(
        CLIENT,
        &["--connections", "3"],
        Some("hello\nhow are you?\n"),
    );
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    for i in 1..=3 {
        client.assert_stdout_contains(&format!("connection {i}: HELLO\n"));
        client.assert_stdout_contains(&format!("connection {i}: HOW ARE YOU?\n"));
    }
    server.assert_count("connection from", 3);
    server.assert_count("received from", 6);
    server.assert_stdout_contains("served 3 clients, stopping");
    // The server's lines come from three threads in an order that varies: only the
    // client's terminal is a transcript.
    assert_transcript(
        "lesson08_three_connections",
        &server.redact_ports(&client.terminal()),
    );
}

#[test]
fn the_same_client_against_lesson02_gives_up_on_the_second_connection() {
    let session = Session::start("lesson02-server", &[]);
    let client = session.client(
        CLIENT,
        &["--connections", "2", "--timeout-ms", "1000"],
        Some("hello\n"),
    );
    let port = session.port;
    session.stop();
    client.assert_code(1);
    client.assert_stdout_contains("connection 1: HELLO");
    client.assert_stderr_contains("no reply on connection 2 within 1000 ms");
    // Shown as a student runs it: lesson02-server started on lesson 08's port.
    let text = redact_ports(&client.terminal(), Some(port), default_port(SERVER));
    assert_transcript("lesson08_client_against_lesson02", &text);
}

/// Three members join one after another; each waits for the others to hear of it.
fn three_join(addr: &str, log: &mut Vec<String>) -> (Peer, Peer, Peer) {
    let mut alice = Peer::connect("alice", addr, log);
    alice.say("alice", log);
    alice.hears("* welcome alice; nobody else is here yet", log);
    let mut bob = Peer::connect("bob", addr, log);
    bob.say("bob", log);
    bob.hears("* welcome bob; here: alice", log);
    alice.hears("* bob joined", log);
    let mut carol = Peer::connect("carol", addr, log);
    carol.say("carol", log);
    carol.hears("* welcome carol; here: alice, bob", log);
    alice.hears("* carol joined", log);
    bob.hears("* carol joined", log);
    (alice, bob, carol)
}

#[test]
fn a_chat_message_goes_to_all_the_others_and_a_reset_member_is_removed() {
    let session = Session::start(CHAT, &["--max-clients", "3"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let (mut alice, mut bob, mut carol) = three_join(&addr, log);

    // A message goes to everyone else, and not back to its sender: alice's next line
    // below is carol's message, not her own.
    alice.say("hello everyone", log);
    bob.hears("alice: hello everyone", log);
    carol.hears("alice: hello everyone", log);
    carol.say("hi from carol", log);
    alice.hears("carol: hi from carol", log);
    bob.hears("carol: hi from carol", log);

    // carol vanishes with a reset: the others hear it, and go on talking.
    carol.resets(log);
    alice.hears("* carol left (connection reset)", log);
    bob.hears("* carol left (connection reset)", log);
    bob.say("still here?", log);
    alice.hears("bob: still here?", log);

    // `bye` leaves: the leaver is told, the connection closes, the others hear of it.
    bob.say("bye", log);
    bob.hears("* bye bob", log);
    bob.hears_the_end(log);
    alice.hears("* bob left (said bye)", log);
    alice.say("bye", log);
    alice.hears("* bye alice", log);
    alice.hears_the_end(log);

    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("served 3 members, stopping");
    assert_transcript("lesson08_chat_reset", &scripted_transcript(&server, log));
}

#[test]
fn a_chat_member_who_closes_without_bye_is_removed_without_disturbing_the_rest() {
    let session = Session::start(CHAT, &["--max-clients", "3"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let (mut alice, mut bob, carol) = three_join(&addr, log);

    // carol's program ends without saying bye: an orderly close (the server reads 0 bytes).
    drop(carol);
    log.push("carol: closes the connection".into());
    alice.hears("* carol left (connection closed)", log);
    bob.hears("* carol left (connection closed)", log);
    alice.say("just us now", log);
    bob.hears("alice: just us now", log);
    bob.say("bye", log);
    bob.hears("* bye bob", log);
    bob.hears_the_end(log);
    alice.hears("* bob left (said bye)", log);
    alice.say("bye", log);
    alice.hears("* bye alice", log);
    alice.hears_the_end(log);

    let server = session.finish();
    server.assert_code(0);
    assert_transcript("lesson08_chat_close", &scripted_transcript(&server, log));
}

#[test]
fn the_chat_client_sends_its_name_first_and_prints_what_arrives() {
    let session = Session::start(CHAT, &["--max-clients", "2"]);
    let addr = session.addr();
    let log = &mut Vec::new();
    let mut alice = Peer::connect("alice", &addr, log);
    alice.say("alice", log);
    alice.hears("* welcome alice; nobody else is here yet", log);
    // bob is the real chat client; its typed lines come from stdin.
    let bob = session.client(CHAT_CLIENT, &["--name", "bob"], Some("hi alice\nbye\n"));
    bob.assert_code(0);
    alice.hears("* bob joined", log);
    alice.hears("bob: hi alice", log);
    alice.hears("* bob left (said bye)", log);
    alice.say("bye", log);
    alice.hears("* bye alice", log);
    alice.hears_the_end(log);
    let server = session.finish();
    server.assert_code(0);
    assert_eq!(bob.stdout, "* welcome bob; here: alice\n* bye bob\n");
    assert_transcript(
        "lesson08_chat_client",
        &server.redact_ports(&bob.terminal()),
    );
}

#[test]
fn a_pool_backlog_or_connection_count_of_zero_is_a_usage_error() {
    run(SOCKETSERVER, &["--pool", "0"], None).assert_code(2);
    for server in [SERVER, SOCKETSERVER] {
        run(server, &["--backlog", "0"], None).assert_code(2);
    }
    run(CLIENT, &["--connections", "0"], None).assert_code(2);
}

#[test]
fn lab_demo_08_serves_three_connections_at_once_and_ends_by_itself() {
    let demo = run_demo("08");
    let server = demo.lines("server");
    let connections = server.iter().filter(|l| l.starts_with("connection from"));
    assert_eq!(connections.count(), 3, "{server:#?}");
    assert_eq!(server.last(), Some(&"served 3 clients, stopping"));
    // The client's lines come in a fixed order; the server's three threads do not.
    assert_transcript("lab_demo_08_client", &demo.transcript(&["client"]));
}
