//! Lesson 09: TFTP (RFC 1350), run for real over 127.0.0.1 — downloads and uploads in lock-step,
//! files of every size, loss and recovery through the lossy relay, block numbers that wrap past
//! 65535, refusals, hostile packets, and real TFTP programs on the other side (tftp-hpa, curl,
//! tftpd-hpa, and a Python client written from the classic course).

mod common;
use common::*;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wait_timeout::ChildExt;

const SERVER: &str = "lesson09-server";
const CLIENT: &str = "lesson09-client";
const RELAY: &str = "lesson09-relay";
const MIB: usize = 1024 * 1024;
/// The sample file the chapter downloads: 1329 bytes, three DATA packets.
const HELLO: &str = "lessons/09-tftp/files/hello.txt";

// ---------------------------------------------------------------------------------------
// Helpers

/// Bytes of any size that differ from block to block (xorshift), the same for the same seed.
fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = Vec::with_capacity(size + 8);
    while bytes.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// Two byte strings are equal; on failure, the sizes and the first byte that differs (not
/// megabytes of both).
#[track_caller]
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: got {} bytes, expected {}; first difference at byte {:?}",
            got.len(),
            want.len(),
            first.unwrap_or(got.len().min(want.len()))
        );
    }
}

/// `downloads/hello.txt` is the lesson's sample file, byte for byte.
#[track_caller]
fn assert_hello_arrived(scratch: &Scratch) {
    let sample = std::fs::read(HELLO).expect("the sample file");
    assert_same(&scratch.read("downloads/hello.txt"), &sample, "hello.txt");
}

/// A scratch directory with `server-files/` (what a server serves) and `downloads/` (where a
/// client saves).
fn scratch() -> Scratch {
    Scratch::new(&["server-files", "downloads"])
}

/// Lesson 09's two scratch folders.
trait Folders {
    fn root(&self) -> String;
    fn downloads(&self) -> String;
    /// Puts a file into `server-files/`.
    fn serve(&self, name: &str, bytes: &[u8]);
    /// `text` as a student's terminal shows it: the two folders are the programs' default
    /// folders under target/, and any other scratch file is in the current folder.
    fn shown(&self, text: &str) -> String;
}

impl Folders for Scratch {
    fn root(&self) -> String {
        self.path("server-files")
    }

    fn downloads(&self) -> String {
        self.path("downloads")
    }

    fn serve(&self, name: &str, bytes: &[u8]) {
        self.write(&format!("server-files/{name}"), bytes);
    }

    fn shown(&self, text: &str) -> String {
        let text = text
            .replace(&self.root(), "target/lesson09/server-files")
            .replace(&self.downloads(), "target/lesson09/downloads");
        self.redact(&text)
    }
}

/// Runs the client against `port`: a server played by hand, or nobody.
fn client(port: u16, args: &[&str]) -> Run {
    let port = port.to_string();
    run(CLIENT, &[args, &["--port", port.as_str()]].concat(), None)
}

/// The client's arguments in most tests: `get hello.txt --out DOWNLOADS`, then `more`.
fn get_hello<'a>(downloads: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    [&["get", "hello.txt", "--out", downloads], more].concat()
}

/// Starts the lossy relay in front of `server`.
fn relay(server: &Session, rules: &[&str]) -> Session {
    let to = server.addr();
    Session::start(RELAY, &[&["--to", to.as_str()], rules].concat())
}

/// Runs the client through `relay`. A student types `--port 9109`, the relay's port.
fn through(relay: &Session, args: &[&str]) -> Run {
    let shown_port = default_port(RELAY).expect("a lesson program").to_string();
    let shown = [args, &["--port", shown_port.as_str()]].concat();
    Run {
        shown: shown_command(CLIENT, &shown, None),
        ..client(relay.port, args)
    }
}

/// A UDP socket for tests that speak TFTP by hand. Its timeout only bounds a hung test.
fn udp() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(LIMIT)).expect("timeout");
    socket
}

fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 1024];
    let (n, from) = socket.recv_from(&mut buf).expect("a datagram in time");
    (buf[..n].to_vec(), from)
}

/// An RRQ or WRQ (opcode 1 or 2) as the course builds it: opcode, name, 0, mode, 0.
fn request(opcode: u8, name: &[u8], mode: &str) -> Vec<u8> {
    let mut bytes = vec![0, opcode];
    bytes.extend_from_slice(name);
    bytes.push(0);
    bytes.extend_from_slice(mode.as_bytes());
    bytes.push(0);
    bytes
}

/// lesson09-server on the files of `scratch`, stopping after `requests` datagrams at its port,
/// with `extra` options.
fn scratch_server(scratch: &Scratch, requests: usize, extra: &[&str]) -> Session {
    let (root, requests) = (scratch.root(), requests.to_string());
    let args = [
        &["--root", root.as_str(), "--max-requests", requests.as_str()],
        extra,
    ];
    Session::start(SERVER, &args.concat())
}

/// The address a server printed in its `listening on` line.
fn address(server: &Session) -> SocketAddr {
    server.addr().parse().expect("an address")
}

/// Sends an RRQ for `name` to the server and waits for DATA 1, which must carry `len` bytes.
/// Returns the port it came from: the transfer's own port (its TID).
fn first_block(
    socket: &UdpSocket,
    server: SocketAddr,
    name: &str,
    len: usize,
) -> SocketAddr {
    socket
        .send_to(&request(1, name.as_bytes(), "octet"), server)
        .expect("send");
    let (data, tid) = recv(socket);
    assert_eq!(data_of(&data), (1, len), "DATA 1 of {name}");
    assert_ne!(tid, server, "DATA 1 came from the server's request port");
    tid
}

fn ack(block: u16) -> Vec<u8> {
    let [hi, lo] = block.to_be_bytes();
    vec![0, 4, hi, lo]
}

/// An ERROR packet's code and message; panics (showing the bytes) if it is not one.
fn error_of(bytes: &[u8]) -> (u16, String) {
    assert!(
        bytes.len() >= 5 && bytes[..2] == [0, 5] && bytes.ends_with(&[0]),
        "not an ERROR packet: {bytes:?}"
    );
    let code = u16::from_be_bytes([bytes[2], bytes[3]]);
    (
        code,
        String::from_utf8_lossy(&bytes[4..bytes.len() - 1]).into_owned(),
    )
}

