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
mod demos;
mod diagram;
mod exercises;
mod lessons;
mod probe;
mod proxy;
mod states;
mod syn_retries;
mod timeline;
mod tour;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use socket_lab::{ColorWhen, Out, Side, Style};

/// The tour of Socket Lab: every lesson and how to run it, a lesson's demo, a diagram of
/// recorded runs, the exercise checks, and a proxy that re-cuts TCP streams.
#[derive(Parser)]
#[command(name = "lab", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Colour the output: auto (a terminal without NO_COLOR), always or never.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN", global = true)]
    color: ColorWhen,

    /// With demo: run every program with --trace (every send and receive shown).
    #[arg(long, global = true)]
    trace: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List the lessons (the default).
    Tour,
    /// Run a lesson's programs together, step by step, for a room.
    ///
    /// Before each step, what to watch; then the programs' lines in the order of cause and
    /// effect (the same in every run), the key lines marked ▶; after it, what was seen.
    Demo {
        /// The lesson number, e.g. 02.
        lesson: String,
        /// Run only this case (each lesson lists its cases when it gets a wrong one).
        #[arg(long, value_name = "NAME")]
        case: Option<String>,
        /// Wait for Enter before each step (talk, then press Enter).
        #[arg(long)]
        step: bool,
        /// Pace the output for a room: a pause between steps and between lines.
        #[arg(long)]
        slow: bool,
    },
    /// Draw a sequence diagram (SVG, on stdout) of programs run with --trace-file.
    ///
    /// Two or three lifelines; writes are arrows, reads are boxes that show which bytes
    /// each read got, in the order of cause and effect.
    Diagram {
        /// One lifeline: its label and the trace file, e.g. client=client.jsonl. Two or
        /// three, left to right.
        #[arg(
            long = "lane",
            value_name = "LABEL=FILE",
            required_unless_present = "syn"
        )]
        lanes: Vec<String>,
        /// Instead: draw a measurement of SYN retries against a full listen queue (a JSON
        /// file, as lesson 08's tests record it).
        #[arg(long, value_name = "FILE", conflicts_with = "lanes")]
        syn: Option<String>,
        /// The diagram's title (for screen readers, and as a tooltip).
        #[arg(long, default_value = "a sequence diagram")]
        title: String,
        /// Also draw the lines that contain TEXT, as notes on their lifeline.
        #[arg(long = "note", value_name = "TEXT")]
        notes: Vec<String>,
        /// Name each datagram by its TFTP packet (lesson 09): DATA block 1, ACK block 1.
        #[arg(long)]
        tftp: bool,
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
    let style = Style {
        color: args.color,
        trace: args.trace,
        trace_file: None,
    };
    style.apply();
    let result = match args.command.unwrap_or(Command::Tour) {
        Command::Tour => {
            tour::print();
            Ok(())
        }
        Command::Demo {
            lesson,
            case,
            step,
            slow,
        } => demo::run(
            &lesson,
            &demo::Options {
                case,
                step,
                slow,
                trace: args.trace,
            },
        ),
        Command::Diagram {
            syn: Some(file),
            title,
            ..
        } => diagram::draw_syn(&file, &title).map(|svg| demo::print(&svg)),
        Command::Diagram {
            lanes,
            syn: None,
            title,
            notes,
            tftp,
        } => diagram::run(&diagram::Options {
            lanes,
            title,
            notes,
            tftp,
        }),
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
        Command::Proxy(proxy) => proxy::run(&proxy, Out::new(Side::Server, &style)),
    };
    socket_lab::exit_code(result)
}
