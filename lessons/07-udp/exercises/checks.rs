//! The checks of lesson 07's exercises: what `cargo run --bin lab -- check 07.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks: the datagrams the lab receives, and what your program
//! prints.

use std::time::Duration;

use crate::exercises::Exercise;
use crate::probe::{
    dead_udp_port, recv_within, same_bytes, udp_socket, with_client, with_server,
    Failure, Outcome, Program, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "07.1",
        title: "a UDP client with a timeout and 3 tries",
        file: "lessons/07-udp/exercises/e1_retries.rs",
        peers: &[],
        check: retries,
        hints: HINTS,
    },
    Exercise {
        id: "07.2",
        title: "a reply from the server, not anyone",
        file: "lessons/07-udp/exercises/e2_who_answered.rs",
        peers: &[],
        check: who_answered,
        hints: HINTS,
    },
    Exercise {
        id: "07.3",
        title: "a UDP server that never cuts a datagram",
        file: "lessons/07-udp/exercises/e3_whole_datagrams.rs",
        peers: &[],
        check: whole_datagrams,
        hints: HINTS,
    },
    Exercise {
        id: "07.4",
        title: "a UDP client that hears nobody is there",
        file: "lessons/07-udp/exercises/e4_nobody_there.rs",
        peers: &[],
        check: nobody_there,
        hints: HINTS,
    },
];

const MESSAGE: &str = "hello udp";
const REPLY: &str = "HELLO UDP";

/// Receives one datagram for the lab's server within `limit`, or fails saying what it was
/// waiting for.
fn receive(
    socket: &std::net::UdpSocket,
    what: &str,
    hint: usize,
    limit: Duration,
) -> Outcome<(Vec<u8>, std::net::SocketAddr)> {
    recv_within(socket, limit)?.ok_or_else(|| {
        let ms = limit.as_millis();
        Failure::new(format!("{what}: nothing came within {ms} ms"), hint)
    })
}

/// 07.1: the first two datagrams are dropped, the third answered; then no answer at all.
fn retries(program: &Program) -> Outcome<String> {
    let (socket, addr) = udp_socket()?;
    let port = addr.port().to_string();
    let args = [MESSAGE, "--port", &port, "--timeout-ms", "200"];
    let finished = with_client(program, &args, None, |_| {
        for attempt in 1..=3 {
            let what = match attempt {
                1 => "your client's datagram".to_string(),
                n => format!(
                    "the lab's server dropped {} datagram{} (as a lossy network may); try {n}",
                    n - 1,
                    if n == 2 { "" } else { "s" }
                ),
            };
            // A retry comes 200 ms after the last try: 1 s is ample.
            let (bytes, from) = receive(&socket, &what, 1, Duration::from_secs(1))?;
            same_bytes("the datagram", MESSAGE.as_bytes(), &bytes, 1)?;
            if attempt == 3 {
                let _ = socket.send_to(REPLY.as_bytes(), from);
            }
        }
        Ok(())
    })?;
    finished.expect_success("your client", 1)?;
    finished.expect_line("your client", REPLY, 1)?;

    let (socket, addr) = udp_socket()?;
    let port = addr.port().to_string();
    let args = [MESSAGE, "--port", &port, "--timeout-ms", "200"];
    let mut count = 0;
    let finished = with_client(program, &args, None, |_| {
        // Count the datagrams until the client stops sending.
        while count < 10 && recv_within(&socket, Duration::from_millis(700))?.is_some() {
            count += 1;
        }
        Ok(())
    })?;
    finished
        .expect_one_line_error("your client", &["no reply", "3 tries"], 2)
        .map_err(|f| f.detail("the lab's server answered nothing this time"))?;
    if count != 3 {
        return Err(Failure::new(
            "with no answer, your client did not try exactly 3 times",
            1,
        )
        .expected("3 datagrams")
        .observed(format!("{count} datagrams")));
    }
    Ok("two datagrams lost, the third answered; and 3 tries, then a clear error".into())
}

/// 07.2: another socket of the lab's writes to the client before the server answers.
fn who_answered(program: &Program) -> Outcome<String> {
    let (socket, addr) = udp_socket()?;
    let (intruder, intruder_addr) = udp_socket()?;
    let port = addr.port().to_string();
    let args = [MESSAGE, "--port", &port, "--timeout-ms", "1000"];
    let noise = "I AM NOT THE SERVER";
    let finished = with_client(program, &args, None, |_| {
        let (bytes, from) = receive(&socket, "your client's datagram", 1, LIMIT)?;
        let _ = intruder.send_to(noise.as_bytes(), from);
        let _ = socket.send_to(&bytes.to_ascii_uppercase(), from);
        Ok(())
    })?;
    finished.expect_success("your client", 1)?;
    if finished.stdout_text().lines().any(|l| l == noise) {
        return Err(Failure::new(
            "your client printed a datagram that did not come from the server",
            1,
        )
        .observed(format!("{noise:?}, from {intruder_addr}"))
        .expected(format!("only the reply of the server, at {addr}")));
    }
    finished.expect_line("your client", REPLY, 2)?;
    Ok("the server's reply printed, a stranger's datagram ignored".into())
}

/// 07.3: datagrams of 5000 bytes, of 65 507 bytes, and an empty one.
fn whole_datagrams(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-datagrams", "3"], |server| {
        let (socket, _) = udp_socket()?;
        for (what, size) in [
            ("5000 bytes", 5000),
            ("65 507 bytes", 65_507),
            ("0 bytes", 0),
        ] {
            let data: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            socket.send_to(&data, server.addr).map_err(|e| {
                Failure::new(format!("the lab could not send {what}: {e}"), 1)
            })?;
            let hint = if size == 0 { 2 } else { 1 };
            let what = format!("the reply to a datagram of {what}");
            let (reply, _) = receive(&socket, &what, hint, LIMIT)?;
            same_bytes(&what, &data.to_ascii_uppercase(), &reply, hint)?;
        }
        Ok(())
    })?;
    server.expect_exit(2)?;
    Ok("5000 bytes, 65 507 bytes and an empty datagram, each echoed whole".into())
}

/// 07.4: a server that answers; then a port where nothing is bound.
fn nobody_there(program: &Program) -> Outcome<String> {
    let (socket, addr) = udp_socket()?;
    let port = addr.port().to_string();
    let finished = with_client(
        program,
        &[MESSAGE, "--port", &port, "--timeout-ms", "500"],
        None,
        |_| {
            let (bytes, from) = receive(&socket, "your client's datagram", 1, LIMIT)?;
            let _ = socket.send_to(&bytes.to_ascii_uppercase(), from);
            Ok(())
        },
    )?;
    finished.expect_success("your client", 1)?;
    finished.expect_line("your client", REPLY, 1)?;

    let port = dead_udp_port()?.to_string();
    let finished = with_client(
        program,
        &[MESSAGE, "--port", &port, "--timeout-ms", "500"],
        None,
        |_| Ok(()),
    )?;
    finished
        .expect_one_line_error("your client", &["refused"], 1)
        .map_err(|f| f.detail(format!("nothing is bound to 127.0.0.1:{port}")))?;
    Ok("a reply printed, and a port with nobody there reported as refused".into())
}
