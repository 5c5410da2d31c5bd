//! Lesson 07 — the two-thread UDP chat, one peer of it.
//!
//! Both sides run this same program: each is a peer, neither is a server. One socket, two
//! threads: one thread sends every line you type, the other prints every datagram that
//! arrives, at the same time. Without `--to`, your lines go to whoever writes to you first
//! (the address `recv_from` gave). `bye` or the end of input (Ctrl-D) leaves; with
//! `--max-datagrams N` the chat stays until N messages (datagrams) have arrived.
//!
//! Terminal 1:   cargo run --bin lesson07-chat-peer
//! Terminal 2:   cargo run --bin lesson07-chat-peer -- --port 9077 --to 127.0.0.1:9007
//! Type in terminal 2 first; then both sides can write whenever they like.
//!
//! Look for: messages arrive while you are typing. A single-threaded program would be
//! stuck in either `read_line` or `recv_from`; two threads can wait for both.

use std::net::{ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{anyhow, Context};
use clap::Parser;
use socket_lab::encoding::Encoding;
use socket_lab::errors::bind_error;
use socket_lab::input::Lines;
use socket_lab::out::{escape, plural};
use socket_lab::{Out, Side, Style};

/// Lesson 07: a UDP chat with two threads, one sending what you type, one printing what
/// arrives.
#[derive(Parser)]
#[command(name = "lesson07-chat-peer", version)]
struct Args {
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Your own port; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9007)]
    port: u16,

    /// Who to write to, as HOST:PORT (default: whoever writes to you first).
    #[arg(long, value_name = "HOST:PORT")]
    to: Option<String>,

    /// Stop after receiving this many datagrams, and stay until they have arrived even
    /// after your input ends. UDP has no connections: where a TCP server counts clients
    /// (`--max-clients`), a UDP program counts datagrams.
    #[arg(long, value_name = "N")]
    max_datagrams: Option<usize>,

    /// How messages are encoded on the wire: utf-8, or gbk (the course's UDP chat sends
    /// and decodes gb2312, which GBK covers). Both peers must agree.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8, value_name = "ENCODING")]
    encoding: Encoding,

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
    let socket = UdpSocket::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(socket.local_addr()?);
    let to = match &args.to {
        Some(spec) => Some(
            spec.to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    anyhow!("--to {spec}: cannot resolve it; write HOST:PORT")
                })?,
        ),
        None => None,
    };
    match to {
        Some(to) => out.line(format!("writing to {to}; bye leaves")),
        None => out.line("writing to whoever writes to me first; bye leaves"),
    }

    // ANCHOR: threads
    // Where typed lines go: fixed by --to, or learned by the receiving thread.
    let peer = Arc::new(Mutex::new(to));
    // The receiving thread gets its own handle to the same socket.
    let receiving = socket.try_clone().context("sharing the socket")?;
    let learned = Arc::clone(&peer);
    let max = args.max_datagrams;
    let encoding = args.encoding;
    let receiver = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut received = 0;
        while max.is_none_or(|max| received < max) {
            let Ok((n, from)) = receiving.recv_from(&mut buf) else {
                break;
            };
            received += 1;
            // Remember who wrote first, before printing: once the message is on the
            // screen, an answer may be typed at once, and it must know where to go.
            learned
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(from);
            let text = encoding.decode(&buf[..n]);
            out.line(format!("<< {from}: {}", escape(text.as_bytes())));
        }
        received
    });

    // This thread sends: it waits on the keyboard while the other waits on the network.
    let mut typed = Lines::stdin();
    while let Some(line) = typed.next_line()? {
        if line == "bye" {
            break;
        }
        let to = *peer.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(to) = to else {
            out.line(
                "nobody to write to yet: wait until someone writes to you, \
                 or use --to",
            );
            continue;
        };
        out.line(format!(">> {to}: {line}"));
        socket
            .send_to(&encoding.encode(&line), to)
            .context("sending")?;
    }
    // ANCHOR_END: threads

    // Without a bound, leaving is immediate; the receiving thread ends with the program.
    if max.is_some() {
        let received = receiver
            .join()
            .map_err(|_| anyhow!("the receiving thread failed"))?;
        out.line(format!("received {}, leaving", plural(received, "message")));
    } else {
        out.line("leaving");
    }
    Ok(())
}
