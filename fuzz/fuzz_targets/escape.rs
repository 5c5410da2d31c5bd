//! The output layer's escape, on any bytes: nothing it returns can command a terminal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_lab::out::{escape, escape_lines};

fuzz_target!(|data: &[u8]| {
    let line = escape(data);
    assert!(!line.chars().any(char::is_control), "{line:?}");
    let lines = escape_lines(data);
    assert!(!lines.chars().any(|c| c.is_control() && c != '\n'), "{lines:?}");
});
