//! `lab` — the program a student runs first: the tour of Socket Lab and the lesson demos.
//!
//!   cargo run --bin lab               every lesson, what it shows, the commands for both terminals
//!   cargo run --bin lab -- demo 02    run lesson 02's server and client together in this terminal
//!
//! It is not a lesson: it lives in `lab/`, next to `lessons/`, and runs the lessons' programs.
//! `lessons.rs` lists the lessons, `tour.rs` prints them, `demo.rs` runs one lesson's demo.

mod demo;
mod demos;
mod diagram;
mod lessons;
mod timeline;
mod tour;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use socket_lab::{ColorWhen, Style};

/// The tour of Socket Lab: every lesson and how to run it, one lesson's demo, or a diagram
/// of recorded runs.
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
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    Style {
        color: args.color,
        trace: args.trace,
        trace_file: None,
    }
    .apply();
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
        } => diagram::run(&diagram::Options {
            lanes,
            title,
            notes,
        }),
    };
    socket_lab::exit_code(result)
}
