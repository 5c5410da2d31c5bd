//! `lab demo NN`: a lesson's server and clients in one terminal, each line tagged and coloured
//! by the side that printed it, in the order the lines arrive.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use colored::Colorize;

use crate::lessons::{Demo, LESSONS};

/// A demo that has not ended after this long is stopped: demos always end by themselves.
const LIMIT: Duration = Duration::from_secs(30);

/// What the reader threads report: a line from one side, or that one of its streams
/// ended.
enum Event {
    Line(&'static str, String),
    Closed(&'static str),
}

pub fn run(number: &str) -> anyhow::Result<()> {
    let wanted = if number.len() == 1 {
        format!("0{number}")
    } else {
        number.to_string()
    };
    let lesson = LESSONS.iter().find(|l| l.number == wanted).ok_or_else(|| {
        let known: Vec<&str> = LESSONS.iter().map(|l| l.number).collect();
        anyhow!(
            "there is no lesson {number}: choose one of {}",
            known.join(", ")
        )
    })?;
    print(&format!(
        "{}\n",
        format!(
            "demo of lesson {}: {} — {}",
            lesson.number, lesson.title, lesson.shows
        )
        .bold()
    ));
    let demo = &lesson.demo;
    build(demo)?;
    play(demo)
}

/// Where the lesson binaries are: next to this `lab` binary.
fn bin_path(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the lab binary")?;
    Ok(exe.with_file_name(name))
}

/// Under `cargo run`, make sure the demo's binaries are built and up to date, as the
/// lab's own binary is (`cargo run --bin lab` builds only `lab`).
fn build(demo: &Demo) -> anyhow::Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(()); // not under cargo: use the binaries that are there
    };
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--quiet",
        "--bin",
        demo.server,
    ]);
    for client in demo.clients {
        cmd.args(["--bin", client.bin]);
    }
    if let Some(relay) = &demo.relay {
        cmd.args(["--bin", relay.bin]);
    }
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("building the demo's binaries failed (see cargo's messages above)");
    }
    Ok(())
}

/// The command that runs lesson program `name`, uncoloured (the demo colours by side).
fn command(name: &str, args: &[&str], stdin: Stdio) -> anyhow::Result<Command> {
    let mut cmd = Command::new(bin_path(name)?);
    cmd.args(args)
        .args(["--color", "never"])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(cmd)
}

fn spawn(name: &str, args: &[&str], stdin: Stdio) -> anyhow::Result<Child> {
    command(name, args, stdin)?
        .spawn()
        .with_context(|| format!("starting {name} (build it first: cargo build)"))
}

/// Forwards each line of `stream` to `tx`, tagged with `side`, then reports the end.
fn forward(stream: impl Read + Send + 'static, side: &'static str, tx: &Sender<Event>) {
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(Event::Line(side, line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Event::Closed(side));
    });
}

/// Prints and flushes at once. A closed stdout (the lab piped into `head`) is not worth a
/// panic.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn show(side: &str, line: &str) {
    let tag = format!("{side:>6} │");
    let text = match side {
        "server" => format!("{} {}", tag.cyan(), line.cyan()),
        "relay" => format!("{} {}", tag.yellow(), line.yellow()),
        _ => format!("{} {}", tag.green(), line.green()),
    };
    print(&format!("{text}\n"));
}

/// The demo's output so far: prints lines as they arrive and counts closed streams per
/// side.
struct Screen {
    rx: Receiver<Event>,
    closed_server: usize,
    closed_client: usize,
    closed_relay: usize,
}

impl Screen {
    /// Prints events until `side` has closed `streams` streams in all, or the deadline
    /// passes.
    fn until_closed(&mut self, side: &str, streams: usize, deadline: Instant) -> bool {
        loop {
            let closed = match side {
                "server" => self.closed_server,
                "relay" => self.closed_relay,
                _ => self.closed_client,
            };
            if closed >= streams {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Event::Line(side, line)) => show(side, &line),
                Ok(Event::Closed("server")) => self.closed_server += 1,
                Ok(Event::Closed("relay")) => self.closed_relay += 1,
                Ok(Event::Closed(_)) => self.closed_client += 1,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return false
                }
            }
        }
    }
}

/// A program that runs until the demo stops it (the relay): stopped when dropped, on every
/// way out of `play`, errors included.
struct StopOnDrop(Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a program that listens (the server, a relay) on a free port, shows its first
/// line and forwards the rest of its output, tagged `side`. Returns it and its port.
fn start(
    name: &str,
    args: &[&str],
    side: &'static str,
    tx: &Sender<Event>,
) -> anyhow::Result<(Child, u16)> {
    let args = [args, &["--port", "0"]].concat();
    // Its first line tells where it listens; whoever talks to it needs that port.
    let mut started = socket_lab::spawn::start(&mut command(name, &args, Stdio::null())?)
        .with_context(|| format!("starting {name} (build it first: cargo build)"))?;
    show(side, &started.first_line);
    forward(started.stdout, side, tx);
    let stderr = started.child.stderr.take().context("its stderr")?;
    forward(stderr, side, tx);
    Ok((started.child, started.addr.port()))
}

fn play(demo: &Demo) -> anyhow::Result<()> {
    let deadline = Instant::now() + LIMIT;
    let (tx, rx) = channel();
    let (mut server, port) = start(demo.server, demo.server_args, "server", &tx)?;
    let mut screen = Screen {
        rx,
        closed_server: 0,
        closed_client: 0,
        closed_relay: 0,
    };

    // With a relay, the clients talk to the relay, and the relay to the server.
    let (relay, port) = match &demo.relay {
        None => (None, port),
        Some(r) => {
            let to = format!("127.0.0.1:{port}");
            let args = [r.args, &["--to", to.as_str()]].concat();
            match start(r.bin, &args, "relay", &tx) {
                Ok((child, port)) => (Some(StopOnDrop(child)), port),
                Err(e) => {
                    let _ = server.kill();
                    return Err(e);
                }
            }
        }
    };
    let port = port.to_string();

    for (i, client) in demo.clients.iter().enumerate() {
        let mut args = client.args.to_vec();
        args.extend(["--port", port.as_str()]);
        let mut child = spawn(client.bin, &args, Stdio::piped())?;
        if let Some(mut stdin) = child.stdin.take() {
            // The typed input, then the end of input (Ctrl-D).
            let _ = stdin.write_all(client.stdin.as_bytes());
        }
        forward(child.stdout.take().context("client stdout")?, "client", &tx);
        forward(child.stderr.take().context("client stderr")?, "client", &tx);
        // Each client has two streams (stdout, stderr); wait for both to end.
        if !screen.until_closed("client", 2 * (i + 1), deadline) {
            let _ = child.kill();
            let _ = server.kill();
            bail!("the demo did not finish within {LIMIT:?}; stopped it");
        }
        let _ = child.wait();
    }

    if !screen.until_closed("server", 2, deadline) {
        let _ = server.kill();
        let _ = server.wait();
        bail!("the server did not stop within {LIMIT:?}; stopped it");
    }
    let status = server.wait().context("waiting for the server")?;
    // The relay would run forever: the transfer is over, so stop it and show its last lines.
    if let Some(relay) = relay {
        drop(relay);
        screen.until_closed("relay", 2, deadline);
    }
    let code = status.code().map_or("none".to_string(), |c| c.to_string());
    print(&format!(
        "{}\n",
        format!("demo finished (server exit code {code})").bold()
    ));
    Ok(())
}
