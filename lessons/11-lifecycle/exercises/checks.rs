//! The checks of lesson 11's exercises: what `cargo run --bin lab -- check 11.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and reads the state of both ends
//! of the connection from Linux's table of TCP sockets (`/proc/net/tcp`), by the exact
//! addresses of the connection. Elsewhere they say that they are skipped.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket_lab::proc_tcp::{self, State};

use crate::exercises::Exercise;
use crate::probe::{
    shown, with_client, with_server, Ended, Failure, Listener, Outcome, Peer, Program,
    Running, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "11.1",
        title: "a server that can start again at once",
        file: "lessons/11-lifecycle/exercises/e1_restart_at_once.rs",
        peers: &[],
        check: restart_at_once,
        hints: HINTS,
    },
    Exercise {
        id: "11.2",
        title: "a client that closes first, and sees its TIME_WAIT",
        file: "lessons/11-lifecycle/exercises/e2_close_first.rs",
        peers: &[],
        check: close_first,
        hints: HINTS,
    },
    Exercise {
        id: "11.3",
        title: "listen(N), and never accept",
        file: "lessons/11-lifecycle/exercises/e3_backlog.rs",
        peers: &[],
        check: backlog,
        hints: HINTS,
    },
];

/// What a check says where Linux's table of TCP sockets is missing.
const SKIPPED: &str =
    "skipped: this check reads Linux's /proc/net/tcp, which this system lacks";

/// One message and its upper-case reply, then the server's FIN; returns the lab's
/// address on that connection.
fn talk_to(addr: SocketAddr, who: &str) -> Outcome<SocketAddr> {
    let mut peer = Peer::connect(addr, who)?;
    peer.send(b"hello")?;
    peer.expect("the reply", b"HELLO", 1)?;
    if peer.read_end(LIMIT, 1)? == Ended::Reset {
        return Err(Failure::new(
            "your server reset the connection instead of closing it",
            1,
        ));
    }
    let lab = peer
        .conn
        .local_addr()
        .map_err(|e| Failure::new(format!("the lab's address: {e}"), 1))?;
    // The lab closes second: the server's end goes to TIME_WAIT.
    drop(peer);
    Ok(lab)
}

/// 11.1: serve one client, closing first; then start again on the same port at once.
fn restart_at_once(program: &Program) -> Outcome<String> {
    if !proc_tcp::available() {
        return Ok(SKIPPED.into());
    }
    let mut first = None;
    let server = with_server(program, &["--max-clients", "1"], |server| {
        let lab = talk_to(server.addr, "the lab's client")?;
        first = Some((server.addr, lab));
        Ok(())
    })?;
    server.expect_exit(1)?;
    let Some((addr, lab)) = first else {
        return Err(Failure::new(
            "the lab lost the first connection's addresses",
            1,
        ));
    };
    // The check is only worth something while the old connection waits on that port.
    let state = proc_tcp::wait_for(addr, lab, LIMIT, |s| s == Some(State::TimeWait));
    if state != Some(State::TimeWait) {
        return Err(Failure::new(
            "your server's end of the connection is not in TIME_WAIT",
            1,
        )
        .expected(format!(
            "{addr} ⇄ {lab}: TIME_WAIT (the server closed first)"
        ))
        .observed(state.map_or("gone".to_string(), |s| s.to_string())));
    }
    let port = addr.port().to_string();
    let args = ["--port", &port, "--max-clients", "1", "--color", "never"];
    let mut again = Running::start(program, &args, None, None)?;
    let line = again.next_line(LIMIT);
    if line.as_deref() != Some(&format!("listening on {addr}")) {
        let finished = again.finish(Duration::from_millis(300));
        return Err(Failure::new(
            format!("your server could not start again on port {port} at once"),
            1,
        )
        .expected(format!("listening on {addr}"))
        .observed(line.map_or("nothing on stdout".into(), |l| shown(l.as_bytes(), 80)))
        .detail(format!("the last connection on {addr} was in TIME_WAIT"))
        .details(finished.describe("your server")));
    }
    talk_to(addr, "the lab's second client")?;
    again.finish(LIMIT).expect_success("your server", 1)?;
    Ok(format!(
        "started again on port {port} while its last connection was in TIME_WAIT"
    ))
}

