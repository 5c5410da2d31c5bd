//! The library the lessons share.
//!
//! Only two kinds of code live here: boilerplate that every binary needs (the command-line
//! conventions, coloured output, `--trace`, friendly errors) and what an earlier lesson has
//! already taught. What a lesson teaches stays in that lesson's folder; the `#[path]` lines
//! below only make it reachable for the lessons that come after it, as `socket_lab::…`.

pub mod cli;
pub mod encoding;
pub mod errors;
pub mod input;
/// Lesson 08's limits: the open-file limit, a cap on connections, backing off when
/// `accept` fails.
#[path = "../lessons/08-threading/limits.rs"]
pub mod limits;
pub mod out;
/// Lesson 11's window on the kernel: Linux's table of TCP sockets (`/proc/net/tcp`), the
/// state of each end of a connection (`lab states`), and what holds a port (the "address
/// in use" error).
#[path = "../lessons/11-lifecycle/proc_tcp.rs"]
pub mod proc_tcp;
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

/// Lesson 09's TFTP packets (pure codec) and the lock-step of a transfer. The code lives in the
/// lesson's folder; its server, client and relay, and the tests, use it from here.
#[path = "../lessons/09-tftp/packet.rs"]
pub mod tftp;
#[path = "../lessons/09-tftp/transfer.rs"]
pub mod tftp_transfer;

pub use cli::{ColorWhen, Style};
pub use errors::exit_code;
pub use out::{Out, Side};
