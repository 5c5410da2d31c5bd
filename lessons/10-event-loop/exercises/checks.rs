//! The checks of lesson 10's exercises: what `cargo run --bin lab -- check 10.M` does to
//! your event loop. Each runs it black-box, over 127.0.0.1, with clients of the lab's
//! that do what an event loop must cope with: arrive all at once, send more than the
//! socket can take back, or say nothing at all.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket_lab::proc_tcp::{self, State};

use crate::exercises::Exercise;
use crate::probe::{
    differ_at, first_difference, shown, with_server, End, Ended, Failure, Outcome, Peer,
    Program, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "10.1",
        title: "accept every waiting client",
        file: "lessons/10-event-loop/exercises/e1_accept_all.rs",
        peers: &[],
        check: accept_all,
        hints: HINTS,
    },
    Exercise {
        id: "10.2",
        title: "keep what write did not take",
        file: "lessons/10-event-loop/exercises/e2_keep_the_rest.rs",
        peers: &[],
        check: keep_the_rest,
        hints: HINTS,
    },
    Exercise {
        id: "10.3",
        title: "close the silent client",
        file: "lessons/10-event-loop/exercises/e3_idle_timeout.rs",
        peers: &[],
        check: idle_timeout,
        hints: HINTS,
    },
];

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

/// How much 10.2's client sends without reading: more than the system's buffers on both
/// sides of a loopback connection can hold (Linux grows a sending socket's buffer to 4 MiB
/// at most, and the lab's client keeps its own receive buffer small).
const SEND: usize = 16 << 20;

/// The lab's client's receive buffer in 10.2 (Linux doubles it).
const RECEIVE_BUFFER: usize = 64 * 1024;

/// How long the server may take no byte of 10.2's message before the lab says it has
/// stopped reading (a server that holds a client back, as lesson 10 does).
const STALLED: Duration = Duration::from_secs(1);

/// One line of 10.2's message: its number, so that a missing piece shows where it was.
fn message_line(i: usize) -> String {
    format!("line {i:07} of a long message\n")
}

/// 10.2: a client sends megabytes without reading, closes its side, then reads every
/// reply: the bytes that come back must be exactly the bytes sent, upper-cased, and then
/// the server's close.
fn keep_the_rest(program: &Program) -> Outcome<String> {
    let message: Vec<u8> = (0..)
        .flat_map(|i| message_line(i).into_bytes())
        .take(SEND)
        .collect();
    let mut summary = String::new();
    let server = with_server(program, &["--max-clients", "1"], |server| {
        let mut client = Peer::connect(server.addr, "the lab's client")?;
        // A small receive buffer: the server's replies fill it, and the server's own
        // send buffer, after a few megabytes.
        let _ = socket2::SockRef::from(&client.conn).set_recv_buffer_size(RECEIVE_BUFFER);
        let sent = client.send_until_stalled(&message, STALLED)?;
        // "No more from me": the server closes once it has sent every reply.
        client.finish_sending();
        let expected = message[..sent].to_ascii_uppercase();
        // One byte more than was sent: the read stops at the server's close.
        let got = client.read_up_to(sent + 1, LIMIT)?;
        if let Some(at) = differ_at(&expected, &got.bytes) {
            // The line of the message where they differ, as sent and as it came back.
            let width = message_line(0).len();
            let start = at - at % width;
            let line = |bytes: &[u8]| {
                let end = bytes.len().min(start + width);
                shown(&bytes[start.min(end)..end], width)
            };
            let mut failure = Failure::new(
                "the replies are not the bytes that were sent, upper-cased",
                1,
            )
            .expected(format!(
                "{sent} bytes: every byte sent, upper-cased, in order"
            ))
            .observed(format!(
                "{} bytes came back, then {}",
                got.bytes.len(),
                got.end.words()
            ))
            .detail(format!("the line there, as sent:   {}", line(&expected)))
            .detail(format!("the line there, as it came: {}", line(&got.bytes)));
            failure.difference = first_difference(&expected, &got.bytes);
            return Err(failure);
        }
        if got.end != End::Closed {
            return Err(Failure::new(
                "every reply came, but your server did not close the connection",
                2,
            )
            .expected("a close (a read returned 0) once every reply was sent")
            .observed(got.end.words()));
        }
        summary = format!(
            "{sent} bytes sent without reading, then a FIN; all {sent} came back \
             upper-cased, in order, then the server's FIN"
        );
        Ok(())
    })?;
    server.expect_exit(2)?;
    Ok(summary)
}

