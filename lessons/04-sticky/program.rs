//! Lesson 04's command service, part two: running a program the server was told to allow.
//!
//! The classic course hands the client's line to a shell (`subprocess.Popen(cmd,
//! shell=True)`). Here an allowed program is started directly: the words of the line are
//! its arguments as they are, so `;`, `|` or `$(…)` would mean nothing even if they got
//! this far (they do not: `commands.rs` refuses them first). The program gets no stdin, a
//! clean environment (only PATH), a time limit and an output limit, and the reply is
//! never empty.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{reply_line, MAX_REPLY};

/// Runs the allowed program `name` with `args` and returns the reply bytes: what it
/// printed (stdout, then stderr), and a note when it failed, printed nothing, was cut or
/// was stopped.
pub fn run_program(name: &str, args: &[&str], time_limit: Duration) -> Vec<u8> {
    // ANCHOR: run_program
    let mut cmd = Command::new(name);
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return reply_line(&format!("error: could not run {name}: {e}")),
    };
    // ANCHOR_END: run_program
    let outputs = read_both_pipes(&mut child);
    let (status, stopped) = wait_until(&mut child, Instant::now() + time_limit);
    let (out, err) = collect(outputs);
    let mut notes = Vec::new();
    if stopped {
        notes.push(format!(
            "[{name} stopped after {} s]",
            time_limit.as_secs_f64()
        ));
    } else if let Some(code) = status.and_then(|s| s.code()).filter(|c| *c != 0) {
        notes.push(format!("[{name} exited with status {code}]"));
    }
    reply_with_notes(name, out, err, notes)
}

/// Reads stdout and stderr at the same time, each in a thread of its own and each up to
/// the limit, so a program that fills one pipe cannot block while we wait on the other.
fn read_both_pipes(child: &mut Child) -> mpsc::Receiver<(usize, Vec<u8>)> {
    let (tx, rx) = mpsc::channel();
    let stdout = child
        .stdout
        .take()
        .map(|p| Box::new(p) as Box<dyn Read + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|p| Box::new(p) as Box<dyn Read + Send>);
    for (which, pipe) in [(0, stdout), (1, stderr)] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                // One byte more than the limit tells us the output was cut. Dropping the
                // pipe then makes the program's next write fail, so it ends.
                let _ = pipe.take(MAX_REPLY as u64 + 1).read_to_end(&mut bytes);
            }
            let _ = tx.send((which, bytes));
        });
    }
    rx
}

/// Waits for the program to end, and stops it at `deadline`. Returns its exit status
/// (when known) and whether it had to be stopped.
fn wait_until(child: &mut Child, deadline: Instant) -> (Option<ExitStatus>, bool) {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                return (child.wait().ok(), true);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => {
                let _ = child.kill();
                return (child.wait().ok(), false);
            }
        }
    }
}

/// The two outputs, stdout and stderr. A grandchild that kept a pipe open must not hang
/// the server: the readers get a short while only.
fn collect(outputs: mpsc::Receiver<(usize, Vec<u8>)>) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        match outputs.recv_timeout(Duration::from_secs(1)) {
            Ok((0, bytes)) => out = bytes,
            Ok((_, bytes)) => err = bytes,
            Err(_) => break,
        }
    }
    (out, err)
}

/// The reply: stdout then stderr, cut at the limit, then one line per note. Never empty.
fn reply_with_notes(
    name: &str,
    out: Vec<u8>,
    err: Vec<u8>,
    mut notes: Vec<String>,
) -> Vec<u8> {
    let mut reply = out;
    reply.extend_from_slice(&err);
    if reply.len() > MAX_REPLY {
        reply.truncate(MAX_REPLY);
        notes.insert(0, format!("[output cut at {MAX_REPLY} bytes]"));
    }
    if reply.is_empty() && notes.is_empty() {
        notes.push(format!("[{name} printed nothing]"));
    }
    if !notes.is_empty() && !reply.is_empty() && !reply.ends_with(b"\n") {
        reply.push(b'\n');
    }
    for note in notes {
        reply.extend_from_slice(note.as_bytes());
        reply.push(b'\n');
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{execute, Policy};

    #[test]
    fn an_allowed_program_runs_directly_with_its_arguments() {
        let dir = tempfile::tempdir().expect("a scratch directory");
        std::fs::write(dir.path().join("a file"), "").unwrap();
        std::fs::write(dir.path().join("other"), "").unwrap();
        let policy = Policy::with_programs(vec!["ls".into()]);
        let reply = execute(format!("ls {}", dir.path().display()), &policy);
        assert_eq!(String::from_utf8(reply).unwrap(), "a file\nother\n");
    }

    #[test]
    fn a_failing_or_silent_program_still_gets_a_reply() {
        let policy = Policy::with_programs(vec!["ls".into(), "true".into()]);
        let reply = String::from_utf8(execute("ls /no/such/dir", &policy)).unwrap();
        assert!(reply.contains("No such file"), "{reply}");
        assert!(reply.ends_with("[ls exited with status 2]\n"), "{reply}");
        assert_eq!(execute("true", &policy), b"[true printed nothing]\n");
    }

    #[test]
    fn a_program_that_is_not_installed_is_an_error_line() {
        let policy = Policy::with_programs(vec!["no-such-program-socket-lab".into()]);
        let reply =
            String::from_utf8(execute("no-such-program-socket-lab", &policy)).unwrap();
        assert!(
            reply.starts_with("error: could not run no-such-program-socket-lab: "),
            "{reply}"
        );
        assert_eq!(reply.lines().count(), 1);
    }

    #[test]
    fn a_program_is_stopped_at_the_time_limit() {
        let policy = Policy::with_programs(vec!["sleep".into()])
            .with_time_limit(Duration::from_millis(200));
        let start = Instant::now();
        let reply = execute("sleep 10", &policy);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(reply, b"[sleep stopped after 0.2 s]\n");
    }

    #[test]
    fn a_program_output_is_cut_at_the_limit() {
        let policy = Policy::with_programs(vec!["yes".into()]);
        let reply = execute("yes", &policy);
        let note = format!("\n[output cut at {MAX_REPLY} bytes]\n");
        assert!(reply.ends_with(note.as_bytes()));
        assert!(reply.len() <= MAX_REPLY + 64, "{}", reply.len());
    }
}
