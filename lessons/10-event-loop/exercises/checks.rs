//! The checks of lesson 10's exercises: what `cargo run --bin lab -- check 10.M` does to
//! your event loop. Each runs it black-box, over 127.0.0.1, with clients of the lab's
//! that do what an event loop must cope with: arrive all at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket_lab::proc_tcp::{self, State};

use crate::exercises::Exercise;
use crate::probe::{shown, with_server, Failure, Outcome, Peer, Program, LIMIT};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[Exercise {
    id: "10.1",
    title: "accept every waiting client",
    file: "lessons/10-event-loop/exercises/e1_accept_all.rs",
    peers: &[],
    check: accept_all,
    hints: HINTS,
}];

/// How many clients connect at the same moment in 10.1.
const BURST: usize = 3;

/// 10.1: three clients connect while the server is held still, so that all three wait in
/// the backlog together and the server hears of them in one event; then each one sends,
/// and each must be answered.
fn accept_all(program: &Program) -> Outcome<String> {
    let max = BURST.to_string();
    let server = with_server(program, &["--max-clients", &max], |server| {
        server.run.pause()?;
        let mut clients = Vec::new();
        for i in 1..=BURST {
            clients.push(Peer::connect(
                server.addr,
                &format!("client {i} of {BURST}"),
            )?);
        }
        // Every handshake is complete: the three wait in the listener's accept queue.
        wait_in_backlog(server.addr, BURST)?;
        server.run.resume()?;
        for (i, client) in clients.iter_mut().enumerate() {
            client.send(format!("client {}", i + 1).as_bytes())?;
        }
        for (i, client) in clients.iter_mut().enumerate() {
            let reply = format!("CLIENT {}", i + 1);
            let got = client.read_up_to(reply.len(), LIMIT)?;
            if got.bytes == reply.as_bytes() {
                continue;
            }
            let observed = if got.bytes.is_empty() {
                got.end.words()
            } else {
                format!("{}, then {}", shown(&got.bytes, 20), got.end.words())
            };
            let mut failure =
                Failure::new(format!("{} was not answered", client.name), 1)
                    .expected(format!("{reply:?}, within {} s", LIMIT.as_secs()))
                    .observed(observed);
            if let Some(n) = waiting(server.addr).filter(|&n| n > 0) {
                failure = failure.detail(format!(
                    "{} still waiting in your listener's backlog (its accept queue)",
                    plural_clients(n)
                ));
            }
            return Err(failure);
        }
        Ok(())
    })?;
    server.expect_exit(2)?;
    Ok(format!(
        "{BURST} clients connected at once, all {BURST} accepted and answered"
    ))
}

/// How many connections wait in the accept queue of the listener at `addr`, from Linux's
/// table of TCP sockets; `None` elsewhere.
fn waiting(addr: SocketAddr) -> Option<u32> {
    let sockets = proc_tcp::sockets_on(addr.port()).ok()?;
    let listener = sockets
        .iter()
        .find(|s| s.state == State::Listen && s.local.port() == addr.port())?;
    Some(listener.rx_queue)
}

/// Waits until `n` connections wait in the listener's accept queue (the system completes
/// each handshake; the last ACK may take it a moment). Returns at once where Linux's table
/// is missing.
fn wait_in_backlog(addr: SocketAddr, n: usize) -> Outcome {
    let deadline = Instant::now() + LIMIT;
    loop {
        let Some(queued) = waiting(addr) else {
            return Ok(());
        };
        if queued as usize >= n {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Failure::new(
                "the lab's clients did not all reach your listener's backlog",
                1,
            )
            .expected(format!(
                "{} waiting to be accepted",
                plural_clients(n as u32)
            ))
            .observed(plural_clients(queued)));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn plural_clients(n: u32) -> String {
    socket_lab::out::plural(n as usize, "client")
}
