//! Lesson 06: the JSON header and file transfer, run for real over 127.0.0.1 — and every bad
//! input a peer can send (hand-made peers build the frames byte by byte).

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

const SERVER: &str = "lesson06-server";
const CLIENT: &str = "lesson06-client";

/// SHA-256 of `hello\n`.
const HELLO_SHA256: &str =
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

/// A scratch directory with the server's folder and the client's folder side by side, so a
/// name that climbs out of the server's folder would land somewhere we can look.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().expect("a scratch directory");
        for sub in ["server-files", "client-files"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        Lab { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("server-files")
    }

    fn local(&self) -> PathBuf {
        self.dir.path().join("client-files")
    }

    /// A file on the client's side.
    fn local_file(&self, name: &str, content: &[u8]) -> String {
        let path = self.local().join(name);
        std::fs::write(&path, content).expect("write a local file");
        path.to_string_lossy().into_owned()
    }

    fn server(&self, args: &[&str]) -> Session {
        let root = self.root().to_string_lossy().into_owned();
        let mut all = vec!["--root", root.as_str()];
        all.extend_from_slice(args);
        Session::start(SERVER, &all)
    }

    /// The names in a directory, hidden ones too, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Scratch paths read as a student's: the programs' default folders under target/, and
    /// client files in the current folder.
    fn redact(&self, text: &str) -> String {
        let local = self.local().to_string_lossy().into_owned();
        let root = self.root().to_string_lossy().into_owned();
        text.replace(&format!("{local}/"), "")
            .replace(&local, "target/lesson06/downloads")
            .replace(&root, "target/lesson06/server-files")
    }
}

/// A message as lesson 06 frames it: 4-byte big-endian header length, header, body.
fn frame(header: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A hand-made peer: sends `bytes`, closes its sending side, and returns everything the
/// server sent back until it closed.
fn raw_peer(session: &Session, bytes: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(session.addr()).expect("connect");
    conn.write_all(bytes).expect("send");
    let _ = conn.shutdown(Shutdown::Write);
    let mut back = Vec::new();
    let _ = conn.read_to_end(&mut back);
    back
}

/// The reply headers in what a server sent back (bodies skipped).
fn reply_headers(mut back: &[u8]) -> Vec<String> {
    let mut headers = Vec::new();
    while back.len() >= 4 {
        let len = u32::from_be_bytes([back[0], back[1], back[2], back[3]]) as usize;
        let Some(json) = back.get(4..4 + len) else {
            break;
        };
        let json = String::from_utf8_lossy(json).into_owned();
        let total = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v["total_size"].as_u64())
            .unwrap_or(0) as usize;
        headers.push(json);
        back = back.get(4 + len + total..).unwrap_or(&[]);
    }
    headers
}

/// One exchange of a hand-made peer, as the transcript shows it.
fn exchange(what: &str, back: &[u8]) -> String {
    let mut text = format!("peer sends {what}\n");
    for header in reply_headers(back) {
        text.push_str(&format!("  server replies {header}\n"));
    }
    text
}

