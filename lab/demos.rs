//! The script of every lesson's demo: its cases, and the steps of each case. A step says
//! what to watch, runs the lesson's programs (see `Act` in `lessons.rs`), names its key
//! lines and says what was seen. `lab demo` checks that each key line really appeared.

use crate::lessons::{Act, Case, Step};

use Act::*;

pub const L01: &[Case] = &[Case {
    name: "echo",
    steps: &[
        Step {
            title: "one message, upper-cased",
            watch: "the client connects and writes `hello` once; the server reads it, writes it \
                    back upper-cased, and exits: there is no loop yet.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson01-server",
                    args: &[],
                },
                Run {
                    who: "client",
                    bin: "lesson01-client",
                    args: &["hello"],
                    input: "",
                },
            ],
            key: &["received: hello", "HELLO"],
            seen: "one connection, one read, one write, one reply: then the server is gone.",
        },
        Step {
            title: "nobody listening",
            watch: "the server has exited; a client tries the same address again.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson01-server",
                    args: &[],
                },
                Run {
                    who: "client 1",
                    bin: "lesson01-client",
                    args: &["hello"],
                    input: "",
                },
                WaitExit { who: "server" },
                Run {
                    who: "client 2",
                    bin: "lesson01-client",
                    args: &["hello again"],
                    input: "",
                },
            ],
            key: &["connection refused"],
            seen: "TCP needs a listener before anyone can connect: the refusal came at once, \
                   with the command that starts the server.",
        },
    ],
}];

pub const L02: &[Case] = &[
    Case {
        name: "loop",
        steps: &[Step {
            title: "a communication loop",
            watch: "the client sends one line at a time; the server answers each one, until the \
                    client leaves. An empty line is not sent at all.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson02-server",
                    args: &["--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson02-client",
                    args: &[],
                    input: "hello\n\nhow are you?\nexit\n",
                },
            ],
            key: &["read returned 0 bytes"],
            seen: "the loop ran once per line; the client's orderly close reached the server as \
                   a read of 0 bytes, its signal to stop.",
        }],
    },
    Case {
        name: "one-at-a-time",
        steps: &[Step {
            title: "the second client waits",
            watch: "client 1 connects and is answered, and stays. Client 2 connects and types: \
                    does it get a reply while client 1 is still there?",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson02-server",
                    args: &["--max-clients", "2"],
                },
                Open {
                    who: "client 1",
                    bin: "lesson02-client",
                    args: &[],
                },
                Type {
                    who: "client 1",
                    line: "hello",
                },
                WaitLine {
                    who: "client 1",
                    text: "HELLO",
                },
                Open {
                    who: "client 2",
                    bin: "lesson02-client",
                    args: &[],
                },
                Type {
                    who: "client 2",
                    line: "anyone there?",
                },
                WaitSent { who: "client 2" },
                Say {
                    text: "client 2 is connected (the system did the handshake) and has sent its \
                           line, but the server is still in client 1's loop: no reply. Now client \
                           1 leaves.",
                },
                EndInput { who: "client 1" },
                WaitLine {
                    who: "client 2",
                    text: "ANYONE THERE?",
                },
                EndInput { who: "client 2" },
            ],
            key: &["ANYONE THERE?"],
            seen: "client 2's reply came only after client 1 left: this server talks to one \
                   client at a time (lesson 08 fixes that).",
        }],
    },
    Case {
        name: "reset",
        steps: &[Step {
            title: "a client that resets",
            watch: "this client leaves with a reset (SO_LINGER 0) instead of an orderly close.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson02-server",
                    args: &["--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson02-client",
                    args: &["--reset"],
                    input: "bye for now\n",
                },
            ],
            key: &["ECONNRESET"],
            seen: "a reset is not 0 bytes: the server's read failed with ECONNRESET, and the \
                   server went on.",
        }],
    },
    Case {
        name: "naive",
        steps: &[Step {
            title: "the loop that never checks for 0 bytes",
            watch: "the course's first loop: after the client leaves, every read returns 0 \
                    bytes at once.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson02-server",
                    args: &["--naive", "--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson02-client",
                    args: &[],
                    input: "hello\n",
                },
            ],
            key: &["received 0 bytes"],
            seen: "the loop spun on empty reads (stopped here after 5; the original never \
                   stops): 0 bytes means the peer closed, so stop reading.",
        }],
    },
];

