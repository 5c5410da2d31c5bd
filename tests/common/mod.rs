//! The test harness: runs the lab's real programs over 127.0.0.1 and checks what they print.
//!
//! - [`Session::start`] starts a server with `--port 0` and waits for its first line,
//!   `listening on HOST:PORT`, to learn the real port: no fixed ports, no sleeps.
//!   [`Session::client`] runs a client against it with scripted stdin; [`Session::finish`]
//!   waits for the server to end by itself (its `--max-clients` bound, say).
//!   [`Session::background`] runs a client while the test goes on, to wait for its lines and
//!   type into it; [`Session::start_on_port`] restarts a server where another one listened.
//! - A finished program is a [`Run`]: the command as a student types it, stdout, stderr, exit
//!   code, and assertions that print what was observed next to what was expected.
//! - [`transcript`] turns runs into what two terminals would show (ports redacted), and
//!   [`assert_transcript`] checks it against `tests/transcripts/NAME.txt`, the very file the
//!   book includes. `UPDATE_TRANSCRIPTS=1 cargo test` rewrites the files; review the diff.
//! - [`skip_without`] skips a test whose program (python3, script, tftp) is missing, visibly,
//!   and fails it when the `CI` variable is set ([`skip`] for any other reason);
//!   [`skip_unless_linux`] skips, visibly, a test of what only Linux shows (its table of TCP
//!   sockets); [`Scratch`] is a folder for a test's files; [`run_demo`] runs `lab demo NN`.
//!
//! Every helper is `#[track_caller]`: a failure points at the test's line, not at this file.
#![allow(dead_code)]

mod peer;
mod programs;
mod support;
mod transcripts;

// Each test file uses its own part of the harness.
#[allow(unused_imports)]
pub use {peer::*, programs::*, support::*, transcripts::*};

/// The default port of a lab program: 9000 + the lesson number.
pub use socket_lab::cli::default_port;