/// 10.3's idle timeout: long enough that a client that talks every [`PACE`] is never
/// idle for it, even on a busy machine.
const IDLE: Duration = Duration::from_millis(800);

/// How often 10.3's talking client sends a message.
const PACE: Duration = Duration::from_millis(100);

/// 10.3: a silent client alone, which only the loop's own clock can close; then a silent
/// client beside a talking one. Each silent client must be closed after the idle timeout
/// (not before, and not long after); the talking one must be answered throughout, for
/// three timeouts, and never closed.
fn idle_timeout(program: &Program) -> Outcome<String> {
    let idle = IDLE.as_millis().to_string();
    let args = ["--idle-timeout-ms", &idle, "--max-clients", "3"];
    let mut summary = String::new();
    let server = with_server(program, &args, |server| {
        let alone =
            closed_when_silent(server.addr, "the first silent client (alone)", None)?;
        let mut talker = Talker::connect(server.addr)?;
        let name = "the second silent client (beside a talking one)";
        let beside = closed_when_silent(server.addr, name, Some(&mut talker))?;
        // The talking client goes on, to three timeouts in all.
        while talker.since.elapsed() < IDLE * 3 {
            talker.talk()?;
            if let Some(end) = talker.peer.end_within(PACE, 3)? {
                return Err(talker.closed(end));
            }
        }
        summary = format!(
            "silent clients closed after {} ms alone and {} ms beside a talking one \
             (timeout {idle} ms); the talking one answered {} times in {} ms, never closed",
            alone.as_millis(),
            beside.as_millis(),
            talker.round,
            talker.since.elapsed().as_millis()
        );
        Ok(())
    })?;
    server.expect_exit(2)?;
    Ok(summary)
}

/// Connects a client that says nothing, and waits for the server to close it (while
/// `talker`, if any, talks every [`PACE`]); returns how long that took.
fn closed_when_silent(
    addr: SocketAddr,
    name: &str,
    mut talker: Option<&mut Talker>,
) -> Outcome<Duration> {
    // Before the connect: the server's clock for this client starts after it.
    let connected = Instant::now();
    let mut silent = Peer::connect(addr, name)?;
    loop {
        if let Some(talker) = talker.as_mut() {
            talker.talk()?;
        }
        let Some(end) = silent.end_within(PACE, 2)? else {
            if connected.elapsed() > IDLE + LIMIT {
                return Err(still_open(name, connected.elapsed(), talker.is_some()));
            }
            continue;
        };
        let after = connected.elapsed();
        if end == Ended::Reset || after < IDLE {
            return Err(Failure::new(
                format!("{name} was closed, but not as it should be"),
                1,
            )
            .expected(format!(
                "a close (a read returned 0) after {} ms of silence",
                IDLE.as_millis()
            ))
            .observed(format!(
                "{} after {} ms",
                end.words(),
                after.as_millis()
            )));
        }
        return Ok(after);
    }
}

/// The failure for a silent client still open long after the idle timeout.
fn still_open(name: &str, elapsed: Duration, talking: bool) -> Failure {
    let around = if talking {
        "while another client talked"
    } else {
        "with no other client: nothing but a timeout of its own wakes your loop"
    };
    Failure::new(format!("{name} is still connected"), 2)
        .expected(format!(
            "closed {} ms after it connected (--idle-timeout-ms {})",
            IDLE.as_millis(),
            IDLE.as_millis()
        ))
        .observed(format!(
            "still open after {} ms, {around}",
            elapsed.as_millis()
        ))
}

/// 10.3's talking client: a message every [`PACE`], each answered at once.
struct Talker {
    peer: Peer,
    since: Instant,
    round: usize,
}

impl Talker {
    fn connect(addr: SocketAddr) -> Outcome<Talker> {
        let since = Instant::now();
        let peer = Peer::connect(addr, "the talking client")?;
        Ok(Talker {
            peer,
            since,
            round: 0,
        })
    }

    /// One message and its reply.
    fn talk(&mut self) -> Outcome {
        self.round += 1;
        let message = format!("message {}", self.round);
        self.peer.send(message.as_bytes())?;
        let what = format!("the reply to the talking client's {message:?}");
        self.peer
            .expect(&what, message.to_uppercase().as_bytes(), 3)
    }

    /// The failure for a talking client that was closed.
    fn closed(&self, end: Ended) -> Failure {
        Failure::new("the talking client was closed, though it was never idle", 3)
            .expected(format!(
                "a client that sends every {} ms stays connected",
                PACE.as_millis()
            ))
            .observed(format!(
                "{} after {} ms and {} replies",
                end.words(),
                self.since.elapsed().as_millis(),
                self.round
            ))
    }
}