/// A case that is one step: the server and one client, both with `--case CASE` (lessons
/// 03 and 07).
macro_rules! same_case {
    ($server:literal, $client:literal, $case:literal, $title:literal, $watch:literal,
     $key:expr, $seen:literal) => {
        Case {
            name: $case,
            steps: &[Step {
                title: $title,
                watch: $watch,
                acts: &[
                    Listen {
                        who: "server",
                        bin: $server,
                        args: &["--case", $case],
                    },
                    Run {
                        who: "client",
                        bin: $client,
                        args: &["--case", $case],
                        input: "",
                    },
                ],
                key: $key,
                seen: $seen,
            }],
        }
    };
}

/// Lesson 03: one step per case.
macro_rules! recv_case {
    ($case:literal, $title:literal, $watch:literal, $key:expr, $seen:literal) => {
        same_case!(
            "lesson03-server",
            "lesson03-client",
            $case,
            $title,
            $watch,
            $key,
            $seen
        )
    };
}

pub const L03: &[Case] = &[
    recv_case!(
        "partial",
        "a read takes at most what you ask",
        "the client writes `hello` once; the server reads with a 2-byte buffer, three times.",
        &[r#"read(2) -> 1 byte "o""#],
        "he, ll, o: each read took what was there, up to its size; the rest waited."
    ),
    recv_case!(
        "blocking",
        "a read with nothing to read waits",
        "the client sends nothing until asked; the server's read waits, with a 200 ms timeout.",
        &["the read waited"],
        "the read waited until its timeout; the connection was still fine afterwards."
    ),
    recv_case!(
        "eof",
        "0 bytes: the end, every time",
        "the client sends `bye` and closes; the server keeps reading.",
        &["0 bytes: the peer has closed"],
        "after the data, every read returned 0 bytes at once: 0 means closed, never `not yet`."
    ),
    recv_case!(
        "reset",
        "closing with unread data resets",
        "the client reads 4 of the server's 32 bytes, sends its last words and closes.",
        &["ECONNRESET", "EPIPE"],
        "its last words arrived, then the reset: ECONNRESET once, then 0, and a write got EPIPE."
    ),
    recv_case!(
        "linger",
        "SO_LINGER 0 resets on purpose",
        "the client reads everything, then closes with SO_LINGER 0.",
        &["ECONNRESET"],
        "the same reset as with unread data, this time asked for."
    ),
    recv_case!(
        "write-reset",
        "a write after a reset",
        "the client resets the connection; the server waits 100 ms, then writes twice.",
        &["error ECONNRESET", "error EPIPE"],
        "the first write reported the reset (ECONNRESET), the next one EPIPE."
    ),
    recv_case!(
        "nonblocking",
        "a non-blocking read does not wait",
        "the server makes its socket non-blocking and reads before anything has arrived.",
        &["WouldBlock"],
        "the read failed at once with WouldBlock instead of waiting."
    ),
    recv_case!(
        "full-buffer",
        "a full buffer takes part of a write",
        "the server writes 64 MiB, non-blocking, to a client that reads nothing for now.",
        &["never taken, so never lost"],
        "the write took what fit in the buffers and said so; the client got every byte taken."
    ),
];

pub const L04: &[Case] = &[
    Case {
        name: "sender",
        steps: &[
            Step {
                title: "two writes, one read",
                watch: "client 1 writes `hello`, then `world`: two writes. The server waits 100 \
                        ms, then reads once. How many reads does it need?",
                acts: &[
                    Listen {
                        who: "server",
                        bin: "lesson04-server",
                        args: &["--case", "sender", "--max-clients", "1"],
                    },
                    Run {
                        who: "client 1",
                        bin: "lesson04-client",
                        args: &["--case", "sender"],
                        input: "",
                    },
                ],
                key: &[r#"read #1: 10 bytes "helloworld""#],
                seen: "one read returned both writes: 10 bytes. The stream kept every byte, in \
                       order, and no boundary.",
            },
            Step {
                title: "the same with TCP_NODELAY",
                watch: "client 2 turns Nagle's algorithm off, so each write leaves at once.",
                acts: &[
                    Listen {
                        who: "server",
                        bin: "lesson04-server",
                        args: &["--case", "sender", "--max-clients", "1"],
                    },
                    Run {
                        who: "client 2 (TCP_NODELAY)",
                        bin: "lesson04-client",
                        args: &["--case", "sender", "--nodelay"],
                        input: "",
                    },
                ],
                key: &[r#"read #1: 10 bytes "helloworld""#],
                seen: "still one read of 10 bytes: the writes joined in the server's receive \
                       buffer, not in the sender. Nagle is not the cause.",
            },
        ],
    },
    Case {
        name: "receiver",
        steps: &[Step {
            title: "a long reply spills into the next",
            watch: "the client reads each reply once, with a 1024-byte buffer. `text 2200` \
                    replies 2200 bytes; then `echo hello`.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson04-server",
                    args: &["--case", "receiver", "--max-clients", "1"],
                },
                WaitLine {
                    who: "server",
                    text: "commands:",
                },
                Open {
                    who: "client",
                    bin: "lesson04-client",
                    args: &["--case", "receiver"],
                },
                Type {
                    who: "client",
                    line: "text 2200",
                },
                Type {
                    who: "client",
                    line: "echo hello",
                },
                // The client leaves (and reads what is left) once `hello` is on its way.
                WaitLine {
                    who: "server",
                    text: "replied 6 bytes",
                },
                EndInput { who: "client" },
            ],
            key: &[
                "reply to \"echo hello\" (1024 bytes):",
                "158 bytes of earlier replies",
            ],
            seen: "the `reply` to echo hello was lines 17 to 32 of the first reply; `hello` \
                   itself was still queued behind the rest.",
        }],
    },
];

pub const L05: &[Case] = &[
    Case {
        name: "frames",
        steps: &[Step {
            title: "a length before every message",
            watch: "`seq 1000` replies 3893 bytes, `seq 3` replies 6: each reply is a 4-byte \
                    length, then the body. The client reads exactly that many bytes.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson05-server",
                    args: &["--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson05-client",
                    args: &["--head", "3"],
                    input: "seq 1000\nseq 3\n",
                },
            ],
            key: &["replied with 3893 bytes", "… and 997 more lines"],
            seen: "the whole reply every time, however long, and the next command got its own \
                   reply: lesson 04's spill is gone.",
        }],
    },
    Case {
        name: "byte-order",
        steps: &[Step {
            title: "two sides that disagree on the byte order",
            watch: "the client writes the length in native order (Python's struct.pack('i')); \
                    the server expects network order.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson05-server",
                    args: &["--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson05-client",
                    args: &["--byte-order", "native"],
                    input: "seq 3\n",
                },
            ],
            key: &["frame length 83886080"],
            seen: "`seq 3` is 5 bytes: [05 00 00 00] read as a big-endian number is 83886080, \
                   over the maximum, so it was refused before anything was allocated.",
        }],
    },
];

