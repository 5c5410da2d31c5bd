//! The lessons of the lab: what each one shows, how to run it, and its `lab demo` script
//! (the scripts are in `demos.rs`). Every new lesson adds one entry here.

/// One lesson of the tour.
pub struct Lesson {
    /// Two digits: "01".
    pub number: &'static str,
    /// The folder and chapter name: "01-echo".
    pub slug: &'static str,
    pub title: &'static str,
    /// One line: what the lesson makes visible.
    pub shows: &'static str,
    /// What to type in the first and the second terminal.
    pub terminal1: &'static str,
    pub terminal2: &'static str,
    /// What `lab demo NN` runs: every case, or the one `--case` names.
    pub cases: &'static [Case],
}

/// One case of a lesson's demo: the steps that show one thing (`lab demo NN --case NAME`).
pub struct Case {
    pub name: &'static str,
    pub steps: &'static [Step],
}

/// One step: a sentence to say before it (what to watch), what to do, the key lines (a
/// line containing one of them is marked), and a sentence to say after it (what was seen).
/// A step ends when all its programs have ended.
pub struct Step {
    pub title: &'static str,
    pub watch: &'static str,
    pub acts: &'static [Act],
    pub key: &'static [&'static str],
    pub seen: &'static str,
}

/// What a demo step does. `who` names a program in the output ("server", "client 1").
/// Arguments may say `{port}` (the port of the last program started with `Listen`) or
/// `{port:WHO}`. A client is given `--port {port}` unless its arguments choose a port or a
/// peer. Every program of a step runs in a scratch folder of the step's own, deleted
/// afterwards.
pub enum Act {
    /// Start a program that listens (adding `--port 0`) and wait for its first line.
    Listen {
        who: &'static str,
        bin: &'static str,
        args: &'static [&'static str],
    },
    /// Start a program with this typed input, then the end of input (Ctrl-D).
    Run {
        who: &'static str,
        bin: &'static str,
        args: &'static [&'static str],
        input: &'static str,
    },
    /// Start a program whose input is typed later (`Type`, `EndInput`).
    Open {
        who: &'static str,
        bin: &'static str,
        args: &'static [&'static str],
    },
    /// Type a line into a program started with `Open` or `Listen`.
    Type {
        who: &'static str,
        line: &'static str,
    },
    /// End a program's input (Ctrl-D).
    EndInput { who: &'static str },
    /// Wait until the program prints a line containing `text`.
    WaitLine {
        who: &'static str,
        text: &'static str,
    },
    /// Wait until the program has sent (written or sent a datagram) once more.
    WaitSent { who: &'static str },
    /// Wait until the program has ended.
    WaitExit { who: &'static str },
    /// Stop a program that would run forever (lesson 09's relay), once the demo has
    /// waited for what it needed from it.
    Stop { who: &'static str },
    /// Say a sentence to the room, at this point of the step.
    Say { text: &'static str },
    /// Write a file into the step's folder.
    File {
        name: &'static str,
        text: &'static str,
    },
}

impl Act {
    /// The program this act starts, if it starts one.
    pub fn bin(&self) -> Option<&'static str> {
        match self {
            Act::Listen { bin, .. } | Act::Run { bin, .. } | Act::Open { bin, .. } => {
                Some(bin)
            }
            _ => None,
        }
    }
}

use crate::demos;

pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: "01",
        slug: "01-echo",
        title: "Echo",
        shows: "the life of a TCP connection: bind, listen, accept, read, write, close",
        terminal1: "cargo run --bin lesson01-server",
        terminal2: "cargo run --bin lesson01-client -- hello",
        cases: demos::L01,
    },
    Lesson {
        number: "02",
        slug: "02-loops",
        title: "Loops",
        shows: "a connection loop and a communication loop; a client that closes, one that resets",
        terminal1: "cargo run --bin lesson02-server",
        terminal2: "cargo run --bin lesson02-client",
        cases: demos::L02,
    },
    Lesson {
        number: "03",
        slug: "03-recv",
        title: "What recv does",
        shows: "partial reads, a read that waits, 0 bytes at the end, a reset, non-blocking reads and writes",
        terminal1: "cargo run --bin lesson03-server -- --case partial",
        terminal2: "cargo run --bin lesson03-client -- --case partial",
        cases: demos::L03,
    },
    Lesson {
        number: "04",
        slug: "04-sticky",
        title: "Sticky packets",
        shows: "two writes arrive as one read, with or without TCP_NODELAY; a long reply spills into the next",
        terminal1: "cargo run --bin lesson04-server -- --case sender",
        terminal2: "cargo run --bin lesson04-client -- --case sender --trace",
        cases: demos::L04,
    },
    Lesson {
        number: "05",
        slug: "05-fixed-header",
        title: "Fixed-length header",
        shows:
            "a 4-byte length before every message: whole replies however long, bad lengths refused",
        terminal1: "cargo run --bin lesson05-server",
        terminal2: "cargo run --bin lesson05-client",
        cases: demos::L05,
    },
    Lesson {
        number: "06",
        slug: "06-json-header",
        title: "JSON header",
        shows: "a JSON header that describes the body: file transfer with a checksum, and commands",
        terminal1: "cargo run --bin lesson06-server",
        terminal2: "cargo run --bin lesson06-client -- put Cargo.toml",
        cases: demos::L06,
    },
    Lesson {
        number: "07",
        slug: "07-udp",
        title: "UDP",
        shows:
            "datagrams: no connection, boundaries kept, truncation, loss, ICMP errors; two chats",
        terminal1: "cargo run --bin lesson07-server",
        terminal2: "cargo run --bin lesson07-client",
        cases: demos::L07,
    },
    Lesson {
        number: "08",
        slug: "08-threading",
        title: "Threading",
        shows:
            "a thread per client, all answered at once; a socketserver-style module; a group chat",
        terminal1: "cargo run --bin lesson08-server",
        terminal2: "cargo run --bin lesson08-client -- --connections 3",
        cases: demos::L08,
    },
    Lesson {
        number: "09",
        slug: "09-tftp",
        title: "TFTP",
        shows: "a real protocol on UDP: lock-step DATA and ACK, timeouts, duplicates, a new port per transfer",
        terminal1: "cargo run --bin lesson09-server -- --root lessons/09-tftp/files",
        terminal2: "cargo run --bin lesson09-client -- get hello.txt --trace",
        cases: demos::L09,
    },
    Lesson {
        number: "10",
        slug: "10-event-loop",
        title: "The event loop",
        shows: "one thread serves every client: non-blocking sockets, poll, a registry of connections",
        terminal1: "cargo run --bin lesson10-server",
        terminal2: "cargo run --bin lesson08-client -- --connections 3 --port 9010",
        cases: demos::L10,
    },
    Lesson {
        number: "11",
        slug: "11-lifecycle",
        title: "The connection's life",
        shows: "the handshake and the close, each end's state; TIME_WAIT, SO_REUSEADDR; listen(n)",
        terminal1: "cargo run --bin lesson11-server -- --close-first server",
        terminal2: "cargo run --bin lesson11-client -- --close-first server",
        cases: demos::L11,
    },
];
