// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 11.2
//! Exercise 11.2 — a client that closes first, and sees its TIME_WAIT.
//!
//! This client, once it has its reply, waits for the server to close first (its read
//! returns 0 bytes), then closes. So the server's end is the one that waits in TIME_WAIT
//! — and a server that waits for the client's close, as HTTP/1.1 servers often do, waits
//! with it forever. Make `close_first` close at once, then read the state of the
//! client's own end from /proc/net/tcp (`socket_lab::proc_tcp`, by the two addresses of
//! the connection) until it has left FIN_WAIT1 and FIN_WAIT2, and print
//! `our end is TIME_WAIT`.
//!
//! Check it:   cargo run --bin lab -- check 11.2
//! Or run it:  cargo run --bin lesson11-server                     (terminal 1)
//!             cargo run --example ex11-2 -- hello                 (terminal 2)
//!             cargo run --bin lab -- states                       (terminal 3)
//!
//! The check's server replies, then waits for your client's FIN without closing; it
//! closes once that has come, and looks for your client's end in /proc/net/tcp.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use socket_lab::errors::connect_error;
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

/// Waits for the server to close first (a read returns 0 bytes), then closes.
fn close_first(mut conn: TcpStream, out: Out) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) => return Err(e).context("waiting for the server to close"),
        }
    }
    drop(conn);
    out.line("closed second: our end is gone");
    Ok(())
}
