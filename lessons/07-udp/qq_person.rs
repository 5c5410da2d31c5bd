//! Lesson 07 — the QQ-style chat, one person's side.
//!
//! Each person in the chat runs one of these: a UDP socket bound to their own port. A
//! message arrives with `recv_from`, which also says who sent it; you type a reply and it
//! goes back with `send_to` to exactly that address. With `--auto-reply` the reply is
//! written for you, so a script (or a test) can play the other person. (The classic course
//! calls this side the server; it serves nobody but the one who writes to it, so here it is a
//! person.)
//!
//! Run two people:   cargo run --bin lesson07-qq-person -- --name alice
//!                   cargo run --bin lesson07-qq-person -- --name bob --port 9077
//! Then chat:        cargo run --bin lesson07-qq-client
//!
//! Look for: one socket answers everyone. The sender's address comes with each message;
//! nothing else ties a reply to the person who wrote.

use std::net::UdpSocket;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::input::Lines;
use socket_lab::out::{escape, plural};
use socket_lab::{Out, Side, Style};

/// Lesson 07: one person of the QQ-style UDP chat: receive a message, reply to its
/// sender.
#[derive(Parser)]
#[command(name = "lesson07-qq-person", version)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to bind; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9007)]
    port: u16,

    /// Who this is: the name in the client's table.
    #[arg(long, default_value = "alice")]
    name: String,

    /// Reply by itself instead of reading each reply from the keyboard.
    #[arg(long)]
    auto_reply: bool,

    /// Stop after this many datagrams (default: chat forever).
    /// UDP has no connections: where a TCP server counts clients (`--max-clients`), a UDP
    /// program counts datagrams.
    #[arg(long, value_name = "N")]
    max_datagrams: Option<usize>,

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
    let socket = UdpSocket::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(socket.local_addr()?);
    out.line(format!("{} is online", args.name));

    // ANCHOR: qq_person
    let mut typed = Lines::stdin();
    let mut buf = [0u8; 1024];
    let mut count = 0;
    while args.max_datagrams.is_none_or(|max| count < max) {
        // Blocks until someone, anyone, sends us a datagram.
        let (n, from) = socket.recv_from(&mut buf).context("receiving")?;
        count += 1;
        let text = escape(&buf[..n]);
        out.line(format!("message from {from}: {text}"));

        let reply = if args.auto_reply {
            format!("(auto-reply) got \"{text}\"")
        } else {
            match typed.next_line()? {
                Some(line) => line,
                None => break, // end of input: nobody types replies any more
            }
        };
        // Back to the address recv_from gave: that is the only way to find the sender.
        match socket.send_to(reply.as_bytes(), from) {
            Ok(_) => out.line(format!("replied to {from}: {reply}")),
            Err(e) => out.line(format!("could not reply to {from}: {e}")),
        }
    }
    // ANCHOR_END: qq_person
    out.line(format!(
        "{} goes offline after {}",
        args.name,
        plural(count, "message")
    ));
    Ok(())
}
