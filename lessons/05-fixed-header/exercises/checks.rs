//! The checks of lesson 05's exercises: what `cargo run --bin lab -- check 05.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks. The framing exercises run through the lab's proxy, which
//! cuts the byte stream at random points (the same ones every run): a program that takes
//! one read for one message fails there every time.

use socket_lab::frame::{encode, ByteOrder};

use crate::exercises::Exercise;
use crate::probe::{
    lab_program, same_bytes, same_lines, with_client, with_server, Failure, Listener,
    Outcome, Peer, Program, Server, LIMIT,
};
use crate::proxy::{Cut, Inline, Plan};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "05.1",
        title: "send frames",
        file: "lessons/05-fixed-header/exercises/e1_send_frames.rs",
        peers: &[],
        check: send_frames,
        hints: HINTS,
    },
    Exercise {
        id: "05.2",
        title: "a framed client, right under any cutting",
        file: "lessons/05-fixed-header/exercises/e2_framed_client.rs",
        peers: &["lesson05-server"],
        check: framed_client,
        hints: HINTS,
    },
    Exercise {
        id: "05.3",
        title: "a framed server no client can fool",
        file: "lessons/05-fixed-header/exercises/e3_framed_server.rs",
        peers: &[],
        check: framed_server,
        hints: HINTS,
    },
    Exercise {
        id: "05.4",
        title: "a clean close, or a frame cut short?",
        file: "lessons/05-fixed-header/exercises/e4_clean_close_or_cut.rs",
        peers: &[],
        check: clean_close_or_cut,
        hints: HINTS,
    },
];

/// `body` as a frame: its length in 4 big-endian bytes, then the body.
fn frame(body: &[u8]) -> Vec<u8> {
    encode(body, ByteOrder::Network, u32::MAX).unwrap_or_default()
}

/// Starts a proxy of the lab's in front of `to`.
fn proxy(to: std::net::SocketAddr, plan: Plan) -> Outcome<Inline> {
    Inline::start(to, plan).map_err(|e| Failure::new(format!("the lab's proxy: {e}"), 1))
}

/// 05.1: three lines typed, three frames expected, byte for byte.
fn send_frames(program: &Program) -> Outcome<String> {
    let lab = Listener::new()?;
    let port = lab.port();
    let typed = "seq 3\nhello world\n报告\n";
    let mut got = Vec::new();
    let finished = with_client(program, &["--port", &port], Some(typed), |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        got = conn.read_up_to(1000, LIMIT)?.bytes;
        Ok(())
    })?;
    finished.expect_success("your client", 1)?;
    let expected = [
        frame(b"seq 3"),
        frame(b"hello world"),
        frame("报告".as_bytes()),
    ]
    .concat();
    let hint = if got.first().is_some_and(|&b| b != 0) {
        1
    } else {
        2
    };
    same_bytes("the bytes the lab's server received", &expected, &got, hint)
        .map_err(|f| f.detail(format!("typed into your client: {typed:?}")))?;
    Ok("three frames, each length in network order and counted in bytes".into())
}

/// 05.2: lesson05-server behind a proxy that cuts at random points; then a server that
/// announces 4 GiB.
fn framed_client(program: &Program) -> Outcome<String> {
    let lesson05 = Program {
        path: lab_program("lesson05-server")?,
        dir: program.dir.clone(),
    };
    let server = Server::start(&lesson05, &["--max-clients", "1"], None)?;
    let plan = Plan::new(Cut::random(15, 7), 2);
    let proxy = proxy(server.addr, plan.clone())?;
    let port = proxy.addr.port().to_string();
    let typed = "seq 3\nseq 40\necho done\n";
    let finished = with_client(program, &["--port", &port], Some(typed), |_| Ok(()))?;
    let how = format!("lesson05-server ⇄ lab proxy ⇄ your client; typed {typed:?}");
    let mut expected: Vec<String> = (1..=3).map(|n| n.to_string()).collect();
    expected.extend((1..=40).map(|n| n.to_string()));
    expected.push("done".into());
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    let with_cuts = |f: Failure| {
        let mut f = f
            .detail(how.clone())
            .detail(format!("the proxy: {}", plan.describe()));
        f.details
            .extend(proxy.first_lines(4).into_iter().map(|l| format!("  {l}")));
        f
    };
    finished
        .expect_success("your client", 1)
        .map_err(with_cuts)?;
    same_lines(
        "what your client printed",
        &expected,
        &finished.stdout_text(),
        1,
    )
    .map_err(with_cuts)?;

    // A server that answers any command with a header announcing 4 GiB.
    let lab = Listener::new()?;
    let port = lab.port();
    let finished = with_client(program, &["--port", &port], Some("seq 3\n"), |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        conn.hear(LIMIT)?;
        conn.send(&[0xff; 4])?;
        let _ = conn.hear(LIMIT);
        Ok(())
    })?;
    finished
        .expect_one_line_error("your client", &["4294967295"], 2)
        .map_err(|f| f.detail("the lab's server answered with the header ff ff ff ff"))?;
    Ok("every reply whole through random cuts, and a 4 GiB length refused".into())
}

