//! Lesson 08 — the same echo server on the socketserver module (Python's
//! `ThreadingTCPServer`).
//!
//! `lesson08-server` spells out the accept loop and the thread per client. This server
//! leaves them to `socket_lab::socketserver` (the file `socketserver.rs` next to this one),
//! a small copy of Python's `socketserver`: all that is left here is a handler with three
//! steps, `setup` → `handle` → `finish`, and a few lines of configuration. With `--pool N`
//! the connections run on N threads started once, instead of a new thread each.
//!
//! Run it:   cargo run --bin lesson08-socketserver-echo -- --pool 2
//! Then, in three more terminals:   cargo run --bin lesson08-client
//!
//! Look for: "(serving 2 clients now)"; with `--pool 2`, the third client waits for a
//! reply until one of the first two leaves.

use std::io::{ErrorKind, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_lab::errors::{bind_error, is_timeout};
use socket_lab::limits::{raise_open_file_limit, tell_busy};
use socket_lab::out::{escape, plural};
use socket_lab::socketserver::{Concurrency, Config, Request, RequestHandler, TcpServer};
use socket_lab::{Out, Side, Style};

/// Lesson 08: the upper-case echo server on the socketserver module: a thread per client,
/// or a pool.
#[derive(Parser)]
#[command(name = "lesson08-socketserver-echo", version)]
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

    /// Serve at most N clients at once on N worker threads (default: a new thread per
    /// client).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pool: Option<u16>,

    /// The listen backlog: connections the system may complete and queue before we accept
    /// them. The classic course's listen(5) makes a burst of clients wait seconds in SYN
    /// retries.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    backlog: i32,

    /// Serve at most N clients at once; one more is told "busy" and closed. The default
    /// fits the common open-file limit of 1024.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Close a connection that sends nothing (or reads nothing) for this many
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,

    /// Print only the first and the last line (for load tests: printing every message
    /// costs time).
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
/// One of these is made for every connection, and runs on that connection's thread
/// (its own, or one of the pool's).
struct UpperEcho {
    out: Out,
    quiet: bool,
    max_connections: u32,
    /// How the client left, for `finish` to report.
    ended: &'static str,
}

impl RequestHandler for UpperEcho {
    fn setup(&mut self, req: &mut Request) -> std::io::Result<()> {
        if !self.quiet {
            // active() counts this connection too: more than 1 means several at once.
            let peer = req.client_address;
            let now = plural(req.server.active(), "client");
            self.out
                .line(format!("connection from {peer} (serving {now} now)"));
        }
        Ok(())
    }

    /// Lesson 02's communication loop: it blocks only this client's thread (and, with the
    /// server's idle timeout, not for ever).
    fn handle(&mut self, req: &mut Request) -> std::io::Result<()> {
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
                Err(e) if is_timeout(&e) => {
                    self.ended = "sent nothing for --idle-timeout-ms: closed";
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            self.out.trace_read(buf.len(), &buf[..n]);
            if !self.quiet {
                let text = escape(&buf[..n]);
                self.out
                    .line(format!("received from {}: {text}", req.client_address));
            }
            // Upper-cased in place: no new buffer for every message.
            let reply = &mut buf[..n];
            reply.make_ascii_uppercase();
            conn.write_all(reply)?;
            self.out.trace_write(reply);
        }
    }

    /// Runs whatever happened in `handle`: the place to say goodbye and clean up.
    fn finish(&mut self, req: &mut Request) {
        if !self.quiet {
            let peer = req.client_address;
            self.out.line(format!("{peer} {}", self.ended));
        }
    }

    /// The server is at --max-connections: say so, in one line the client shows.
    fn refuse(&mut self, req: &mut Request) {
        tell_busy(&mut req.request, self.max_connections);
        if !self.quiet {
            let peer = req.client_address;
            self.out.line(format!("{peer} refused: busy"));
        }
    }

    fn handle_error(&mut self, req: &Request, err: &std::io::Error) {
        self.ended = "was dropped after an error";
        let peer = req.client_address;
        self.out.line(format!("{peer}: {err}"));
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
        // At most this many at once, and none of them idle for longer than this.
        max_connections: Some(args.max_connections as usize),
        idle_timeout: Some(Duration::from_millis(args.idle_timeout_ms)),
    };
    let addr = format!("{}:{}", args.host, args.port);
    let (quiet, max_connections) = (args.quiet, args.max_connections);
    let server = TcpServer::bind(&addr, config, move || UpperEcho {
        out,
        quiet,
        max_connections,
        ended: "left",
    })
    .map_err(|e| bind_error(e, &addr))?;
    out.listening(server.local_addr());
    // One descriptor per client: the open-file limit as high as it goes.
    let limit = raise_open_file_limit().context("raising the open-file limit")?;
    if !quiet {
        out.line(limit.describe(max_connections as usize, 1));
    }

    // Accepts, and starts a handler for each connection, until --max-clients is reached;
    // then waits for the handlers still running (a graceful stop).
    let served = server.serve_forever();
    // ANCHOR_END: server
    out.line(format!("served {}, stopping", plural(served, "client")));
    Ok(())
}
