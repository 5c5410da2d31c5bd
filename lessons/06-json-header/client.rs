//! Lesson 06 — the JSON-header client: send a file, fetch a file, run commands.
//!
//!   lesson06-client put FILE            send FILE; the server stores it under its own name
//!   lesson06-client get NAME --out DIR  fetch NAME into DIR (default: target/lesson06/downloads);
//!                                       a file of that name there is replaced only with --force
//!   lesson06-client run                 send each line of stdin as a command, print the output
//!
//! Start the server first:   cargo run --bin lesson06-server
//! Then:                     cargo run --bin lesson06-client -- put Cargo.toml
//!
//! Look for: a big file moves in 1 MiB chunks and the client's memory stays flat; on a
//! terminal a progress bar shows the hashing, then the sending or receiving. The sha256
//! in the header is checked on arrival, and a file is only given its name once it matches.

use std::io::{IsTerminal, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use socket_lab::encoding::Encoding;
use socket_lab::errors::{connect_error, timed_out};
use socket_lab::frame::ByteOrder;
use socket_lab::input::Lines;
use socket_lab::json_header::{
    check_name, parse_reply, recv_header, send_header, to_hex, Reply, Request, Status,
    MAX_HEADER_LEN,
};
use socket_lab::out::{escape_lines, plural};
use socket_lab::transfer::{
    copy_body, receive_file, send_file, sha256_of_file, Received, CHUNK,
};
use socket_lab::{Out, Side, Style};

/// The largest command output the client accepts, in bytes.
const MAX_OUTPUT: u64 = 16 * 1024 * 1024;

/// Lesson 06: put and get files, or run commands, on lesson06-server.
#[derive(Parser)]
#[command(
    name = "lesson06-client",
    version,
    after_help = "Examples:\n  lesson06-client put notes.txt\n  lesson06-client get notes.txt\n  lesson06-client get notes.txt --out /tmp\n  echo 'seq 3' | lesson06-client run"
)]
struct Args {
    /// put: send FILE (stored under its own name); get: fetch the file NAME; run: send
    /// each line of stdin as a command and print its output.
    #[arg(value_enum)]
    action: Action,

    /// The file to send (put) or the name to fetch (get).
    #[arg(value_name = "FILE|NAME")]
    target: Option<String>,

    /// With get: the directory to save the file in (created if missing). The default is
    /// under cargo's target/ folder, so downloads are never mixed with your own files.
    #[arg(long, value_name = "DIR", default_value = "target/lesson06/downloads")]
    out: PathBuf,

    /// With get: replace a file of the same name in DIR (without it, get refuses).
    #[arg(long)]
    force: bool,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9006)]
    port: u16,

    /// Byte order of the 4-byte header length: network (big-endian) or native
    /// (Python's struct.pack('i', n) on this machine). Both sides must agree.
    #[arg(long, value_enum, default_value_t = ByteOrder::Network, value_name = "ORDER")]
    byte_order: ByteOrder,

    /// With run: the course's protocol (commands unframed, replies with a native-order
    /// length; of the reply header only `total_size` is read, as the course's client
    /// does).
    #[arg(long)]
    classic: bool,

    /// With run: how the command output is decoded. The course decodes it as gbk (a
    /// server on Windows in Chinese); the lab's server sends utf-8.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8, value_name = "ENCODING")]
    encoding: Encoding,

    /// The largest reply header accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_HEADER_LEN)]
    max_header: u32,

    /// Give up when the server takes nothing and sends nothing for this many
    /// milliseconds (it may be busy: lesson06-server serves one client at a time).
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,

    #[command(flatten)]
    style: Style,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Action {
    Put,
    Get,
    Run,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.action != Action::Run && args.target.is_none() {
        let what = if args.action == Action::Put {
            "FILE"
        } else {
            "NAME"
        };
        Args::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!(
                    "put and get need a {what}: lesson06-client put FILE, lesson06-client get NAME"
                ),
            )
            .exit();
    }
    let out = Out::new(Side::Client, &args.style);
    let talked = talk(&args, out).map_err(|e| explain_timeout(e, args.timeout_ms));
    socket_lab::exit_code(talked)
}

