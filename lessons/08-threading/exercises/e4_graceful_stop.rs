// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 08.4
//! Exercise 08.4 — stop gracefully.
//!
//! With `--max-clients N` this server stops accepting after N clients, and exits. But the
//! clients it accepted are still being served, each by its own thread, and when `main`
//! returns the process ends and takes those threads with it: the clients lose their
//! connections in the middle of a conversation. Make the stop graceful: close the listening
//! socket (a new client is refused at once), serve every client already accepted until it
//! leaves, then exit.
//!
//! Check it:   cargo run --bin lab -- check 08.4
//! Or run it:  cargo run --example ex08-4 -- --max-clients 1           (terminal 1)
//!             cargo run --bin lesson08-client                          (terminal 2)
//!
//! The check starts it with `--max-clients 2` and connects two clients. The first leaves;
//! once a new connection is refused, the second keeps talking.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::{Out, Side, Style};

/// Exercise 08.4: a thread per client, and a stop that lets every client finish.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Stop accepting after this many clients, let them finish, then exit (default: serve
    /// forever).
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
    let mut accepted = 0;
    while args.max_clients.is_none_or(|max| accepted < max) {
        let (conn, peer) = listener.accept().context("accepting a client")?;
        accepted += 1;
        out.line(format!("connection from {peer}"));
        thread::spawn(move || communicate(conn, peer, out));
    }
    out.line(format!("accepted {accepted} clients, stopping"));
    Ok(())
}

/// Lesson 02's communication loop: echo upper-cased until the client leaves.
fn communicate(mut conn: TcpStream, peer: SocketAddr, out: Out) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => {
                out.line(format!("{peer} left"));
                return;
            }
            Ok(n) => n,
        };
        out.line(format!(
            "received from {peer}: {}",
            String::from_utf8_lossy(&buf[..n])
        ));
        if conn.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
            return;
        }
    }
}
