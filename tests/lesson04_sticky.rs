//! Lesson 04: sticky packets, both causes, and the safe remote-command service, run for real
//! over 127.0.0.1.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};

const SERVER: &str = "lesson04-server";
const CLIENT: &str = "lesson04-client";

/// The buffer sizes differ between machines (and grow while a connection runs): a transcript
/// shows `[n]`, and [`buffer_size`] checks the real number.
fn redact_buffers(text: &str) -> String {
    let re = regex::Regex::new(r"\((SO_SNDBUF|SO_RCVBUF)\): \d+ bytes").expect("regex");
    re.replace_all(text, "($1): [n] bytes").into_owned()
}

/// The size printed as `(NAME): N bytes`.
fn buffer_size(text: &str, name: &str) -> usize {
    let prefix = format!("({name}): ");
    text.lines()
        .find_map(|l| l.split(prefix.as_str()).nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} size in:\n{text}"))
}

/// The server's `read #N: ...` lines.
fn reads(server: &Run) -> Vec<&str> {
    server
        .stdout
        .lines()
        .filter(|l| l.starts_with("read #"))
        .collect()
}

/// The sender case: one client against a server that waits before it reads, both recorded
/// in `records`. Returns (server, client), both of which exited with code 0.
#[track_caller]
fn sender_session(client_args: &[&str], records: &Records) -> (Run, Run) {
    let [flag, file] = records.args("server");
    let server_args = [
        "--case",
        "sender",
        "--max-clients",
        "1",
        "--trace",
        &flag,
        &file,
    ];
    let session = Session::start(SERVER, &server_args);
    let [flag, file] = records.args("client");
    let mut args = client_args.to_vec();
    args.extend([flag.as_str(), file.as_str()]);
    let client = session.client(CLIENT, &args, None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    (server, client)
}

#[test]
fn two_writes_arrive_as_one_read() {
    let records = Records::new();
    let (server, client) = sender_session(&["--case", "sender", "--trace"], &records);
    client.assert_count("· write_all(5 bytes)", 2);
    assert_eq!(reads(&server), [r#"read #1: 10 bytes "helloworld""#]);
    let text = redact_buffers(&transcript(&[&server, &client]));
    assert_transcript("lesson04_sender", &text);
    records.assert_diagram(
        "lesson04_two_writes",
        "two writes, hello and world, arrive in one read of 10 bytes",
        &["client", "server"],
        &["waiting 100 ms"],
    );
}

#[test]
fn with_tcp_nodelay_two_writes_still_arrive_as_one_read() {
    let records = Records::new();
    let (server, client) =
        sender_session(&["--case", "sender", "--nodelay", "--trace"], &records);
    client.assert_stdout_contains("TCP_NODELAY on: Nagle's algorithm is off");
    assert_eq!(reads(&server), [r#"read #1: 10 bytes "helloworld""#]);
    let text = redact_buffers(&transcript(&[&server, &client]));
    assert_transcript("lesson04_sender_nodelay", &text);
}

#[test]
fn the_buffers_are_much_bigger_than_8k() {
    let (server, client) = sender_session(&["--case", "sender"], &Records::new());
    let rcvbuf = buffer_size(&server.stdout, "SO_RCVBUF");
    let sndbuf = buffer_size(&client.stdout, "SO_SNDBUF");
    assert!(rcvbuf > 8 * 1024, "SO_RCVBUF is {rcvbuf}");
    assert!(sndbuf > 8 * 1024, "SO_SNDBUF is {sndbuf}");
}

// ANCHOR: no_wait
#[test]
fn without_the_wait_every_byte_arrives_in_order_only_the_boundaries_vary() {
    // Never snapshotted: one read or two changes from run to run. What never changes: the
    // bytes, in order, and no read returns more than was written.
    let clients = 10;
    let max = clients.to_string();
    let args = ["--case", "sender", "--wait-ms", "0", "--max-clients", &max];
    let session = Session::start(SERVER, &args);
    for _ in 0..clients {
        session
            .client(CLIENT, &["--case", "sender"], None)
            .assert_code(0);
    }
    let server = session.finish();
    server.assert_code(0);
    server.assert_stdout_lacks("waiting");
    let mut joined = String::new();
    let mut connections = 0;
    for line in server.stdout.lines() {
        if line.starts_with("connection from") {
            connections += 1;
            joined.push('|');
        } else if let Some(rest) = line.strip_prefix("read #") {
            let text = rest.split('"').nth(1).expect("quoted bytes");
            joined.push_str(text);
        }
    }
    assert_eq!(connections, clients);
    assert_eq!(joined, "|helloworld".repeat(clients), "{}", server.stdout);
}
// ANCHOR_END: no_wait

#[test]
fn a_long_reply_spills_into_the_next_commands_reply() {
    let records = Records::new();
    let [flag, file] = records.args("server");
    let args = ["--case", "receiver", "--max-clients", "1", &flag, &file];
    let mut session = Session::start(SERVER, &args);
    let input = "text 2200\necho hello\n";
    let [flag, file] = records.args("client");
    let args = ["--case", "receiver", &flag, &file];
    // The client ends its input (and starts draining) once the server has replied to
    // `echo hello`: so the leftover is always read in one piece, and the diagram is the
    // same in every run.
    let replied = |line: &str| line == "replied 6 bytes";
    let client = session.client_until(CLIENT, &args, input, replied);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    // The first read shows lines 1-16 of the 2200-byte reply; the "reply" to `echo hello`
    // is lines 17-32 of it; `hello` itself is still waiting, after the rest of the text.
    client.assert_stdout_contains("reply to \"text 2200\" (1024 bytes):\n00001 ");
    client.assert_stdout_contains("reply to \"echo hello\" (1024 bytes):\n00017 ");
    client.assert_stdout_lacks("\nhello\n");
    // 2200 + 6 - 2048 = 158.
    client.assert_stdout_contains("done: 158 bytes of earlier replies were still unread");
    server.assert_stdout_contains("replied 2200 bytes");
    // The client leaves cleanly, no reset.
    server.assert_stdout_contains("closed the connection (read returned 0 bytes)");
    assert_transcript("lesson04_receiver", &transcript(&[&server, &client]));
    records.assert_diagram(
        "lesson04_long_reply",
        "a 2200-byte reply read 1024 bytes at a time: the second read is the rest of the \
         first reply",
        &["client", "server"],
        &[],
    );
}

#[test]
fn the_client_leaves_cleanly_so_the_server_serves_the_next_client() {
    // Each client leaves with 3092 - 1024 bytes of `seq 800` unread. It shuts down and drains them first, so
    // no reset reaches the server and no write of the server fails.
    let clients = 3;
    let max = clients.to_string();
    let session = Session::start(SERVER, &["--case", "receiver", "--max-clients", &max]);
    for _ in 0..clients {
        let client = session.client(CLIENT, &["--case", "receiver"], Some("seq 800\n"));
        client.assert_code(0);
        client.assert_stdout_contains("reply to \"seq 800\" (1024 bytes):\n1\n2\n3\n");
        // seq 800 prints 3092 bytes.
        client.assert_stdout_contains(
            "done: 2068 bytes of earlier replies were still unread",
        );
    }
    let server = session.finish();
    server.assert_code(0);
    server.assert_count("(read returned 0 bytes)", clients);
    server.assert_stdout_lacks("ECONNRESET");
    server.assert_stdout_contains("served 3 clients, stopping");
}

/// Sends one command over a raw connection and returns the reply line.
fn ask(conn: &mut BufReader<TcpStream>, command: &str) -> String {
    conn.get_mut()
        .write_all(command.as_bytes())
        .expect("send the command");
    let mut reply = String::new();
    conn.read_line(&mut reply).expect("read the reply");
    reply
}

#[test]
fn shell_syntax_is_refused_and_nothing_runs() {
    let dir =
        std::env::temp_dir().join(format!("socket-lab-lesson04-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let marker = |n: usize| dir.join(format!("ran{n}")).display().to_string();
    // Even with `touch` and `ls` allowed, nothing of a line with shell syntax runs.
    let args = [
        "--case",
        "receiver",
        "--max-clients",
        "1",
        "--allow-exec",
        "ls,touch",
    ];
    let session = Session::start(SERVER, &args);
    let mut conn = BufReader::new(TcpStream::connect(session.addr()).expect("connect"));
    let attacks = [
        "ls; rm -rf /".to_string(),
        format!("touch {}; touch {}", marker(0), marker(1)),
        format!("touch $(touch {})", marker(2)),
        format!("echo `touch {}`", marker(3)),
        format!("ls | touch {}", marker(4)),
        format!("ls && touch {}", marker(5)),
        format!("ls > {}", marker(6)),
    ];
    for attack in &attacks {
        let reply = ask(&mut conn, attack);
        assert!(
            reply.starts_with("refused: ") && reply.ends_with("nothing was run\n"),
            "{attack:?} -> {reply:?}"
        );
    }
    // A plain allowed command does run: the refusals were not a broken `touch`.
    assert_eq!(
        ask(&mut conn, &format!("touch {}", marker(9))),
        "[touch printed nothing]\n"
    );
    conn.get_ref().shutdown(Shutdown::Write).expect("shutdown");
    let server = session.finish();
    server.assert_code(0);
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .expect("scratch dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["ran9"], "only the plain command ran");
    let _ = std::fs::remove_dir_all(&dir);
    server.assert_stdout_contains(
        "commands: built-ins, and these programs run without a shell: ls, touch",
    );
}

#[test]
fn programs_run_only_when_the_server_allows_them() {
    let session = Session::start(SERVER, &["--case", "receiver", "--max-clients", "1"]);
    let input = "help\nls\nls; rm -rf /\nseq 5\n";
    let client = session.client(CLIENT, &["--case", "receiver"], Some(input));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    client.assert_stdout_contains(
        "refused: ls is not a built-in command and this server runs no programs",
    );
    client.assert_stdout_contains("reply to \"seq 5\" (10 bytes):\n1\n2\n3\n4\n5\n");
    assert_transcript("lesson04_commands", &transcript(&[&server, &client]));
}

#[test]
fn lab_demo_04_is_the_same_every_run_and_shows_helloworld_for_both_clients() {
    let demo = assert_demo_is_the_same_every_run("04", &[], 3).run;
    demo.assert_count("server ▶ read #1: 10 bytes \"helloworld\"", 2);
    demo.assert_stdout_lacks("read #2");
    demo.assert_stdout_contains("client 2 (TCP_NODELAY) │ sent \"hello\"");
    demo.assert_stdout_contains("client ▶ reply to \"echo hello\" (1024 bytes):");
}

#[test]
fn lab_demo_04_passes_trace_to_every_program() {
    let demo = run_demo("04", &["--case", "sender", "--trace"]);
    demo.assert_shows(&[
        "client 1 │   · write_all(5 bytes) \"world\"",
        "server │   · read(buf of 1024) -> 10 bytes \"helloworld\"",
    ]);
}

#[test]
fn a_client_running_another_case_says_so_instead_of_waiting_forever() {
    // The server (sender) reads until the client closes and never replies; the client
    // (receiver) waits for a reply to its command.
    let session = Session::start(SERVER, &["--case", "sender", "--max-clients", "1"]);
    let args = ["--case", "receiver", "--timeout-ms", "500"];
    let client = session.client(CLIENT, &args, Some("help\n"));
    client.assert_code(1);
    client.assert_stderr_contains(
        "error: the server did not answer within 500 ms: is it running --case receiver too?",
    );
    client.assert_stderr_contains(
        "Start it with: cargo run --bin lesson04-server -- --case receiver",
    );
    session.finish().assert_code(0);
}

#[test]
fn connection_refused_gives_the_whole_command_with_the_case() {
    let port = free_port().to_string();
    let client = run(CLIENT, &["--case", "sender", "--port", &port], None);
    client.assert_code(1);
    client.assert_stderr_contains(&format!(
        "cargo run --bin lesson04-server -- --case sender --port {port}"
    ));
}