#[test]
fn put_then_get_round_trips_a_file_and_checks_its_sha256() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "2"]);
    let file = lab.local_file("notes.txt", b"hello\n");
    let put = session.client(CLIENT, &["put", &file], None);
    std::fs::remove_file(&file).expect("remove the original");
    let out = lab.local().to_string_lossy().into_owned();
    let get = session.client(CLIENT, &["get", "notes.txt", "--out", &out], None);
    let server = session.finish();
    put.assert_code(0);
    get.assert_code(0);
    server.assert_code(0);
    assert_eq!(
        std::fs::read(lab.root().join("notes.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read(lab.local().join("notes.txt")).unwrap(),
        b"hello\n"
    );
    put.assert_stdout_contains(HELLO_SHA256);
    get.assert_stdout_contains("saved notes.txt (6 bytes, sha256 verified)");
    // Only the finished files, and the checksum the server keeps next to its file for the
    // `get`s (the get above used it): no partial file left on either side.
    assert_eq!(Lab::names(&lab.root()), [".notes.txt.sha256", "notes.txt"]);
    let kept = std::fs::read_to_string(lab.root().join(".notes.txt.sha256")).unwrap();
    assert!(kept.starts_with(&format!("{HELLO_SHA256} 6 ")), "{kept}");
    server.assert_stdout_contains(
        "get notes.txt: sending 6 bytes, sha256 kept from before",
    );
    assert_eq!(Lab::names(&lab.local()), ["notes.txt"]);
    assert_transcript(
        "lesson06_put_get",
        &lab.redact(&transcript(&[&server, &put, &get])),
    );
}

#[test]
fn get_refuses_to_overwrite_a_local_file_unless_forced() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1"]);
    lab.local_file("served.txt", b"new\n");
    let put_file = lab
        .local()
        .join("served.txt")
        .to_string_lossy()
        .into_owned();
    session
        .client(CLIENT, &["put", &put_file], None)
        .assert_code(0);
    session.finish().assert_code(0);
    // A file of the user's, with the same name, where get would save.
    let out = lab.local().to_string_lossy().into_owned();
    std::fs::write(lab.local().join("served.txt"), b"mine\n").unwrap();
    let session = lab.server(&["--max-clients", "1"]);
    let refused = session.client(CLIENT, &["get", "served.txt", "--out", &out], None);
    refused.assert_code(1);
    refused.assert_stderr_contains(
        "served.txt already exists: nothing was fetched. Add --force",
    );
    // Refused before connecting: the server saw no client, and the file is untouched.
    assert_eq!(
        std::fs::read(lab.local().join("served.txt")).unwrap(),
        b"mine\n"
    );
    let forced = session.client(
        CLIENT,
        &["get", "served.txt", "--out", &out, "--force"],
        None,
    );
    forced.assert_code(0);
    session.finish().assert_code(0);
    assert_eq!(
        std::fs::read(lab.local().join("served.txt")).unwrap(),
        b"new\n"
    );
}

#[test]
fn a_non_ascii_name_is_framed_by_bytes_not_characters() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1", "--trace"]);
    let file = lab.local_file("报告.txt", "季度报告\n".as_bytes());
    let put = session.client(CLIENT, &["--trace", "put", &file], None);
    let server = session.finish();
    put.assert_code(0);
    server.assert_code(0);
    assert_eq!(
        std::fs::read_to_string(lab.root().join("报告.txt")).unwrap(),
        "季度报告\n"
    );
    // The length the client announced counts the header's bytes, not its characters.
    let announced = server
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("· read(buf of 4) -> 4 bytes "))
        .and_then(|hex| {
            let digits = hex.trim_matches(['[', ']']).replace(' ', "");
            usize::from_str_radix(&digits, 16).ok()
        })
        .expect("the trace shows the 4 length bytes");
    let sent_header = server
        .stdout
        .lines()
        .find_map(|l| l.split_once(" bytes: ").map(|(_, h)| h.to_string()))
        .expect("the trace shows the JSON header");
    assert_eq!(announced, sent_header.len());
    assert_eq!(sent_header.len(), sent_header.chars().count() + 4);
    assert_transcript(
        "lesson06_non_ascii_name",
        &lab.redact(&transcript(&[&server, &put])),
    );
}

