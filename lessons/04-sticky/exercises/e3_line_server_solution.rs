//! Exercise 04.3 — a command server that reads lines, not reads: the solution.
//!
//! The newline is the message boundary TCP does not keep. The bytes go into a buffer that
//! lives across reads; every complete line in it is one command, answered at once; a part
//! of a line waits for the rest. The buffer is bounded by the longest line accepted.
//!
//! Check it:   cargo run --bin lab -- check 04.3 --solution

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use socket_lab::commands::{execute, Policy, MAX_LINE};
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

// ANCHOR: solution
/// Runs the client's commands, one per line, until it closes.
fn commands(mut conn: TcpStream, policy: &Policy, out: Out) -> anyhow::Result<()> {
    // Bytes received and not used yet: never more than one line and a part of the next.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf).context("receiving")?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let command = &line[..end];
            out.line(format!("command: {}", escape(command.trim_ascii())));
            conn.write_all(&execute(command, policy))
                .context("replying")?;
        }
        if pending.len() > MAX_LINE {
            bail!("a line longer than {MAX_LINE} bytes: closing the connection");
        }
    }
}
// ANCHOR_END: solution
