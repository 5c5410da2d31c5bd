//! The checks of lesson 08's exercises: what `cargo run --bin lab -- check 08.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, with several clients of the
//! lab's connected at once, and compares what each one gets with what the exercise asks.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::exercises::Exercise;
use crate::probe::{shown, with_server, End, Failure, Outcome, Peer, Program, LIMIT};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "08.1",
        title: "a thread for each client",
        file: "lessons/08-threading/exercises/e1_thread_per_client.rs",
        peers: &[],
        check: thread_per_client,
        hints: HINTS,
    },
    Exercise {
        id: "08.2",
        title: "a fixed pool of threads",
        file: "lessons/08-threading/exercises/e2_pool.rs",
        peers: &[],
        check: pool,
        hints: HINTS,
    },
    Exercise {
        id: "08.3",
        title: "one counter for all the threads",
        file: "lessons/08-threading/exercises/e3_shared_counter.rs",
        peers: &[],
        check: shared_counter,
        hints: HINTS,
    },
    Exercise {
        id: "08.4",
        title: "stop gracefully",
        file: "lessons/08-threading/exercises/e4_graceful_stop.rs",
        peers: &[],
        check: graceful_stop,
        hints: HINTS,
    },
];

/// How long a client waits for a reply that should come at once, while another client is
/// connected: far longer than a thread needs on a busy machine.
const AT_ONCE: Duration = Duration::from_secs(1);

/// How long a client that must NOT be answered waits before the check says it was not.
const NOT_YET: Duration = Duration::from_secs(1);

/// 08.1: the second client is answered while the first is still connected.
fn thread_per_client(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "2"], |server| {
        let mut first = Peer::connect(server.addr, "the first client")?;
        first.send(b"a1")?;
        first.expect("the reply to the first client", b"A1", 1)?;
        let mut second = Peer::connect(server.addr, "the second client")?;
        second.send(b"b1")?;
        let got = second.read_up_to(2, AT_ONCE)?;
        if got.bytes != b"B1" {
            return Err(Failure::new(
                "the second client got no reply while the first was still connected",
                1,
            )
            .expected("\"B1\", at once")
            .observed(format!(
                "{}, {}",
                shown(&got.bytes, 20),
                got.end.words()
            )));
        }
        first.send(b"a2")?;
        first.expect("the first client's second reply", b"A2", 1)
    })?;
    server.expect_exit(2)?;
    Ok("two clients answered at the same time, and the server ended after both".into())
}

/// 08.2: with a pool of 2, the third client waits until one of the first two leaves.
fn pool(program: &Program) -> Outcome<String> {
    let server =
        with_server(program, &["--pool", "2", "--max-clients", "3"], |server| {
            let mut first = Peer::connect(server.addr, "the first client")?;
            first.send(b"a")?;
            first.expect("the reply to the first client", b"A", 1)?;
            let mut second = Peer::connect(server.addr, "the second client")?;
            second.send(b"b")?;
            second.expect(
                "the reply to the second client (2 threads, 2 clients)",
                b"B",
                1,
            )?;
            let mut third = Peer::connect(server.addr, "the third client")?;
            third.send(b"c")?;
            let early = third.read_up_to(1, NOT_YET)?;
            if !early.bytes.is_empty() {
                return Err(Failure::new(
                    "the third client was answered while two clients were being served",
                    1,
                )
                .expected("no reply until one of the pool's 2 threads is free")
                .observed(shown(&early.bytes, 20)));
            }
            drop(first);
            third.expect("the third client's reply, once the first had left", b"C", 2)
        })?;
    server.expect_exit(2)?;
    Ok("at most 2 clients served at once; the third when a thread was free".into())
}

/// 08.3: three clients, five messages each, in turn: replies numbered 1 to 15.
fn shared_counter(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "3"], |server| {
        let mut clients = Vec::new();
        for i in 1..=3 {
            clients.push(Peer::connect(server.addr, &format!("client {i}"))?);
        }
        let mut numbers = Vec::new();
        for round in 1..=5 {
            for (i, client) in clients.iter_mut().enumerate() {
                let message = format!("c{}m{round}", i + 1);
                client.send(message.as_bytes())?;
                let got = client.hear(AT_ONCE)?;
                if got.end != End::Full {
                    return Err(Failure::new(
                        format!(
                            "{}: no reply to {message:?}, {}",
                            client.name,
                            got.end.words()
                        ),
                        1,
                    ));
                }
                let reply = String::from_utf8_lossy(&got.bytes).into_owned();
                let parsed = reply
                    .split_once(": ")
                    .and_then(|(n, text)| Some((n.parse::<u64>().ok()?, text)));
                match parsed {
                    Some((n, text)) if text == message.to_uppercase() => numbers.push(n),
                    _ => {
                        return Err(Failure::new(
                            format!("a reply to {message:?} is not right"),
                            2,
                        )
                        .expected(format!("\"N: {}\"", message.to_uppercase()))
                        .observed(shown(&got.bytes, 40)))
                    }
                }
            }
        }
        if numbers != (1..=15).collect::<Vec<u64>>() {
            let seen: Vec<String> = numbers.iter().map(u64::to_string).collect();
            return Err(Failure::new("the fifteen replies are not numbered 1 to 15", 1)
                .expected("1, 2, 3, … 15: one number per message, from all clients together")
                .observed(seen.join(", ")));
        }
        Ok(())
    })?;
    server.expect_exit(2)?;
    Ok("fifteen replies from three threads, numbered 1 to 15".into())
}

/// 08.4: after accepting its last client, the server still serves it to the end.
fn graceful_stop(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "2"], |server| {
        let mut first = Peer::connect(server.addr, "the first client")?;
        first.send(b"a1")?;
        first.expect("the reply to the first client", b"A1", 1)?;
        let mut second = Peer::connect(server.addr, "the second (and last) client")?;
        second.send(b"b1")?;
        second.expect("the reply to the last client", b"B1", 1)?;
        drop(first);
        // The server has stopped accepting: its listening socket is closed.
        wait_until_refused(server.addr)?;
        second.send(b"b2")?;
        second.expect(
            "the last client's second reply, after the server stopped accepting",
            b"B2",
            1,
        )
    })?;
    server.expect_exit(2)?;
    Ok("the last client was served to the end, then the server exited".into())
}

/// Waits until a connection to `addr` is refused: the server has closed its listening
/// socket. Tries a few times a second, for at most the time limit.
fn wait_until_refused(addr: SocketAddr) -> Outcome {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, LIMIT) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Ok(()),
            // Accepted by the system (the listener is still open), or another error:
            // look again in a moment.
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Err(Failure::new(
        "after its last client, the server still let new clients connect",
        2,
    )
    .expected("a connection refused: the listening socket closed")
    .observed(format!(
        "connections to {addr} still accepted by the system"
    )))
}