#[test]
fn names_that_climb_out_of_the_folder_are_refused_and_the_server_goes_on() {
    let lab = Lab::new();
    std::fs::write(lab.dir.path().join("secret.txt"), "outside the root").unwrap();
    std::fs::write(lab.root().join("public.txt"), "hello\n").unwrap();
    let session = lab.server(&["--max-clients", "6"]);
    let out = lab.local().to_string_lossy().into_owned();
    let climb = session.client(CLIENT, &["get", "../secret.txt", "--out", &out], None);
    let absolute = session.client(CLIENT, &["get", "/etc/passwd", "--out", &out], None);
    let missing = session.client(CLIENT, &["get", "missing.txt", "--out", &out], None);
    let evil_put = frame(
        &format!(
            r#"{{"command":"put","file_name":"../evil.txt","total_size":6,"sha256":"{HELLO_SHA256}"}}"#
        ),
        b"hello\n",
    );
    let evil = raw_peer(&session, &evil_put);
    let hidden_put = frame(
        &format!(
            r#"{{"command":"put","file_name":".profile","total_size":6,"sha256":"{HELLO_SHA256}"}}"#
        ),
        b"hello\n",
    );
    let hidden = raw_peer(&session, &hidden_put);
    // And the server still serves a good request.
    let good = session.client(CLIENT, &["get", "public.txt", "--out", &out], None);
    let server = session.finish();
    server.assert_code(0);
    for refused in [&climb, &absolute, &missing] {
        refused.assert_code(1);
        assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    }
    climb.assert_error(
        "error: the server refused: file name \"../secret.txt\" refused: it contains `..`",
    );
    good.assert_code(0);
    assert_contains(
        "the reply",
        &reply_headers(&evil)[0],
        "refused: it contains `..`",
    );
    assert_contains("the reply", &reply_headers(&hidden)[0], "hidden names");
    // Nothing was written outside the server's folder, nothing hidden inside it, and only
    // the good file reached the client.
    assert_eq!(
        Lab::names(lab.dir.path()),
        ["client-files", "secret.txt", "server-files"]
    );
    assert_eq!(
        Lab::names(&lab.root()),
        [".public.txt.sha256", "public.txt"]
    );
    assert_eq!(Lab::names(&lab.local()), ["public.txt"]);
    let mut text = lab.redact(&transcript(&[&server, &climb, &absolute, &missing]));
    text.push('\n');
    text.push_str(&exchange(
        r#"a put of "../evil.txt" (header and 6 bytes of body)"#,
        &evil,
    ));
    text.push_str(&exchange(r#"a put of ".profile""#, &hidden));
    text.push('\n');
    text.push_str(&lab.redact(&server.redact_ports(&good.terminal())));
    assert_transcript("lesson06_path_traversal", &text);
}

#[test]
fn an_oversized_header_length_is_refused_before_anything_is_allocated() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "2", "--max-header", "100"]);
    // 0xffffffff: 4 GiB of header announced. The server must not try to reserve it.
    let huge = raw_peer(&session, &[0xff, 0xff, 0xff, 0xff]);
    let long_header = format!(r#"{{"command":"get","file_name":"{}"}}"#, "a".repeat(118));
    assert_eq!(long_header.len(), 150);
    let long = raw_peer(&session, &frame(&long_header, b""));
    let server = session.finish();
    server.assert_code(0);
    assert_contains(
        "the reply",
        &reply_headers(&huge)[0],
        "frame length 4294967295 (header [ff ff ff ff]) is over the maximum of 100 bytes",
    );
    assert_contains(
        "the reply",
        &reply_headers(&long)[0],
        "frame length 150 (header [00 00 00 96]) is over the maximum of 100 bytes",
    );
    let mut text = transcript(&[&server]);
    text.push('\n');
    text.push_str(&exchange(
        "the length [ff ff ff ff] and nothing else",
        &huge,
    ));
    text.push_str(&exchange("a 150-byte header", &long));
    assert_transcript("lesson06_oversized", &lab.redact(&text));
}

#[test]
fn a_truncated_frame_or_a_short_body_leaves_nothing_behind_and_the_server_goes_on() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "4"]);
    let half_length = raw_peer(&session, &[0, 0]);
    let mut half_header = frame(r#"{"command":"get","file_name":"a.txt"}"#, b"");
    half_header.truncate(20);
    let half_header = raw_peer(&session, &half_header);
    let short_body = raw_peer(
        &session,
        &frame(
            &format!(
                r#"{{"command":"put","file_name":"big.bin","total_size":1000,"sha256":"{HELLO_SHA256}"}}"#
            ),
            &[7u8; 300],
        ),
    );
    // The server still works.
    let file = lab.local_file("after.txt", b"hello\n");
    let good = session.client(CLIENT, &["put", &file], None);
    let server = session.finish();
    server.assert_code(0);
    good.assert_code(0);
    server.assert_stdout_contains(
        "the peer closed the connection in the middle of a frame header (2 of 4 bytes)",
    );
    server.assert_stdout_contains(
        "the peer closed the connection in the middle of a frame body (16 of 37 bytes received)",
    );
    server.assert_stdout_contains(
        "the body is shorter than total_size: the data ended after 300 of 1000 bytes",
    );
    assert_contains(
        "the reply",
        &reply_headers(&short_body)[0],
        "after 300 of 1000 bytes",
    );
    // The 300 bytes that did arrive were deleted with their partial file.
    assert_eq!(Lab::names(&lab.root()), [".after.txt.sha256", "after.txt"]);
    let mut text = transcript(&[&server, &good]);
    text.push('\n');
    text.push_str(&exchange(
        "2 of the 4 length bytes, then closes",
        &half_length,
    ));
    text.push_str(&exchange(
        "16 of 37 header bytes, then closes",
        &half_header,
    ));
    text.push_str(&exchange(
        "a put with total_size 1000 and 300 bytes of body, then closes",
        &short_body,
    ));
    assert_transcript("lesson06_truncated", &lab.redact(&text));
}

