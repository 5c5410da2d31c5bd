//! Lesson 07 — the QQ-style chat client: pick a person by name, then talk.
//!
//! The client keeps a table of names and addresses. You type a name, then messages; each
//! message is one datagram to that person's address, and the reply is printed with the
//! name of whoever sent it. `q` ends the chat with that person and you pick another one;
//! the end of input (Ctrl-D) leaves.
//!
//! Start the people first (see lesson07-qq-person), then:
//!   cargo run --bin lesson07-qq-client
//!   cargo run --bin lesson07-qq-client -- --peer carol=127.0.0.1:9078   (your own table)
//!
//! Look for: one socket talks to everybody. There is no connection per person: the
//! address you send to picks the person, and the address a reply comes from names them.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use socket_lab::input::Lines;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Lesson 07: the QQ-style UDP chat: choose a person from a table of names, then talk.
#[derive(Parser)]
#[command(name = "lesson07-qq-client", version)]
struct Args {
    /// One person of the table, as NAME=HOST:PORT; repeat for more people.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT",
          default_values_t = ["alice=127.0.0.1:9007".to_string(), "bob=127.0.0.1:9077".to_string()])]
    peers: Vec<String>,

    /// How long to wait for each reply (people type slowly).
    #[arg(long, value_name = "MS", default_value_t = 60000)]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(chat(&args, out))
}

/// Reads `NAME=HOST:PORT`.
fn parse_peer(spec: &str) -> anyhow::Result<(String, SocketAddr)> {
    let (name, addr) = spec
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| anyhow!("--peer {spec}: write it as NAME=HOST:PORT"))?;
    let addr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| anyhow!("--peer {spec}: cannot resolve {addr}"))?;
    Ok((name.to_string(), addr))
}

fn chat(args: &Args, out: Out) -> anyhow::Result<()> {
    // ANCHOR: table
    // The table: name -> address. Choosing a person is choosing where datagrams go.
    let table = args
        .peers
        .iter()
        .map(|spec| parse_peer(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names: Vec<&str> = table.iter().map(|(name, _)| name.as_str()).collect();
    let name_of = |addr: SocketAddr| {
        table
            .iter()
            .find(|(_, a)| *a == addr)
            .map_or_else(|| addr.to_string(), |(name, _)| name.clone())
    };
    // ANCHOR_END: table

    let socket = UdpSocket::bind("0.0.0.0:0").context("creating a UDP socket")?;
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    socket.set_read_timeout(Some(timeout))?;
    let mut typed = Lines::stdin();
    let mut buf = [0u8; 1024];

    // ANCHOR: chat
    'choose: loop {
        out.line(format!(
            "who do you want to talk to? ({})",
            names.join(", ")
        ));
        let Some(name) = typed.next_line()? else {
            break;
        };
        let name = name.trim();
        let Some(to) = table.iter().find(|(n, _)| n == name).map(|(_, a)| *a) else {
            out.line(format!("nobody called {name:?} in the table"));
            continue;
        };
        out.line(format!("talking to {name} at {to}; q ends this chat"));
        loop {
            let Some(msg) = typed.next_line()? else {
                break 'choose;
            };
            let msg = msg.trim();
            if msg == "q" {
                continue 'choose;
            }
            if msg.is_empty() {
                continue;
            }
            // Each datagram carries its address: that is the whole "connection".
            socket.send_to(msg.as_bytes(), to).context("sending")?;
            // Wait for the reply from this person; anything else that arrives is shown
            // too, named by the address it came from.
            loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let text = escape(&buf[..n]);
                        out.line(format!("{}: {text}", name_of(from)));
                        if from == to {
                            break;
                        }
                    }
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        out.line(format!(
                            "no reply from {name} within {} ms \
                             (is {name} online at {to}?)",
                            timeout.as_millis()
                        ));
                        break;
                    }
                    Err(e) => return Err(e).context("receiving"),
                }
            }
        }
    }
    // ANCHOR_END: chat
    out.line("leaving the chat");
    Ok(())
}
