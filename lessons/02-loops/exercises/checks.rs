//! The checks of lesson 02's exercises: what `cargo run --bin lab -- check 02.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks.

use std::time::{Duration, Instant};

use crate::exercises::Exercise;
use crate::probe::{
    with_client, with_server, with_server_watching, End, Ended, Failure, Listener,
    Outcome, Peer, Program, Server, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

/// How long the lab's server waits for the next message of a client that is typing lines
/// into it: far more than a correct client needs.
const QUIET: Duration = Duration::from_secs(1);

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "02.1",
        title: "a client loop that never hangs",
        file: "lessons/02-loops/exercises/e1_client_loop.rs",
        peers: &[],
        check: client_loop,
        hints: HINTS,
    },
    Exercise {
        id: "02.2",
        title: "a server that survives a reset",
        file: "lessons/02-loops/exercises/e2_survive_reset.rs",
        peers: &[],
        check: survive_reset,
        hints: HINTS,
    },
    Exercise {
        id: "02.3",
        title: "stop the spin",
        file: "lessons/02-loops/exercises/e3_stop_the_spin.rs",
        peers: &[],
        check: stop_the_spin,
        hints: HINTS,
    },
    Exercise {
        id: "02.4",
        title: "a server that hangs up",
        file: "lessons/02-loops/exercises/e4_hang_up.rs",
        peers: &[],
        check: hang_up,
        hints: HINTS,
    },
];

/// 02.1: empty lines are not sent, `exit` ends the client, a 0-byte reply ends it too.
fn client_loop(program: &Program) -> Outcome<String> {
    // An upper-case echo server that serves until the client closes.
    let lab = Listener::new()?;
    let port = lab.port();
    let typed = "hello\n\nworld\nexit\nnot sent\n";
    let mut received: Vec<String> = Vec::new();
    let finished = with_client(program, &["--port", &port], Some(typed), |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        loop {
            // A client that sends its lines one by one sends the next within moments.
            let got = conn.hear(QUIET)?;
            match got.end {
                End::Full => {
                    received.push(String::from_utf8_lossy(&got.bytes).into_owned());
                    conn.send(&got.bytes.to_ascii_uppercase())?;
                }
                End::Closed | End::Reset => return Ok(()),
                End::Quiet(_) => {
                    return Err(Failure::new(
                        format!(
                            "after {received:?}, the lab's server heard nothing for {} s, and \
                             your client did not end: both sides are waiting",
                            QUIET.as_secs()
                        ),
                        1,
                    )
                    .detail(format!("typed into your client: {typed:?}")))
                }
            }
        }
    })?;
    if received != ["hello", "world"] {
        let hint = if received.iter().any(|m| m == "exit") {
            2
        } else {
            1
        };
        return Err(
            Failure::new("the lab's server received other messages", hint)
                .expected(format!("{:?}", ["hello", "world"]))
                .observed(format!("{received:?}"))
                .detail(format!("typed into your client: {typed:?}")),
        );
    }
    finished.expect_success("your client", 2)?;
    finished.expect_line("your client", "HELLO", 1)?;
    finished.expect_line("your client", "WORLD", 1)?;

    // A server that replies once, then closes its side (and reads what still comes).
    let lab = Listener::new()?;
    let port = lab.port();
    let finished = with_client(
        program,
        &["--port", &port],
        Some("one\ntwo\nthree\n"),
        |client| {
            let mut conn = lab.accept(client, "the lab's server")?;
            let got = conn.hear(LIMIT)?;
            conn.send(&got.bytes.to_ascii_uppercase())?;
            conn.finish_sending();
            while conn.hear(LIMIT)?.end == End::Full {}
            Ok(())
        },
    )?;
    finished.expect_success("your client", 3)?;
    finished
        .expect_line("your client", "the server closed the connection", 3)
        .map_err(|f| {
            f.detail("the lab's server replied to `one`, then closed its side")
        })?;
    Ok(
        "empty lines stayed home, `exit` ended the client, and so did a closed server"
            .into(),
    )
}