#[test]
fn invalid_json_missing_fields_and_wrong_types_get_a_clear_error() {
    let lab = Lab::new();
    let bad = [
        ("not JSON", "{file_name: a.txt}"),
        (
            "a missing field",
            r#"{"command":"put","file_name":"a.txt","total_size":6}"#,
        ),
        ("a wrong type", r#"{"command":"run","total_size":"6"}"#),
        (
            "an unknown command",
            r#"{"command":"delete","file_name":"a.txt"}"#,
        ),
        ("bytes that are not UTF-8", "\u{0}\u{1}"),
    ];
    let session = lab.server(&["--max-clients", &(bad.len() + 1).to_string()]);
    let mut text = String::new();
    for (what, header) in bad {
        let back = raw_peer(&session, &frame(header, b""));
        let replies = reply_headers(&back);
        assert_eq!(replies.len(), 1, "{what}: {replies:?}");
        let expected = r#"{"status":"error","message":"the header is not"#;
        assert!(replies[0].starts_with(expected), "{what}: {replies:?}");
        text.push_str(&exchange(&format!("{what}: {header:?}"), &back));
    }
    let file = lab.local_file("still-ok.txt", b"hello\n");
    let good = session.client(CLIENT, &["put", &file], None);
    let server = session.finish();
    server.assert_code(0);
    good.assert_code(0);
    assert_eq!(
        Lab::names(&lab.root()),
        [".still-ok.txt.sha256", "still-ok.txt"]
    );
    let text = format!("{}\n{text}", transcript(&[&server, &good]));
    assert_transcript("lesson06_bad_headers", &lab.redact(&text));
}

#[test]
fn a_wrong_checksum_is_refused_nothing_is_kept_and_the_connection_stays_in_step() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1"]);
    let wrong = "0".repeat(64);
    // Two requests on one connection: the refused put, then a good one. The second works
    // because the server read the first body to its end: the stream is still in step.
    let mut bytes = frame(
        &format!(
            r#"{{"command":"put","file_name":"a.txt","total_size":6,"sha256":"{wrong}"}}"#
        ),
        b"hello\n",
    );
    bytes.extend(frame(
        &format!(
            r#"{{"command":"put","file_name":"b.txt","total_size":6,"sha256":"{HELLO_SHA256}"}}"#
        ),
        b"hello\n",
    ));
    let back = raw_peer(&session, &bytes);
    let server = session.finish();
    server.assert_code(0);
    let replies = reply_headers(&back);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_contains("the reply", &replies[0], "checksum mismatch for a.txt");
    assert!(replies[1].starts_with(r#"{"status":"ok""#), "{replies:?}");
    assert_eq!(Lab::names(&lab.root()), [".b.txt.sha256", "b.txt"]);
    let mut text = transcript(&[&server]);
    text.push('\n');
    text.push_str(&exchange(
        "a put of a.txt with a wrong sha256, then a good put of b.txt, on one connection",
        &back,
    ));
    assert_transcript("lesson06_wrong_checksum", &lab.redact(&text));
}

/// A fake lesson 06 server for one `get a.txt`: it reads the request, then answers `ok` with
/// `total_size` and the sha256 of `hello\n` in its header, and sends `body` (which may not
/// match either). Returns its port and the thread to join.
fn fake_download_server(
    total_size: u64,
    body: Vec<u8>,
) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut len = [0u8; 4];
        conn.read_exact(&mut len).expect("length");
        let mut header = vec![0u8; u32::from_be_bytes(len) as usize];
        conn.read_exact(&mut header).expect("header");
        let reply = format!(
            r#"{{"status":"ok","file_name":"a.txt","total_size":{total_size},"sha256":"{HELLO_SHA256}"}}"#
        );
        conn.write_all(&frame(&reply, &body)).expect("reply");
    });
    (port, fake)
}

#[test]
fn the_client_keeps_nothing_when_a_download_does_not_match_its_checksum() {
    // A fake server that announces the sha256 of `hello\n` but sends `HELLO\n`.
    let lab = Lab::new();
    let (port, fake) = fake_download_server(6, b"HELLO\n".to_vec());
    let out = lab.local().to_string_lossy().into_owned();
    let client = run(
        CLIENT,
        &["get", "a.txt", "--out", &out, "--port", &port.to_string()],
        None,
    );
    fake.join().expect("the fake server");
    client.assert_code(1);
    client.assert_stderr_starts_with(
        "error: checksum mismatch for a.txt: the header said sha256 5891b5b5",
    );
    assert_eq!(Lab::names(&lab.local()), Vec::<String>::new());
    // The fake server stands where a lesson 06 server would: its port shows as 9006.
    let text = redact_ports(&client.terminal(), Some(port), default_port(SERVER));
    assert_transcript("lesson06_client_wrong_checksum", &lab.redact(&text));
}

