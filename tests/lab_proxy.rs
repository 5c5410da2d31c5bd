//! `lab proxy`: a relay that re-cuts the byte stream on demand. Lessons 05 and 06's own
//! clients and servers work through it byte for byte, whatever the cutting; a client that
//! takes one read for one message does not. The chapters show two of these runs.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// Three terminals (server, proxy, client) as a student sees them: the server's port
/// shown as its lesson's default, the proxy's as its own default (9090), any other port (a
/// client's own) as `[port]`.
fn three_terminals(runs: [&Run; 3], server: u16, default: u16, proxy: u16) -> String {
    let text: Vec<String> = runs.iter().map(|r| r.terminal()).collect();
    let text = text.join("\n");
    let shown = |port: &str| match port.parse::<u16>() {
        Ok(p) if p == server => default.to_string(),
        Ok(p) if p == proxy => "9090".to_string(),
        _ => "[port]".to_string(),
    };
    let addr = regex::Regex::new(r"127\.0\.0\.1:(\d+)").expect("regex");
    let text = addr.replace_all(&text, |c: &regex::Captures| {
        format!("127.0.0.1:{}", shown(&c[1]))
    });
    let flag = regex::Regex::new(r"--port (\d+)").expect("regex");
    flag.replace_all(&text, |c: &regex::Captures| {
        format!("--port {}", shown(&c[1]))
    })
    .into_owned()
}

/// The `closed:` line of the proxy: the bytes and pieces of each direction.
fn carried(proxy: &Run) -> Vec<(usize, usize)> {
    let re = regex::Regex::new(r"(\d+) bytes? in (\d+) pieces?").expect("regex");
    let line = proxy
        .stdout
        .lines()
        .find(|l| l.contains("closed: "))
        .unwrap_or_else(|| {
            panic!("no `closed:` line in the proxy's output:\n{}", proxy.stdout)
        });
    re.captures_iter(line)
        .map(|c| (c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0)))
        .collect()
}

/// Starts `server` with `args` and `lab proxy` in front of it with `cuts`; both stop after
/// one connection.
fn behind_proxy(server: &str, args: &[&str], cuts: &[&str]) -> (Session, Session) {
    let mut args = args.to_vec();
    args.extend(["--max-clients", "1"]);
    let server = Session::start(server, &args);
    let to = server.addr();
    let mut all = vec!["proxy", "--to", to.as_str()];
    all.extend(cuts);
    all.extend(["--max-clients", "1"]);
    let proxy = Session::start("lab", &all);
    (server, proxy)
}

/// Ends a run through the proxy: both programs exit by themselves, and the three
/// terminals are returned as the book shows them, the client pointed at the proxy
/// (`--port 9090`), the server at its lesson's `default` port.
fn three_terminals_of(
    server: Session,
    proxy: Session,
    client: Run,
    default: u16,
) -> (Run, String) {
    let (server_port, proxy_port) = (server.port, proxy.port);
    let port = if client.shown.contains(" -- ") {
        ""
    } else {
        " --"
    };
    let client = Run {
        shown: format!("{}{port} --port {proxy_port}", client.shown),
        ..client
    };
    let (proxy, server) = (proxy.finish(), server.finish());
    proxy.assert_code(0);
    server.assert_code(0);
    let text =
        three_terminals([&server, &proxy, &client], server_port, default, proxy_port);
    (server, text)
}

/// Runs lesson05-client against lesson05-server with `typed`, directly or through `lab proxy
/// ARGS`; returns the client's output without its `connected to` line, and the proxy's run.
fn lesson05(typed: &str, proxy: Option<&[&str]>) -> (String, Option<Run>) {
    let (client, server, proxy) = match proxy {
        None => {
            let server = Session::start("lesson05-server", &["--max-clients", "1"]);
            (
                server.client("lesson05-client", &[], Some(typed)),
                server,
                None,
            )
        }
        Some(cuts) => {
            let (server, proxy) = behind_proxy("lesson05-server", &[], cuts);
            let client = proxy.client("lesson05-client", &[], Some(typed));
            (client, server, Some(proxy.finish()))
        }
    };
    client.assert_code(0);
    server.finish().assert_code(0);
    let replies: Vec<&str> = client.stdout.lines().skip(1).collect();
    (replies.join("\n"), proxy)
}

#[test]
fn lesson05_works_byte_for_byte_through_one_byte_pieces() {
    let typed = "seq 1000\nseq 3\nhelp\necho done\n";
    let (direct, _) = lesson05(typed, None);
    let (through, proxy) = lesson05(typed, Some(&["--chunk", "1", "--quiet"]));
    assert_eq!(
        through, direct,
        "the same output with and without the proxy"
    );
    assert!(direct.contains("\n1000\n1\n2\n3\n"), "{direct}");
    // Every byte was passed on as a piece of its own, in both directions.
    let proxy = proxy.expect("a proxy run");
    proxy.assert_code(0);
    let both = carried(&proxy);
    assert_eq!(both.len(), 2, "{}", proxy.stdout);
    for (bytes, pieces) in both {
        assert!(
            bytes > 0 && pieces == bytes,
            "{bytes} bytes in {pieces} pieces"
        );
    }
}

#[test]
fn lesson05_works_through_random_cuts_and_joined_writes() {
    let typed = "seq 1000\nseq 3\nhelp\n";
    let (direct, _) = lesson05(typed, None);
    for args in [
        &["--random", "7", "--chunk", "5", "--quiet"][..],
        &["--join", "--quiet"],
    ] {
        let (through, proxy) = lesson05(typed, Some(args));
        assert_eq!(through, direct, "through lab proxy {args:?}");
        proxy.expect("a proxy run").assert_code(0);
    }
}

