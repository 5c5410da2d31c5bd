//! The checks of lesson 04's exercises: what `cargo run --bin lab -- check 04.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks.

use std::time::Duration;

use socket_lab::commands::{execute, Policy};

use crate::exercises::Exercise;
use crate::probe::{
    same_bytes, same_lines, with_client, with_server, End, Failure, Listener, Outcome,
    Peer, Program, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "04.1",
        title: "leave cleanly, with replies unread",
        file: "lessons/04-sticky/exercises/e1_leave_cleanly.rs",
        peers: &[],
        check: leave_cleanly,
        hints: HINTS,
    },
    Exercise {
        id: "04.2",
        title: "a client that finds the lines",
        file: "lessons/04-sticky/exercises/e2_line_client.rs",
        peers: &[],
        check: line_client,
        hints: HINTS,
    },
    Exercise {
        id: "04.3",
        title: "a command server that reads lines",
        file: "lessons/04-sticky/exercises/e3_line_server.rs",
        peers: &[],
        check: line_server,
        hints: HINTS,
    },
];

/// The pause between two writes of the lab: a waiting read returns with the first alone.
const PAUSE: Duration = Duration::from_millis(30);

/// 04.1: lesson 04's command service; the client must leave with an orderly close.
fn leave_cleanly(program: &Program) -> Outcome<String> {
    let lab = Listener::new()?;
    let port = lab.port();
    let policy = Policy::builtins_only();
    let typed = "text 2200\necho hello\n";
    let mut ended = End::Full;
    let finished = with_client(program, &["--port", &port], Some(typed), |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        loop {
            let got = conn.hear(LIMIT)?;
            if got.end != End::Full {
                ended = got.end;
                return Ok(());
            }
            let reply = execute(&got.bytes, &policy);
            if conn.send(&reply).is_err() {
                ended = End::Reset;
                return Ok(());
            }
        }
    })?;
    finished.expect_success("your client", 2)?;
    let first = execute("text 2200", &policy);
    let first = String::from_utf8_lossy(&first);
    finished.expect_line("your client", first.lines().next().unwrap_or(""), 2)?;
    match ended {
        End::Closed => {}
        End::Reset => {
            return Err(Failure::new(
                "your client's close reached the lab's server as a reset",
                1,
            )
            .expected("an orderly close: the server's read returns 0 bytes")
            .observed("the server's read failed with ECONNRESET")
            .detail(format!("typed into your client: {typed:?}")))
        }
        _ => return Err(Failure::new("your client never closed the connection", 2)),
    }
    Ok("your client read what was left, and the server saw an orderly close".into())
}

/// 04.2: lines cut and joined by the lab's writes; then a line with no end.
fn line_client(program: &Program) -> Outcome<String> {
    let lab = Listener::new()?;
    let port = lab.port();
    let writes: [&[u8]; 4] = [b"alpha\nbe", b"ta\ngamma\n", b"del", b"ta\nepsilon\n"];
    let finished = with_client(program, &["--port", &port], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        for (i, bytes) in writes.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(PAUSE);
            }
            // A client that left early makes this fail: what it printed says more.
            let _ = conn.send(bytes);
        }
        Ok(())
    })?;
    finished.expect_success("your client", 1)?;
    let expected = ["1: alpha", "2: beta", "3: gamma", "4: delta", "5: epsilon"];
    let shown: Vec<String> = writes
        .iter()
        .map(|w| format!("{:?}", String::from_utf8_lossy(w)))
        .collect();
    same_lines(
        "what your client printed",
        &expected,
        &finished.stdout_text(),
        1,
    )
    .map_err(|f| f.detail(format!("the lab wrote {}, 30 ms apart", shown.join(", "))))?;

    let lab = Listener::new()?;
    let port = lab.port();
    let finished = with_client(program, &["--port", &port], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        let _ = conn.send(&[b'x'; 5000]);
        let _ = conn.hear(LIMIT);
        Ok(())
    })?;
    finished
        .expect_one_line_error("your client", &["1024"], 2)
        .map_err(|f| f.detail("the lab's server sent 5000 bytes with no newline"))?;
    Ok(
        "every line printed whole, however the writes cut them, and no endless line"
            .into(),
    )
}

/// 04.3: two commands in one write, one command in two writes.
fn line_server(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "1"], |server| {
        let mut conn = Peer::connect(server.addr, "the lab's client")?;
        conn.send(b"echo a\necho b\n")?;
        conn.send_in_pieces(b"seq 2\n", &[2], PAUSE)?;
        conn.finish_sending();
        let got = conn.read_up_to(100, LIMIT)?;
        same_bytes("the replies", b"a\nb\n1\n2\n", &got.bytes, 1)
            .map_err(|f| {
                f.detail("the lab sent \"echo a\\necho b\\n\" in one write, then \"se\", \"q 2\\n\"")
            })?;
        if got.end != End::Closed {
            return Err(Failure::new(
                "after the replies, the connection did not close",
                2,
            )
            .observed(got.end.words()));
        }
        Ok(())
    })?;
    server.expect_exit(2)?;
    Ok("one reply per line, whatever the reads brought".into())
}