/// 02.2: the first client leaves with a reset; the second must be served.
fn survive_reset(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "2"], |server| {
        let mut first = Peer::connect(server.addr, "the first client")?;
        first.send(b"one")?;
        first.expect("the reply to `one`", b"ONE", 2)?;
        first.reset();
        let mut second = Peer::connect(server.addr, "the second client (after a reset)")
            .map_err(|f| f.hint(1))?;
        second.send(b"two")?;
        second.expect("the reply to the second client's `two`", b"TWO", 1)
    })?;
    server.expect_exit(2)?;
    Ok("a client's reset ended only its own conversation".into())
}

/// 02.3: after the first client leaves, the second must get its reply. A spinning server
/// is caught in the act: its empty reads are counted for one second, then it is stopped.
fn stop_the_spin(program: &Program) -> Outcome<String> {
    let server = with_server_watching(
        program,
        &["--max-clients", "2"],
        Some("0 bytes"),
        |server| {
            let mut first = Peer::connect(server.addr, "the first client")?;
            first.send(b"hello")?;
            first.expect("the reply to `hello`", b"HELLO", 1)?;
            drop(first);
            let mut second = Peer::connect(server.addr, "the second client")?;
            second.send(b"next")?;
            watch_for_a_spin(server, &mut second)
        },
    )?;
    server.expect_exit(1)?;
    Ok("your server left the loop when its client left, and served the next one".into())
}

/// Waits one second for the second client's reply, counting what the server does
/// meanwhile.
fn watch_for_a_spin(server: &mut Server, second: &mut Peer) -> Outcome {
    let window = Duration::from_secs(1);
    let (_, zeros_before) = server.run.lines();
    let cpu_before = server.run.cpu_time();
    let started = Instant::now();
    let got = second.read_up_to(4, window)?;
    if got.bytes == b"NEXT" {
        return Ok(());
    }
    let seconds = started.elapsed().as_secs_f64();
    let (_, zeros_after) = server.run.lines();
    let zeros = zeros_after - zeros_before;
    let cpu = match (cpu_before, server.run.cpu_time()) {
        (Some(before), Some(after)) => (after - before).as_secs_f64(),
        _ => 0.0,
    };
    let more = if server.run.flooded() {
        "more than "
    } else {
        ""
    };
    let summary = if zeros > 0 {
        format!("your server read 0 bytes {more}{zeros} times in 1 s: the spin the chapter describes")
    } else if cpu > 0.5 {
        format!(
            "your server used {cpu:.2} s of CPU in {seconds:.1} s without answering: a loop \
             that never waits, the spin the chapter describes"
        )
    } else {
        "the second client's `next` got no reply".to_string()
    };
    Err(Failure::new(summary, 1)
        .expected("\"NEXT\", once the first client had left")
        .observed(format!(
            "{:?}, {}",
            String::from_utf8_lossy(&got.bytes),
            got.end.words()
        ))
        .detail(format!(
            "your server used {cpu:.2} s of CPU in that second; the lab stopped it"
        )))
}

/// 02.4: after `bye`, the server closes the connection; the next client is served.
fn hang_up(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "2"], |server| {
        let mut first = Peer::connect(server.addr, "the first client")?;
        first.send(b"hi")?;
        first.expect("the reply to `hi`", b"HI", 2)?;
        first.send(b"bye")?;
        first.expect("the reply to `bye`", b"BYE", 2)?;
        match first.read_end(Duration::from_secs(1), 1)? {
            Ended::Closed => {}
            Ended::Reset => {
                return Err(Failure::new(
                    "after `BYE`, the connection was reset instead of closed",
                    2,
                ))
            }
        }
        let mut second = Peer::connect(server.addr, "the second client")?;
        second.send(b"next")?;
        second.expect("the reply to the second client's `next`", b"NEXT", 1)
    })?;
    server.expect_exit(2)?;
    Ok("your server said BYE, hung up, and served the next client".into())
}
