//! Reading the lines a client sends: typed at a `>>: ` prompt, or piped in by a script.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

/// Whether a `>>: ` prompt is on the screen, waiting for a line. A lock, not just a flag:
/// drawing the prompt and printing above it must not interleave.
static PROMPTING: Mutex<bool> = Mutex::new(false);

/// Prints with `print` from another thread (a chat's receiving thread) while someone may be
/// typing at a `>>: ` prompt: the prompt line is cleared, the text printed, and the prompt
/// drawn again below it. (What was typed so far is still in the terminal's line, and is
/// sent with Enter; only its echo is gone.)
pub fn above_prompt(print: impl FnOnce()) {
    // Held while printing: the prompt cannot be drawn (or taken away) in the middle.
    let guard = PROMPTING.lock().unwrap_or_else(PoisonError::into_inner);
    let prompting = *guard;
    if prompting {
        // Back to the start of the line, and clear it (an ANSI terminal sequence).
        print!("\r\x1b[2K");
    }
    print();
    if prompting {
        print!(">>: ");
        let _ = std::io::stdout().flush();
    }
}

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
            let mut prompting = PROMPTING.lock().unwrap_or_else(PoisonError::into_inner);
            print!(">>: ");
            std::io::stdout().flush()?;
            *prompting = true;
        }
        let mut line = String::new();
        let read = self.stdin.read_line(&mut line);
        *PROMPTING.lock().unwrap_or_else(PoisonError::into_inner) = false;
        if read? == 0 {
            crate::record::event(None, crate::record::Op::InputEnd);
            return Ok(None);
        }
        let trimmed = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(trimmed);
        // With --trace-file, what was typed is recorded too.
        let text = line.clone();
        crate::record::event(None, crate::record::Op::Input { text });
        Ok(Some(line))
    }
}