pub const L06: &[Case] = &[
    Case {
        name: "put-get",
        steps: &[Step {
            title: "a file there and back, checked",
            watch: "put sends a header (name, size, sha256) then the file; get asks for it back. \
                    Each side checks the sha256 before the file gets its name.",
            acts: &[
                File {
                    name: "notes.txt",
                    text: "hello\n",
                },
                Listen {
                    who: "server",
                    bin: "lesson06-server",
                    args: &["--root", "server", "--max-clients", "2"],
                },
                Run {
                    who: "client 1 (put)",
                    bin: "lesson06-client",
                    args: &["put", "notes.txt"],
                    input: "",
                },
                WaitExit {
                    who: "client 1 (put)",
                },
                Run {
                    who: "client 2 (get)",
                    bin: "lesson06-client",
                    args: &["get", "notes.txt", "--out", "downloads"],
                    input: "",
                },
                WaitExit {
                    who: "client 2 (get)",
                },
                Run {
                    who: "client 3 (get)",
                    bin: "lesson06-client",
                    args: &["get", "notes.txt", "--out", "downloads"],
                    input: "",
                },
            ],
            key: &["sha256 verified", "already exists"],
            seen: "the file went there and back with its checksum verified; a second get would \
                   have overwritten it, so it refused (--force overwrites).",
        }],
    },
    Case {
        name: "run",
        steps: &[Step {
            title: "commands with a JSON header",
            watch: "lesson 04's commands again: every request and every reply now starts with a \
                    header that says how long the body is.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson06-server",
                    args: &["--root", "server", "--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson06-client",
                    args: &["run"],
                    input: "echo hello\nseq 3\n",
                },
            ],
            key: &["hello"],
            seen: "each command got its whole output, and only its own.",
        }],
    },
];

