//! `lab` — the program a student runs first: the tour of Socket Lab and the lesson demos.
//!
//!   cargo run --bin lab               every lesson, what it shows, the commands for both terminals
//!   cargo run --bin lab -- demo 02    run lesson 02's server and client together in this terminal
//!   cargo run --bin lab -- addr 192.168.1.10/24    network, broadcast, hosts, the mask
//!   cargo run --bin lab -- resolve localhost       the addresses a name stands for
//!
//! It is not a lesson: it lives in `lab/`, next to `lessons/`, and runs the lessons' programs.
//! `lessons.rs` lists the lessons, `tour.rs` prints them, `demo.rs` runs one lesson's demo.

mod addr;
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
    /// An IPv4 network: its address, broadcast, hosts, and the mask both ways.
    ///
    /// With a second address: is it on the same network?
    Addr {
        /// ADDRESS/PREFIX or ADDRESS/MASK, e.g. 192.168.1.10/24 or
        /// 192.168.1.10/255.255.255.0.
        address: String,
        /// Another IPv4 address: is it in the same network?
        other: Option<String>,
    },
    /// The addresses a name stands for, in the order a client tries them.
    ///
    /// The system's resolver answers: /etc/hosts, then DNS.
    Resolve {
        /// A name (localhost) or an address (127.0.0.1, ::1).
        name: String,
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
        Command::Addr { address, other } => {
            addr::describe(&address, other.as_deref()).map(|text| demo::print(&text))
        }
        Command::Resolve { name } => addr::resolve(&name).map(|text| demo::print(&text)),
    };
    socket_lab::exit_code(result)
}