/// A wait that hit --timeout-ms, said in words rather than as "os error 11".
fn explain_timeout(e: anyhow::Error, ms: u64) -> anyhow::Error {
    if !timed_out(&e) {
        return e;
    }
    anyhow::anyhow!(
        "{e}: the server did nothing for {ms} ms. It may be busy with another client \
         (lesson06-server serves one at a time) or stuck; try again, or wait longer with \
         --timeout-ms"
    )
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    // Check what we can before connecting: a file that cannot be sent is no business of
    // the server's.
    let target = args.target.clone().unwrap_or_default();
    let put = match args.action {
        Action::Put => Some(prepare_put(Path::new(&target))?),
        _ => None,
    };
    if args.action == Action::Get && !args.force {
        // Never overwrite a file of the user's without being asked to.
        let local = args.out.join(&target);
        if check_name(&target).is_ok() && local.exists() {
            bail!(
                "{} already exists: nothing was fetched. Add --force to replace it, or \
                 choose another folder with --out DIR",
                local.display()
            );
        }
    }
    let addr = format!("{}:{}", args.host, args.port);
    let conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson06-server"))?;
    let out = out.on(&conn); // this connection's lines (for --trace-file)
    out.line(format!("connected to {addr}"));
    // Header and body are separate writes: TCP_NODELAY sends each at once (see the
    // server).
    conn.set_nodelay(true)?;
    // A server that never answers (or never reads) must not hang us: every read and
    // write waits at most --timeout-ms.
    let timeout = Duration::from_millis(args.timeout_ms);
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    let mut session = Session {
        conn,
        order: if args.classic {
            ByteOrder::Native
        } else {
            args.byte_order
        },
        max_header: args.max_header,
        encoding: args.encoding,
        out,
    };
    // `put` is prepared (Some) exactly when the action is put.
    match (args.action, put) {
        (_, Some((name, total, sha256))) => {
            session.put(Path::new(&target), &name, total, &sha256)
        }
        (Action::Get, None) => session.get(&target, &args.out),
        (_, None) => session.run(args.classic),
    }
}

/// The name, size and sha256 of a file to send. The sha256 needs one pass over the file
/// before sending: the header, which goes first, carries it.
fn prepare_put(file: &Path) -> anyhow::Result<(String, u64, String)> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| {
            format!("cannot send {}: it has no usable file name", file.display())
        })?
        .to_string();
    check_name(&name)
        .map_err(|e| anyhow::anyhow!("cannot send {}: {e}", file.display()))?;
    let meta = std::fs::metadata(file)
        .with_context(|| format!("cannot send {}", file.display()))?;
    if !meta.is_file() {
        bail!("cannot send {}: not a regular file", file.display());
    }
    let sha256 = hash_file(file, &name, meta.len())?;
    Ok((name, meta.len(), sha256))
}

/// The sha256 of a file, with a progress bar: a big file takes seconds.
fn hash_file(file: &Path, name: &str, total: u64) -> anyhow::Result<String> {
    let progress = Progress::new("hashing", name, total);
    let sha256 = sha256_of_file(file, |n| progress.add(n));
    progress.finish();
    sha256
}

struct Session {
    conn: TcpStream,
    order: ByteOrder,
    max_header: u32,
    encoding: Encoding,
    out: Out,
}

impl Session {
    // ANCHOR: put
    fn put(
        &mut self,
        file: &Path,
        name: &str,
        total: u64,
        sha256: &str,
    ) -> anyhow::Result<()> {
        let request = Request::Put {
            file_name: name.to_string(),
            total_size: total,
            sha256: sha256.to_string(),
        };
        send_header(&mut self.conn, &request, self.order, &self.out)?;
        self.out.line(format!(
            "sending {name}: {}, sha256 {sha256}",
            plural(total as usize, "byte")
        ));
        let progress = Progress::new("sending", name, total);
        let sent = std::fs::File::open(file)
            .with_context(|| format!("opening {}", file.display()))
            .and_then(|f| send_file(&f, &self.conn, total, |n| progress.add(n)));
        progress.finish();
        if let Err(e) = sent {
            // The server may have refused and closed: its reason is worth more than ours.
            return match self.reply() {
                Ok(reply) if reply.status == Status::Error => {
                    bail!("the server refused: {}", reply.message)
                }
                _ => Err(e),
            };
        }
        let reply = self.reply()?;
        match reply.status {
            Status::Ok => self.out.line(format!("server: {}", reply.message)),
            Status::Error => bail!("the server refused: {}", reply.message),
        }
        Ok(())
    }
    // ANCHOR_END: put

