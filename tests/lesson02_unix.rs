//! Lesson 02 over a Unix domain socket (`--unix PATH`): the same echo, an address that is a
//! file. What changes (the file, left behind or removed, its permissions) and what does not
//! (the stream API, the loops), run for real.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};

use wait_timeout::ChildExt;

const SERVER: &str = "lesson02-server";
const CLIENT: &str = "lesson02-client";

/// A scratch directory that every user may enter (a test runs a client as `nobody`).
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod 755");
    dir
}

/// `lesson02-server --unix ...` started in `dir`, once it has said where it listens.
struct UnixServer {
    child: Child,
    shown: String,
    first_line: String,
    stdout: BufReader<ChildStdout>,
}

#[track_caller]
fn start(dir: &Path, args: &[&str]) -> UnixServer {
    let mut child = command(SERVER)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting lesson02-server");
    let mut stdout = BufReader::new(child.stdout.take().expect("its stdout"));
    let mut first_line = String::new();
    let _ = stdout.read_line(&mut first_line);
    assert!(
        first_line.starts_with("listening on "),
        "expected `listening on PATH` first; observed {first_line:?}"
    );
    UnixServer {
        child,
        shown: shown_command(SERVER, args, None),
        first_line,
        stdout,
    }
}

impl UnixServer {
    /// Waits for the server to end by itself (its `--max-clients`), and what it printed.
    #[track_caller]
    fn finish(mut self) -> Run {
        let status = self.child.wait_timeout(LIMIT).expect("waiting");
        if status.is_none() {
            let _ = self.child.kill();
        }
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        Run {
            bin: SERVER.to_string(),
            shown: self.shown.clone(),
            stdout: format!("{}{rest}", self.first_line),
            stderr,
            code: status.and_then(|s| s.code()),
            port: None,
        }
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `bin` in `dir` to completion, optionally as another user (`setpriv ...` prefix).
#[track_caller]
fn run_in(dir: &Path, prefix: &[&str], bin: &str, args: &[&str], stdin: &str) -> Run {
    let std_cmd = match prefix.split_first() {
        None => command(bin),
        Some((first, rest)) => {
            let mut cmd = std::process::Command::new(first);
            cmd.args(rest).arg(bin_path(bin)).env("NO_COLOR", "1");
            cmd
        }
    };
    let mut cmd = assert_cmd::Command::from_std(std_cmd);
    cmd.args(args)
        .current_dir(dir)
        .timeout(LIMIT)
        .write_stdin(stdin);
    let output = cmd.output().expect("running the client");
    Run {
        bin: bin.to_string(),
        shown: shown_command(bin, args, Some(stdin)),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
        port: None,
    }
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn the_echo_runs_over_a_unix_socket_and_its_file_is_removed_at_the_end() {
    let dir = scratch();
    let sock = dir.path().join("echo.sock");
    // The file's mode is set with --mode: the default depends on the umask.
    let args = ["--unix", "echo.sock", "--mode", "600", "--max-clients", "1"];
    let server = start(dir.path(), &args);
    // While the server runs, its address is a file in the directory: a socket.
    assert!(is_socket(&sock), "echo.sock is not a socket file");
    let client = run_in(
        dir.path(),
        &[],
        CLIENT,
        &["--unix", "echo.sock"],
        "hello\nexit\n",
    );
    let server = server.finish();
    client.assert_code(0).assert_stdout_contains("HELLO");
    server.assert_code(0);
    server.assert_stdout_contains("socket file echo.sock (srw-------)");
    server.assert_stdout_contains("removed echo.sock");
    assert!(!sock.exists(), "the server left echo.sock behind");
    assert_transcript("lesson02_unix", &transcript(&[&server, &client]));
}

#[test]
fn a_stale_socket_file_refuses_clients_and_the_next_server_removes_it() {
    let dir = scratch();
    let sock = dir.path().join("echo.sock");
    // A server that stops without removing its file: bind, then close. The file stays.
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("bind"));
    assert!(is_socket(&sock), "the stale socket file is there");

    let refused = run_in(dir.path(), &[], CLIENT, &["--unix", "echo.sock"], "hello\n");
    refused.assert_code(1).assert_error(
        "error: connection refused by echo.sock: the socket file is there but nobody \
         listens (a server stopped without removing it). Start the server: \
         cargo run --bin lesson02-server -- --unix echo.sock",
    );

    let args = ["--unix", "echo.sock", "--mode", "600", "--max-clients", "1"];
    let server = start(dir.path(), &args);
    let client = run_in(dir.path(), &[], CLIENT, &["--unix", "echo.sock"], "again\n");
    let server = server.finish();
    client.assert_code(0).assert_stdout_contains("AGAIN");
    server
        .assert_code(0)
        .assert_stdout_contains("removed a stale socket file echo.sock first");
    assert_transcript(
        "lesson02_unix_stale",
        &transcript(&[&refused, &server, &client]),
    );
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone_and_the_server_refuses_to_start() {
    let dir = scratch();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "my notes\n").expect("write");
    let server = run_in(dir.path(), &[], SERVER, &["--unix", "notes.txt"], "");
    server.assert_code(1).assert_error(
        "error: notes.txt exists and is not a socket; it is left alone. Remove it \
         yourself, or choose another path with --unix PATH",
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "my notes\n");
}

#[test]
fn a_second_server_on_a_path_in_use_is_refused_and_the_first_goes_on() {
    let dir = scratch();
    let first = start(dir.path(), &["--unix", "echo.sock"]);
    let second = run_in(dir.path(), &[], SERVER, &["--unix", "echo.sock"], "");
    second.assert_code(1).assert_error(
        "error: echo.sock is in use: a server is listening there. Stop it, or choose \
         another path with --unix PATH",
    );
    // The second server found out by connecting (and leaving at once); the first one is
    // still there for the next client.
    let client = run_in(
        dir.path(),
        &[],
        CLIENT,
        &["--unix", "echo.sock"],
        "still here\n",
    );
    client.assert_code(0).assert_stdout_contains("STILL HERE");
    drop(first);
}

#[test]
fn no_socket_file_means_no_server_and_the_error_says_how_to_start_one() {
    let dir = scratch();
    let client = run_in(dir.path(), &[], CLIENT, &["--unix", "echo.sock"], "hello\n");
    client.assert_code(1).assert_error(
        "error: no socket file at echo.sock: no server has bound it. Start the server \
         first, in another terminal: cargo run --bin lesson02-server -- --unix echo.sock",
    );
}

#[test]
fn unix_and_tcp_options_do_not_mix() {
    let server = run(SERVER, &["--unix", "x.sock", "--port", "0"], None);
    server.assert_code(2);
    server.assert_stderr_contains("cannot be used with");
    let client = run(CLIENT, &["--unix", "x.sock", "--reset"], None);
    client.assert_code(2);
}

/// Whether this test runs as root (uid 0), from /proc/self/status.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

#[test]
fn connecting_needs_write_permission_on_the_socket_file() {
    // Another user is needed: the owner may always connect, and root may connect to
    // anything. Running as root, the test runs the client as `nobody` with setpriv.
    if !running_as_root() {
        eprintln!(
            "skipped: connecting_needs_write_permission_on_the_socket_file needs root, \
             to run a client as another user"
        );
        return;
    }
    if skip_without("setpriv") {
        return;
    }
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let dir = scratch();
    let owner_only = start(
        dir.path(),
        &["--unix", "echo.sock", "--mode", "600", "--max-clients", "1"],
    );
    let refused = run_in(
        dir.path(),
        &nobody,
        CLIENT,
        &["--unix", "echo.sock"],
        "hi\n",
    );
    refused.assert_code(1).assert_error(
        "error: permission denied connecting to echo.sock: connecting to a Unix socket \
         needs write permission on its file (see its mode with ls -l echo.sock)",
    );
    drop(owner_only);

    let everyone = start(
        dir.path(),
        &["--unix", "echo.sock", "--mode", "666", "--max-clients", "1"],
    );
    let served = run_in(
        dir.path(),
        &nobody,
        CLIENT,
        &["--unix", "echo.sock"],
        "hi\n",
    );
    served.assert_code(0).assert_stdout_contains("HI");
    let server = everyone.finish();
    server.assert_stdout_contains("socket file echo.sock (srw-rw-rw-)");
}
