//! Lesson 02 — the course's one-to-one chat, server side: the communication loop with a
//! person at each end.
//!
//! The course's TCP chat takes turns: the client says something, the server's user reads
//! it and types an answer, the client reads that and says the next thing, until one of
//! them says `bye`. It is lesson 02's communication loop with a keyboard where the
//! upper-casing was: the server answers what its user types.
//!
//! Run it:   cargo run --bin lesson02-chat-server
//! Then, in a second terminal:   cargo run --bin lesson02-chat-client
//!
//! Look for: you can only type when it is your turn — while the other side thinks, your
//! program waits in `read`. Lesson 07's UDP chat and lesson 08's group chat use two
//! threads to lift that.

use std::io::{BufReader, IsTerminal};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::input::Lines;
use socket_lab::out::{plural, preview};
use socket_lab::{Out, Side, Style};

mod talk;
use talk::{receive, send, PATIENCE};

/// Lesson 02: the course's 1:1 TCP chat, server side (you answer what the client says).
#[derive(Parser)]
#[command(name = "lesson02-chat-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    /// Stop after chatting with this many clients (default: one after another, forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

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
    let mut keyboard = Lines::stdin();
    // The connection loop of lesson 02: one client at a time.
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("{peer} is here: wait for them to speak first"));
        match chat(conn, peer, &mut keyboard, out) {
            Ok(Some(())) => {}
            Ok(None) => {
                out.line("your input ended: stopping");
                break;
            }
            Err(e) => out.line(format!("{peer}: {e:#}")),
        }
        served += 1;
    }
    out.line(format!(
        "chatted with {}, stopping",
        plural(served, "client")
    ));
    Ok(())
}

// ANCHOR: turns
/// One conversation, turn by turn, until someone says `bye`. `None` when the keyboard
/// ran out (Ctrl-D): we said `bye`, and there is nobody left to type.
fn chat(
    mut conn: TcpStream,
    peer: SocketAddr,
    keyboard: &mut Lines,
    out: Out,
) -> anyhow::Result<Option<()>> {
    conn.set_read_timeout(Some(PATIENCE))?;
    let mut incoming = BufReader::new(conn.try_clone()?);
    let echo_typed = !std::io::stdin().is_terminal();
    loop {
        // Their turn: we can do nothing but wait for their line.
        let Some(line) = receive(&mut incoming).context("waiting for the client")? else {
            out.line(format!("{peer} left without saying bye (read 0 bytes)"));
            return Ok(Some(()));
        };
        out.trace(format!("read a line: {}", preview(line.as_bytes())));
        out.line(format!("client: {line}"));
        if line == "bye" {
            out.line(format!("{peer} said bye"));
            return Ok(Some(()));
        }
        // Our turn: what we type is the answer. An empty line would say nothing.
        let reply = loop {
            match keyboard.next_line()? {
                Some(typed) if typed.trim().is_empty() => continue,
                Some(typed) => break Some(typed.trim().to_string()),
                None => break None,
            }
        };
        let reply_text = reply.clone().unwrap_or_else(|| "bye".to_string());
        send(&mut conn, &reply_text).context("answering")?;
        out.trace_write(format!("{reply_text}\n").as_bytes());
        if echo_typed {
            out.line(format!("you: {reply_text}"));
        }
        if reply.is_none() {
            return Ok(None);
        }
        if reply_text == "bye" {
            out.line("you said bye");
            return Ok(Some(()));
        }
    }
}
// ANCHOR_END: turns
