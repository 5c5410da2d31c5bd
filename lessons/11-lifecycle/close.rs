//! The four-way close (四次挥手), seen from one end. Lesson 11's server and client both close
//! through these two functions; each prints the state of its own end of the connection,
//! as Linux's table of TCP sockets (`/proc/net/tcp`) shows it.
//!
//! The side that closes first sends the first FIN. Its end goes to FIN_WAIT1 (until that
//! FIN is acknowledged), FIN_WAIT2 (until the other side's FIN arrives), then TIME_WAIT,
//! for 60 s. The other side's next read returns 0 bytes: its end is in CLOSE_WAIT until
//! it closes too, then in LAST_ACK until its own FIN is acknowledged, then gone.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};

use socket_lab::proc_tcp::{self, State};
use socket_lab::Out;

/// Who sends the first FIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Closer {
    Client,
    Server,
}

/// How long the first closer waits for the other side's FIN. Linux drops an end that
/// waits in FIN_WAIT2 after 60 s (net.ipv4.tcp_fin_timeout) once no program holds it.
const FIN_LIMIT: Duration = Duration::from_secs(70);

/// How long the second closer waits for its FIN to be acknowledged (a moment on
/// loopback).
const ACK_LIMIT: Duration = Duration::from_secs(10);

/// The state of one end of a connection, for a line of output.
pub fn shown(state: Option<State>) -> String {
    match state {
        _ if !proc_tcp::available() => {
            "not visible here (/proc/net/tcp is Linux's)".into()
        }
        Some(state) => state.to_string(),
        None => "gone".into(),
    }
}

/// The state of our end of `conn` now: ESTABLISHED, CLOSE_WAIT, …
pub fn state_now(conn: &TcpStream) -> String {
    let addrs = conn.local_addr().and_then(|l| Ok((l, conn.peer_addr()?)));
    shown(
        addrs
            .ok()
            .and_then(|(local, peer)| proc_tcp::state_of(local, peer)),
    )
}

/// One read from the `other` side, within the read timeout (`--timeout-ms`): data, or 0
/// bytes when the other side's FIN has come.
pub fn read(
    conn: &mut TcpStream,
    buf: &mut [u8],
    out: &Out,
    other: &str,
) -> anyhow::Result<usize> {
    match conn.read(buf) {
        Ok(n) => {
            out.trace_read(buf.len(), &buf[..n]);
            Ok(n)
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            bail!(
                "nothing came from the {other} within --timeout-ms, not even its FIN (do \
                 both sides use the same --close-first?)"
            )
        }
        Err(e) => Err(e).context(format!("reading from the {other}")),
    }
}

/// With `--pause-before-close`: waits for Enter, so that both ends can be looked at
/// first.
pub fn pause(out: &Out, pause: bool) {
    if pause {
        out.line("press Enter to close (meanwhile, look: cargo run --bin lab -- states)");
        // A closed stdin (no terminal, nothing typed) ends the pause at once.
        let _ = std::io::stdin().read_line(&mut String::new());
    }
}

// ANCHOR: close_first
/// Closes first: our FIN goes out, and our end waits for the other side's. Returns the
/// state our end ends in: TIME_WAIT, once the other side has closed too.
pub fn close_first(
    conn: TcpStream,
    out: &Out,
    other: &str,
    pause_first: bool,
) -> Option<State> {
    let (local, peer) = (conn.local_addr().ok()?, conn.peer_addr().ok()?);
    pause(out, pause_first);
    // close(): the program lets go of the socket, but the system keeps our end, which
    // still has a FIN to send and an answer to wait for.
    drop(conn);
    out.line(format!(
        "closed first: our FIN is sent; waiting for the {other}'s FIN"
    ));
    // FIN_WAIT1, FIN_WAIT2: then, when the other side's FIN comes, TIME_WAIT.
    let waiting = [Some(State::FinWait1), Some(State::FinWait2)];
    let state = proc_tcp::wait_for(local, peer, FIN_LIMIT, |s| !waiting.contains(&s));
    if state == Some(State::TimeWait) {
        out.line(
            "our end is TIME_WAIT: we closed first, so the system keeps it for 60 s",
        );
    } else {
        out.line(format!("our end is {}", shown(state)));
    }
    state
}
// ANCHOR_END: close_first

// ANCHOR: close_second
/// Closes second, after a read returned 0 bytes: the other side's FIN has arrived, and
/// our end waits in CLOSE_WAIT for as long as we do not close.
pub fn close_second(conn: TcpStream, out: &Out, other: &str, pause_first: bool) {
    let (Ok(local), Ok(peer)) = (conn.local_addr(), conn.peer_addr()) else {
        return;
    };
    out.line(format!(
        "the {other} closed first (read returned 0 bytes): our end is {}",
        state_now(&conn)
    ));
    pause(out, pause_first);
    // Our FIN: LAST_ACK until the other side acknowledges it, then nothing is left.
    drop(conn);
    let state = proc_tcp::wait_for(local, peer, ACK_LIMIT, |s| s.is_none());
    out.line(format!(
        "closed second: our FIN is sent and acknowledged; our end is {}",
        shown(state)
    ));
}
// ANCHOR_END: close_second
