//! Starting a lab server from another program (`lab demo`, the tests, the benches) and
//! learning where it listens from its first line, `listening on HOST:PORT`.
//!
//! Started with `--port 0`, a server listens on whatever port the system gives it; its first
//! line says which. Waiting for that line is also the synchronisation: once it is printed,
//! the socket listens, so clients can connect at once. No fixed ports, no sleeps.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{bail, Context};

/// A started server that has said where it listens.
pub struct Listening {
    pub child: Child,
    /// Where it listens, read from its first line.
    pub addr: SocketAddr,
    /// Its first line: `listening on HOST:PORT`.
    pub first_line: String,
    /// The rest of its stdout. Someone must read it: a server whose pipe is full blocks.
    pub stdout: BufReader<ChildStdout>,
}

/// Spawns `cmd` with stdout piped and waits for its first line. The caller chooses the
/// arguments (`--port 0` for a lab server), stdin and stderr. A program whose first line
/// is something else (or nothing) is stopped; the error says what it printed, and its
/// stderr when that is piped.
pub fn start(cmd: &mut Command) -> anyhow::Result<Listening> {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let mut stdout = BufReader::new(child.stdout.take().context("reading its stdout")?);
    let mut first_line = String::new();
    // A read error reads as an empty line: reported below like any other wrong first
    // line.
    let _ = stdout.read_line(&mut first_line);
    let first_line = first_line.trim_end().to_string();
    let addr = first_line.strip_prefix("listening on ").map(str::parse);
    if let Some(Ok(addr)) = addr {
        return Ok(Listening {
            child,
            addr,
            first_line,
            stdout,
        });
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let stderr = stderr.trim().replace('\n', " / ");
    bail!("{program} did not say where it listens: first line {first_line:?}, stderr {stderr:?}")
}

impl Listening {
    /// Throws the rest of the server's stdout away, in a thread, so that its pipe never
    /// fills up; returns the server's process.
    pub fn drain_stdout(self) -> Child {
        let mut rest = self.stdout;
        std::thread::spawn(move || std::io::copy(&mut rest, &mut std::io::sink()));
        self.child
    }
}