/// A DATA packet's block number and data length; panics if it is not one.
fn data_of(bytes: &[u8]) -> (u16, usize) {
    assert!(
        bytes.len() >= 4 && bytes[..2] == [0, 3],
        "not a DATA packet: {bytes:?}"
    );
    (u16::from_be_bytes([bytes[2], bytes[3]]), bytes.len() - 4)
}

/// `N bytes in M DATA packets`, as the client and server print it.
fn moved(size: usize) -> String {
    let packets = size / 512 + 1;
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{size} byte{} in {packets} DATA packet{}",
        s(size),
        s(packets)
    )
}

// ---------------------------------------------------------------------------------------
// Downloads, uploads, sizes

#[test]
fn a_download_is_a_request_then_data_and_ack_in_lock_step() {
    let scratch = scratch();
    let server = Session::start(
        SERVER,
        &["--root", "lessons/09-tftp/files", "--max-requests", "1"],
    );
    let port = server.port;
    let downloads = scratch.downloads();
    let client = server.client(CLIENT, &get_hello(&downloads, &["--trace"]), None);
    let server = server.finish();
    client.assert_code(0);
    server.assert_code(0);
    assert_hello_arrived(&scratch);
    // The RRQ goes to the server's port; every DATA comes from one other port, the transfer's
    // TID; each DATA is answered by the ACK of its block before the next one comes.
    let trace: Vec<&str> = client
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  · "))
        .collect();
    assert_eq!(trace.len(), 7, "{}", client.stdout);
    assert!(
        trace[0].starts_with(&format!("→ 127.0.0.1:{port} RRQ \"hello.txt\" octet")),
        "{}",
        trace[0]
    );
    let tid = trace[1].split(' ').nth(1).expect("an address");
    assert_ne!(tid, format!("127.0.0.1:{port}"), "{}", client.stdout);
    for (i, block) in [1, 2, 3].iter().enumerate() {
        assert!(
            trace[1 + 2 * i].starts_with(&format!("← {tid} DATA block {block}, ")),
            "{}",
            client.stdout
        );
        assert!(
            trace[2 + 2 * i].starts_with(&format!("→ {tid} ACK block {block} ")),
            "{}",
            client.stdout
        );
    }
    assert!(
        trace[5].contains("305 bytes of data (309 bytes)"),
        "{}",
        trace[5]
    );
    assert_transcript(
        "lesson09_get",
        &scratch.shown(&transcript(&[&server, &client])),
    );
}

const SIZES: [usize; 6] = [0, 1, 511, 512, 513, MIB];

#[test]
fn files_of_0_1_511_512_513_bytes_and_1_mib_arrive_byte_for_byte() {
    let scratch = scratch();
    for size in SIZES {
        scratch.serve(&format!("{size}.bin"), &content(size, size as u64));
    }
    let server = scratch_server(&scratch, 6, &[]);
    let downloads = scratch.downloads();
    for size in SIZES {
        let name = format!("{size}.bin");
        let got = server.client(
            CLIENT,
            &["get", &name, "--out", &downloads, "--trace"],
            None,
        );
        got.assert_code(0);
        assert_same(
            &scratch.read(&format!("downloads/{name}")),
            &content(size, size as u64),
            &name,
        );
        // A DATA shorter than 512 bytes ends the transfer, so a file of N bytes takes
        // N / 512 + 1 DATA packets; when N is a multiple of 512, the last one is empty.
        assert!(got.stdout.contains(&moved(size)), "{}", got.stdout);
        let last = size / 512 + 1;
        let tail = size % 512;
        let unit = if tail == 1 { "byte" } else { "bytes" };
        let expected = format!("DATA block {last}, {tail} {unit} of data");
        assert!(
            got.stdout.contains(&expected),
            "{size}: no `{expected}` in\n{}",
            got.stdout
        );
    }
    let server = server.finish();
    server.assert_code(0);
    assert_eq!(
        server.stdout.matches(": sent \"").count(),
        6,
        "{}",
        server.stdout
    );
}

#[test]
fn files_of_every_size_arrive_byte_for_byte_through_a_lossy_relay() {
    let scratch = scratch();
    let downloads = scratch.downloads();
    for size in SIZES {
        let name = format!("{size}.bin");
        scratch.serve(&name, &content(size, 7 + size as u64));
        // A short server timeout keeps the retransmissions quick.
        let server = Session::start(
            SERVER,
            &[
                "--root",
                &scratch.root(),
                "--timeout-ms",
                "20",
                "--retries",
                "8",
                "--max-requests",
                "1",
            ],
        );
        // Every 3rd datagram for the small files: datagram 3 is ACK 1, which is also the final
        // ACK of a one-block file. For the megabyte, a seeded 1 % in both directions.
        let rules: &[&str] = if size < MIB {
            &["--drop-every", "3"]
        } else {
            &["--loss", "1", "--seed", "9"]
        };
        let relay = relay(&server, rules);
        let got = through(
            &relay,
            &[
                "get",
                &name,
                "--out",
                &downloads,
                "--timeout-ms",
                "300",
                "--retries",
                "8",
            ],
        );
        let server = server.finish();
        relay.stop();
        got.assert_code(0);
        assert_same(
            &scratch.read(&format!("downloads/{name}")),
            &content(size, 7 + size as u64),
            &name,
        );
        assert!(got.stdout.contains(&moved(size)), "{}", got.stdout);
        // The server noticed the loss: it timed out and sent a DATA again. (For a one-block
        // file the lost packet is the final ACK; the client does not dally, so the server ends
        // without it, saying so: the client had the whole file all the same.)
        assert!(
            server.stdout.contains("again (try 2 of 9)"),
            "{}",
            server.stdout
        );
    }
}

