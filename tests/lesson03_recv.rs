//! Lesson 03: what a read returns, experiment by experiment, run for real over 127.0.0.1.

mod common;
use common::*;

const SERVER: &str = "lesson03-server";
const CLIENT: &str = "lesson03-client";

/// Runs one case on both sides, recorded in `records`; both must exit with code 0.
/// Returns (server, client).
#[track_caller]
fn run_recorded(case: &str, records: &Records) -> (Run, Run) {
    let [flag, file] = records.args("server");
    let session = Session::start(SERVER, &["--case", case, &flag, &file]);
    let [flag, file] = records.args("client");
    let client = session.client(CLIENT, &["--case", case, &flag, &file], None);
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    (server, client)
}

/// Runs one case on both sides; both must exit with code 0. Returns (server, client).
#[track_caller]
fn run_case(case: &str) -> (Run, Run) {
    run_recorded(case, &Records::new())
}

/// The server's lines after `connection from ...`: what its reads and writes returned.
fn server_results(server: &Run) -> Vec<&str> {
    server
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("connection from"))
        .skip(1)
        .collect()
}

/// The server's and the client's terminals, with `pattern` in them shown as `with`
/// (a number that changes from run to run).
fn redacted(server: &Run, client: &Run, pattern: &str, with: &str) -> String {
    let re = regex::Regex::new(pattern).expect("valid regex");
    re.replace_all(&transcript(&[server, client]), with)
        .into_owned()
}

#[test]
fn a_small_read_takes_part_and_the_rest_waits_for_the_next_read() {
    let (server, client) = run_case("partial");
    assert_eq!(
        server_results(&server),
        [
            r#"read(2) -> 2 bytes "he""#,
            r#"read(2) -> 2 bytes "ll""#,
            r#"read(2) -> 1 byte "o""#,
            "closing"
        ]
    );
    assert_transcript("lesson03_partial", &transcript(&[&server, &client]));
}

