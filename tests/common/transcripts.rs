//! Transcripts: what the terminals showed, with the ports redacted, checked against the files
//! in `tests/transcripts/` that the book includes. And the `--help` snapshots.
//!
//! A transcript file is plain text whose first line is `$ command`, exactly as a terminal
//! shows it, so the book includes the whole file (no header to skip). On a mismatch the test
//! shows the first line that differs, then what was expected and what was observed.
//! `UPDATE_TRANSCRIPTS=1 cargo test` writes what was observed instead (never in CI):
//! review the change with `git diff tests/transcripts` before committing it.

use std::path::PathBuf;

use super::{default_port, Run};

/// Several terminals, one after another, with the ports redacted (see [`redact_ports`]): the
/// port of each server among `runs` (a server; a relay in front of it) shows as its
/// program's default port.
pub fn transcript(runs: &[&Run]) -> String {
    let text: Vec<String> = runs.iter().map(|r| r.terminal()).collect();
    let servers: Vec<(u16, u16)> = runs
        .iter()
        .filter_map(|r| Some((r.port?, default_port(&r.bin)?)))
        .collect();
    redact_servers(&text.join("\n"), &servers)
}

impl Run {
    /// `text` with this server's port shown as its lesson's default port, other ports
    /// redacted (see [`redact_ports`]).
    pub fn redact_ports(&self, text: &str) -> String {
        redact_ports(text, self.port, default_port(&self.bin))
    }
}

/// Ports and process ids change from run to run. `127.0.0.1:SERVER_PORT` becomes
/// `127.0.0.1:DEFAULT` (what a student sees with no `--port`), any other `127.0.0.1:N` (a
/// client's port, picked by the system) `127.0.0.1:[port]`, an explicit `--port N`
/// `--port [port]` (unless N is the server's default port), and `pid N` `pid [pid]`. And
/// from machine to machine: lesson 08's `open files: up to N (raised from M, the hard
/// limit)` becomes `open files: up to [limit] (the hard limit)`.
pub fn redact_ports(
    text: &str,
    server_port: Option<u16>,
    default: Option<u16>,
) -> String {
    let servers: Vec<(u16, u16)> = server_port.zip(default).into_iter().collect();
    redact_servers(text, &servers)
}

/// [`redact_ports`] for several servers at once: `(port, default port)` of each.
pub fn redact_servers(text: &str, servers: &[(u16, u16)]) -> String {
    let re = regex::Regex::new(r"127\.0\.0\.1:(\d+)").expect("valid regex");
    let text = re.replace_all(text, |caps: &regex::Captures| {
        let port: Option<u16> = caps[1].parse().ok();
        match servers.iter().find(|(server, _)| Some(*server) == port) {
            Some((_, default)) => format!("127.0.0.1:{default}"),
            None => "127.0.0.1:[port]".to_string(),
        }
    });
    // `--port 9109` (a relay's default port, typed to reach the relay) is what a student
    // types too; any other port given explicitly changes from run to run.
    let text = regex::Regex::new(r"--port ([1-9]\d*)")
        .expect("valid regex")
        .replace_all(&text, |caps: &regex::Captures| {
            let port: Option<u16> = caps[1].parse().ok();
            match servers.iter().find(|(_, default)| Some(*default) == port) {
                Some(_) => caps[0].to_string(),
                None => "--port [port]".to_string(),
            }
        });
    let text = regex::Regex::new(r"pid \d+")
        .expect("valid regex")
        .replace_all(&text, "pid [pid]");
    regex::Regex::new(r"open files: up to \d+ \((raised from \d+, )?the hard limit\)")
        .expect("valid regex")
        .replace_all(&text, "open files: up to [limit] (the hard limit)")
        .into_owned()
}

/// The folder of the transcript files.
pub fn transcripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

/// Checks `text` against `tests/transcripts/NAME.txt` (trailing blank space aside).
#[track_caller]
pub fn assert_transcript(name: &str, text: &str) {
    assert!(
        text.starts_with("$ "),
        "a transcript starts with the command that printed it (`$ ...`); {name} starts with:\n{}",
        text.lines().next().unwrap_or("")
    );
    let path = transcripts_dir().join(format!("{name}.txt"));
    let shown = format!("tests/transcripts/{name}.txt");
    let observed = format!("{}\n", text.trim_end());
    let expected = std::fs::read_to_string(&path).ok();
    if expected.as_deref().map(str::trim_end) == Some(observed.trim_end()) {
        return;
    }
    if std::env::var_os("UPDATE_TRANSCRIPTS").is_some_and(|v| v == "1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "UPDATE_TRANSCRIPTS is refused in CI: CI checks the transcripts, it does not write them"
        );
        std::fs::write(&path, &observed)
            .unwrap_or_else(|e| panic!("writing {shown}: {e}"));
        // Past the test harness's capture: the person updating should see what changed.
        let _ = writeln_stderr(&format!("updated {shown}: review it with git diff"));
        return;
    }
    let Some(expected) = expected else {
        panic!(
            "{shown} does not exist yet. Observed:\n{observed}\nTo write it: \
             UPDATE_TRANSCRIPTS=1 cargo test, then review it"
        );
    };
    let (line, want, got) = first_difference(&expected, &observed);
    panic!(
        "{shown} differs from what was observed, first at line {line}:\n  expected: {want}\n  \
         observed: {got}\n\n--- expected ({shown})\n{expected}--- observed\n{observed}---\n\
         If the change is intended: UPDATE_TRANSCRIPTS=1 cargo test, then review git diff"
    );
}

/// The first line (1-based) where two texts differ, and that line in each.
fn first_difference(expected: &str, observed: &str) -> (usize, String, String) {
    let mut want = expected.trim_end().lines();
    let mut got = observed.trim_end().lines();
    for line in 1.. {
        match (want.next(), got.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                let show = |l: Option<&str>| {
                    l.map_or("(no more lines)".to_string(), |l| format!("{l:?}"))
                };
                return (line, show(a), show(b));
            }
        }
    }
    unreachable!("the loop returns at the first difference")
}

fn writeln_stderr(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{text}")
}

/// Snapshot-tests a program's `--help` (insta: `tests/snapshots/BIN_help.snap`; review
/// changes with `cargo insta review`).
#[track_caller]
pub fn assert_help(help: &Run) {
    help.assert_code(0);
    let name = format!("{}_help", help.bin.replace('-', "_"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, &help.stdout));
}