pub const L07: &[Case] = &[
    Case {
        name: "echo",
        steps: &[Step {
            title: "datagrams, no connection",
            watch: "the client sends each line as one datagram; the server answers each to the \
                    address it came from. Nothing connects first.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson07-server",
                    args: &["--max-datagrams", "2"],
                },
                Run {
                    who: "client",
                    bin: "lesson07-client",
                    args: &[],
                    input: "hello\nhow are you?\n",
                },
            ],
            key: &["reply from"],
            seen: "every datagram came with its sender's address, and the reply went back \
                   there: that address is the whole `connection`.",
        }],
    },
    same_case!(
        "lesson07-server",
        "lesson07-client",
        "boundaries",
        "two sends, two receives",
        "the client sends `hello` and `world` as two datagrams; the server waits until both are queued, as lesson 04's server did.",
        &["each datagram keeps its boundaries"],
        "two receives of 5 bytes: where TCP joined `helloworld`, UDP kept two messages."
    ),
    same_case!(
        "lesson07-server",
        "lesson07-client",
        "truncation",
        "a datagram bigger than the buffer",
        "the client sends 2000 bytes in one datagram, then `next`; the server receives into 1024 bytes.",
        &["did not fit is gone"],
        "1024 bytes, then `next`: the other 976 bytes of the first datagram are gone."
    ),
    same_case!(
        "lesson07-server",
        "lesson07-client",
        "loss",
        "a burst into a busy receiver",
        "the client sends 10000 datagrams as fast as it can; the server is busy for 500 ms, then reads what is left.",
        &["every send_to succeeded", "datagrams ("],
        "every send succeeded, far fewer arrived: the full receive buffer dropped the rest, and nobody told the sender."
    ),
    Case {
        name: "no-server",
        steps: &[Step {
            title: "nobody at the other end",
            watch: "a connected UDP socket and an unconnected one each send to a port where \
                    nobody listens.",
            acts: &[
                Run {
                    who: "client 1 (connected)",
                    bin: "lesson07-client",
                    args: &["--case", "connected-refused"],
                    input: "",
                },
                WaitExit {
                    who: "client 1 (connected)",
                },
                Run {
                    who: "client 2 (unconnected)",
                    bin: "lesson07-client",
                    args: &["--case", "unconnected-timeout", "--timeout-ms", "500"],
                    input: "",
                },
            ],
            key: &["ECONNREFUSED", "only silence"],
            seen: "the connected socket heard the ICMP `port unreachable` as ECONNREFUSED; the \
                   unconnected one heard nothing at all.",
        }],
    },
    Case {
        name: "chat",
        steps: &[Step {
            title: "two peers, two threads each",
            watch: "two chat peers: one thread of each sends what is typed, the other prints \
                    what arrives.",
            acts: &[
                Listen {
                    who: "peer A",
                    bin: "lesson07-chat-peer",
                    args: &["--max-datagrams", "1"],
                },
                Listen {
                    who: "peer B",
                    bin: "lesson07-chat-peer",
                    args: &["--to", "127.0.0.1:{port:peer A}", "--max-datagrams", "1"],
                },
                Type {
                    who: "peer B",
                    line: "hello from B",
                },
                WaitLine {
                    who: "peer A",
                    text: "<< ",
                },
                Type {
                    who: "peer A",
                    line: "hi B",
                },
                WaitLine {
                    who: "peer B",
                    text: "<< ",
                },
                EndInput { who: "peer A" },
                EndInput { who: "peer B" },
            ],
            key: &["<< "],
            seen: "A learned B's address from B's datagram, and answered there.",
        }],
    },
];

