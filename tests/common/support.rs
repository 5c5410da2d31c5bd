//! What the tests need besides the lab's programs: ports where nobody listens, programs that
//! may be missing (python3, script, tftp), scratch directories, `lab demo`, and the list of
//! the lab's binaries.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{assert_contains, redact_ports, run, Run};

/// A TCP port where nobody listens.
pub fn free_port() -> u16 {
    socket_lab::spawn::free_tcp_port().expect("a free port below the ephemeral range")
}

/// A UDP port where nobody receives.
pub fn free_udp_port() -> u16 {
    socket_lab::spawn::free_udp_port().expect("a free port below the ephemeral range")
}

/// For a test that needs `program` (python3 for the course's own peers, `script` for a
/// terminal, tftp and in.tftpd and curl as real TFTP peers): `true` when it is missing and
/// the test must be skipped (see [`skip`]).
#[track_caller]
pub fn skip_without(program: &str) -> bool {
    // Installed means it starts; its exit code does not matter (`tftp --version` is a usage
    // error). 127 is a shell's "command not found", which a shim (pyenv) may run.
    let found = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.code() != Some(127));
    if found {
        return false;
    }
    let package = match program {
        "tftp" => "tftp-hpa",
        "in.tftpd" => "tftpd-hpa",
        other => other,
    };
    skip(&format!("{program} is not installed (install {package})"))
}

/// Skips a test that cannot run here, saying `skipped: WHY` where `cargo test` shows it;
/// returns `true`. When the `CI` variable is set it fails the test instead: CI must never
/// skip a test silently.
#[track_caller]
pub fn skip(why: &str) -> bool {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}, and CI must run every test"
    );
    say_skipped(why)
}

/// Prints `skipped: WHY (where)` past the test harness's output capture, so that it shows;
/// returns `true`.
#[track_caller]
fn say_skipped(why: &str) -> bool {
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {why} ({})",
        std::panic::Location::caller()
    );
    true
}

/// A scratch directory for a test's files, with sub-directories `subdirs`; deleted when
/// the test ends.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new(subdirs: &[&str]) -> Scratch {
        let dir = tempfile::tempdir().expect("a scratch directory");
        for sub in subdirs {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        Scratch { dir }
    }

    /// The scratch directory itself.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `rel` in it, as a program's argument.
    pub fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.dir.path().join(rel);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {rel}: {e}"));
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        let path = self.dir.path().join(rel);
        std::fs::read(path).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// The names in the sub-directory `rel`, hidden ones (part files) too, sorted.
    pub fn names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join(rel))
            .unwrap_or_else(|e| panic!("reading {rel}/: {e}"))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `text` with the scratch directory's path taken out: `/tmp/.tmpXYZ/downloads/a.txt`
    /// reads `downloads/a.txt`, as it would in a student's folder.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&format!("{}/", self.dir.path().display()), "")
    }
}

/// For a test of what only Linux shows (the TCP states of `/proc/net/tcp`, the SYN retries of
/// a full accept queue): `true`, with a visible `skipped:` line, on any other system. The
/// book says on which kernel the behaviour was observed.
#[track_caller]
pub fn skip_unless_linux() -> bool {
    if cfg!(target_os = "linux") {
        return false;
    }
    say_skipped("this test reads Linux's /proc/net/tcp")
}

/// Runs a Python script and returns what it printed; fails the test with Python's stderr
/// when the script fails.
#[track_caller]
pub fn run_python(script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap_or_else(|e| panic!("running python3: {e}"));
    assert!(
        out.status.success(),
        "expected the Python script to succeed; it failed with:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A finished `lab demo NN`: both sides' lines, each tagged `server │ ` or `client │ `.
pub struct Demo {
    pub run: Run,
}

/// Runs `lab demo NN` and checks that it ended by itself, successfully.
#[track_caller]
pub fn run_demo(lesson: &str) -> Demo {
    let run = run("lab", &["demo", lesson], None);
    run.assert_code(0);
    assert!(
        run.stdout.ends_with("demo finished (server exit code 0)\n"),
        "expected the demo to end with `demo finished (server exit code 0)`; observed:\n{}",
        run.stdout
    );
    Demo { run }
}

impl Demo {
    /// The lines one side printed, in order, without their tag. The two sides interleave
    /// differently from run to run, but each side's own lines always come in the same order.
    pub fn lines(&self, side: &str) -> Vec<&str> {
        let tag = format!("{side:>6} │ ");
        let lines = self.run.stdout.lines();
        lines.filter_map(|l| l.strip_prefix(&tag)).collect()
    }

    /// Asserts that every one of `expected` appears in the demo's output.
    #[track_caller]
    pub fn assert_shows(&self, expected: &[&str]) {
        for line in expected {
            assert_contains("the demo's output", &self.run.stdout, line);
        }
    }

    /// The command, then each of `sides`' lines in order, ports redacted: a transcript
    /// that is the same in every run.
    pub fn transcript(&self, sides: &[&str]) -> String {
        let mut text = format!("$ {}\n", self.run.shown);
        for (i, side) in sides.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&format!("{side} lines:\n"));
            for line in self.lines(side) {
                text.push_str(line);
                text.push('\n');
            }
        }
        redact_ports(&text, None, None)
    }
}

/// One `[[bin]]` of Cargo.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bin {
    pub name: String,
    pub path: String,
    /// `test = false`: no unit-test harness is built or run for it.
    pub test: bool,
}

/// The `[[bin]]` entries of Cargo.toml, in order.
pub fn bins() -> Vec<Bin> {
    manifest_sections("[[bin]]")
        .into_iter()
        .filter_map(|fields| {
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            Some(Bin {
                name: get("name")?,
                path: get("path")?,
                test: get("test").is_none_or(|v| v != "false"),
            })
        })
        .collect()
}

/// The `key = value` lines of every section of Cargo.toml headed `header` (`[lib]`,
/// `[[bin]]`), with quotes taken off the values. Enough for the manifest's own plain style.
pub fn manifest_sections(header: &str) -> Vec<Vec<(String, String)>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = std::fs::read_to_string(path).expect("reading Cargo.toml");
    let mut sections = Vec::new();
    let mut current: Option<Vec<(String, String)>> = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        } else if line.starts_with('[') {
            sections.extend(current.take());
            current = (line == header).then(Vec::new);
        } else if let (Some(fields), Some((key, value))) =
            (current.as_mut(), line.split_once('='))
        {
            let value = value.trim().trim_matches('"').to_string();
            fields.push((key.trim().to_string(), value));
        }
    }
    sections.extend(current);
    sections
}