#[test]
fn a_file_of_many_chunks_arrives_byte_for_byte() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "2"]);
    // 3.5 MiB of varied bytes: several 1 MiB chunks and a partial one.
    let content: Vec<u8> = (0..3_670_016u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = lab.local_file("big.bin", &content);
    let put = session.client(CLIENT, &["put", &file], None);
    std::fs::remove_file(&file).unwrap();
    let out = lab.local().to_string_lossy().into_owned();
    let get = session.client(CLIENT, &["get", "big.bin", "--out", &out], None);
    session.finish().assert_code(0);
    put.assert_code(0);
    get.assert_code(0);
    // Compared without printing 3.5 MiB when they differ.
    let same = |path: PathBuf| std::fs::read(&path).is_ok_and(|bytes| bytes == content);
    assert!(
        same(lab.root().join("big.bin")),
        "the server's copy differs"
    );
    assert!(
        same(lab.local().join("big.bin")),
        "the downloaded copy differs"
    );
    // Not a terminal: no progress bar anywhere.
    assert_eq!(put.stderr, "", "put drew a progress bar");
    assert_eq!(get.stderr, "", "get drew a progress bar");
}

#[test]
fn mismatched_byte_orders_are_caught_by_the_header_limit() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1", "--byte-order", "native"]);
    let file = lab.local_file("a.txt", b"hello\n");
    let client = session.client(CLIENT, &["put", &file], None);
    let server = session.finish();
    server.assert_code(0);
    client.assert_code(1);
    server.assert_stdout_contains("Do both sides use the same --byte-order?");
    assert_eq!(Lab::names(&lab.root()), Vec::<String>::new());
    assert_transcript(
        "lesson06_byte_order_mismatch",
        &lab.redact(&transcript(&[&server, &client])),
    );
}

#[test]
fn a_file_that_cannot_be_sent_is_refused_before_connecting() {
    let lab = Lab::new();
    let port = free_port().to_string();
    let missing = lab.local().join("nope.txt").to_string_lossy().into_owned();
    let client = run(CLIENT, &["put", &missing, "--port", &port], None);
    client.assert_code(1);
    client.assert_stderr_starts_with("error: cannot send");
    let folder = lab.local().to_string_lossy().into_owned();
    let client = run(CLIENT, &["put", &folder, "--port", &port], None);
    client.assert_code(1);
    client.assert_stderr_contains("not a regular file");
}

#[test]
fn a_python_peer_using_struct_pack_i_can_put_a_file_in_native_mode() {
    if skip_without("python3") {
        return;
    }
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1", "--byte-order", "native"]);
    // Python's json.dumps escapes 报告 as \u62a5\u544a; the server reads it back as UTF-8.
    let script = format!(
        "import socket, struct, json, hashlib\n\
         body = 'hello\\n'.encode('utf-8')\n\
         header = json.dumps({{'command': 'put', 'file_name': '报告.txt', \
         'total_size': len(body), 'sha256': hashlib.sha256(body).hexdigest()}}).encode('utf-8')\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         s.connect(('127.0.0.1', {}))\n\
         s.sendall(struct.pack('i', len(header)) + header + body)\n\
         size = struct.unpack('i', s.recv(4))[0]\n\
         print(json.loads(s.recv(size).decode('utf-8'))['status'])\n\
         s.close()\n",
        session.port
    );
    let printed = run_python(&script);
    session.finish().assert_code(0);
    assert_eq!(printed, "ok\n");
    assert_eq!(
        std::fs::read(lab.root().join("报告.txt")).unwrap(),
        b"hello\n"
    );
}

#[test]
fn commands_run_over_the_json_header_framing() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1", "--trace"]);
    let client = session.client(CLIENT, &["run"], Some("echo hello json\nseq 3\n"));
    let server = session.finish();
    client.assert_code(0);
    server.assert_code(0);
    let lines: Vec<&str> = client.stdout.lines().collect();
    assert_eq!(
        lines[1..],
        ["hello json", "1", "2", "3"],
        "{}",
        client.stdout
    );
    assert_transcript(
        "lesson06_run",
        &lab.redact(&transcript(&[&server, &client])),
    );
}

