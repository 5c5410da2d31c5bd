//! Reading the lines a client sends: typed at a `>>: ` prompt, or piped in by a script.

use std::io::{BufRead, IsTerminal, Write};

/// Lines from stdin. The `>>: ` prompt of the classic course is shown only when a person
/// is typing (stdin is a terminal), so scripted runs and tests print clean transcripts.
pub struct Lines {
    stdin: std::io::StdinLock<'static>,
    prompt: bool,
}

impl Lines {
    pub fn stdin() -> Lines {
        let stdin = std::io::stdin();
        let prompt = stdin.is_terminal();
        Lines {
            stdin: stdin.lock(),
            prompt,
        }
    }

    /// The next line without its line ending, or `None` at the end of input.
    /// Input that is not UTF-8 is an error, not a panic.
    pub fn next_line(&mut self) -> std::io::Result<Option<String>> {
        if self.prompt {
            print!(">>: ");
            std::io::stdout().flush()?;
        }
        let mut line = String::new();
        if self.stdin.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let trimmed = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(trimmed);
        Ok(Some(line))
    }
}
