//! Lesson 02: the course's one-to-one TCP chat, turn by turn, until someone says `bye`.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

const SERVER: &str = "lesson02-chat-server";
const CLIENT: &str = "lesson02-chat-client";

/// Starts the chat server with the lines its user will type, typed in advance: the server
/// reads the next one only when it is its turn.
#[track_caller]
fn server_typing(args: &[&str], typed: &[&str]) -> Session {
    let mut session = Session::start_typing(SERVER, args);
    for line in typed {
        session.type_line(line);
    }
    session
}

/// The server's terminal as the book shows it: what its user typed, piped in.
fn with_typed(mut server: Run, args: &[&str], typed: &[&str]) -> Run {
    let input: String = typed.iter().map(|l| format!("{l}\n")).collect();
    server.shown = shown_command(SERVER, args, Some(&input));
    server
}

#[test]
fn the_chat_takes_turns_until_the_client_says_bye() {
    let args = ["--max-clients", "1"];
    let typed = ["hi, who is this?", "fine, thanks"];
    let session = server_typing(&args, &typed);
    let client = session.client(CLIENT, &[], Some("hello\nhow are you?\nbye\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    client.assert_stdout_contains("server: hi, who is this?\nyou: how are you?\n");
    client.assert_stdout_contains("server: fine, thanks\nyou: bye\nyou said bye\n");
    server
        .assert_stdout_contains("client: how are you?\nyou: fine, thanks\nclient: bye\n");
    server.assert_stdout_contains("said bye\nchatted with 1 client, stopping");
    let server = with_typed(server, &args, &typed);
    assert_transcript("lesson02_chat", &transcript(&[&server, &client]));
}

#[test]
fn a_bye_from_the_server_ends_the_client_too() {
    let session = server_typing(&["--max-clients", "1"], &["bye"]);
    let client = session.client(CLIENT, &[], Some("hello\nare you there?\n"));
    let server = session.finish();
    client.assert_code(0);
    client.assert_stdout_contains("server: bye\nthe server said bye\n");
    // The client's second line was never sent: the chat had ended.
    client.assert_stdout_lacks("are you there?");
    server.assert_code(0).assert_stdout_contains("you said bye");
}

#[test]
fn a_client_that_leaves_without_bye_is_noticed_and_the_next_one_is_served() {
    // The course's server never checks for 0 bytes: it would ask its user for an answer
    // to an empty message, again and again.
    let session = server_typing(&["--max-clients", "2"], &["hello you", "hi again"]);
    let mut conn = TcpStream::connect(session.addr()).expect("connect");
    conn.set_read_timeout(Some(LIMIT)).expect("timeout");
    conn.write_all(b"hi\n").expect("send");
    let mut answer = String::new();
    BufReader::new(&conn)
        .read_line(&mut answer)
        .expect("the answer");
    assert_eq!(answer, "hello you\n");
    drop(conn);
    let next = session.client(CLIENT, &[], Some("me again\nbye\n"));
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("left without saying bye (read 0 bytes)");
    next.assert_code(0)
        .assert_stdout_contains("server: hi again");
}

#[test]
fn a_message_longer_than_1024_bytes_ends_that_conversation_not_the_server() {
    let session = server_typing(&["--max-clients", "2"], &["ok"]);
    let mut conn = TcpStream::connect(session.addr()).expect("connect");
    conn.write_all(&[b'x'; 2000]).expect("send");
    conn.write_all(b"\n").expect("send");
    let next = session.client(CLIENT, &[], Some("short\nbye\n"));
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_contains("a message longer than 1024 bytes, or cut off");
    next.assert_code(0).assert_stdout_contains("server: ok");
}

#[test]
fn a_peers_escape_sequence_is_shown_escaped_not_obeyed() {
    let session = server_typing(&["--max-clients", "1"], &["bye"]);
    let mut conn = TcpStream::connect(session.addr()).expect("connect");
    // ESC [2J clears a terminal's screen.
    conn.write_all(b"hi\x1b[2J\n").expect("send");
    let mut answer = String::new();
    conn.set_read_timeout(Some(LIMIT)).expect("timeout");
    BufReader::new(&conn)
        .read_line(&mut answer)
        .expect("the answer");
    let server = session.finish();
    server.assert_stdout_contains("client: hi\\e[2J\n");
    server.assert_stdout_lacks("\x1b");
}