#[test]
fn lesson06_put_get_and_run_work_byte_for_byte_through_one_byte_pieces() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let root = dir.path().join("server-files");
    let downloads = dir.path().join("downloads");
    let file = dir.path().join("notes.bin");
    // Every byte value, several times: 6 KiB that would show any byte lost or moved.
    let bytes: Vec<u8> = (0..6 * 1024u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&file, &bytes).expect("writing the file");
    let server = Session::start(
        "lesson06-server",
        &["--root", &root.to_string_lossy(), "--max-clients", "3"],
    );
    let to = server.addr();
    let proxy = Session::start(
        "lab",
        &[
            "proxy",
            "--to",
            &to,
            "--chunk",
            "1",
            "--max-clients",
            "3",
            "--quiet",
        ],
    );
    proxy
        .client("lesson06-client", &["put", &file.to_string_lossy()], None)
        .assert_code(0)
        .assert_stdout_contains("server: stored notes.bin (6144 bytes, sha256 verified)");
    std::fs::remove_file(&file).expect("removing the original");
    let out = downloads.to_string_lossy();
    proxy
        .client(
            "lesson06-client",
            &["get", "notes.bin", "--out", &out],
            None,
        )
        .assert_code(0)
        .assert_stdout_contains("saved notes.bin (6144 bytes, sha256 verified)");
    assert_eq!(std::fs::read(downloads.join("notes.bin")).ok(), Some(bytes));
    proxy
        .client("lesson06-client", &["run"], Some("seq 3\n"))
        .assert_code(0)
        .assert_stdout_contains("1\n2\n3\n");
    proxy.finish().assert_code(0);
    server.finish().assert_code(0);
}

#[test]
fn a_client_that_reads_once_per_message_gets_part_of_it_through_the_proxy() {
    // The classic course's client: one recv(4) for the header, one recv(n) for the body.
    // Through the proxy, two bytes at a time, a tenth of a second apart, one read gets
    // what has arrived: part of the header.
    let (server, proxy) = behind_proxy(
        "lesson05-server",
        &[],
        &["--chunk", "2", "--delay-ms", "100"],
    );
    let mut conn = TcpStream::connect(proxy.addr()).expect("connect to the proxy");
    conn.write_all(b"\x00\x00\x00\x07echo hi")
        .expect("send a framed command");
    let mut header = [0u8; 4];
    let n = conn.read(&mut header).expect("read the header");
    assert!(
        n < 4,
        "expected the one read of the header to get part of it; it got {n} of 4 bytes"
    );
    // What the naive client makes of it: a length from a header it does not have whole.
    let naive_len = u32::from_be_bytes(header);
    assert_ne!(naive_len, 3, "the real length is 3 (\"hi\\n\")");
    drop(conn);
    let proxy = proxy.finish();
    proxy.assert_code(0);
    proxy.assert_stdout_contains("server → client    2 bytes  [00 00]");
    server.finish().assert_code(0);
}

#[test]
fn join_passes_many_writes_on_as_one() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let to = listener.local_addr().expect("its address").to_string();
    let proxy = Session::start(
        "lab",
        &[
            "proxy",
            "--to",
            &to,
            "--join",
            "--hold-ms",
            "300",
            "--max-clients",
            "1",
        ],
    );
    let mut client = TcpStream::connect(proxy.addr()).expect("connect to the proxy");
    client.set_nodelay(true).expect("TCP_NODELAY");
    let (mut server, _) = listener.accept().expect("the proxy connects");
    // Three writes, 20 ms apart: the writes are the experiment, the pauses part of it.
    for word in ["one ", "two ", "three"] {
        client.write_all(word.as_bytes()).expect("write");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut buf = [0u8; 64];
    let n = server.read(&mut buf).expect("read");
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        "one two three",
        "three writes, one read"
    );
    drop(client);
    drop(server);
    let proxy = proxy.finish();
    proxy.assert_stdout_contains("client → server   13 bytes  \"one two three\"");
}

#[test]
fn chunk_3_shows_every_piece_and_lesson05_still_gets_whole_replies() {
    // Three terminals, as chapter 05 shows them.
    let (server, proxy) = behind_proxy("lesson05-server", &[], &["--chunk", "3"]);
    let client = proxy.client("lesson05-client", &[], Some("seq 3\necho hi\n"));
    client
        .assert_code(0)
        .assert_stdout_contains("1\n2\n3\nhi\n");
    let (_, text) = three_terminals_of(server, proxy, client, 9005);
    assert_transcript("lab_proxy_chunk_3", &text);
}

#[test]
fn join_makes_two_writes_one_read_even_for_a_server_that_reads_at_once() {
    // Chapter 04's sender case with no wait in the server: the proxy holds `hello` until
    // `world` has come too, and passes both on in one write.
    let args = ["--case", "sender", "--wait-ms", "0"];
    let cuts = ["--join", "--hold-ms", "200"];
    let (server, proxy) = behind_proxy("lesson04-server", &args, &cuts);
    let client = proxy.client("lesson04-client", &["--case", "sender"], None);
    client.assert_code(0);
    let (server, text) = three_terminals_of(server, proxy, client, 9004);
    server.assert_stdout_contains("read #1: 10 bytes \"helloworld\"");
    server.assert_stdout_lacks("read #2");
    let buffers =
        regex::Regex::new(r"\((SO_SNDBUF|SO_RCVBUF)\): \d+ bytes").expect("regex");
    let text = buffers.replace_all(&text, "($1): [n] bytes");
    assert_transcript("lab_proxy_join", &text);
}
