//! Exercise 11.2 — a client that closes first, and sees its TIME_WAIT: the solution.
//!
//! The side that sends the first FIN is the one whose end waits in TIME_WAIT. This client
//! closes as soon as it has the reply, then reads the state of its own end from Linux's
//! table of TCP sockets, by the connection's two addresses: FIN_WAIT1 and FIN_WAIT2 while
//! it waits for the server's FIN, TIME_WAIT once that has come.
//!
//! Check it:   cargo run --bin lab -- check 11.2 --solution

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
use socket_lab::proc_tcp::{self, State};
use socket_lab::{Out, Side, Style};

/// How long to wait for the reply, and then for the server's FIN.
const WAIT: Duration = Duration::from_secs(5);

/// Exercise 11.2: one message, its reply, then the client closes first.
#[derive(Parser)]
struct Args {
    /// The message to send.
    #[arg(default_value = "hello")]
    message: String,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9011)]
    port: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let server = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let server = server.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let mut conn = TcpStream::connect_timeout(&server, WAIT)
        .map_err(|e| connect_error(e, &addr, "lesson11-server"))?;
    conn.set_read_timeout(Some(WAIT))?;
    conn.write_all(args.message.as_bytes()).context("sending")?;
    let mut buf = [0u8; 1024];
    let n = match conn.read(&mut buf) {
        Ok(0) => bail!("the server closed without a reply"),
        Ok(n) => n,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            bail!("no reply within {} s", WAIT.as_secs())
        }
        Err(e) => return Err(e).context("reading the reply"),
    };
    out.line(String::from_utf8_lossy(&buf[..n]));
    close_first(conn, out)
}

// ANCHOR: solution
/// Closes first, then waits for our end to leave FIN_WAIT1 and FIN_WAIT2, and says where
/// it went: TIME_WAIT, once the server's FIN has come.
fn close_first(conn: TcpStream, out: Out) -> anyhow::Result<()> {
    // The two addresses name the connection in /proc/net/tcp; keep them before close.
    let (local, peer) = (conn.local_addr()?, conn.peer_addr()?);
    // close(): our FIN goes first. We do not wait for the server's; the system does.
    drop(conn);
    let waiting = [Some(State::FinWait1), Some(State::FinWait2)];
    let state = proc_tcp::wait_for(local, peer, WAIT, |s| !waiting.contains(&s));
    match state {
        Some(state) => out.line(format!("our end is {state}")),
        None => out.line("our end is gone"),
    }
    Ok(())
}
// ANCHOR_END: solution
