//! `lab` — the program a student runs first: the tour of Socket Lab, the lesson demos, the
//! exercise checks and a proxy that re-cuts TCP streams.
//!
//!   cargo run --bin lab                   every lesson, what it shows, the commands for both terminals
//!   cargo run --bin lab -- demo 02        run lesson 02's server and client together in this terminal
//!   cargo run --bin lab -- check          the exercises, and how far you are
//!   cargo run --bin lab -- check 05.2     build your version of exercise 05.2 and check it
//!   cargo run --bin lab -- proxy --to 127.0.0.1:9005 --chunk 1    one write becomes many reads
//!
//! It is not a lesson: it lives in `lab/`, next to `lessons/`, and runs the lessons' programs.
//! `lessons.rs` lists the lessons, `tour.rs` prints them, `demo.rs` runs one lesson's demo,
//! `exercises.rs` lists the exercises (each lesson keeps its own), `check.rs` checks one
//! with the help of `probe.rs`, and `proxy.rs` is the relay.

// A check's failure is built once and printed: the size of the error type does not matter,
// and a flat struct reads more plainly than a boxed one.
#![allow(clippy::result_large_err)]

mod check;
mod demo;
mod exercises;
mod lessons;
mod probe;
mod proxy;
mod tour;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use socket_lab::{Out, Side, Style};

/// The tour of Socket Lab: every lesson and how to run it, a lesson's demo, the exercise
/// checks, and a proxy that re-cuts TCP streams.
#[derive(Parser)]
#[command(name = "lab", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    style: Style,
}

#[derive(Subcommand)]
enum Command {
    /// List the lessons (the default).
    Tour,
    /// Run a lesson's server and client(s) together, their lines interleaved, and stop.
    Demo {
        /// The lesson number, e.g. 02.
        lesson: String,
    },
    /// List the exercises and how far you are, or build and check one (e.g. `check 05.2`).
    Check(check::Args),
    /// Relay TCP connections to a server, cutting the byte stream as you ask, and print
    /// every piece.
    Proxy(proxy::Args),
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.style.apply();
    let result = match args.command.unwrap_or(Command::Tour) {
        Command::Tour => {
            tour::print();
            Ok(())
        }
        Command::Demo { lesson } => demo::run(&lesson),
        // A check that fails has printed its screen: exit code 1, no error line.
        Command::Check(check) => match check::run(&check) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Proxy(proxy) => proxy::run(&proxy, Out::new(Side::Server, &args.style)),
    };
    socket_lab::exit_code(result)
}
