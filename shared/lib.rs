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
pub mod socketserver;

/// Lesson 09's TFTP packets (pure codec) and the lock-step of a transfer. The code lives in the
/// lesson's folder; its server, client and relay, and the tests, use it from here.
#[path = "../lessons/09-tftp/packet.rs"]
pub mod tftp;
#[path = "../lessons/09-tftp/transfer.rs"]
pub mod tftp_transfer;

pub use cli::{ColorWhen, Style};
pub use errors::exit_code;
pub use out::{Out, Side};
