//! Lesson 08 — the group chat client: two threads, one that sends and one that receives.
//!
//! A chat client cannot wait for "the reply" like the echo client does: messages from the
//! others arrive whenever they are sent. So one thread reads what you type and sends it, and
//! another thread prints whatever arrives, at the same time.
//!
//! Start the server first:   cargo run --bin lesson08-chat-server
//! Then, in two or three terminals:   cargo run --bin lesson08-chat-client -- --name alice
//!
//! Look for: lines from the others appear while you are typing (above your `>>: ` prompt).
//! `bye` (or Ctrl-D) leaves: the server answers `* bye NAME` and closes, and the receiving
//! thread ends at that close. Stop the server instead: the client says so and exits.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::{connect_error, exit_now};
use socket_lab::input::{self, Lines};
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
    let out = out.on(&conn); // this connection's lines (for --trace-file)

    // The first line is our name.
    let name = format!("{}\n", args.name.trim());
    conn.write_all(name.as_bytes())
        .context("sending the name")?;
    out.trace_write(name.as_bytes());

    // ANCHOR: receiver
    // The receiving thread: print every line that arrives, until the server closes. If
    // it closes before we said bye, the server has stopped: say so and end the program
    // (the other thread is waiting for the keyboard and would never notice).
    let leaving = Arc::new(AtomicBool::new(false));
    let we_leave = Arc::clone(&leaving);
    let incoming = BufReader::new(conn.try_clone().context("cloning the socket")?);
    let receiver = std::thread::spawn(move || {
        let mut lost = None;
        for line in incoming.lines() {
            match line {
                Ok(line) => {
                    out.trace_read(line.len() + 1, format!("{line}\n").as_bytes());
                    // Someone may be typing: print above the `>>: ` prompt. The server
                    // relays what others typed: shown escaped all the same.
                    input::above_prompt(|| out.line(escape(line.as_bytes())));
                }
                Err(e) => {
                    lost = Some(e);
                    break;
                }
            }
        }
        if lost.is_none() {
            out.trace_read(1024, &[]); // 0 bytes: the server closed
        }
        if !we_leave.load(Ordering::SeqCst) {
            let why =
                lost.map_or("it closed the connection".to_string(), |e| e.to_string());
            exit_now(anyhow::anyhow!(
                "the chat server has stopped ({why}). Start it again \
                 (cargo run --bin lesson08-chat-server), then rejoin"
            ));
        }
    });
    // ANCHOR_END: receiver

    // ANCHOR: sender
    // This thread sends what is typed. `bye` leaves; so does the end of input.
    let mut lines = Lines::stdin();
    while let Some(line) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        if line.trim() == "bye" {
            leaving.store(true, Ordering::SeqCst);
        }
        let text = format!("{line}\n");
        if conn.write_all(text.as_bytes()).is_err() {
            break; // the server is gone: the receiver says so
        }
        out.trace_write(text.as_bytes());
        if line.trim() == "bye" {
            break;
        }
    }
    // The end of input without `bye`: say it for the user.
    if !leaving.swap(true, Ordering::SeqCst) && conn.write_all(b"bye\n").is_ok() {
        out.trace_write(b"bye\n");
    }
    // Done sending (a FIN); the receiver ends when the server closes its side.
    let _ = conn.shutdown(Shutdown::Write);
    out.trace_shutdown();
    let _ = receiver.join();
    // ANCHOR_END: sender
    Ok(())
}