pub const L08: &[Case] = &[
    Case {
        name: "threads",
        steps: &[Step {
            title: "two clients at once",
            watch: "client 1 stays connected; client 2 connects and types. With a thread per \
                    client, does client 2 get its reply now?",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson08-server",
                    args: &["--max-clients", "2"],
                },
                Open {
                    who: "client 1",
                    bin: "lesson08-client",
                    args: &[],
                },
                Type {
                    who: "client 1",
                    line: "hello",
                },
                WaitLine {
                    who: "client 1",
                    text: "HELLO",
                },
                Open {
                    who: "client 2",
                    bin: "lesson08-client",
                    args: &[],
                },
                WaitLine {
                    who: "server",
                    text: "serving 2 clients",
                },
                Type {
                    who: "client 2",
                    line: "anyone there?",
                },
                WaitLine {
                    who: "client 2",
                    text: "ANYONE THERE?",
                },
                EndInput { who: "client 2" },
                WaitExit { who: "client 2" },
                Say {
                    text: "client 2 got its reply and left while client 1 was still connected. \
                           Now client 1 leaves.",
                },
                EndInput { who: "client 1" },
            ],
            key: &["serving 2 clients now", "ANYONE THERE?"],
            seen: "while client 1 was still connected, client 2 was answered at once: each \
                   client has its own thread (lesson 02's server made it wait).",
        }],
    },
    Case {
        name: "chat",
        steps: &[Step {
            title: "a group chat",
            watch: "alice and bob join the chat server; each line one of them types goes to \
                    the other.",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson08-chat-server",
                    args: &["--max-clients", "2"],
                },
                Open {
                    who: "alice",
                    bin: "lesson08-chat-client",
                    args: &["--name", "alice"],
                },
                WaitLine {
                    who: "alice",
                    text: "welcome alice",
                },
                Open {
                    who: "bob",
                    bin: "lesson08-chat-client",
                    args: &["--name", "bob"],
                },
                WaitLine {
                    who: "alice",
                    text: "bob joined",
                },
                Type {
                    who: "alice",
                    line: "hi bob",
                },
                WaitLine {
                    who: "bob",
                    text: "alice: hi bob",
                },
                Type {
                    who: "bob",
                    line: "hi alice, bye",
                },
                WaitLine {
                    who: "alice",
                    text: "bob: hi alice, bye",
                },
                Type {
                    who: "bob",
                    line: "bye",
                },
                WaitLine {
                    who: "alice",
                    text: "bob left",
                },
                Type {
                    who: "alice",
                    line: "bye",
                },
            ],
            key: &["alice: hi bob", "bob: hi alice, bye"],
            seen: "the server's thread for alice wrote her line to bob's connection, and bob's \
                   thread did the same the other way.",
        }],
    },
];

/// The file lesson 09's demos download, written into each step's folder.
const HELLO: &str = include_str!("../lessons/09-tftp/files/hello.txt");

