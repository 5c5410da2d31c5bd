//! Lesson 04's command service, on any command line: a reply every time (never empty),
//! bounded, and never a panic. Built-in commands only: nothing is ever run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_lab::commands::{execute, Policy, MAX_REPLY};

fuzz_target!(|data: &[u8]| {
    let reply = execute(data, &Policy::builtins_only());
    assert!(!reply.is_empty());
    assert!(reply.len() <= MAX_REPLY);
});