#[test]
fn lost_packets_are_sent_again_and_a_duplicate_is_acked_again_not_written_twice() {
    let scratch = scratch();
    // The server's timeout is ten times shorter than the client's: the side that sent the
    // lost packet's predecessor always notices first, so every run goes the same way.
    let server = Session::start(
        SERVER,
        &[
            "--root",
            "lessons/09-tftp/files",
            "--timeout-ms",
            "500",
            "--max-requests",
            "1",
        ],
    );
    let relay = relay(&server, &["--drop-every", "3"]);
    let downloads = scratch.downloads();
    let got = through(
        &relay,
        &get_hello(&downloads, &["--timeout-ms", "5000", "--trace"]),
    );
    let server = server.finish();
    let relay = relay.stop();
    got.assert_code(0);
    server.assert_code(0);
    assert_hello_arrived(&scratch);
    // Datagram 3 is ACK 1, 6 is DATA 2, 9 is DATA 3.
    let dropped: Vec<&str> = relay
        .stdout
        .lines()
        .filter(|l| l.starts_with("dropped"))
        .collect();
    assert_eq!(
        dropped,
        [
            "dropped #3 client → server: ACK block 1 (4 bytes)",
            "dropped #6 server → client: DATA block 2, 512 bytes of data (516 bytes)",
            "dropped #9 server → client: DATA block 3, 305 bytes of data (309 bytes)",
        ]
    );
    assert!(
        server
            .stdout
            .contains("sending DATA block 1 again (try 2 of 6)"),
        "{}",
        server.stdout
    );
    assert!(
        server
            .stdout
            .contains("1329 bytes in 3 DATA packets; 3 timeouts"),
        "{}",
        server.stdout
    );
    assert!(
        got.stdout.contains(
            "DATA block 1 again: a duplicate (our ACK was lost or late); ACKed again, \
             not written twice"
        ),
        "{}",
        got.stdout
    );
    assert!(
        got.stdout
            .contains("1329 bytes in 3 DATA packets; 1 duplicate"),
        "{}",
        got.stdout
    );
    assert_transcript(
        "lesson09_loss",
        &scratch.shown(&transcript(&[&server, &relay, &got])),
    );
}

#[test]
fn the_lock_step_diagram_is_drawn_from_a_download_that_loses_one_data_packet() {
    // 700 bytes: DATA 1 (512) and DATA 2 (188). The relay drops the first DATA 2; the
    // server's timeout (300 ms) sends it again long before the client's (5 s) would act.
    let scratch = scratch();
    scratch.serve("notes.txt", &content(700, 9));
    let records = Records::new();
    let [flag, file] = records.args("server");
    let server = scratch_server(&scratch, 1, &["--timeout-ms", "300", &flag, &file]);
    let [flag, file] = records.args("relay");
    let relay = relay(&server, &["--drop-data", "2", &flag, &file]);
    let [flag, file] = records.args("client");
    let downloads = scratch.downloads();
    let got = through(
        &relay,
        &[
            "get",
            "notes.txt",
            "--out",
            &downloads,
            "--timeout-ms",
            "5000",
            &flag,
            &file,
        ],
    );
    let server = server.finish();
    let relay = relay.stop();
    got.assert_code(0);
    server.assert_code(0);
    assert_same(
        &scratch.read("downloads/notes.txt"),
        &content(700, 9),
        "notes.txt",
    );
    relay.assert_stdout_contains(
        "dropped #4 server → client: DATA block 2, 188 bytes of data (192 bytes)",
    );
    server.assert_stdout_contains("no answer within 300 ms: sending DATA block 2 again");
    got.assert_stdout_contains("700 bytes in 2 DATA packets");
    records.assert_diagram_with(
        "lesson09_lock_step",
        "TFTP in lock-step through a relay that drops DATA 2: the server's timeout sends it again",
        &["client", "relay", "server"],
        &["dropped #"],
        &["--tftp"],
    );
}

#[test]
fn a_lost_final_ack_is_answered_again_by_a_dallying_client_and_is_a_failure_without_it() {
    let scratch = scratch();
    let server = Session::start(
        SERVER,
        &[
            "--root",
            "lessons/09-tftp/files",
            "--timeout-ms",
            "300",
            "--retries",
            "2",
            "--max-requests",
            "2",
        ],
    );
    let downloads = scratch.downloads();
    // hello.txt has 3 blocks: ACK 3 is the final ACK. Each relay drops its first one.
    let dallying = relay(&server, &["--drop-ack", "3"]);
    let with_dally = through(
        &dallying,
        &get_hello(&downloads, &["--timeout-ms", "5000", "--dally-ms", "2000"]),
    );
    let dallying = dallying.stop();
    std::fs::remove_file(scratch.path("downloads/hello.txt")).expect("remove");
    let quick = relay(&server, &["--drop-ack", "3"]);
    let without = through(&quick, &get_hello(&downloads, &["--timeout-ms", "5000"]));
    let server = server.finish();
    let quick = quick.stop();
    with_dally.assert_code(0);
    without.assert_code(0);
    server.assert_code(0);
    // Both clients have the whole file...
    assert_hello_arrived(&scratch);
    assert!(
        with_dally.stdout.contains(
            "DATA block 3 again after the end: the final ACK was lost; ACKed again"
        ),
        "{}",
        with_dally.stdout
    );
    // ...but only the server of the first one knows it.
    let sent: Vec<&str> = server
        .stdout
        .lines()
        .filter(|l| l.contains(": sent \"") || l.contains("failed"))
        .collect();
    assert_eq!(sent.len(), 2, "{}", server.stdout);
    assert!(
        sent[0].ends_with("sent \"hello.txt\": 1329 bytes in 3 DATA packets; 1 timeout"),
        "{}",
        sent[0]
    );
    assert!(
        sent[1].contains(
            "sending \"hello.txt\" failed: the final ACK never came; the client may have the \
             whole file all the same"
        ),
        "{}",
        sent[1]
    );
    // Both relays are shown on their default port, 9109: one after the other.
    let text = transcript(&[&server, &dallying, &with_dally, &quick, &without]);
    assert_transcript("lesson09_final_ack", &scratch.shown(&text));
}

#[test]
fn uploads_need_allow_write_and_never_replace_a_file() {
    let scratch = scratch();
    scratch.write("notes.txt", &content(700, 1));
    let notes = scratch.path("notes.txt");
    let read_only = scratch_server(&scratch, 1, &[]);
    let refused = read_only.client(CLIENT, &["put", &notes], None);
    let read_only = read_only.finish();
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains("answered ERROR 2 (access violation): this server is read-only"),
        "{}",
        refused.stderr
    );
    assert_eq!(scratch.names("server-files"), Vec::<String>::new());

    let server = Session::start(
        SERVER,
        &[
            "--root",
            &scratch.root(),
            "--allow-write",
            "--max-requests",
            "2",
        ],
    );
    let stored = server.client(CLIENT, &["put", &notes], None);
    let again = server.client(CLIENT, &["put", &notes], None);
    let server = server.finish();
    stored.assert_code(0);
    again.assert_code(1);
    server.assert_code(0);
    assert_same(
        &scratch.read("server-files/notes.txt"),
        &content(700, 1),
        "notes.txt",
    );
    assert_eq!(scratch.names("server-files"), ["notes.txt"]);
    assert!(
        again.stderr.contains(
            "answered ERROR 6 (file already exists): \"notes.txt\" exists already"
        ),
        "{}",
        again.stderr
    );
    let text = transcript(&[&read_only, &refused, &server, &stored, &again]);
    assert_transcript("lesson09_put", &scratch.shown(&text));
}

