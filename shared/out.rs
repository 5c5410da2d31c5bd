//! What the binaries print: plain lines coloured by side, and `--trace` lines. With
//! `--trace-file`, every line and every traced call is also recorded (see `record.rs`).

use std::fmt::Display;
use std::io::Write;
use std::net::SocketAddr;

use colored::Colorize;

use crate::record::{self, Conn, Endpoint, Op};
use crate::Style;

/// Which program is talking: server lines and client lines look different at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

/// A printer for one program's stdout.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    side: Side,
    trace: bool,
    /// The connection this printer's lines and traces are about (see [`Out::on`]).
    conn: Option<Conn>,
}

impl Out {
    /// Applies the `--color` choice, remembers `--trace`, and starts the `--trace-file`
    /// record. A trace file that cannot be created ends the program (exit code 1).
    pub fn new(side: Side, style: &Style) -> Out {
        style.apply();
        if let Some(path) = &style.trace_file {
            if let Err(e) = record::start(path) {
                eprintln!(
                    "{} cannot write the trace file {}: {e}. Choose another --trace-file",
                    "error:".red().bold(),
                    path.display()
                );
                std::process::exit(1);
            }
        }
        Out {
            side,
            trace: style.trace,
            conn: None,
        }
    }

    /// The same printer, for what happens on `socket`. It prints exactly the same; with
    /// `--trace-file` it also files every line and every traced call under this
    /// connection, so that `lab` can match a read with the write it came from.
    pub fn on(&self, socket: &impl Endpoint) -> Out {
        let conn = socket.conn();
        if let Some(conn) = conn {
            record::open(conn);
        }
        Out { conn, ..*self }
    }

    /// Records `op` (with `--trace-file`) without printing anything.
    pub fn record(&self, op: Op) {
        record::event(self.conn, op);
    }

    /// Prints one line in this side's colour. Each line is flushed at once, so a program
    /// reading our output (a test, `lab demo`) sees it as soon as it happens.
    pub fn line(&self, text: impl Display) {
        let text = text.to_string();
        let painted = match self.side {
            Side::Server => text.cyan(),
            Side::Client => text.green(),
        };
        record::event_then(self.conn, Op::Line { text }, || {
            let mut stdout = std::io::stdout().lock();
            // A closed stdout (e.g. piped into `head`) must not crash the program.
            let _ = writeln!(stdout, "{painted}");
            let _ = stdout.flush();
        });
    }

    /// The first line every server prints: where it really listens (the real port, also
    /// when `--port 0` let the system pick one). Never coloured: scripts and tests read
    /// it.
    pub fn listening(&self, addr: SocketAddr) {
        let text = format!("listening on {addr}");
        record::event_then(self.conn, Op::Line { text: text.clone() }, || {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
        });
    }

    /// Whether `--trace` is on.
    pub fn tracing(&self) -> bool {
        self.trace
    }

    /// A `--trace` line (only printed with `--trace`), dimmed and marked with `·`.
    pub fn trace(&self, text: impl Display) {
        if self.trace {
            self.line(format!("  · {text}").dimmed());
        }
    }

    /// Traces a `read` into a buffer of `asked` bytes that returned `got`.
    ///
    /// This and the other `trace_` calls below run on every read and write, thousands of
    /// times a second in a busy server: the line is formatted only with `--trace` (and
    /// the record's bytes only with `--trace-file`, see `Op::read`).
    pub fn trace_read(&self, asked: usize, got: &[u8]) {
        self.record(Op::read(asked, got));
        if self.trace {
            let line = format!(
                "read(buf of {asked}) -> {} {}",
                plural(got.len(), "byte"),
                preview(got)
            );
            self.trace(line.trim_end());
        }
    }

    /// Traces a `write_all` of `bytes`.
    pub fn trace_write(&self, bytes: &[u8]) {
        self.record(Op::write(bytes));
        self.show_write(bytes);
    }

    /// Shows (with `--trace`) a `write_all` of `bytes` without recording it: for bytes
    /// recorded already where they took their place in the stream (lesson 08's chat
    /// queues lines, and a sending thread writes them later, several at once).
    pub fn show_write(&self, bytes: &[u8]) {
        if self.trace {
            let size = plural(bytes.len(), "byte");
            self.trace(format!("write_all({size}) {}", preview(bytes)));
        }
    }

    /// Traces a `read` into a buffer of `asked` bytes that failed.
    pub fn trace_read_failed(&self, asked: usize, error: &std::io::Error) {
        self.record(Op::read_failed(asked, error));
        self.trace(format!(
            "read(buf of {asked}) -> error {}",
            record::error_name(error)
        ));
    }

    /// Traces a `shutdown(Write)`: we send no more (a FIN), and go on reading.
    pub fn trace_shutdown(&self) {
        self.record(Op::Shutdown);
        self.trace("shutdown(Write): no more sending; reading goes on");
    }

    /// Traces a close: the socket is let go of, and our FIN goes out.
    pub fn trace_close(&self) {
        self.record(Op::Close);
        self.trace("close(): our FIN goes out; no more reading or writing");
    }

    /// Traces a `send_to` of `bytes` to `to` that sent `sent` bytes.
    pub fn trace_send_to(&self, to: SocketAddr, bytes: &[u8], sent: usize) {
        self.record(Op::send_to(to, &bytes[..sent.min(bytes.len())]));
        if self.trace {
            let line = format!(
                "send_to({}, {to}) -> {} {}",
                plural(bytes.len(), "byte"),
                plural(sent, "byte"),
                preview(bytes)
            );
            self.trace(line.trim_end());
        }
    }