pub const L09: &[Case] = &[
    Case {
        name: "lock-step",
        steps: &[Step {
            title: "a download, one packet at a time",
            watch: "the client asks for hello.txt (1329 bytes) at the server's port. Watch which \
                    port answers, and how each DATA waits for the ACK of the one before.",
            acts: &[
                File {
                    name: "hello.txt",
                    text: HELLO,
                },
                Listen {
                    who: "server",
                    bin: "lesson09-server",
                    args: &["--root", ".", "--max-requests", "1"],
                },
                WaitLine {
                    who: "server",
                    text: "serving",
                },
                Run {
                    who: "client",
                    bin: "lesson09-client",
                    args: &["get", "hello.txt", "--out", "downloads", "--trace"],
                    input: "",
                },
            ],
            key: &["the server answers from", "1329 bytes in 3 DATA packets"],
            seen: "a new port answered the RRQ (the transfer's TID). DATA 1, ACK 1, DATA 2, ACK \
                   2, DATA 3: one packet in flight, never more. 305 bytes in the last DATA, \
                   fewer than 512: that is how the client knew it was the last.",
        }],
    },
    Case {
        name: "loss",
        steps: &[Step {
            title: "through a relay that drops every 3rd datagram",
            watch: "the same download through lesson09-relay, which drops datagrams #3, #6 and \
                    #9 (both directions counted). UDP does not send anything again: who notices \
                    a loss, and what do they do?",
            acts: &[
                File {
                    name: "hello.txt",
                    text: HELLO,
                },
                Listen {
                    who: "server",
                    bin: "lesson09-server",
                    args: &["--root", ".", "--max-requests", "1", "--timeout-ms", "500"],
                },
                WaitLine {
                    who: "server",
                    text: "serving",
                },
                Listen {
                    who: "relay",
                    bin: "lesson09-relay",
                    args: &["--to", "127.0.0.1:{port:server}", "--drop-every", "3"],
                },
                WaitLine {
                    who: "relay",
                    text: "relaying to",
                },
                Run {
                    who: "client",
                    bin: "lesson09-client",
                    args: &[
                        "get",
                        "hello.txt",
                        "--out",
                        "target/lesson09-demo",
                        "--timeout-ms",
                        "5000",
                        "--trace",
                    ],
                    input: "",
                },
                WaitExit { who: "client" },
                WaitExit { who: "server" },
                Say {
                    text: "the transfer is over; the relay would wait for the next one: stop it.",
                },
                Stop { who: "relay" },
            ],
            key: &[
                "dropped #3 client → server: ACK block 1",
                "sending DATA block 1 again (try 2 of 6)",
                "DATA block 1 again: a duplicate",
                "1329 bytes in 3 DATA packets; 1 duplicate",
            ],
            seen: "the server heard nothing for 500 ms and sent its DATA again: the timeout is \
                   TFTP's only repair. A lost ACK made the client get DATA 1 twice: it ACKed \
                   again and wrote the block once. A lost DATA cost one timeout, nothing else.",
        }],
    },
];

pub const L10: &[Case] = &[Case {
    name: "one-thread",
    steps: &[Step {
        title: "one thread, many clients",
        watch: "lesson 08's client opens three connections and keeps all three open while it \
                types; the server has one thread. Is every connection answered?",
        acts: &[
            // --quiet: the loop serves all three at once, so its own lines would come in an
            // order that changes from run to run; the clients' lines tell the story.
            Listen {
                who: "server",
                bin: "lesson10-server",
                args: &["--max-clients", "3", "--quiet"],
            },
            Run {
                who: "client",
                bin: "lesson08-client",
                args: &["--connections", "3"],
                input: "hello\nhow are you?\n",
            },
            WaitExit { who: "server" },
        ],
        key: &["connection 3: HOW ARE YOU?", "served 3 clients"],
        seen: "three connections open at once, all answered by one thread: the event loop \
               waits in poll, never in a read.",
    }],
}];

