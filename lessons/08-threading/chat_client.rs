//! Lesson 08 — the group chat client: two threads, one that sends and one that receives.
//!
//! A chat client cannot wait for "the reply" like the echo client does: messages from the
//! others arrive whenever they are sent. So one thread reads what you type and sends it, and
//! another thread prints whatever arrives, at the same time.
//!
//! Start the server first:   cargo run --bin lesson08-chat-server
//! Then, in two or three terminals:   cargo run --bin lesson08-chat-client -- --name alice
//!
//! Look for: lines from the others appear while you are typing. `bye` (or Ctrl-D) leaves:
//! the server answers `* bye NAME` and closes, and the receiving thread ends at that close.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::input::Lines;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Lesson 08: join the group chat of lesson08-chat-server.
#[derive(Parser)]
#[command(name = "lesson08-chat-client", version)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Your name in the chat.
    #[arg(long, default_value = "guest")]
    name: String,

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
        .map_err(|e| connect_error(e, &addr, "lesson08-chat-server"))?;
    // The first line is our name.
    conn.write_all(format!("{}\n", args.name.trim()).as_bytes())
        .context("sending the name")?;

    // ANCHOR: receiver
    // The receiving thread: print every line that arrives, until the server closes.
    let incoming = BufReader::new(conn.try_clone().context("cloning the socket")?);
    let receiver = std::thread::spawn(move || {
        for line in incoming.lines() {
            match line {
                // The server relays what others typed: shown escaped all the same.
                Ok(line) => out.line(escape(line.as_bytes())),
                Err(e) => {
                    out.line(format!("connection lost: {e}"));
                    break;
                }
            }
        }
    });
    // ANCHOR_END: receiver

    // ANCHOR: sender
    // This thread sends what is typed. `bye` leaves; so does the end of input.
    let mut lines = Lines::stdin();
    let mut said_bye = false;
    while let Some(line) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        if conn.write_all(format!("{line}\n").as_bytes()).is_err() {
            break; // the server is gone: the receiver has said so
        }
        if line.trim() == "bye" {
            said_bye = true;
            break;
        }
    }
    if !said_bye {
        let _ = conn.write_all(b"bye\n");
    }
    // Done sending (a FIN); the receiver ends when the server closes its side.
    let _ = conn.shutdown(Shutdown::Write);
    let _ = receiver.join();
    // ANCHOR_END: sender
    Ok(())
}
