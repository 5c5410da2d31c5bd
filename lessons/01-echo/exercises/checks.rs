//! The checks of lesson 01's exercises: what `cargo run --bin lab -- check 01.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks.

use crate::exercises::Exercise;
use crate::probe::{
    dead_tcp_port, same_bytes, with_client, with_server, Listener, Outcome, Peer,
    Program, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "01.1",
        title: "an echo client",
        file: "lessons/01-echo/exercises/e1_echo_client.rs",
        peers: &[],
        check: echo_client,
        hints: HINTS,
    },
    Exercise {
        id: "01.2",
        title: "a server that tells callers who they are",
        file: "lessons/01-echo/exercises/e2_who_are_you.rs",
        peers: &[],
        check: who_are_you,
        hints: HINTS,
    },
    Exercise {
        id: "01.3",
        title: "a server that counts every byte",
        file: "lessons/01-echo/exercises/e3_count_bytes.rs",
        peers: &[],
        check: count_bytes,
        hints: HINTS,
    },
    Exercise {
        id: "01.4",
        title: "a client that says what failed",
        file: "lessons/01-echo/exercises/e4_say_what_failed.rs",
        peers: &[],
        check: say_what_failed,
        hints: HINTS,
    },
];

const MESSAGE: &str = "hello from lab check";

/// The lab listens and runs the client with `MESSAGE`: its server must receive exactly
/// that, and the client must print the reply.
fn echo_round(program: &Program, hints: (usize, usize)) -> Outcome {
    let lab = Listener::new()?;
    let port = lab.port();
    let reply = MESSAGE.to_uppercase();
    let finished = with_client(program, &["--port", &port, MESSAGE], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        let got = conn.read_up_to(MESSAGE.len(), LIMIT)?.bytes;
        same_bytes(
            "what the lab's server received",
            MESSAGE.as_bytes(),
            &got,
            hints.0,
        )?;
        conn.send(reply.as_bytes())
    })?;
    finished.expect_success("your client", hints.1)?;
    finished.expect_line("your client", &reply, hints.1)
}

/// 01.1: send the argument, print the reply.
fn echo_client(program: &Program) -> Outcome<String> {
    echo_round(program, (1, 2))?;
    Ok(format!(
        "the lab's server received {MESSAGE:?}, and your client printed the reply"
    ))
}

/// 01.2: the reply is the client's own address, as the server saw it.
fn who_are_you(program: &Program) -> Outcome<String> {
    let server = with_server(program, &[], |server| {
        let mut conn = Peer::connect(server.addr, "the lab's client")?;
        let me = conn
            .conn
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        conn.send(b"who am i?")?;
        let expected = format!("you are {me}");
        // The server closes after its reply: read until then.
        let got = conn.read_up_to(expected.len() + 100, LIMIT)?.bytes;
        same_bytes("the reply", expected.as_bytes(), &got, 1)
    })?;
    server.expect_exit(2)?;
    Ok("your server told the lab's client its own address".to_string())
}

/// 01.3: 3000 bytes, then the end of the sending side; the reply counts them all.
fn count_bytes(program: &Program) -> Outcome<String> {
    let server = with_server(program, &[], |server| {
        let mut conn = Peer::connect(server.addr, "the lab's client")?;
        let message: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
        conn.send(&message)?;
        conn.finish_sending();
        let got = conn.read_up_to(200, LIMIT)?.bytes;
        same_bytes("the reply", b"received 3000 bytes", &got, 1)
    })?;
    server.expect_exit(2)?;
    Ok(
        "your server counted all 3000 bytes of a message cut into several reads"
            .to_string(),
    )
}

/// 01.4: it works with a server; without one, one line on stderr and exit code 1.
fn say_what_failed(program: &Program) -> Outcome<String> {
    echo_round(program, (1, 1))?;
    let port = dead_tcp_port()?.to_string();
    let finished = with_client(program, &["--port", &port, MESSAGE], None, |_| Ok(()))?;
    let addr = format!("127.0.0.1:{port}");
    finished.expect_one_line_error(
        "your client, with no server,",
        &[&addr, "refused"],
        1,
    )?;
    Ok(
        "your client printed the reply, and said in one line that nobody listened"
            .to_string(),
    )
}