pub const L11: &[Case] = &[
    Case {
        name: "client-first",
        steps: &[Step {
            title: "the client closes first",
            watch: "each side prints the state of its own end, read from /proc/net/tcp. The \
                    client closes as soon as it has the reply: which end ends in TIME_WAIT?",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson11-server",
                    args: &["--max-clients", "1"],
                },
                Run {
                    who: "client",
                    bin: "lesson11-client",
                    args: &[],
                    input: "",
                },
            ],
            key: &[
                "our end is TIME_WAIT: we closed first",
                "the client closed first (read returned 0 bytes): our end is CLOSE_WAIT",
            ],
            seen: "the side that closed first, the client, keeps its end in TIME_WAIT for 60 s; \
                   the server read 0 bytes, sat in CLOSE_WAIT until it closed too, and is gone.",
        }],
    },
    Case {
        name: "server-first",
        steps: &[
            Step {
                title: "the server closes first, then a new server on its port",
                watch: "this time the server closes right after its reply. Then a second server \
                        tries to listen on the same port, without SO_REUSEADDR.",
                acts: &[
                    Listen {
                        who: "server",
                        bin: "lesson11-server",
                        args: &["--close-first", "server", "--max-clients", "1"],
                    },
                    Run {
                        who: "client",
                        bin: "lesson11-client",
                        args: &["--close-first", "server"],
                        input: "",
                    },
                    WaitExit { who: "server" },
                    Run {
                        who: "server 2",
                        bin: "lesson11-server",
                        args: &["--port", "{port:server}", "--max-clients", "1"],
                        input: "",
                    },
                ],
                key: &[
                    "the server closed first (read returned 0 bytes): our end is CLOSE_WAIT",
                    "our end is TIME_WAIT: we closed first",
                    "an old connection of this port is in TIME_WAIT",
                ],
                seen: "now the server's end is in TIME_WAIT, and it holds the port: the \
                       course's 'address in use' on restart. It lasts 60 s.",
            },
            Step {
                title: "the same, with SO_REUSEADDR on both listeners",
                watch: "both servers set SO_REUSEADDR (--reuse-address) before bind. Can the \
                        second one listen at once, while the first one's end is in TIME_WAIT?",
                acts: &[
                    Listen {
                        who: "server",
                        bin: "lesson11-server",
                        args: &[
                            "--close-first",
                            "server",
                            "--reuse-address",
                            "--max-clients",
                            "1",
                        ],
                    },
                    Run {
                        who: "client",
                        bin: "lesson11-client",
                        args: &["--close-first", "server"],
                        input: "",
                    },
                    WaitExit { who: "server" },
                    Listen {
                        who: "server 2",
                        bin: "lesson11-server",
                        args: &[
                            "--port",
                            "{port:server}",
                            "--reuse-address",
                            "--max-clients",
                            "1",
                        ],
                    },
                    Run {
                        who: "client 2",
                        bin: "lesson11-client",
                        args: &[],
                        input: "",
                    },
                ],
                key: &["a new one that sets it too can bind"],
                seen: "server 2 listened on the port at once and served a client, TIME_WAIT or \
                       not: both listening sockets said SO_REUSEADDR.",
            },
        ],
    },
    Case {
        name: "listen",
        steps: &[Step {
            title: "listen(1), and nobody calls accept",
            watch: "the server listens with a backlog of 1 and never accepts. The client \
                    connects 4 times and keeps every connection. How many get through?",
            acts: &[
                Listen {
                    who: "server",
                    bin: "lesson11-server",
                    args: &["--backlog", "1", "--never-accept"],
                },
                Run {
                    who: "client",
                    bin: "lesson11-client",
                    args: &["--connect-only", "4", "--connect-timeout-ms", "300"],
                    input: "",
                },
                WaitExit { who: "client" },
                Say {
                    text: "the server would wait forever: stop it.",
                },
                Stop { who: "server" },
            ],
            key: &["2 connected, 2 unanswered, 0 refused"],
            seen: "listen(1) let 2 connections complete (backlog + 1, on Linux); the others were \
                   not refused, only left unanswered: the SYN is dropped and the client sends it \
                   again until it gives up.",
        }],
    },
];
