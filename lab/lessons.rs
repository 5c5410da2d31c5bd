//! The lessons of the lab: what each one shows, how to run it, and its `lab demo` script.
//! Every new lesson adds one entry here.

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
    /// What `lab demo NN` runs.
    pub demo: Demo,
}

/// A server and the clients run against it, one after another, in one terminal.
pub struct Demo {
    pub server: &'static str,
    /// Server arguments; the lab adds `--port 0`. They must make the server end by
    /// itself.
    pub server_args: &'static [&'static str],
    /// A program between the clients and the server (lesson 09's lossy relay), if any.
    pub relay: Option<Relay>,
    pub clients: &'static [Client],
}

/// A relay: started after the server, with `--to 127.0.0.1:PORT` (the server's real port) and
/// `--port 0`; the clients are sent to the relay's port. It is stopped when the server ends.
pub struct Relay {
    pub bin: &'static str,
    pub args: &'static [&'static str],
}

/// One client run of a demo: the lab adds `--port` with the server's real port.
pub struct Client {
    pub bin: &'static str,
    pub args: &'static [&'static str],
    /// What is typed into the client (sent to its stdin, then closed).
    pub stdin: &'static str,
}

pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: "01",
        slug: "01-echo",
        title: "Echo",
        shows: "the life of a TCP connection: bind, listen, accept, read, write, close",
        terminal1: "cargo run --bin lesson01-server",
        terminal2: "cargo run --bin lesson01-client -- hello",
        demo: Demo {
            server: "lesson01-server",
            server_args: &["--trace"],
            relay: None,
            clients: &[Client {
                bin: "lesson01-client",
                args: &["--trace", "hello"],
                stdin: "",
            }],
        },
    },
    Lesson {
        number: "02",
        slug: "02-loops",
        title: "Loops",
        shows: "a connection loop and a communication loop; a client that closes, one that resets",
        terminal1: "cargo run --bin lesson02-server",
        terminal2: "cargo run --bin lesson02-client",
        demo: Demo {
            server: "lesson02-server",
            server_args: &["--max-clients", "2"],
            relay: None,
            clients: &[
                Client {
                    bin: "lesson02-client",
                    args: &[],
                    stdin: "hello\n\nhow are you?\nexit\n",
                },
                Client {
                    bin: "lesson02-client",
                    args: &["--reset"],
                    stdin: "second client\n",
                },
            ],
        },
    },
    Lesson {
        number: "03",
        slug: "03-recv",
        title: "What recv does",
        shows: "partial reads, a read that waits, 0 bytes at the end, a reset, non-blocking reads and writes",
        terminal1: "cargo run --bin lesson03-server -- --case partial",
        terminal2: "cargo run --bin lesson03-client -- --case partial",
        demo: Demo {
            server: "lesson03-server",
            server_args: &["--case", "partial"],
            relay: None,
            clients: &[Client {
                bin: "lesson03-client",
                args: &["--case", "partial"],
                stdin: "",
            }],
        },
    },
    Lesson {
        number: "04",
        slug: "04-sticky",
        title: "Sticky packets",
        shows: "two writes arrive as one read, with or without TCP_NODELAY; a long reply spills into the next",
        terminal1: "cargo run --bin lesson04-server -- --case sender",
        terminal2: "cargo run --bin lesson04-client -- --case sender --trace",
        demo: Demo {
            server: "lesson04-server",
            server_args: &["--case", "sender", "--max-clients", "2", "--trace"],
            relay: None,
            clients: &[
                Client {
                    bin: "lesson04-client",
                    args: &["--case", "sender", "--trace"],
                    stdin: "",
                },
                Client {
                    bin: "lesson04-client",
                    args: &["--case", "sender", "--nodelay", "--trace"],
                    stdin: "",
                },
            ],
        },
    },
    Lesson {
        number: "05",
        slug: "05-fixed-header",
        title: "Fixed-length header",
        shows:
            "a 4-byte length before every message: whole replies however long, bad lengths refused",
        terminal1: "cargo run --bin lesson05-server",
        terminal2: "cargo run --bin lesson05-client",
        demo: Demo {
            server: "lesson05-server",
            server_args: &["--max-clients", "2"],
            relay: None,
            clients: &[
                Client {
                    bin: "lesson05-client",
                    args: &["--head", "3"],
                    stdin: "seq 1000\nseq 3\n",
                },
                Client {
                    bin: "lesson05-client",
                    args: &["--byte-order", "native"],
                    stdin: "seq 3\n",
                },
            ],
        },
    },
    Lesson {
        number: "06",
        slug: "06-json-header",
        title: "JSON header",
        shows: "a JSON header that describes the body: file transfer with a checksum, and commands",
        terminal1: "cargo run --bin lesson06-server",
        terminal2: "cargo run --bin lesson06-client -- put Cargo.toml",
        demo: Demo {
            server: "lesson06-server",
            server_args: &["--root", "target/lesson06-demo", "--max-clients", "3"],
            relay: None,
            clients: &[
                Client {
                    bin: "lesson06-client",
                    args: &["put", "Cargo.toml"],
                    stdin: "",
                },
                Client {
                    bin: "lesson06-client",
                    args: &[
                        "get",
                        "Cargo.toml",
                        "--out",
                        "target/lesson06-demo-downloads",
                    ],
                    stdin: "",
                },
                Client {
                    bin: "lesson06-client",
                    args: &["--trace", "run"],
                    stdin: "echo hello\nseq 3\n",
                },
            ],
        },
    },
    Lesson {
        number: "07",
        slug: "07-udp",
        title: "UDP",
        shows:
            "datagrams: no connection, boundaries kept, truncation, loss, ICMP errors; two chats",
        terminal1: "cargo run --bin lesson07-server",
        terminal2: "cargo run --bin lesson07-client",
        demo: Demo {
            server: "lesson07-server",
            server_args: &["--max-datagrams", "2"],
            relay: None,
            clients: &[
                Client {
                    bin: "lesson07-client",
                    args: &[],
                    stdin: "hello\nhow are you?\n",
                },
                Client {
                    bin: "lesson07-client",
                    args: &["--case", "connected-refused"],
                    stdin: "",
                },
                Client {
                    bin: "lesson07-client",
                    args: &["--case", "unconnected-timeout", "--timeout-ms", "500"],
                    stdin: "",
                },
            ],
        },
    },
    Lesson {
        number: "08",
        slug: "08-threading",
        title: "Threading",
        shows:
            "a thread per client, all answered at once; a socketserver-style module; a group chat",
        terminal1: "cargo run --bin lesson08-server",
        terminal2: "cargo run --bin lesson08-client -- --connections 3",
        demo: Demo {
            server: "lesson08-server",
            server_args: &["--max-clients", "3"],
            relay: None,
            clients: &[Client {
                bin: "lesson08-client",
                args: &["--connections", "3"],
                stdin: "hello\nhow are you?\n",
            }],
        },
    },
    Lesson {
        number: "09",
        slug: "09-tftp",
        title: "TFTP",
        shows: "a real protocol on UDP: lock-step DATA and ACK, timeouts, duplicates, a new port per transfer",
        terminal1: "cargo run --bin lesson09-server -- --root lessons/09-tftp/files",
        terminal2: "cargo run --bin lesson09-client -- get hello.txt --trace",
        demo: Demo {
            server: "lesson09-server",
            server_args: &[
                "--root",
                "lessons/09-tftp/files",
                "--max-requests",
                "1",
                "--timeout-ms",
                "500",
            ],
            relay: Some(Relay {
                bin: "lesson09-relay",
                args: &["--drop-every", "3"],
            }),
            clients: &[Client {
                bin: "lesson09-client",
                args: &[
                    "get",
                    "hello.txt",
                    "--out",
                    "target/lesson09-demo",
                    "--force",
                    "--timeout-ms",
                    "5000",
                    "--trace",
                ],
                stdin: "",
            }],
        },
    },
    Lesson {
        number: "10",
        slug: "10-event-loop",
        title: "The event loop",
        shows: "one thread serves every client: non-blocking sockets, poll, a registry of connections",
        terminal1: "cargo run --bin lesson10-server",
        terminal2: "cargo run --bin lesson08-client -- --connections 3 --port 9010",
        demo: Demo {
            server: "lesson10-server",
            server_args: &["--max-clients", "4"],
            relay: None,
            clients: &[
                Client {
                    bin: "lesson08-client",
                    args: &["--connections", "3"],
                    stdin: "hello\nhow are you?\n",
                },
                Client {
                    bin: "lesson10-client",
                    args: &["--connections", "1", "--rounds", "3"],
                    stdin: "",
                },
            ],
        },
    },
    Lesson {
        number: "11",
        slug: "11-lifecycle",
        title: "The connection's life",
        shows: "the handshake and the close, each end's state; TIME_WAIT, SO_REUSEADDR; listen(n)",
        terminal1: "cargo run --bin lesson11-server -- --close-first server",
        terminal2: "cargo run --bin lesson11-client -- --close-first server",
        demo: Demo {
            server: "lesson11-server",
            server_args: &["--close-first", "server", "--max-clients", "1"],
            relay: None,
            clients: &[Client {
                bin: "lesson11-client",
                args: &["--close-first", "server"],
                stdin: "",
            }],
        },
    },
];