#[test]
fn with_nothing_to_read_a_read_waits_until_its_timeout() {
    let (server, client) = run_case("blocking");
    let waited_line = server
        .stdout
        .lines()
        .find(|l| l.starts_with("the read waited "))
        .unwrap_or_else(|| panic!("no `the read waited` line:\n{}", server.stdout));
    let waited: u64 = waited_line
        .trim_start_matches("the read waited ")
        .split(' ')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {waited_line:?}"));
    // The kernel rounds the timeout up to its clock tick; it never returns early.
    assert!(
        (195..3000).contains(&waited),
        "the read waited {waited} ms with a 200 ms timeout"
    );
    assert_eq!(
        server_results(&server)[0],
        "read(1024) -> error WouldBlock (EAGAIN)"
    );
    // The timeout did not end the connection: the client answered afterwards.
    server.assert_stdout_contains(r#"read(1024) -> 9 bytes "here I am""#);
    let text = redacted(&server, &client, r"waited \d+ ms", "waited [ms] ms");
    assert_transcript("lesson03_blocking", &text);
}

#[test]
fn after_the_peer_closes_a_read_returns_its_data_then_0_bytes_every_time() {
    let records = Records::new();
    let (server, client) = run_recorded("eof", &records);
    records.assert_diagram(
        "lesson03_fin",
        "an orderly close: the data, then a FIN, and every read after it returns 0 bytes",
        &["client", "server"],
        &[],
    );
    assert_eq!(
        server_results(&server),
        [
            r#"read(1024) -> 3 bytes "bye""#,
            "read(1024) -> 0 bytes: the peer has closed",
            "read(1024) -> 0 bytes: the peer has closed",
            "read(1024) -> 0 bytes: the peer has closed",
            "closing"
        ]
    );
    assert_transcript("lesson03_eof", &transcript(&[&server, &client]));
}

/// What the server sees after a reset, whichever way the client made it.
const AFTER_A_RESET: [&str; 6] = [
    r#"write("this message is not read in full") -> 32 bytes taken"#,
    r#"read(1024) -> 10 bytes "last words""#,
    "read(1024) -> error ECONNRESET (connection reset by peer)",
    "read(1024) -> 0 bytes: the peer has closed",
    r#"write("anyone there?") -> error EPIPE (broken pipe)"#,
    "closing",
];

#[test]
fn closing_with_unread_data_resets_data_first_then_econnreset_once_then_0_then_epipe() {
    let records = Records::new();
    let (server, client) = run_recorded("reset", &records);
    records.assert_diagram(
        "lesson03_rst",
        "a close with unread data is a reset: the server's read gets ECONNRESET, then 0, and \
         a write EPIPE",
        &["client", "server"],
        &[],
    );
    client.assert_stdout_contains(r#"read(4) -> 4 bytes "this""#);
    assert_eq!(server_results(&server), AFTER_A_RESET);
    assert_transcript("lesson03_reset", &transcript(&[&server, &client]));
}

#[test]
fn closing_with_so_linger_0_resets_the_same_way() {
    let (server, client) = run_case("linger");
    client.assert_stdout_contains(
        r#"read(1024) -> 32 bytes "this message is not read in full""#,
    );
    assert_eq!(server_results(&server), AFTER_A_RESET);
    assert_transcript("lesson03_linger", &transcript(&[&server, &client]));
}

#[test]
fn after_a_reset_the_first_write_fails_with_econnreset_the_next_with_epipe() {
    let (server, client) = run_case("write-reset");
    assert_eq!(
        server_results(&server),
        [
            r#"write("this message is not read in full") -> 32 bytes taken"#,
            r#"read(1024) -> 10 bytes "last words""#,
            "waiting 100 ms for the reset to arrive",
            r#"write("a reply") -> error ECONNRESET (connection reset by peer)"#,
            r#"write("a reply") -> error EPIPE (broken pipe)"#,
            "closing"
        ]
    );
    assert_transcript("lesson03_write_reset", &transcript(&[&server, &client]));
}

#[test]
fn a_nonblocking_read_with_nothing_to_read_fails_at_once_with_wouldblock() {
    let (server, client) = run_case("nonblocking");
    let results = server_results(&server);
    assert_eq!(results[0], "read(1024) -> error WouldBlock (EAGAIN)");
    let micros = number_after(&server.stdout, "the read returned after ");
    // At once: no timeout, no waiting for the client (a loaded machine may add a little).
    assert!(micros < 1_000_000, "the non-blocking read took {micros} µs");
    server.assert_stdout_contains(r#"read(1024) -> 9 bytes "here I am""#);
    let text = redacted(&server, &client, r"after \d+ µs", "after [n] µs");
    assert_transcript("lesson03_nonblocking", &text);
}

/// The number in `PREFIX<number>` on one of the lines of `text`.
fn number_after(text: &str, prefix: &str) -> usize {
    text.lines()
        .find_map(|l| l.split(prefix).nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}N` in:\n{text}"))
}

#[test]
fn a_nonblocking_write_to_a_full_buffer_takes_part_and_loses_nothing() {
    let (server, client) = run_case("full-buffer");
    let offered = 64 * 1024 * 1024;
    let first = number_after(&server.stdout, &format!("write({offered} bytes) -> "));
    let taken = number_after(&server.stdout, "taken in all: ");
    assert!(first <= taken, "{first} then {taken} in all");
    let received = number_after(&client.stdout, "received ");
    let sndbuf = number_after(&server.stdout, "SO_SNDBUF ");
    let rcvbuf = number_after(&server.stdout, "SO_RCVBUF ");
    // The classic course says the buffers are 8K and that send drops what does not fit.
    assert!(sndbuf > 8192 && rcvbuf > 8192, "{sndbuf} / {rcvbuf}");
    assert!(
        0 < taken && taken < offered,
        "write took {taken} of {offered}"
    );
    server.assert_stdout_contains("write(the rest) -> error WouldBlock (EAGAIN)");
    assert_eq!(received, taken, "the client received what write took");
    let numbers = r"(SO_SNDBUF|SO_RCVBUF|->|received|all:|other) \d+ (bytes|were)";
    let text = redacted(&server, &client, numbers, "$1 [n] $2");
    assert_transcript("lesson03_full_buffer", &text);
}

#[test]
fn server_and_client_must_agree_on_a_case_given_by_name() {
    let run = run(SERVER, &["--port", "0"], None);
    run.assert_code(2);
    // The usage error names the missing option.
    run.assert_stderr_contains("--case <CASE>");
    let run = run_no_such_case();
    run.assert_code(2);
    run.assert_stderr_contains(
        "[possible values: partial, blocking, eof, reset, linger, write-reset, nonblocking, \
         full-buffer]",
    );
}

fn run_no_such_case() -> Run {
    run(CLIENT, &["--case", "sticky"], None)
}

#[test]
fn lab_demo_03_is_the_same_every_run_and_runs_every_case() {
    let demo = assert_demo_is_the_same_every_run("03", &[], 3);
    demo.assert_shows(&[
        r#"server ▶ read(2) -> 1 byte "o""#,
        "server ▶ the read waited",
        "server ▶ read(1024) -> 0 bytes: the peer has closed",
        "server ▶ read(1024) -> error ECONNRESET (connection reset by peer)",
        r#"server ▶ write("a reply") -> error EPIPE (broken pipe)"#,
        "server ▶ read(1024) -> error WouldBlock (EAGAIN)",
        "were never taken, so never lost",
        "demo finished: 8 steps",
    ]);
}

#[test]
fn lab_demo_03_runs_one_case_with_trace() {
    let demo = run_demo("03", &["--case", "reset", "--trace"]);
    demo.assert_shows(&["case reset · step 1 of 1", "demo finished: 1 step\n"]);
    let wrong = run("lab", &["demo", "03", "--case", "sticky"], None);
    wrong.assert_code(1);
    wrong.assert_stderr_contains(
        "lesson 03 has no demo case \"sticky\": choose one of partial,",
    );
}

#[test]
fn a_client_running_another_case_says_so_instead_of_waiting_forever() {
    // The server (partial) waits for the client's bytes; the client (blocking) waits for the
    // server's question. Without a limit, both would wait forever.
    let session = Session::start(SERVER, &["--case", "partial"]);
    let client =
        session.client(CLIENT, &["--case", "blocking", "--timeout-ms", "500"], None);
    client.assert_code(1);
    let start = format!(
        "cargo run --bin lesson03-server -- --case blocking --port {}",
        session.port
    );
    client.assert_error(&format!(
        "error: the server did not answer within 500 ms: is it running --case blocking too? A \
         server running another case waits for something else. Start it with: {start}"
    ));
    // The client's close ends the server's wait too.
    session.finish().assert_code(0);
}

#[test]
fn connection_refused_gives_the_whole_command_with_the_case() {
    let port = free_port().to_string();
    let client = run(CLIENT, &["--case", "write-reset", "--port", &port], None);
    client.assert_code(1);
    client.assert_stderr_contains(&format!(
        "Start the server first, in another terminal: cargo run --bin lesson03-server -- \
         --case write-reset --port {port}"
    ));
}