#[test]
fn a_request_sent_again_while_its_transfer_runs_is_ignored_not_a_second_transfer() {
    // A client whose first answer is late sends its WRQ again. Both reach the server before
    // the first transfer can end (it waits for our DATA 1, sent only after both).
    let scratch = scratch();
    let server = scratch_server(&scratch, 2, &["--allow-write"]);
    let socket = udp();
    let wrq = request(2, b"twice.txt", "octet");
    for _ in 0..2 {
        socket.send_to(&wrq, address(&server)).expect("send WRQ");
    }
    let (first, tid) = recv(&socket);
    assert_eq!(first, ack(0), "ACK 0 of the first WRQ");
    let mut data = vec![0, 3, 0, 1];
    data.extend_from_slice(b"hello\n");
    socket.send_to(&data, tid).expect("send DATA 1");
    // The only other packets are this transfer's: ACK 0 again (if our DATA 1 was late for
    // its timeout), then ACK 1. A second transfer would have answered from another port.
    loop {
        let (packet, from) = recv(&socket);
        assert_eq!(from, tid, "a packet from a second transfer: {packet:?}");
        if packet == ack(1) {
            break;
        }
        assert_eq!(packet, ack(0), "the transfer's packets are ACK 0 and ACK 1");
    }
    let server = server.finish();
    server.assert_code(0);
    assert_eq!(scratch.read("server-files/twice.txt"), b"hello\n");
    let port = socket.local_addr().expect("our address").port();
    server.assert_stdout_contains(&format!(
        "127.0.0.1:{port}: WRQ \"twice.txt\" octet again, its transfer runs: ignored"
    ));
}

#[test]
fn uploads_of_every_size_arrive_byte_for_byte_with_and_without_loss() {
    let scratch = scratch();
    let sizes = [0, 512, 513, MIB];
    for size in sizes {
        scratch.write(&format!("{size}.bin"), &content(size, 3));
    }
    let server = Session::start(
        SERVER,
        &[
            "--root",
            &scratch.root(),
            "--allow-write",
            "--timeout-ms",
            "300",
            "--retries",
            "8",
        ],
    );
    for size in sizes {
        let file = scratch.path(&format!("{size}.bin"));
        let plain = server.client(
            CLIENT,
            &["put", &file, "--as", &format!("plain-{size}")],
            None,
        );
        plain.assert_code(0);
        assert!(plain.stdout.contains(&moved(size)), "{}", plain.stdout);
        // Now the client sends the DATA: it has the short timeout.
        let relay = relay(&server, &["--loss", "1", "--seed", "5"]);
        let lossy = through(
            &relay,
            &[
                "put",
                &file,
                "--as",
                &format!("lossy-{size}"),
                "--timeout-ms",
                "20",
                "--retries",
                "8",
            ],
        );
        relay.stop();
        lossy.assert_code(0);
    }
    // Each file is saved before its final ACK, so every file is in place now. (No
    // --max-requests: a WRQ sent again because its ACK 0 was lost is one more datagram.)
    server.stop();
    for size in sizes {
        for kind in ["plain", "lossy"] {
            let name = format!("{kind}-{size}");
            assert_same(
                &scratch.read(&format!("server-files/{name}")),
                &content(size, 3),
                &name,
            );
        }
    }
    // No part file is left behind.
    assert_eq!(scratch.names("server-files").len(), 8);
}

#[test]
fn refusals_are_error_packets_with_the_rfc_codes() {
    let scratch = scratch();
    scratch.write("notes.txt", b"hello");
    let notes = scratch.path("notes.txt");
    let downloads = scratch.downloads();
    let server = Session::start(
        SERVER,
        &["--root", "lessons/09-tftp/files", "--max-requests", "3"],
    );
    let missing = server.client(CLIENT, &["get", "nope.txt", "--out", &downloads], None);
    let climbing = server.client(
        CLIENT,
        &["get", "../../Cargo.toml", "--out", &downloads],
        None,
    );
    let upload = server.client(CLIENT, &["put", &notes], None);
    let server = server.finish();
    server.assert_code(0);
    for (run, code) in [
        (&missing, "1 (file not found)"),
        (&climbing, "2 (access violation)"),
    ] {
        run.assert_code(1);
        assert!(
            run.stderr.contains(&format!("answered ERROR {code}")),
            "{}",
            run.stderr
        );
    }
    upload.assert_code(1);
    assert!(
        climbing.stderr.contains("it contains `..`"),
        "{}",
        climbing.stderr
    );
    // Nothing was created in the client's directory by the failed downloads.
    assert_eq!(scratch.names("downloads"), Vec::<String>::new());
    assert_transcript(
        "lesson09_refusals",
        &scratch.shown(&transcript(&[&server, &missing, &climbing, &upload])),
    );
}

// ---------------------------------------------------------------------------------------
// Block numbers past 65535

/// 40 MiB: 81 920 full blocks and a final empty one, so block numbers run 1 … 65535, 0, 1 …
const BIG: usize = 40 * MIB;

#[test]
fn a_40_mib_file_wraps_the_block_number_past_65535_and_arrives_whole() {
    let scratch = scratch();
    scratch.serve("big.bin", &content(BIG, 40));
    let server = scratch_server(&scratch, 1, &[]);
    let got = server.client(
        CLIENT,
        &["get", "big.bin", "--out", &scratch.downloads()],
        None,
    );
    let server = server.finish();
    got.assert_code(0);
    server.assert_code(0);
    // 81 921 DATA packets went through a 2-byte block number: it wrapped.
    assert!(got.stdout.contains(&moved(BIG)), "{}", got.stdout);
    assert!(
        scratch
            .redact(&got.stdout)
            .ends_with("saved downloads/big.bin: 41943040 bytes in 81921 DATA packets\n"),
        "{}",
        got.stdout
    );
    assert_same(
        &scratch.read("downloads/big.bin"),
        &scratch.read("server-files/big.bin"),
        "big.bin",
    );
}

