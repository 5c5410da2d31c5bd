//! The 1:1 chat's messages: one line of text each, at most [`MAX_LINE`] bytes, ending in
//! `\n`. Used by `lesson02-chat-server` and `lesson02-chat-client`.

use std::io::{BufRead, ErrorKind, Read, Write};
use std::time::Duration;

/// The longest message, in bytes: a longer one is refused before it can fill memory.
pub const MAX_LINE: usize = 1024;

/// How long one side waits for the other to answer before it gives up.
pub const PATIENCE: Duration = Duration::from_secs(600);

// ANCHOR: messages
/// The other side's next message, or `None` when they closed the connection. The `\n`
/// marks where a message ends: TCP itself keeps no boundaries (lesson 04).
pub fn receive(conn: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut bytes = Vec::new();
    // `take` bounds the read: a peer that never sends `\n` cannot grow `bytes` forever.
    conn.by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut bytes)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.pop() != Some(b'\n') {
        let why = format!("a message longer than {MAX_LINE} bytes, or cut off");
        return Err(std::io::Error::new(ErrorKind::InvalidData, why));
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    // Shown on a terminal: a control byte (an escape sequence could clear the screen) is
    // shown escaped, as `\e`, never obeyed.
    Ok(Some(socket_lab::out::escape(&bytes)))
}

/// Sends one message, with the `\n` that ends it.
pub fn send(conn: &mut impl Write, text: &str) -> std::io::Result<()> {
    conn.write_all(format!("{text}\n").as_bytes())
}
// ANCHOR_END: messages
