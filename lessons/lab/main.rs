//! `lab` — the tour of Socket Lab.
//!
//!   cargo run --bin lab               every lesson, what it shows, the commands for both terminals
//!   cargo run --bin lab -- demo 02    run lesson 02's server and client together in this terminal

mod demo;
mod lessons;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use colored::Colorize;
use socket_lab::Style;

use lessons::LESSONS;

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
            tour();
            Ok(())
        }
        Command::Demo { lesson } => demo::run(&lesson),
    };
    socket_lab::exit_code(result)
}

fn tour() {
    use std::fmt::Write as _;
    // Writing to a String cannot fail; the whole tour is then printed at once.
    let mut text = String::new();
    let title = "Socket Lab: TCP and UDP sockets, one runnable lesson at a time";
    let _ = writeln!(text, "{}", title.bold());
    let _ = writeln!(
        text,
        "Each lesson is a server and a client: start the server in one terminal, the client in another."
    );
    let _ = writeln!(text, "The book explains each one: mdbook serve book\n");
    for lesson in LESSONS {
        let _ = writeln!(
            text,
            "{} {}  {}",
            format!("lesson {}", lesson.number).bold(),
            lesson.title.bold(),
            format!("(lessons/{}, book/src/{}.md)", lesson.slug, lesson.slug).dimmed()
        );
        let _ = writeln!(text, "  shows:       {}", lesson.shows);
        let _ = writeln!(text, "  terminal 1:  {}", lesson.terminal1.cyan());
        let _ = writeln!(text, "  terminal 2:  {}", lesson.terminal2.green());
        let _ = writeln!(
            text,
            "  or both:     cargo run --bin lab -- demo {}\n",
            lesson.number
        );
    }
    let _ = writeln!(text, "Run every test: cargo test");
    demo::print(&text);
}