#[test]
fn the_wrap_survives_a_lost_ack_65535_and_a_lost_data_0() {
    let scratch = scratch();
    scratch.serve("big.bin", &content(BIG, 41));
    let server = Session::start(
        SERVER,
        &[
            "--root",
            &scratch.root(),
            "--timeout-ms",
            "200",
            "--max-requests",
            "1",
        ],
    );
    // Loss only where the counter wraps: cheap, and exactly the interesting place.
    let relay = relay(&server, &["--drop-ack", "65535", "--drop-data", "0"]);
    let got = through(
        &relay,
        &[
            "get",
            "big.bin",
            "--out",
            &scratch.downloads(),
            "--timeout-ms",
            "5000",
        ],
    );
    let server = server.finish();
    let relay = relay.stop();
    got.assert_code(0);
    server.assert_code(0);
    assert_same(
        &scratch.read("downloads/big.bin"),
        &scratch.read("server-files/big.bin"),
        "big.bin",
    );
    assert!(
        got.stdout.contains(
            "DATA block 65535 again: a duplicate (our ACK was lost or late); ACKed again, \
             not written twice"
        ),
        "{}",
        got.stdout
    );
    for block in [65535, 0] {
        assert!(
            server
                .stdout
                .contains(&format!("sending DATA block {block} again (try 2 of 6)")),
            "{}",
            server.stdout
        );
    }
    assert_eq!(
        relay.stdout.matches("dropped #").count(),
        2,
        "{}",
        relay.stdout
    );
}

// ---------------------------------------------------------------------------------------
// Hostile and broken peers, spoken to by hand

#[test]
fn bad_packets_get_one_line_and_an_error_and_the_server_goes_on() {
    let scratch = scratch();
    scratch.serve("a.txt", b"still here");
    let mut long_name = vec![b'n'; 600];
    long_name.extend_from_slice(b"\0octet\0");
    let mut huge = vec![0, 1];
    huge.extend(vec![b'x'; 60_000]);
    // What is sent, and the ERROR code and words the server answers with (None: no answer).
    type Expected = Option<(u16, &'static str)>;
    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        (
            "one byte",
            vec![1],
            Some((4, "not a TFTP request: 1 byte, too short")),
        ),
        (
            "unknown opcode",
            vec![0, 9, 1, 2],
            Some((4, "unknown opcode 9")),
        ),
        (
            "a name without its 0 byte",
            b"\x00\x01a.txt".to_vec(),
            Some((4, "the file name does not end with a 0 byte")),
        ),
        (
            "a request longer than 516 bytes",
            [&[0u8, 1][..], &long_name].concat(),
            Some((4, "more than 516 bytes")),
        ),
        (
            "a 60000-byte datagram",
            huge,
            Some((4, "more than 516 bytes")),
        ),
        (
            "an unknown mode",
            request(1, b"a.txt", "binary"),
            Some((4, "unknown mode \"binary\"")),
        ),
        (
            "DATA at the server's port",
            vec![0, 3, 0, 1, b'x'],
            Some((
                4,
                "DATA sent to the server's port, which takes only RRQ and WRQ",
            )),
        ),
        (
            "netascii",
            request(1, b"a.txt", "netascii"),
            Some((0, "netascii mode is not served")),
        ),
        (
            "mail",
            request(1, b"a.txt", "mail"),
            Some((4, "mail mode is obsolete")),
        ),
        // An ERROR is never answered: the reply to the next packet comes first.
        ("an ERROR", vec![0, 5, 0, 0, b'x', 0], None),
        (
            "a WRQ to a read-only server",
            request(2, b"b.txt", "octet"),
            Some((2, "this server is read-only")),
        ),
    ];
    let server = scratch_server(&scratch, cases.len() + 1, &[]);
    let server_addr = address(&server);
    let socket = udp();
    for (what, bytes, expected) in &cases {
        socket.send_to(bytes, server_addr).expect("send");
        let Some((code, text)) = expected else {
            continue;
        };
        let (reply, from) = recv(&socket);
        // Refusals come from the server's own port: no transfer was started.
        assert_eq!(from, server_addr, "{what}");
        let (got_code, message) = error_of(&reply);
        assert_eq!(got_code, *code, "{what}: {message}");
        assert!(message.contains(text), "{what}: {message:?}");
    }
    // After all that, a good request is served.
    socket
        .send_to(&request(1, b"a.txt", "octet"), server_addr)
        .expect("send");
    let (reply, tid) = recv(&socket);
    assert_ne!(tid, server_addr);
    assert_eq!(reply, b"\x00\x03\x00\x01still here");
    socket.send_to(&ack(1), tid).expect("send");
    let server = server.finish();
    server.assert_code(0);
    // One line per bad packet; the ERROR packet too (it was not answered).
    let lines: Vec<&str> = server
        .stdout
        .lines()
        .filter(|l| l.contains("refused with ERROR") || l.contains("ignored"))
        .collect();
    assert_eq!(lines.len(), cases.len(), "{}", server.stdout);
    assert!(
        server.stdout.contains("sent \"a.txt\""),
        "{}",
        server.stdout
    );
}

#[test]
fn names_that_climb_out_start_at_the_root_or_hide_are_refused_with_error_2() {
    let scratch = scratch();
    scratch.serve("a.txt", b"a");
    scratch.write("secret.txt", b"secret");
    let names: [&[u8]; 7] = [
        b"../secret.txt",
        b"/etc/passwd",
        b"server-files/../secret.txt",
        b"sub/a.txt",
        b".hidden",
        b".a.txt.part",
        b"a\x1b[31m.txt",
    ];
    let server = Session::start(
        SERVER,
        &[
            "--root",
            &scratch.root(),
            "--allow-write",
            "--max-requests",
            &(2 * names.len()).to_string(),
        ],
    );
    let server_addr = address(&server);
    let socket = udp();
    for name in names {
        for opcode in [1, 2] {
            socket
                .send_to(&request(opcode, name, "octet"), server_addr)
                .expect("send");
            let (reply, _) = recv(&socket);
            let (code, message) = error_of(&reply);
            assert_eq!(code, 2, "{name:?}: {message}");
        }
    }
    let server = server.finish();
    server.assert_code(0);
    // Nothing was written anywhere; the escape sequence was shown escaped, never sent raw.
    assert_eq!(scratch.names("server-files"), ["a.txt"]);
    assert!(!server.stdout.contains('\x1b'), "{:?}", server.stdout);
    assert!(server.stdout.contains(r"\e[31m"), "{}", server.stdout);
}

