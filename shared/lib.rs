//! The library the lessons share.
//!
//! Only two kinds of code live here: boilerplate that every binary needs (the command-line
//! conventions, coloured output, `--trace`, friendly errors) and what an earlier lesson has
//! already taught. The socket calls a chapter talks about stay in that lesson's own files.

pub mod cli;
pub mod commands;
pub mod errors;
pub mod framing;
pub mod input;
pub mod json_header;
pub mod out;
/// Lesson 08's server framework, Python's `socketserver` in small named steps.
#[path = "../lessons/08-threading/socketserver.rs"]
pub mod socketserver;

pub use cli::{ColorWhen, Style};
pub use errors::exit_code;
pub use out::{Out, Side};
