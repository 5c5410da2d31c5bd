//! The library the lessons share.
//!
//! Only two kinds of code live here: boilerplate that every binary needs (the command-line
//! conventions, coloured output, `--trace`, friendly errors) and what an earlier lesson has
//! already taught. What a lesson teaches stays in that lesson's folder; the `#[path]` lines
//! below only make it reachable for the lessons that come after it, as `socket_lab::…`.

pub mod cli;
pub mod errors;
pub mod input;
pub mod limits;
pub mod out;
/// Lesson 08's server framework, Python's `socketserver` in small named steps.
#[path = "../lessons/08-threading/socketserver.rs"]
pub mod socketserver;
pub mod spawn;

/// Lesson 04's safe remote-command service: built-in commands, no shell, ever.
#[path = "../lessons/04-sticky/commands.rs"]
pub mod commands;
/// Lesson 05's frame: a 4-byte length, then the body; the pure decoder and the read loop.
#[path = "../lessons/05-fixed-header/frame.rs"]
pub mod frame;
/// Lesson 06's JSON header: what a request and a reply say, and how a header travels as a
/// lesson 05 frame.
#[path = "../lessons/06-json-header/json_header.rs"]
pub mod json_header;
/// Lesson 06's body: streamed in chunks, checked by SHA-256, saved under a temporary
/// name.
#[path = "../lessons/06-json-header/transfer.rs"]
pub mod transfer;

pub use cli::{ColorWhen, Style};
pub use errors::exit_code;
pub use out::{Out, Side};
