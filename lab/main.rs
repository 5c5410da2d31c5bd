//! `lab` — the program a student runs first: the tour of Socket Lab and the lesson demos.
//!
//!   cargo run --bin lab               every lesson, what it shows, the commands for both terminals
//!   cargo run --bin lab -- demo 02    run lesson 02's server and client together in this terminal
//!
//! It is not a lesson: it lives in `lab/`, next to `lessons/`, and runs the lessons' programs.
//! `lessons.rs` lists the lessons, `tour.rs` prints them, `demo.rs` runs one lesson's demo.

mod demo;
mod lessons;
mod tour;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use socket_lab::Style;

/// The tour of Socket Lab: every lesson and how to run it, or one lesson's demo.
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
    };
    socket_lab::exit_code(result)
}
