//! Exercise 11.1 — a server that can start again at once: the solution.
//!
//! This server closes first (right after its reply), so each connection's end on its side
//! waits in TIME_WAIT for 60 s, on the server's port. A new listening socket can bind that
//! port meanwhile only when it sets SO_REUSEADDR before `bind` — and the old socket, the
//! one whose connections wait, set it too. One program, started twice, is both: it sets
//! the option every time.
//!
//! Check it:   cargo run --bin lab -- check 11.1 --solution

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use socket2::{Domain, Socket, Type};
use socket_lab::errors::bind_error;
use socket_lab::out::preview;
use socket_lab::{Out, Side, Style};

/// Exercise 11.1: an upper-case echo of one message per client, which closes first.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9011)]
    port: u16,

    /// Stop after this many clients (default: serve forever).
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

// ANCHOR: solution
/// socket → SO_REUSEADDR → bind → listen: the option must come before `bind`, the call it
/// changes.
fn listen(args: &Args) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", args.host, args.port);
    let resolved = addr.to_socket_addrs().ok().and_then(|mut all| all.next());
    let resolved = resolved.ok_or_else(|| anyhow!("cannot resolve {addr}"))?;
    let socket = Socket::new(Domain::for_address(resolved), Type::STREAM, None)?;
    // Bind even while connections of this port wait in TIME_WAIT: allowed when the
    // socket they came from set this option too — and every run of this server does.
    socket.set_reuse_address(true)?;
    socket
        .bind(&resolved.into())
        .map_err(|e| bind_error(e, &addr))?;
    socket.listen(5)?;
    Ok(socket.into())
}
// ANCHOR_END: solution

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let listener = listen(args)?;
    out.listening(listener.local_addr()?);
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a client"),
        };
        served += 1;
        if let Err(e) = answer(conn, &out) {
            out.line(format!("{peer}: {e:#}"));
        }
    }
    out.line(format!("served {served} clients, stopping"));
    Ok(())
}

/// One message, its upper-case reply, and the close: ours first.
fn answer(mut conn: TcpStream, out: &Out) -> anyhow::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).context("reading the message")?;
    let reply = buf[..n].to_ascii_uppercase();
    conn.write_all(&reply).context("replying")?;
    out.line(format!("replied {}, closing first", preview(&reply)));
    // Our FIN goes first: our end of this connection will wait in TIME_WAIT.
    drop(conn);
    Ok(())
}
