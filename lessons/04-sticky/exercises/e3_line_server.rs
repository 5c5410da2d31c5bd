// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 04.3
//! Exercise 04.3 — a command server that reads lines, not reads.
//!
//! Lesson 04's command server takes whatever one read returns as one command. Here every
//! command ends with a newline, and the server must answer every line with that command's
//! output (lesson 04's built-ins: `echo`, `seq`, `text`, `help`), whatever the reads
//! bring: two commands in one read, or one command in two. A line longer than 1024 bytes
//! ends that client's connection.
//!
//! Check it:   cargo run --bin lab -- check 04.3
//! Or run it:  cargo run --example ex04-3                            (terminal 1)
//!             printf 'echo a\necho b\n' | nc -N 127.0.0.1 9004    (terminal 2)
//!
//! The check sends `echo a\necho b\n` in one write, then `seq 2\n` in two, and then
//! shuts down its sending side; it expects `a\nb\n1\n2\n`, then the close.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::commands::{execute, Policy};
use socket_lab::errors::bind_error;
use socket_lab::out::escape;
use socket_lab::{Out, Side, Style};

/// Exercise 04.3: run one command per line, whatever the reads bring.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9004)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
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
    let policy = Policy::builtins_only();
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        out.line(format!("connection from {peer}"));
        if let Err(e) = commands(conn, &policy, out) {
            out.line(format!("{peer}: {e:#}"));
        }
        served += 1;
    }
    Ok(())
}

/// Runs the client's commands until it closes.
fn commands(mut conn: TcpStream, policy: &Policy, out: Out) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf).context("receiving")?;
        if n == 0 {
            return Ok(());
        }
        let command = &buf[..n];
        out.line(format!("command: {}", escape(command.trim_ascii())));
        conn.write_all(&execute(command, policy))
            .context("replying")?;
    }
}