#[test]
fn a_packet_from_an_unknown_tid_gets_error_5_and_the_transfer_goes_on() {
    let scratch = scratch();
    scratch.serve("two.bin", &content(700, 2));
    let server = scratch_server(&scratch, 1, &["--timeout-ms", "5000"]);
    let server_addr = address(&server);
    let client = udp();
    let stranger = udp();
    let tid = first_block(&client, server_addr, "two.bin", 512);
    // Someone else sends a DATA to the transfer's port.
    stranger.send_to(&[0, 3, 0, 2, b'!'], tid).expect("send");
    let (reply, from) = recv(&stranger);
    assert_eq!(from, tid);
    let (code, message) = error_of(&reply);
    assert_eq!(code, 5, "{message}");
    // The real client carries on as if nothing happened.
    client.send_to(&ack(1), tid).expect("send");
    let (second, _) = recv(&client);
    assert_eq!(data_of(&second), (2, 188));
    client.send_to(&ack(2), tid).expect("send");
    let server = server.finish();
    server.assert_code(0);
    assert!(
        server
            .stdout
            .contains("not this transfer's peer (unknown TID): answered with ERROR 5"),
        "{}",
        server.stdout
    );
    assert!(
        server.stdout.contains(
            "sent \"two.bin\": 700 bytes in 2 DATA packets; 1 packet from an unknown TID"
        ),
        "{}",
        server.stdout
    );
}

#[test]
fn a_duplicate_ack_is_ignored_never_answered_with_data() {
    let scratch = scratch();
    scratch.serve("three.bin", &content(1100, 3));
    // A long timeout: any DATA sent twice here would come from a duplicate ACK, not a timeout.
    let server = scratch_server(&scratch, 1, &["--timeout-ms", "10000"]);
    let server_addr = address(&server);
    let socket = udp();
    let tid = first_block(&socket, server_addr, "three.bin", 512);
    // ACK 1 twice. The Sorcerer's Apprentice bug would answer both with DATA 2.
    socket.send_to(&ack(1), tid).expect("send");
    socket.send_to(&ack(1), tid).expect("send");
    let (second, _) = recv(&socket);
    assert_eq!(data_of(&second), (2, 512));
    socket.send_to(&ack(2), tid).expect("send");
    // A second DATA 2 would be queued before DATA 3.
    let (third, _) = recv(&socket);
    assert_eq!(data_of(&third), (3, 76), "DATA 2 came twice");
    socket.send_to(&ack(3), tid).expect("send");
    let server = server.finish();
    assert!(
        server.stdout.contains(
            "ACK block 1 again: a duplicate; ignored (DATA goes again only after a timeout)"
        ),
        "{}",
        server.stdout
    );
}

#[test]
fn one_stalled_client_does_not_hold_up_another() {
    let scratch = scratch();
    scratch.serve("slow.bin", &content(600, 4));
    scratch.serve("fast.bin", &content(5000, 5));
    let server = scratch_server(&scratch, 2, &["--timeout-ms", "10000"]);
    let server_addr = address(&server);
    let stalled = udp();
    let tid = first_block(&stalled, server_addr, "slow.bin", 512);
    // The stalled client does not ACK. Another client downloads in the meantime.
    let downloads = scratch.downloads();
    let other = server.client(CLIENT, &["get", "fast.bin", "--out", &downloads], None);
    other.assert_code(0);
    assert_same(
        &scratch.read("downloads/fast.bin"),
        &content(5000, 5),
        "fast.bin",
    );
    // Its transfer was waiting all along, in its own thread: it goes on where it stopped.
    stalled.send_to(&ack(1), tid).expect("send");
    let (second, _) = recv(&stalled);
    assert_eq!(data_of(&second), (2, 88));
    stalled.send_to(&ack(2), tid).expect("send");
    server.finish().assert_code(0);
}

#[test]
fn a_flood_of_requests_is_answered_one_by_one_and_the_server_goes_on() {
    let scratch = scratch();
    scratch.serve("a.txt", b"after the flood");
    let server = Session::start(
        SERVER,
        &["--root", &scratch.root(), "--max-requests", "101"],
    );
    let server_addr = address(&server);
    let socket = udp();
    // 50 requests for files that do not exist and 50 that are not requests, back to back.
    for i in 0..50 {
        let name = format!("missing-{i}.txt");
        socket
            .send_to(&request(1, name.as_bytes(), "octet"), server_addr)
            .expect("send");
        socket.send_to(&[0, 7, 7, 7], server_addr).expect("send");
    }
    let mut codes = Vec::new();
    for _ in 0..100 {
        codes.push(error_of(&recv(&socket).0).0);
    }
    assert_eq!(codes.iter().filter(|&&c| c == 1).count(), 50, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 4).count(), 50, "{codes:?}");
    let got = server.client(
        CLIENT,
        &["get", "a.txt", "--out", &scratch.downloads()],
        None,
    );
    got.assert_code(0);
    assert_eq!(scratch.read("downloads/a.txt"), b"after the flood");
    let server = server.finish();
    server.assert_code(0);
    assert_eq!(
        server.stdout.matches("refused with ERROR").count(),
        100,
        "{}",
        server.stdout
    );
}

#[test]
fn beyond_max_active_transfers_a_request_is_refused_as_busy() {
    let scratch = scratch();
    scratch.serve("a.txt", b"a");
    let server = Session::start(
        SERVER,
        &[
            "--root",
            &scratch.root(),
            "--max-active",
            "2",
            "--max-requests",
            "3",
            "--timeout-ms",
            "10000",
        ],
    );
    let server_addr = address(&server);
    // Two transfers start and wait for their ACK...
    let holders = [udp(), udp()];
    let mut tids = Vec::new();
    for holder in &holders {
        tids.push(first_block(holder, server_addr, "a.txt", 1));
    }
    // ...so a third request finds the server busy.
    let third = udp();
    third
        .send_to(&request(1, b"a.txt", "octet"), server_addr)
        .expect("send");
    let (code, message) = error_of(&recv(&third).0);
    assert_eq!(code, 0, "{message}");
    assert!(
        message.starts_with("busy: 2 transfers are running"),
        "{message}"
    );
    for (holder, tid) in holders.iter().zip(tids) {
        holder.send_to(&ack(1), tid).expect("send");
    }
    server.finish().assert_code(0);
}

