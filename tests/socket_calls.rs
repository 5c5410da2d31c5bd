//! The socket calls of the course's method list and their Rust equivalents (the table in the
//! introduction), each made on a real connection over 127.0.0.1 and checked.

mod common;
use common::*;

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::SockRef;

/// A connected pair: (the client's end, the server's end).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client =
        TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

#[test]
fn connect_ex_is_a_connect_whose_error_is_a_number_111_on_linux() {
    let port = free_port();
    let err = TcpStream::connect(("127.0.0.1", port)).expect_err("nobody listens");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(err.raw_os_error(), Some(111), "ECONNREFUSED on Linux");
    if skip_without("python3") {
        return;
    }
    let script = format!(
        "import socket\nprint(socket.socket().connect_ex(('127.0.0.1', {port})))\n"
    );
    assert_eq!(run_python(&script), "111\n", "Python's connect_ex");
}

#[test]
fn getpeername_and_getsockname_are_each_others_mirror() {
    let (client, server) = pair();
    // peer_addr (getpeername) of one end is local_addr (getsockname) of the other.
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    // The client's port was chosen by the system, the server's is the listener's.
    assert_ne!(client.local_addr().unwrap().port(), 0);
}

#[test]
fn getsockopt_reads_what_setsockopt_set_doubled_by_linux() {
    let (client, _server) = pair();
    let socket = SockRef::from(&client);
    assert!(socket.recv_buffer_size().unwrap() > 0);
    socket.set_recv_buffer_size(65536).unwrap();
    // Linux doubles the value asked for (room for its own bookkeeping).
    assert_eq!(socket.recv_buffer_size().unwrap(), 131072);
    assert!(
        !client.nodelay().unwrap(),
        "Nagle's algorithm is on by default"
    );
}

#[test]
fn gettimeout_is_none_until_a_timeout_is_set() {
    let (client, _server) = pair();
    assert_eq!(client.read_timeout().unwrap(), None);
    client
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    assert_eq!(
        client.read_timeout().unwrap(),
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn fileno_is_a_descriptor_of_this_process_that_is_a_socket() {
    let (client, _server) = pair();
    let fd = client.as_raw_fd();
    assert!(fd > 2, "0, 1 and 2 are stdin, stdout and stderr; got {fd}");
    let target =
        std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("/proc/self/fd");
    assert!(
        target.to_string_lossy().starts_with("socket:["),
        "{target:?}"
    );
}

#[test]
fn makefile_is_a_buffered_reader_over_the_stream() {
    let (mut client, server) = pair();
    client.write_all(b"first line\nsecond line\n").unwrap();
    drop(client);
    let lines: Vec<String> = BufReader::new(&server)
        .lines()
        .map(|l| l.expect("a line"))
        .collect();
    assert_eq!(lines, ["first line", "second line"]);
}