    /// Traces a `recv_from` into a buffer of `asked` bytes that got `got` from `from`.
    pub fn trace_recv_from(&self, asked: usize, got: &[u8], from: SocketAddr) {
        self.record(Op::recv_from(from, asked, got));
        if self.trace {
            let line = format!(
                "recv_from(buf of {asked}) -> {} from {from} {}",
                plural(got.len(), "byte"),
                preview(got)
            );
            self.trace(line.trim_end());
        }
    }
}

/// `1 byte`, `5 bytes`.
pub fn plural(n: usize, unit: &str) -> String {
    if n == 1 {
        format!("{n} {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

// ANCHOR: escape
/// Bytes a peer sent, as they may be shown on ONE line of a terminal.
///
/// Printed raw, a peer's bytes can command the terminal: an escape sequence (`ESC [2J`)
/// clears or recolours the screen, a `\r` sends the cursor back to overwrite the start of
/// the line, a `\n` starts a line that looks like one of ours. So every control character
/// is shown as an escape — `\e`, `\r`, `\n`, `\t`, `\0`, `\x07` — and so is every byte
/// that is not UTF-8 (`\xff`). Text in any language is shown as it is. This is for the
/// eyes, not a reversible encoding: a `\` the peer sent is shown as it is.
pub fn escape(bytes: &[u8]) -> String {
    let mut shown = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\x1b' => shown.push_str("\\e"),
                '\r' => shown.push_str("\\r"),
                '\n' => shown.push_str("\\n"),
                '\t' => shown.push_str("\\t"),
                '\0' => shown.push_str("\\0"),
                c if c.is_ascii_control() => {
                    shown.push_str(&format!("\\x{:02x}", c as u8))
                }
                c if commands_the_terminal(c) => {
                    shown.push_str(&format!("\\u{{{:x}}}", c as u32))
                }
                c => shown.push(c),
            }
        }
        for byte in chunk.invalid() {
            shown.push_str(&format!("\\x{byte:02x}"));
        }
    }
    shown
}

/// Text from a peer that is MEANT to have several lines (a command's output): each line
/// shown as [`escape`] shows it, the line breaks kept — `\n`, or Windows' `\r\n`. A `\r`
/// anywhere else is shown escaped: it could overwrite the line.
pub fn escape_lines(bytes: &[u8]) -> String {
    let line = |l: &[u8]| escape(l.strip_suffix(b"\r").unwrap_or(l));
    let lines: Vec<String> = bytes.split(|&b| b == b'\n').map(line).collect();
    lines.join("\n")
}

/// Characters beyond ASCII that a terminal obeys instead of showing: the C1 controls
/// (`\u{9b}` starts an escape sequence on some terminals) and the marks that reverse the
/// direction of text (they can make a line read differently from what it holds).
fn commands_the_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
// ANCHOR_END: escape

/// How many bytes of a message a trace line shows before it cuts.
const PREVIEW_BYTES: usize = 48;

/// Shows bytes the way a learner can read them: text as an escaped string, anything else
/// (a binary length header, for instance) as hex. Long data is cut after a few dozen
/// bytes.
pub fn preview(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let shown = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    let rest = bytes.len() - shown.len();
    let more = if rest > 0 {
        format!(" … (+{rest} more)")
    } else {
        String::new()
    };
    match std::str::from_utf8(shown) {
        Ok(text)
            if text
                .chars()
                .all(|c| !c.is_control() || "\n\r\t".contains(c)) =>
        {
            format!("{:?}{more}", text)
        }
        _ => {
            let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
            format!("[{}]{more}", hex.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_shown_as_an_escaped_string() {
        assert_eq!(preview(b"hello\n"), r#""hello\n""#);
    }

    #[test]
    fn binary_is_shown_as_hex() {
        assert_eq!(preview(&[0, 0, 0, 5]), "[00 00 00 05]");
    }

    #[test]
    fn long_data_is_cut() {
        let long = vec![b'a'; 50];
        assert_eq!(preview(&long), format!("{:?} … (+2 more)", "a".repeat(48)));
    }

    #[test]
    fn control_characters_and_bytes_that_are_not_utf8_are_shown_escaped() {
        assert_eq!(escape(b"hi\r* bob left"), r"hi\r* bob left");
        assert_eq!(escape(b"\x1b[2Jred\x07\t\0\n"), r"\e[2Jred\x07\t\0\n");
        assert_eq!(escape(b"\xff\xfeok\x7f"), r"\xff\xfeok\x7f");
        assert_eq!(
            escape("报告 \u{9b}2J \u{202e}txt".as_bytes()),
            r"报告 \u{9b}2J \u{202e}txt"
        );
        assert_eq!(escape(br"C:\dir"), r"C:\dir");
    }

    #[test]
    fn text_of_several_lines_keeps_its_line_breaks_only() {
        // Windows' `\r\n` ends a line; a `\r` in the middle could overwrite it: escaped.
        assert_eq!(
            escape_lines(b"1\n2\r\n\x1b[31m3\rx\n"),
            "1\n2\n\\e[31m3\\rx\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn escaped_bytes_never_reach_the_terminal_as_controls(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let line = escape(&bytes);
            proptest::prop_assert!(!line.chars().any(commands_the_terminal), "{line:?}");
            let lines = escape_lines(&bytes);
            let kept = lines.chars().filter(|&c| c != '\n');
            proptest::prop_assert!(!kept.clone().any(commands_the_terminal), "{lines:?}");
            // Plain printable ASCII comes through as it is.
            if bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
                proptest::prop_assert_eq!(line.as_bytes(), &bytes[..]);
            }
        }
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(plural(1, "byte"), "1 byte");
        assert_eq!(plural(0, "byte"), "0 bytes");
    }
}
