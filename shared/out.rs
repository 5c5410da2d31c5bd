//! What the binaries print: plain lines coloured by side, and `--trace` lines.

use std::fmt::Display;
use std::io::Write;
use std::net::SocketAddr;

use colored::Colorize;

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
}

impl Out {
    /// Applies the `--color` choice and remembers `--trace`.
    pub fn new(side: Side, style: &Style) -> Out {
        style.apply();
        Out {
            side,
            trace: style.trace,
        }
    }

    /// Prints one line in this side's colour. Each line is flushed at once, so a program
    /// reading our output (a test, `lab demo`) sees it as soon as it happens.
    pub fn line(&self, text: impl Display) {
        let text = text.to_string();
        let painted = match self.side {
            Side::Server => text.cyan(),
            Side::Client => text.green(),
        };
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. piped into `head`) must not crash the program.
        let _ = writeln!(stdout, "{painted}");
        let _ = stdout.flush();
    }

    /// The first line every server prints: where it really listens (the real port, also
    /// when `--port 0` let the system pick one). Never coloured: scripts and tests read
    /// it.
    pub fn listening(&self, addr: SocketAddr) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {addr}");
        let _ = stdout.flush();
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
    pub fn trace_read(&self, asked: usize, got: &[u8]) {
        let line = format!(
            "read(buf of {asked}) -> {} {}",
            plural(got.len(), "byte"),
            preview(got)
        );
        self.trace(line.trim_end());
    }

    /// Traces a `write_all` of `bytes`.
    pub fn trace_write(&self, bytes: &[u8]) {
        self.trace(format!(
            "write_all({}) {}",
            plural(bytes.len(), "byte"),
            preview(bytes)
        ));
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
    fn sizes_read_naturally() {
        assert_eq!(plural(1, "byte"), "1 byte");
        assert_eq!(plural(0, "byte"), "0 bytes");
    }
}