/// 11.2: the lab replies, then waits for the client's FIN before it closes.
fn close_first(program: &Program) -> Outcome<String> {
    if !proc_tcp::available() {
        return Ok(SKIPPED.into());
    }
    let listener = Listener::new()?;
    let port = listener.port();
    let mut ends = None;
    let finished = with_client(program, &["hello", "--port", &port], None, |client| {
        let mut peer = listener.accept(client, "the lab's server")?;
        peer.expect("your client's message", b"hello", 1)?;
        peer.send(b"HELLO")?;
        // The lab does not close: it waits for your client's FIN.
        if peer.read_end(LIMIT, 1)? == Ended::Reset {
            return Err(Failure::new("your client reset the connection", 1)
                .expected("a FIN: an orderly close (a read returned 0 bytes)"));
        }
        let addrs = peer
            .conn
            .local_addr()
            .and_then(|l| Ok((l, peer.conn.peer_addr()?)));
        ends = addrs.ok();
        // Now the lab closes too: your client's end goes to TIME_WAIT.
        drop(peer);
        Ok(())
    })?;
    finished.expect_success("your client", 1)?;
    finished.expect_line("your client", "HELLO", 1)?;
    let Some((lab, client)) = ends else {
        return Err(Failure::new("the lab lost the connection's addresses", 1));
    };
    let state = proc_tcp::wait_for(client, lab, LIMIT, |s| s == Some(State::TimeWait));
    if state != Some(State::TimeWait) {
        return Err(Failure::new(
            "your client's end of the connection is not in TIME_WAIT",
            1,
        )
        .expected(format!("{client} ⇄ {lab}: TIME_WAIT"))
        .observed(state.map_or("gone".to_string(), |s| s.to_string())));
    }
    if proc_tcp::state_of(lab, client).is_some() {
        return Err(Failure::new(
            "the lab's end of the connection is still there",
            1,
        ));
    }
    finished.expect_line("your client", "our end is TIME_WAIT", 2)?;
    Ok(format!(
        "{client} ⇄ {lab}: TIME_WAIT on your client's end, nothing on the lab's"
    ))
}

/// How one connect ended.
enum Connect {
    Completed(TcpStream),
    TimedOut,
    Failed(String),
}

/// One connect that waits at most 1 s: long enough for a handshake on loopback on a busy
/// machine, and Linux sends the first SYN again only after about 1 s.
fn connect(addr: SocketAddr) -> Connect {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Ok(conn) => Connect::Completed(conn),
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Connect::TimedOut
        }
        Err(e) => Connect::Failed(e.to_string()),
    }
}

/// Connects one at a time to a server started with `--backlog n`: n + 1 must complete,
/// and the next must time out.
fn fill_queue(program: &Program, n: usize) -> Outcome {
    let backlog = n.to_string();
    let server = with_server(program, &["--backlog", &backlog], |server| {
        // Kept open: a connection in the queue stays there until it is accepted.
        let mut held = Vec::new();
        for i in 1..=n + 2 {
            match connect(server.addr) {
                Connect::Completed(conn) if i <= n + 1 => held.push(conn),
                Connect::Completed(_) => {
                    return Err(Failure::new(
                        format!("with --backlog {n}, connect {i} completed too"),
                        1,
                    )
                    .expected(format!("{} connects complete, then one times out", n + 1))
                    .observed(format!("{i} connects completed")));
                }
                Connect::TimedOut if i == n + 2 => {}
                Connect::TimedOut => {
                    return Err(Failure::new(
                        format!("with --backlog {n}, connect {i} timed out"),
                        2,
                    )
                    .expected(format!("{} connects complete, then one times out", n + 1))
                    .observed(format!("{} completed, then a timeout", i - 1)));
                }
                Connect::Failed(e) => {
                    return Err(Failure::new(
                        format!("with --backlog {n}, connect {i} failed: {e}"),
                        2,
                    ))
                }
            }
        }
        Ok(())
    })?;
    // It never ends by itself: the lab stops it.
    drop(server);
    Ok(())
}

/// 11.3: a backlog of 1, then of 3.
fn backlog(program: &Program) -> Outcome<String> {
    if !proc_tcp::available() {
        return Ok(SKIPPED.into());
    }
    fill_queue(program, 1)?;
    fill_queue(program, 3)?;
    Ok(
        "listen(1): 2 connects completed, the 3rd timed out; listen(3): 4, the 5th"
            .into(),
    )
}