/// 05.3: frames joined and cut by a proxy; a 4 GiB length; then a client served normally.
fn framed_server(program: &Program) -> Outcome<String> {
    let server = with_server(program, &["--max-clients", "3"], |server| {
        let plan = Plan::new(Cut::random(2, 5), 1);
        let proxy = proxy(server.addr, plan.clone())?;
        let mut client =
            Peer::connect(proxy.addr, "the lab's client (through the proxy)")?;
        let three = [frame(b"one"), frame(b"two"), frame(b"three")].concat();
        client.send(&three)?;
        let replies = [frame(b"ONE"), frame(b"TWO"), frame(b"THREE")].concat();
        let how = format!(
            "three frames in one write; the lab's proxy: {}",
            plan.describe()
        );
        client
            .expect("the replies", &replies, 1)
            .map_err(|f| f.detail(how.clone()))?;
        let long = b"a longer message, cut into many pieces on its way".to_vec();
        client.send(&frame(&long))?;
        client
            .expect(
                "the reply to a longer frame",
                &frame(&long.to_ascii_uppercase()),
                1,
            )
            .map_err(|f| f.detail(how))?;
        drop(client);

        let mut liar = Peer::connect(server.addr, "a client announcing 4 GiB")?;
        liar.send(&[0xff, 0xff, 0xff, 0xff, b'a', b'b', b'c'])?;
        liar.read_end(LIMIT, 2).map_err(|f| Failure {
            summary:
                "after the header ff ff ff ff (4 GiB), your server kept the connection \
                      open: is it waiting for 4 GiB?"
                    .into(),
            ..f
        })?;

        let mut next = Peer::connect(server.addr, "the next client")?;
        next.send(&frame(b"still there?"))?;
        next.expect("the reply to the next client", &frame(b"STILL THERE?"), 2)
    })?;
    server.expect_exit(2)?;
    Ok(
        "whole frames whatever the cuts, 4 GiB refused, and the next client served"
            .into(),
    )
}

/// 05.4: a clean close between frames; a close in a body; a close in a header.
fn clean_close_or_cut(program: &Program) -> Outcome<String> {
    let two = [frame(b"one"), frame(b"two")].concat();
    let finished = against(program, &two)?;
    finished
        .expect_success("your client", 1)
        .map_err(|f| f.detail("the lab's server sent two whole frames, then closed"))?;
    same_lines(
        "what your client printed",
        &["one", "two"],
        &finished.stdout_text(),
        1,
    )?;

    let cut_body = [frame(b"one"), vec![0, 0, 0, 10], b"abc".to_vec()].concat();
    let finished = against(program, &cut_body)?;
    finished
        .expect_one_line_error("your client", &["3 of 10"], 2)
        .map_err(|f| {
            f.detail(
                "the lab's server sent a frame, then 3 of 10 body bytes, then closed",
            )
        })?;

    let finished = against(program, &[0, 0])?;
    finished
        .expect_one_line_error("your client", &["2 of 4"], 2)
        .map_err(|f| {
            f.detail("the lab's server sent 2 of 4 header bytes, then closed")
        })?;
    Ok("a close between frames ended quietly; a close inside one was reported".into())
}

/// Runs the client against a server of the lab's that sends `bytes`, then closes.
fn against(program: &Program, bytes: &[u8]) -> Outcome<crate::probe::Finished> {
    let lab = Listener::new()?;
    let port = lab.port();
    with_client(program, &["--port", &port], None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        conn.send(bytes)
    })
}