#[test]
fn the_courses_json_header_client_works_against_classic_mode() {
    // The course's final client, as it talks on the wire: the command unframed; then
    // struct.unpack('i') of 4 bytes, one recv of the header, json.loads, and recv(1024)
    // until total_size bytes. Skipped where python3 is missing.
    if skip_without("python3") {
        return;
    }
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1", "--classic"]);
    let script = format!(
        "import socket, struct, json\n\
         phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         phone.connect(('127.0.0.1', {}))\n\
         for cmd in ['echo hello from python', 'seq 3']:\n\
         \x20   phone.send(cmd.encode('utf-8'))\n\
         \x20   header_size = struct.unpack('i', phone.recv(4))[0]\n\
         \x20   header_dict = json.loads(phone.recv(header_size).decode('utf-8'))\n\
         \x20   total_size = header_dict['total_size']\n\
         \x20   recv_size = 0\n\
         \x20   res = b''\n\
         \x20   while recv_size < total_size:\n\
         \x20       recv_data = phone.recv(1024)\n\
         \x20       res += recv_data\n\
         \x20       recv_size += len(recv_data)\n\
         \x20   print(res.decode('gbk'), end='')\n\
         phone.close()\n",
        session.port
    );
    let printed = run_python(&script);
    let server = session.finish();
    server.assert_code(0);
    assert_eq!(printed, "hello from python\n1\n2\n3\n");
    assert_transcript(
        "lesson06_classic_python",
        &format!(
            "{}\n$ python3 course_client.py   (the course's JSON-header client)\n{printed}",
            lab.redact(&transcript(&[&server]))
        ),
    );
}

#[test]
fn our_client_speaks_the_classic_protocol_too() {
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1", "--classic"]);
    let client = session.client(CLIENT, &["--classic", "run"], Some("echo classic\n"));
    session.finish().assert_code(0);
    client.assert_code(0);
    assert_eq!(client.stdout.lines().last(), Some("classic"));
}

#[test]
fn lab_demo_06_is_the_same_every_run_and_puts_gets_and_runs() {
    assert_demo_is_the_same_every_run("06", &[], 3).assert_shows(&[
        "client 1 (put) ▶ server: stored notes.txt (6 bytes, sha256 verified)",
        "client 2 (get) ▶ saved notes.txt (6 bytes, sha256 verified)",
        "client 3 (get) ▶ error: downloads/notes.txt already exists",
        "client │ 3",
    ]);
}

#[test]
fn lab_demo_06_passes_trace_to_every_program() {
    run_demo("06", &["--case", "run", "--trace"])
        .assert_shows(&["server │   · JSON header, "]);
}

#[test]
fn a_progress_bar_is_drawn_only_on_a_terminal() {
    // `script` (util-linux) runs the client in a pseudo-terminal, as a person would.
    if skip_without("script") {
        return;
    }
    let lab = Lab::new();
    let session = lab.server(&["--max-clients", "1"]);
    let file = lab.local_file("big.bin", &vec![1u8; 3 * 1024 * 1024]);
    let client = format!(
        "{} put {file} --port {} --color never",
        bin_path(CLIENT).display(),
        session.port
    );
    let on_terminal = std::process::Command::new("script")
        .args(["-qec", &client, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    session.finish().assert_code(0);
    let text = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "the client failed:\n{text}");
    // A bar for the hashing, then one for the sending, each redrawn in place up to the
    // whole file: bytes so far, total, rate and time left.
    assert_contains("the terminal", &text, "hashing big.bin [");
    assert_contains("the terminal", &text, "sending big.bin [");
    assert_contains("the terminal", &text, "3.00 MiB/3.00 MiB");
    assert_contains("the terminal", &text, " ETA ");
    // The same transfer with stderr not a terminal draws nothing (see
    // a_file_of_many_chunks_arrives_byte_for_byte).
}

#[test]
fn the_client_keeps_nothing_when_a_download_is_cut_short() {
    // A fake server that announces 1000 bytes, sends 10 and hangs up.
    let lab = Lab::new();
    let (port, fake) = fake_download_server(1000, vec![7u8; 10]);
    let out = lab.local().to_string_lossy().into_owned();
    let client = run(
        CLIENT,
        &["get", "a.txt", "--out", &out, "--port", &port.to_string()],
        None,
    );
    fake.join().expect("the fake server");
    client.assert_code(1);
    client.assert_error(
        "error: the body is shorter than total_size: the data ended after 10 of 1000 bytes",
    );
    assert_eq!(Lab::names(&lab.local()), Vec::<String>::new());
}
