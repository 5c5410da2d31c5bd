//! Lesson 02 — the course's one-to-one chat, client side.
//!
//! Type a line, wait for the server's user to answer, type the next; `bye` (or the end of
//! input, Ctrl-D) ends the chat, and so does a `bye` from the other side.
//!
//! Start the server first:   cargo run --bin lesson02-chat-server
//! Then:                     cargo run --bin lesson02-chat-client
//!
//! Look for: after you send a line, your prompt does not come back until the answer has
//! arrived: the client is waiting in `read`, the turn is the server's.

use std::io::{BufReader, IsTerminal};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::out::preview;
use socket_lab::{Out, Side, Style};

mod talk;
use talk::{receive, send, PATIENCE};

/// Lesson 02: the course's 1:1 TCP chat, client side (you speak first).
#[derive(Parser)]
#[command(name = "lesson02-chat-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9002)]
    port: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(chat(&args, out))
}

fn chat(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson02-chat-server"))?;
    conn.set_read_timeout(Some(PATIENCE))?;
    let mut incoming = BufReader::new(conn.try_clone()?);
    out.line(format!(
        "connected to {addr}: you speak first; bye ends the chat"
    ));
    let echo_typed = !std::io::stdin().is_terminal();
    let mut keyboard = Lines::stdin();
    loop {
        // Our turn. The end of input says bye for us.
        let line = match keyboard.next_line()? {
            Some(line) if line.trim().is_empty() => continue,
            Some(line) => line.trim().to_string(),
            None => "bye".to_string(),
        };
        send(&mut conn, &line).context("sending")?;
        out.trace_write(format!("{line}\n").as_bytes());
        if echo_typed {
            out.line(format!("you: {line}"));
        }
        if line == "bye" {
            out.line("you said bye");
            return Ok(());
        }
        // Their turn: wait for the answer.
        let Some(answer) = receive(&mut incoming).context("waiting for the answer")?
        else {
            out.line("the server left without saying bye");
            return Ok(());
        };
        out.trace(format!("read a line: {}", preview(answer.as_bytes())));
        out.line(format!("server: {answer}"));
        if answer == "bye" {
            out.line("the server said bye");
            return Ok(());
        }
    }
}