    // ANCHOR: get
    fn get(&mut self, name: &str, dir: &Path) -> anyhow::Result<()> {
        let request = Request::Get {
            file_name: name.to_string(),
        };
        send_header(&mut self.conn, &request, self.order, &self.out)?;
        let reply = self.reply()?;
        if reply.status == Status::Error {
            bail!("the server refused: {}", reply.message);
        }
        // Never trust a name from the network: parse_reply has checked it is a plain
        // name, and it must be the one we asked for.
        if reply.file_name != name {
            bail!(
                "the server sent {:?} instead of {name:?}; nothing was saved",
                reply.file_name
            );
        }
        let total = reply.total_size;
        self.out.line(format!(
            "receiving {name}: {}, sha256 {}",
            plural(total as usize, "byte"),
            reply.sha256
        ));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let progress = Progress::new("receiving", name, total);
        let received =
            receive_file(&mut self.conn, dir, name, total, &reply.sha256, |n| {
                progress.add(n)
            });
        progress.finish();
        match received? {
            Received::Saved => self.out.line(format!(
                "saved {name} ({}, sha256 verified)",
                plural(total as usize, "byte")
            )),
            Received::ChecksumMismatch(e) => bail!(e),
        }
        Ok(())
    }
    // ANCHOR_END: get

    // ANCHOR: run
    /// The remote-command loop of lesson 04, now with a JSON header on every message.
    fn run(&mut self, classic: bool) -> anyhow::Result<()> {
        let mut lines = Lines::stdin();
        while let Some(line) = lines.next_line()? {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line == "exit" || line == "quit" {
                break;
            }
            if !classic {
                let request = Request::Run {
                    total_size: line.len() as u64,
                };
                send_header(&mut self.conn, &request, self.order, &self.out)?;
            }
            self.conn.write_all(line.as_bytes()).context("sending")?;
            self.out.trace_write(line.as_bytes());

            let reply = if classic {
                self.classic_reply()?
            } else {
                self.reply()?
            };
            if reply.status == Status::Error {
                bail!("the server refused: {}", reply.message);
            }
            if reply.total_size > MAX_OUTPUT {
                bail!(
                    "the server announced {} bytes of output, over the limit of {MAX_OUTPUT}",
                    reply.total_size
                );
            }
            let mut output = Vec::new();
            let mut hasher = Sha256::new();
            copy_body(&mut self.conn, &mut output, reply.total_size, |c| {
                hasher.update(c)
            })?;
            self.out.trace_read(output.len(), &output);
            let got = to_hex(&hasher.finalize());
            if !reply.sha256.is_empty() && got != reply.sha256 {
                bail!("the output's sha256 does not match the header's");
            }
            // The output is the server's bytes: decoded, shown escaped, line breaks kept.
            let text = escape_lines(self.encoding.decode(&output).as_bytes());
            self.out.line(text.trim_end_matches(['\r', '\n']));
        }
        Ok(())
    }
    // ANCHOR_END: run

    // ANCHOR: classic_reply
    /// `--classic`: a reply header as the course's client reads it. The course's server
    /// sends `{"md5": "...", "file_name": "f1.txt", "total_size": N}`: no `status`, an
    /// `md5` that is a fixed placeholder. Its client reads `total_size` and nothing else,
    /// and so does this.
    fn classic_reply(&mut self) -> anyhow::Result<Reply> {
        #[derive(serde::Deserialize)]
        struct ClassicReply {
            total_size: u64,
        }
        let header = recv_header(&mut self.conn, self.order, self.max_header, &self.out)
            .context("receiving the server's reply")?
            .context("the server closed the connection without replying")?;
        let classic: ClassicReply = serde_json::from_slice(&header).map_err(|e| {
            // serde's message may quote the peer's bytes: escaped, for the terminal.
            let e = e.to_string();
            anyhow::anyhow!("bad reply from the server: {}", e.escape_debug())
        })?;
        Ok(Reply {
            total_size: classic.total_size,
            ..Reply::ok("")
        })
    }
    // ANCHOR_END: classic_reply

    /// Receives and checks the server's reply header.
    fn reply(&mut self) -> anyhow::Result<Reply> {
        let header = recv_header(&mut self.conn, self.order, self.max_header, &self.out)
            .context("receiving the server's reply")?
            .context("the server closed the connection without replying")?;
        parse_reply(&header)
            .map_err(|e| anyhow::anyhow!("bad reply from the server: {e}"))
    }
}

// ANCHOR: progress
/// A progress bar on stderr for a long step (hashing, sending, receiving): the bytes so
/// far, the rate and the time left, redrawn in place (the `indicatif` crate draws it).
/// Only for a person watching: when stderr is not a terminal (a pipe, a test, a log
/// file) there is no bar and nothing is printed at all.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(doing: &str, name: &str, total: u64) -> Progress {
        let worth_it = total >= CHUNK as u64 && std::io::stderr().is_terminal();
        let bar = worth_it.then(|| {
            let template =
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}";
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = ProgressBar::new(total).with_style(style);
            bar.set_message(format!("{doing} {name}"));
            bar
        });
        Progress { bar }
    }

    /// `bytes` more are done.
    fn add(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Leaves the finished bar on the screen.
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
// ANCHOR_END: progress
