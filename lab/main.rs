//! `lab` — the program a student runs first: the tour of Socket Lab, the lesson demos, the
//! exercise checks and a proxy that re-cuts TCP streams.
//!
//!   cargo run --bin lab               every lesson, what it shows, the commands for both terminals
//!   cargo run --bin lab -- demo 02    run lesson 02's server and client together in this terminal
//!   cargo run --bin lab -- check          the exercises, and how far you are
//!   cargo run --bin lab -- check 05.2     build your version of exercise 05.2 and check it
//!   cargo run --bin lab -- proxy --to 127.0.0.1:9005 --chunk 1    one write becomes many reads
//!   cargo run --bin lab -- states     the TCP connections on a port and their states (lesson 11)
//!   cargo run --bin lab -- syn-retries   when a SYN nobody answers is sent again (Linux)
//!   cargo run --bin lab -- addr 192.168.1.10/24    network, broadcast, hosts, the mask
//!   cargo run --bin lab -- resolve localhost       the addresses a name stands for
//!
//! It is not a lesson: it lives in `lab/`, next to `lessons/`, and runs the lessons' programs.
//! `lessons.rs` lists the lessons, `tour.rs` prints them, `demo.rs` runs one lesson's demo,
//! `exercises.rs` lists the exercises (each lesson keeps its own), `check.rs` checks one
//! with the help of `probe.rs`, and `proxy.rs` is the relay; `states.rs` and
//! `syn_retries.rs` read Linux's table of TCP sockets.

// A check's failure is built once and printed: the size of the error type does not matter,
// and a flat struct reads more plainly than a boxed one.
#![allow(clippy::result_large_err)]

mod addr;
mod check;
mod demo;
mod exercises;
mod lessons;
mod probe;
mod proxy;
mod states;
mod syn_retries;
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
    /// Show the TCP connections on a port and the states of their ends, as they change.
    ///
    /// Each connection is one line, the server's end and the client's end side by side,
    /// read from Linux's /proc/net/tcp (what `ss -tan` reads).
    States {
        /// The port to watch: a server's port (default: lesson 11's).
        #[arg(long, default_value_t = 9011)]
        port: u16,
        /// Print the connections once, with their timers, and stop.
        #[arg(long)]
        once: bool,
        /// How often to read the table, in milliseconds. States that last less than this
        /// (SYN_RECV, FIN_WAIT1, LAST_ACK on loopback) are often not seen.
        #[arg(long, value_name = "MS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        interval_ms: u64,
    },
    /// Measure when a SYN that nobody answers is sent again.
    ///
    /// A connect to a listener whose accept queue is full, watched in Linux's /proc/net/tcp
    /// until the system gives up (about two minutes).
    SynRetries {
        /// Stop after this many retransmissions.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        retransmissions: Option<u32>,
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
        Command::States {
            port,
            once,
            interval_ms,
        } => states::run(port, once, std::time::Duration::from_millis(interval_ms)),
        Command::SynRetries { retransmissions } => syn_retries::run(retransmissions),
        Command::Addr { address, other } => {
            addr::describe(&address, other.as_deref()).map(|text| demo::print(&text))
        }
        Command::Resolve { name } => addr::resolve(&name).map(|text| demo::print(&text)),
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
