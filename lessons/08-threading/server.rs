//! Lesson 08 — many clients at once, with a socketserver-style server.
//!
//! Lesson 02's server talks to one client at a time: a second client connects (the system
//! completes the handshake) but waits, unanswered, until the first one leaves. Here the same
//! upper-case echo service runs on `socket_lab::socketserver`, a small copy of Python's
//! `socketserver`: every connection gets its own thread (or, with `--pool N`, one of N worker
//! threads), so all connected clients are answered at once.
//!
//! Run it:   cargo run --bin lesson08-server
//! Then, in two more terminals:   cargo run --bin lesson08-client
//! Or one client with three connections:   cargo run --bin lesson08-client -- --connections 3
//!
//! Look for: "(serving 2 clients now)" — the server talks to both clients while both are connected.
//! Compare with lesson02-server, where the second client hangs until the first one leaves.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use clap::Parser;
use socket_lab::errors::bind_error;
use socket_lab::out::plural;
use socket_lab::socketserver::{Concurrency, Config, Request, RequestHandler, Step, TcpServer};
use socket_lab::{Out, Side, Style};

/// Lesson 08: the upper-case echo server, serving many clients at once.
#[derive(Parser)]
#[command(name = "lesson08-server", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9008)]
    port: u16,

    /// Stop accepting after this many clients, let them finish, then exit (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    /// Serve at most N clients at once on N worker threads (default: a new thread per client).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pool: Option<u16>,

    /// The listen backlog: connections the system may complete and queue before we accept
    /// them. The classic course's listen(5) makes a burst of clients wait seconds in SYN retries.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    backlog: i32,

    /// Print only the first and the last line (for load tests: printing every message costs time).
    #[arg(long)]
    quiet: bool,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

// ANCHOR: handler
/// One of these is made for every connection, and runs in that connection's own thread.
struct UpperEcho {
    out: Out,
    quiet: bool,
    /// How the client left, for `finish` to report.
    ended: &'static str,
}

impl RequestHandler<TcpStream> for UpperEcho {
    fn setup(&mut self, req: &mut Request<TcpStream>) -> std::io::Result<()> {
        if !self.quiet {
            // active() counts this connection too: more than 1 means clients are served at once.
            let peer = req.client_address;
            let now = plural(req.server.active(), "client");
            self.out
                .line(format!("connection from {peer} (serving {now} now)"));
        }
        Ok(())
    }

    /// Lesson 02's communication loop, unchanged: it blocks only this client's thread.
    fn handle(&mut self, req: &mut Request<TcpStream>) -> std::io::Result<()> {
        let conn = &mut req.request;
        let mut buf = [0u8; 1024];
        loop {
            let n = match conn.read(&mut buf) {
                Ok(0) => {
                    self.ended = "closed the connection";
                    return Ok(());
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    self.ended = "reset the connection";
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            self.out.trace_read(buf.len(), &buf[..n]);
            if !self.quiet {
                let text = String::from_utf8_lossy(&buf[..n]);
                self.out
                    .line(format!("received from {}: {text}", req.client_address));
            }
            let reply = buf[..n].to_ascii_uppercase();
            conn.write_all(&reply)?;
            self.out.trace_write(&reply);
        }
    }

    /// Runs whatever happened in `handle`: the place to say goodbye and clean up.
    fn finish(&mut self, req: &mut Request<TcpStream>) {
        if !self.quiet {
            let peer = req.client_address;
            self.out.line(format!("{peer} {}", self.ended));
        }
    }

    fn handle_error(&mut self, req: &Request<TcpStream>, step: Step, err: &std::io::Error) {
        self.ended = "was dropped after an error";
        let peer = req.client_address;
        self.out.line(format!("{peer}: {step} failed: {err}"));
    }
}
// ANCHOR_END: handler

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    // ANCHOR: server
    let config = Config {
        // A thread per client (Python's ThreadingTCPServer), or a bounded pool.
        concurrency: match args.pool {
            Some(n) => Concurrency::Pool(n.into()),
            None => Concurrency::Threading,
        },
        // SO_REUSEADDR: restart at once even while old connections sit in TIME_WAIT.
        allow_reuse_address: true,
        // listen(backlog): room for a burst of connects while the accept loop catches up.
        backlog: args.backlog,
        max_requests: args.max_clients,
    };
    let addr = format!("{}:{}", args.host, args.port);
    let quiet = args.quiet;
    let server = TcpServer::bind(&addr, config, move || UpperEcho {
        out,
        quiet,
        ended: "left",
    })
    .map_err(|e| bind_error(e, &addr))?;
    out.listening(server.local_addr());

    // Accepts, and starts a handler for each connection, until --max-clients is reached;
    // then waits for the handlers still running (a graceful stop).
    let served = server.serve_forever()?;
    // ANCHOR_END: server
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}
