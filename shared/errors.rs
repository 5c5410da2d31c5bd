//! One-line errors that say what happened and what to do next.
//!
//! Every binary ends through [`exit_code`]: success is exit code 0, an error is one line on
//! stderr starting with `error:` and exit code 1. (Bad command-line usage is exit code 2,
//! reported by clap before any socket is opened.)

use std::io::ErrorKind;
use std::process::ExitCode;

use colored::Colorize;

use crate::proc_tcp::State;

/// Prints an error as one line on stderr and turns the outcome into the process exit
/// code.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` joins the context and its cause on one line: "connecting to ...:
            // refused".
            let text = format!("{err:#}").replace('\n', " ");
            eprintln!("{} {text}", "error:".red().bold());
            ExitCode::FAILURE
        }
    }
}

/// Explains a failed `connect`. A refused connection names the server to start and the
/// exact command that starts it on this address.
pub fn connect_error(err: std::io::Error, addr: &str, server_bin: &str) -> anyhow::Error {
    let start = start_command(addr, server_bin);
    match err.kind() {
        ErrorKind::ConnectionRefused => anyhow::anyhow!(
            "connection refused by {addr}: no server is listening there. \
             Start the server first, in another terminal: {start}"
        ),
        ErrorKind::TimedOut => anyhow::anyhow!(
            "connecting to {addr} timed out: nothing answered. Is {server_bin} running there? ({start})"
        ),
        _ => anyhow::anyhow!("could not connect to {addr}: {err}"),
    }
}

/// Whether a read or a write failed because its timeout passed (`set_read_timeout`,
/// lesson 03): Linux and macOS say WouldBlock (EAGAIN), Windows TimedOut.
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// [`is_timeout`] for an error with context around it: the cause may be an I/O error,
/// or a frame reader's I/O error.
pub fn timed_out(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let frame = match cause.downcast_ref::<crate::frame::ReadError>() {
            Some(crate::frame::ReadError::Io(io)) => Some(io),
            _ => None,
        };
        let io = cause.downcast_ref::<std::io::Error>().or(frame);
        io.is_some_and(is_timeout)
    })
}

/// Explains a failed `bind`. "Address in use" says what holds the port (when this machine
/// lets us see it: a listening program, or old connections in TIME_WAIT) and how to choose
/// another port.
pub fn bind_error(err: std::io::Error, addr: &str) -> anyhow::Error {
    let another_port = "choose another port with --port N (--port 0 picks any free port)";
    match err.kind() {
        ErrorKind::AddrInUse => {
            let port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            if let Some(who) = port.and_then(crate::errors::who_listens) {
                anyhow::anyhow!(
                    "address {addr} is already in use: {who} holds it. Stop that program, \
                     or {another_port}"
                )
            } else if port.is_some_and(in_time_wait) {
                anyhow::anyhow!(
                    "address {addr} is already in use: an old connection of this port is in \
                     TIME_WAIT, for 60 s, because this side closed it first. Wait for it to \
                     end, or {another_port}. (A server binds at once if both its listening \
                     socket and the old one set SO_REUSEADDR: lesson 11)"
                )
            } else {
                anyhow::anyhow!(
                    "address {addr} is already in use: another program holds it. Stop that \
                     program, or {another_port}"
                )
            }
        }
        ErrorKind::AddrNotAvailable => anyhow::anyhow!(
            "cannot bind {addr}: that address does not belong to this machine. Try --host 127.0.0.1"
        ),
        ErrorKind::PermissionDenied => anyhow::anyhow!(
            "cannot bind {addr}: permission denied (ports below 1024 need privileges). \
             Choose a port of 1024 or above with --port N"
        ),
        _ => anyhow::anyhow!("cannot bind {addr}: {err}"),
    }
}

/// The command a student types to start `server_bin` so that it listens on `addr`
/// (`HOST:PORT`): only what differs from the defaults is spelled out.
pub fn start_command(addr: &str, server_bin: &str) -> String {
    let mut cmd = format!("cargo run --bin {server_bin}");
    let (host, port) = match addr.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()),
        None => (addr, None),
    };
    let mut extra = Vec::new();
    if host != "127.0.0.1" {
        extra.push(format!("--host {host}"));
    }
    if let Some(port) = port.filter(|p| Some(*p) != crate::cli::default_port(server_bin))
    {
        extra.push(format!("--port {port}"));
    }
    if !extra.is_empty() {
        cmd.push_str(" -- ");
        cmd.push_str(&extra.join(" "));
    }
    cmd
}

/// Which process listens on a TCP port, as `pid 1234 (lesson02-server)`, read from
/// Linux's /proc. `None` where /proc is missing or the process belongs to someone else.
pub fn who_listens(port: u16) -> Option<String> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy().to_string();
            if inodes.iter().any(|i| target == format!("socket:[{i}]")) {
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .unwrap_or_default();
                return Some(format!("pid {pid} ({})", name.trim()));
            }
        }
    }
    None
}

/// The socket inodes listening on `port`, from Linux's table of TCP sockets.
fn listening_inodes(port: u16) -> Vec<String> {
    let sockets = crate::proc_tcp::sockets_on(port).unwrap_or_default();
    sockets
        .iter()
        .filter(|s| s.state == State::Listen && s.local.port() == port && s.inode != 0)
        .map(|s| s.inode.to_string())
        .collect()
}

/// Whether a connection on `port` (as its local port) is in TIME_WAIT.
fn in_time_wait(port: u16) -> bool {
    let sockets = crate::proc_tcp::sockets_on(port).unwrap_or_default();
    sockets
        .iter()
        .any(|s| s.state == State::TimeWait && s.local.port() == port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_command_adds_only_what_differs_from_the_defaults() {
        assert_eq!(
            start_command("127.0.0.1:9001", "lesson01-server"),
            "cargo run --bin lesson01-server"
        );
        assert_eq!(
            start_command("127.0.0.1:4000", "lesson02-server"),
            "cargo run --bin lesson02-server -- --port 4000"
        );
    }

    #[test]
    fn a_listening_socket_of_ours_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let who = who_listens(port).expect("our own listener is visible in /proc");
        assert!(
            who.starts_with(&format!("pid {} (", std::process::id())),
            "{who}"
        );
    }
}
