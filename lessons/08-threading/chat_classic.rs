//! `lesson08-chat-server --classic`: the same room, spoken in the course's protocol, so
//! that the course's own chat client can join.
//!
//! The course's client sends no name first and no newline ever: each message is one
//! `send` of `NAME说:TEXT` in UTF-8, and a message whose text is `bye` leaves. Without
//! `--classic` such a client never joins: the lab's server waits for a first line, its
//! name, and every message without a `\n` only makes that "name" longer.

use std::io::{ErrorKind, Read};

use socket_lab::errors::is_timeout;
use socket_lab::out::escape;
use socket_lab::socketserver::Request;

use super::{Handler, MAX_LINE};

// ANCHOR: classic
/// One member who speaks the course's protocol.
pub fn handle(member: &mut Handler, req: &mut Request) -> std::io::Result<()> {
    let addr = req.client_address;
    // No name comes first: the member joins at once, known by its address (as in the
    // course's server, which adds every socket it accepts to the room).
    member.enter(req, &addr.to_string())?;

    let mut reader = &req.request;
    let mut buf = [0u8; MAX_LINE];
    loop {
        // One read is one message: the course's framing. Two messages sent close
        // together can arrive in one read (lesson 04); turn-taking humans rarely do.
        let n = match reader.read(&mut buf) {
            Ok(0) => {
                member.how = "connection closed";
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                member.how = "connection reset";
                return Ok(());
            }
            Err(e) if is_timeout(&e) => {
                member.how = "idle: --idle-timeout-ms passed";
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // Shown on terminals (ours, the others'): control characters escaped.
        let message = escape(&buf[..n]);
        // `NAME说:TEXT` ("NAME says: TEXT"): the text decides whether the member leaves.
        // The whole text must be `bye` (the course's `endswith('bye')` also ends
        // "goodbye").
        let text = message
            .split_once("说:")
            .map_or(message.as_str(), |(_, t)| t);
        if text.trim() == "bye" {
            member.how = "said bye";
            member.room.leave(addr, member.how, None, member.out);
            return Ok(());
        }
        member.room.broadcast(addr, &message, member.out);
    }
}
// ANCHOR_END: classic
