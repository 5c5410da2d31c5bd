//! The checks of lesson 03's exercises: what `cargo run --bin lab -- check 03.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks.

use std::time::Duration;

use crate::exercises::Exercise;
use crate::probe::{
    same_bytes, same_lines, with_client, with_server, Ended, Failure, Listener, Outcome,
    Peer, Program, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "03.1",
        title: "recv_exact: exactly n bytes",
        file: "lessons/03-recv/exercises/e1_recv_exact.rs",
        peers: &[],
        check: recv_exact,
        hints: HINTS,
    },
    Exercise {
        id: "03.2",
        title: "what did the read say?",
        file: "lessons/03-recv/exercises/e2_what_the_read_said.rs",
        peers: &[],
        check: what_the_read_said,
        hints: HINTS,
    },
    Exercise {
        id: "03.3",
        title: "a timeout is not the end",
        file: "lessons/03-recv/exercises/e3_timeout_is_not_the_end.rs",
        peers: &[],
        check: timeout_is_not_the_end,
        hints: HINTS,
    },
    Exercise {
        id: "03.4",
        title: "leave with a reset",
        file: "lessons/03-recv/exercises/e4_leave_with_a_reset.rs",
        peers: &[],
        check: leave_with_a_reset,
        hints: HINTS,
    },
];

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";

/// The pause between two pieces the lab sends: long enough for a waiting read to return
/// with the first piece alone.
const PAUSE: Duration = Duration::from_millis(30);

/// 03.1: 26 letters in five pieces, `ok`, `done` in two pieces; then a server that closes
/// after 10 letters.
fn recv_exact(program: &Program) -> Outcome<String> {
    let lab = Listener::new()?;
    let port = lab.port();
    let mut answer = Vec::new();
    let finished = with_client(program, &["--port", &port], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        // A client that left early makes these sends fail: what it printed says more.
        let _ = conn.send_in_pieces(LETTERS.as_bytes(), &[3, 5, 1, 9], PAUSE);
        answer = conn.read_up_to(2, LIMIT)?.bytes;
        let _ = conn.send_in_pieces(b"done", &[1], PAUSE);
        let _ = conn.hear(LIMIT);
        Ok(())
    })?;
    finished.expect_success("your client", 1)?;
    let printed = finished.stdout_text();
    same_lines("what your client printed", &[LETTERS, "done"], &printed, 1)
        .map_err(|f| f.detail("the lab sent the letters as 5 pieces, 30 ms apart"))?;
    same_bytes("your client's answer", b"ok", &answer, 1)?;

    let lab = Listener::new()?;
    let port = lab.port();
    let finished = with_client(program, &["--port", &port], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        conn.send(&LETTERS.as_bytes()[..10])
    })?;
    finished
        .expect_one_line_error("your client", &["10 of 26"], 2)
        .map_err(|f| f.detail("the lab's server sent 10 letters, then closed"))?;
    Ok(
        "26 bytes in five pieces read as one, and a short stream reported as 10 of 26"
            .into(),
    )
}

/// What the lab's server does in one run of 03.2.
#[derive(Clone, Copy)]
enum Server {
    Sends,
    Closes,
    Resets,
    Says,
}

/// 03.2: four servers, four outcomes of one read.
fn what_the_read_said(program: &Program) -> Outcome<String> {
    let runs = [
        (Server::Sends, "sends `hello`", "data: hello", 1),
        (Server::Closes, "closes the connection", "closed", 1),
        (Server::Resets, "resets the connection", "reset", 2),
        (Server::Says, "says nothing", "timeout", 3),
    ];
    for (server, what, expected, hint) in runs {
        let lab = Listener::new()?;
        let port = lab.port();
        let args = ["--port", &port, "--timeout-ms", "300"];
        let finished = with_client(program, &args, None, |client| {
            let mut conn = lab.accept(client, "the lab's server")?;
            match server {
                Server::Sends => conn.send(b"hello")?,
                Server::Closes => return Ok(()),
                Server::Resets => {
                    conn.reset();
                    return Ok(());
                }
                Server::Says => {}
            }
            // Keep the connection open until the client leaves.
            let _ = conn.hear(LIMIT);
            Ok(())
        })?;
        let against = format!("against a server that {what}");
        finished.expect_success(&format!("your client, {against},"), hint)?;
        let printed = finished.stdout_text();
        same_lines(
            &format!("{against}, what your client printed"),
            &[expected],
            &printed,
            hint,
        )?;
    }
    Ok("your client told data, a close, a reset and a timeout apart".into())
}

/// 03.3: half a second of silence (longer than the server's 200 ms timeout), then `late`.
fn timeout_is_not_the_end(program: &Program) -> Outcome<String> {
    let server = with_server(program, &[], |server| {
        let mut conn = Peer::connect(server.addr, "the lab's client")?;
        // The wait is the exercise: more than two of the server's read timeouts.
        std::thread::sleep(Duration::from_millis(500));
        conn.send(b"late")?;
        conn.expect(
            "the reply to `late`, sent after 500 ms of silence",
            b"LATE",
            1,
        )
    })?;
    server.expect_exit(2)?;
    Ok("your server waited through its timeouts and answered `late`".into())
}

/// 03.4: the client's close must reach the lab's server as a reset.
fn leave_with_a_reset(program: &Program) -> Outcome<String> {
    let lab = Listener::new()?;
    let port = lab.port();
    let message = "bye for now";
    let mut ended = None;
    let finished = with_client(program, &["--port", &port, message], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        let got = conn.read_up_to(message.len(), LIMIT)?.bytes;
        same_bytes(
            "what the lab's server received",
            message.as_bytes(),
            &got,
            2,
        )?;
        conn.send(message.to_uppercase().as_bytes())?;
        ended = Some(conn.read_end(LIMIT, 1)?);
        Ok(())
    })?;
    finished.expect_success("your client", 2)?;
    finished.expect_line("your client", &message.to_uppercase(), 2)?;
    if ended == Some(Ended::Closed) {
        return Err(
            Failure::new("your client closed in order, not with a reset", 1)
                .expected("the lab's next read fails with ECONNRESET (a reset)")
                .observed(
                    "the lab's next read returned 0 bytes (an orderly close: a FIN)",
                ),
        );
    }
    Ok("the lab's server saw ECONNRESET when your client left".into())
}
