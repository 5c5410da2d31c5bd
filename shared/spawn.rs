//! Starting a lab server from another program (`lab demo`, `lab check`, the tests, the
//! benches) and learning where it listens from its first line, `listening on HOST:PORT`; and
//! finding a port where nobody listens, for a client that must meet no server.
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

/// A TCP port where nobody listens, at the moment of looking (see [`unused_port`]).
pub fn free_tcp_port() -> Option<u16> {
    unused_port(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
}

/// A UDP port where nobody receives, at the moment of looking (see [`unused_port`]).
pub fn free_udp_port() -> Option<u16> {
    unused_port(|port| std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok())
}

/// A free port chosen BELOW the system's ephemeral range (where clients' own ports come
/// from), starting at a random place. A port from inside that range could be handed to the
/// very client run against it: a UDP client would then receive its own datagram, and a TCP
/// client connecting to its own port connects to itself ("self-connect").
fn unused_port(is_free: impl Fn(u16) -> bool) -> Option<u16> {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let first: u16 = 20000;
    let span = ephemeral_low.saturating_sub(first).max(1);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let start = (random % u64::from(span)) as u16;
    (0..span)
        .map(|i| first + (start + i) % span)
        .find(|&port| is_free(port))
}