// ---------------------------------------------------------------------------------------
// The client's side: its files, its errors

#[test]
fn the_client_never_replaces_a_file_without_force() {
    let scratch = scratch();
    let downloads = scratch.downloads();
    scratch.write("downloads/hello.txt", b"mine");
    let server = Session::start(
        SERVER,
        &["--root", "lessons/09-tftp/files", "--max-requests", "1"],
    );
    let refused = server.client(CLIENT, &get_hello(&downloads, &[]), None);
    refused.assert_code(1);
    assert_eq!(
        scratch.redact(refused.stderr.trim()),
        "error: downloads/hello.txt exists already: add --force to replace it"
    );
    assert_eq!(scratch.read("downloads/hello.txt"), b"mine");
    let forced = server.client(CLIENT, &get_hello(&downloads, &["--force"]), None);
    forced.assert_code(0);
    server.finish().assert_code(0);
    assert_hello_arrived(&scratch);
    assert_eq!(scratch.names("downloads"), ["hello.txt"]);
}

/// A server played by hand: answers the client's RRQ with DATA 1 from a new port, and then
/// does what `then` says. Returns the client's run.
fn half_a_download(
    then: impl FnOnce(&UdpSocket, SocketAddr),
    args: &[&str],
) -> (Run, Scratch) {
    let scratch = scratch();
    let listener = udp();
    let port = listener.local_addr().expect("addr").port();
    let downloads = scratch.downloads();
    let mut all = vec!["get", "big.bin", "--out", downloads.as_str()];
    all.extend(args);
    let all: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    let client = std::thread::spawn(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        client(port, &args)
    });
    let (rrq, peer) = recv(&listener);
    assert_eq!(rrq, request(1, b"big.bin", "octet"));
    let transfer = udp();
    let mut data = vec![0, 3, 0, 1];
    data.extend([b'x'; 512]);
    transfer.send_to(&data, peer).expect("send");
    let (reply, _) = recv(&transfer);
    assert_eq!(reply, ack(1));
    then(&transfer, peer);
    (client.join().expect("client thread"), scratch)
}

#[test]
fn a_download_that_fails_halfway_leaves_nothing_behind() {
    // The server gives up with an ERROR after block 1.
    let (run, scratch) = half_a_download(
        |transfer, peer| {
            let error = b"\x00\x05\x00\x03disk on fire\x00";
            transfer.send_to(error, peer).expect("send");
        },
        &[],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "answered ERROR 3 (disk full or allocation exceeded): disk on fire"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(scratch.names("downloads"), Vec::<String>::new());

    // The server falls silent after block 1: the client gives up after its retries.
    let (run, scratch) =
        half_a_download(|_, _| {}, &["--timeout-ms", "50", "--retries", "2"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("to ACK block 1 (sent 3 times, 50 ms apart)"),
        "{}",
        run.stderr
    );
    assert_eq!(scratch.names("downloads"), Vec::<String>::new());
}

#[test]
fn the_client_answers_a_stranger_with_error_5_and_goes_on() {
    let (run, scratch) = half_a_download(
        |transfer, peer| {
            let stranger = udp();
            stranger.send_to(&[0, 3, 0, 2, b'?'], peer).expect("send");
            let (reply, _) = recv(&stranger);
            assert_eq!(error_of(&reply).0, 5);
            // The real server finishes: an empty block 2.
            transfer.send_to(&[0, 3, 0, 2], peer).expect("send");
            assert_eq!(recv(transfer).0, ack(2));
        },
        &[],
    );
    run.assert_code(0);
    assert_eq!(scratch.read("downloads/big.bin"), vec![b'x'; 512]);
    assert_contains(
        "the client's stdout",
        &scratch.redact(&run.stdout),
        "saved downloads/big.bin: 512 bytes in 2 DATA packets; 1 packet from an unknown TID",
    );
}

#[test]
fn a_client_with_no_server_gives_up_and_says_how_to_start_one() {
    let scratch = scratch();
    let port = free_udp_port();
    let run = client(
        port,
        &get_hello(
            &scratch.downloads(),
            &["--timeout-ms", "50", "--retries", "1"],
        ),
    );
    run.assert_code(1);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: no answer from 127.0.0.1:{port} to RRQ \"hello.txt\" (sent 2 times, 50 ms \
             apart). Is the server running? UDP says nothing when nobody receives; start it in \
             another terminal: cargo run --bin lesson09-server -- --port {port}"
        )
    );
    assert_eq!(scratch.names("downloads"), Vec::<String>::new());
}

#[test]
fn a_put_of_a_name_too_long_for_one_packet_or_of_a_directory_is_refused_before_sending() {
    let name = "n".repeat(600);
    let run = client(free_udp_port(), &["put", "Cargo.toml", "--as", &name]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "the name is too long: a request must fit in one 516-byte packet, and this one \
             would need 609 bytes"
        ),
        "{}",
        run.stderr
    );
    let run = client(free_udp_port(), &["put", "lessons"]);
    run.assert_code(1);
    assert_eq!(run.stderr.trim(), "error: lessons is not a regular file");
}

// ---------------------------------------------------------------------------------------
// Real TFTP programs on the other side

