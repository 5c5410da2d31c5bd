//! Lesson 04 — sticky packets (粘包): TCP is a byte stream with no message boundaries.
//!
//! Two cases, two causes, each reproducible every run:
//!
//!   sender    the client writes `hello`, then `world`; this server waits 100 ms, then reads
//!             once into a 1024-byte buffer and gets `helloworld`: both writes were waiting in
//!             the receive buffer, and a read takes whatever is there.
//!   receiver  the classic remote-command pair: a reply bigger than the client's 1024-byte read
//!             stays partly unread, and the next command's "reply" is that leftover.
//!
//! Run it:   cargo run --bin lesson04-server -- --case sender Then:     cargo run --bin
//! lesson04-client -- --case sender --trace
//!
//! Or:       cargo run --bin lesson04-server -- --case receiver Then:     cargo run --bin
//! lesson04-client -- --case receiver   (type: text 2200, then help)
//!
//! Look for: with `--trace`, two writes on the client and one read on the server. The
//! commands are built-ins (`help` lists them); real programs run only with `--allow-exec
//! NAME,...`, and never through a shell.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use socket2::SockRef;
use socket_lab::commands::{self, Policy};
use socket_lab::errors::bind_error;
use socket_lab::out::{escape, plural};
use socket_lab::{Out, Side, Style};

/// Which cause of sticky packets to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// Two small writes, one read: the receive buffer joins them.
    Sender,
    /// A remote-command server: big replies, a client that reads only 1024 bytes.
    Receiver,
}

/// Lesson 04: show how a byte stream joins and splits messages.
#[derive(Parser)]
#[command(name = "lesson04-server", version)]
struct Args {
    /// Which cause to show (start the client with the same one).
    #[arg(long, value_enum)]
    case: Case,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9004)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// sender: how long to wait, once data has arrived, before reading. With 0 the
    /// outcome changes from run to run: count it.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    wait_ms: u64,

    /// receiver: real programs the clients may run besides the built-ins, e.g. ls,date.
    /// They run directly, never through a shell. Without this flag: built-ins only.
    #[arg(long, value_name = "PROGRAMS", value_delimiter = ',')]
    allow_exec: Vec<String>,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);

    // Built-in commands, plus the programs named by --allow-exec (none unless asked).
    let policy = Policy::with_programs(args.allow_exec.clone());
    if args.case == Case::Receiver {
        match policy.programs() {
            [] => out.line("commands: built-ins only (send `help`)"),
            programs => out.line(format!(
                "commands: built-ins, and these programs run without a shell: {}",
                programs.join(", ")
            )),
        }
    }

    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        // Whatever goes wrong with one client is reported, and the server goes on.
        let result = match args.case {
            Case::Sender => sender(conn, peer, args.wait_ms, out),
            Case::Receiver => receiver(conn, peer, &policy, out),
        };
        if let Err(e) = result {
            out.line(format!("{peer}: {e:#}"));
        }
        served += 1;
    }
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}

fn sender(
    mut conn: TcpStream,
    peer: SocketAddr,
    wait_ms: u64,
    out: Out,
) -> anyhow::Result<()> {
    // The receive buffer is where arriving bytes wait for our reads (not 8K: see for
    // yourself).
    let rcvbuf = SockRef::from(&conn).recv_buffer_size()?;
    out.line(format!("receive buffer (SO_RCVBUF): {rcvbuf} bytes"));

    // ANCHOR: sender
    if wait_ms > 0 {
        // Wait until the first bytes are here (peek looks without taking them out),
        // then a little more, as a busy server would: the wait makes the demo sure.
        let mut first = [0u8; 1];
        conn.peek(&mut first).context("waiting for data")?;
        out.line(format!(
            "data has arrived; waiting {wait_ms} ms before reading"
        ));
        std::thread::sleep(Duration::from_millis(wait_ms));
    }
    // One read takes everything that is in the receive buffer, up to 1024 bytes:
    // both writes.
    let mut buf = [0u8; 1024];
    let mut reads = 0;
    loop {
        let n = conn.read(&mut buf).context("receiving")?;
        out.trace_read(buf.len(), &buf[..n]);
        if n == 0 {
            break; // the client closed
        }
        reads += 1;
        let text = escape(&buf[..n]);
        out.line(format!("read #{reads}: {} \"{text}\"", plural(n, "byte")));
    }
    // ANCHOR_END: sender
    out.line(format!(
        "{peer} closed; its bytes came in {}",
        plural(reads, "read")
    ));
    Ok(())
}

// ANCHOR: receiver
/// The remote-command loop: read a command (up to 1024 bytes), run it, send the
/// whole reply. The reply's size is not sent with it: the client cannot know where
/// one reply ends.
fn receiver(
    mut conn: TcpStream,
    peer: SocketAddr,
    policy: &Policy,
    out: Out,
) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => {
                out.line(format!(
                    "{peer} closed the connection (read returned 0 bytes)"
                ));
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.line(format!(
                    "{peer} reset the connection (read failed: ECONNRESET)"
                ));
                return Ok(());
            }
            Err(e) => return Err(e).context("receiving a command"),
        };
        out.trace_read(buf.len(), &buf[..n]);
        let command = &buf[..n];
        out.line(format!("command: {}", escape(command.trim_ascii())));

        // Never a shell: built-ins, or an allowed program run directly; else a refusal.
        let reply = commands::execute(command, policy);
        conn.write_all(&reply).context("sending the reply")?;
        out.trace_write(&reply);
        out.line(format!("replied {}", plural(reply.len(), "byte")));
    }
}
// ANCHOR_END: receiver
