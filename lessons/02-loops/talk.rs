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
    let text = String::from_utf8_lossy(&bytes);
    // Shown on a terminal: a control character (an escape sequence could clear the
    // screen) is shown escaped, as `\u{1b}`.
    let shown = text
        .trim_end_matches('\r')
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        });
    Ok(Some(shown.collect()))
}

/// Sends one message, with the `\n` that ends it.
pub fn send(conn: &mut impl Write, text: &str) -> std::io::Result<()> {
    conn.write_all(format!("{text}\n").as_bytes())
}
// ANCHOR_END: messages