#[test]
fn tftp_hpa_downloads_and_uploads_with_lesson09_server_byte_for_byte() {
    if skip_without("tftp") {
        return;
    }
    let scratch = scratch();
    scratch.serve("small.bin", &content(1329, 11));
    // Over 32 MiB: both programs must agree that block 65535 is followed by block 0.
    scratch.serve("big.bin", &content(BIG + 100, 12));
    scratch.write("up.bin", &content(5000, 13));
    let server = Session::start(
        SERVER,
        &[
            "--root",
            &scratch.root(),
            "--allow-write",
            "--max-requests",
            "5",
        ],
    );
    let port = server.port.to_string();
    let tftp_run = |args: &[&str]| {
        let out = Command::new("tftp")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tftp");
        String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr)
    };
    for name in ["small.bin", "big.bin"] {
        let local = scratch.path(&format!("downloads/{name}"));
        let said = tftp_run(&[
            "-m",
            "binary",
            "127.0.0.1",
            &port,
            "-c",
            "get",
            name,
            &local,
        ]);
        assert_same(
            &scratch.read(&format!("downloads/{name}")),
            &scratch.read(&format!("server-files/{name}")),
            &format!("{name} (tftp said: {said})"),
        );
    }
    // tftp-hpa asks for netascii unless told otherwise: the server says why it refuses.
    // (tftp-hpa then ACKs the ERROR, to the server's port: the 4th datagram there.)
    let local = scratch.path("downloads/netascii.txt");
    let said = tftp_run(&["127.0.0.1", &port, "-c", "get", "small.bin", &local]);
    assert!(
        said.contains("Error code 0: netascii mode is not served"),
        "{said}"
    );
    let up = scratch.path("up.bin");
    let said = tftp_run(&[
        "-m",
        "binary",
        "127.0.0.1",
        &port,
        "-c",
        "put",
        &up,
        "up.bin",
    ]);
    server.finish().assert_code(0);
    assert_same(
        &scratch.read("server-files/up.bin"),
        &content(5000, 13),
        &format!("up.bin (tftp said: {said})"),
    );
}

#[test]
fn curl_downloads_from_lesson09_server_byte_for_byte() {
    if skip_without("curl") {
        return;
    }
    let scratch = scratch();
    scratch.serve("small.bin", &content(513, 21));
    // Over 32 MiB: both programs must agree that block 65535 is followed by block 0.
    scratch.serve("big.bin", &content(BIG + 7, 22));
    let server = scratch_server(&scratch, 2, &[]);
    for name in ["small.bin", "big.bin"] {
        let url = format!("tftp://127.0.0.1:{}/{name}", server.port);
        let local = scratch.path(&format!("downloads/{name}"));
        let out = Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "30",
                "-o",
                &local,
                &url,
            ])
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same(
            &scratch.read(&format!("downloads/{name}")),
            &scratch.read(&format!("server-files/{name}")),
            name,
        );
    }
    let server = server.finish();
    server.assert_code(0);
    // curl asks for options (RFC 2347); the server ignores them, as RFC 1350 servers do.
    assert!(
        server
            .stdout
            .contains("ignored: plain RFC 1350, 512-byte blocks"),
        "{}",
        server.stdout
    );
}

/// Whether this process runs as root (uid 0), from /proc/self/status.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn lesson09_client_downloads_from_tftpd_hpa_byte_for_byte() {
    // in.tftpd starts as root: it changes its root directory to DIR (chroot) and then becomes
    // the user `nobody`. Started by anyone else it cannot, and answers nothing.
    if !running_as_root() {
        skip("in.tftpd must be started as root, and these tests do not run as root");
        return;
    }
    if skip_without("in.tftpd") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let scratch = scratch();
    scratch.serve("small.bin", &content(1329, 31));
    // Over 32 MiB: both programs must agree that block 65535 is followed by block 0.
    scratch.serve("big.bin", &content(BIG, 32));
    // tftpd-hpa drops its privileges to `nobody` and serves only world-readable files.
    for path in [scratch.dir().to_path_buf(), PathBuf::from(scratch.root())] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    for name in ["small.bin", "big.bin"] {
        let path = Path::new(&scratch.root()).join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let port = free_udp_port();
    let address = format!("127.0.0.1:{port}");
    let root = scratch.root();
    // -L: stay in the foreground; -s: serve DIR as `/`. (It logs to syslog, not to stderr.)
    let mut daemon = Command::new("in.tftpd")
        .args(["-L", "-a", &address, "-s", &root])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start in.tftpd");
    let downloads = scratch.downloads();
    let mut runs = Vec::new();
    for name in ["small.bin", "big.bin"] {
        // No sleep waits for tftpd to bind its port: a request sent before that is lost, and
        // the client sends it again after its timeout, as TFTP does for any lost packet.
        runs.push(client(
            port,
            &[
                "get",
                name,
                "--out",
                &downloads,
                "--timeout-ms",
                "200",
                "--retries",
                "25",
            ],
        ));
    }
    let _ = daemon.kill();
    let _ = daemon.wait_timeout(LIMIT);
    for (run, name) in runs.iter().zip(["small.bin", "big.bin"]) {
        run.assert_code(0);
        assert_same(
            &scratch.read(&format!("downloads/{name}")),
            &scratch.read(&format!("server-files/{name}")),
            name,
        );
    }
}

/// A TFTP downloader written the way the classic course describes it (the chapter shows it).
const COURSE_CLIENT: &str = include_str!("../lessons/09-tftp/course_client.py");

#[test]
fn a_python_client_written_from_the_course_downloads_byte_for_byte() {
    if skip_without("python3") {
        return;
    }
    let scratch = scratch();
    scratch.serve("course.bin", &content(MIB, 41));
    let server = scratch_server(&scratch, 2, &[]);
    let port = server.port.to_string();
    let python = |name: &str| {
        let local = scratch.path(&format!("downloads/{name}"));
        Command::new("python3")
            .args(["-c", COURSE_CLIENT, &port, name, &local])
            .output()
            .expect("run python3")
    };
    let out = python("course.bin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 1 MiB is a multiple of 512: 2048 full blocks, then an empty one ends the transfer.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2049 blocks from port a new port"
    );
    assert_same(
        &scratch.read("downloads/course.bin"),
        &content(MIB, 41),
        "course.bin",
    );
    let missing = python("missing.bin");
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stdout).trim(),
        "error 1 no file \"missing.bin\" here"
    );
    server.finish().assert_code(0);
}

// ---------------------------------------------------------------------------------------
// The demo

#[test]
fn lab_demo_09_downloads_through_the_lossy_relay_and_ends_by_itself() {
    // Both cases, 3 times: the same output every run (ports aside).
    let demo = assert_demo_is_the_same_every_run("09", &[], 3);
    demo.assert_shows(&[
        // The key lines of a step are marked ▶.
        " relay ▶ dropped #3 client → server: ACK block 1 (4 bytes)",
        "server │ 127.0.0.1:",
        "client ▶ DATA block 1 again: a duplicate (our ACK was lost or late); ACKed again, \
         not written twice",
        "client ▶ saved target/lesson09-demo/hello.txt: 1329 bytes in 3 DATA packets; \
         1 duplicate",
        "sending DATA block 2 again (try 2 of 6)",
    ]);
}
