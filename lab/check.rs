//! `lab check`: the practice loop. `lab check` lists the exercises and how far you are;
//! `lab check 05.2` builds your version of exercise 05.2 and checks it black-box: the
//! lab's own programs talk to it over 127.0.0.1 and compare what they observe with what the
//! exercise asks. A failure fits on one screen: what was expected, what was observed, the
//! first byte or line that differs, and the hint to read next.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};
use colored::Colorize;

use crate::demo::print;
use crate::exercises::{self, Exercise, NOT_STARTED};
use crate::lessons::LESSONS;
use crate::probe::{Failure, Program};

/// The longest screen a check prints.
const SCREEN: usize = 40;

/// `lab check [NN.M]`: list the exercises, or check one.
#[derive(clap::Args)]
pub struct Args {
    /// The exercise to check, e.g. 05.2. Without it: every exercise and how far you are.
    exercise: Option<String>,

    /// Check the exercise's solution instead of your file.
    #[arg(long)]
    solution: bool,

    /// Print every hint of the exercise instead of checking it.
    #[arg(long)]
    hints: bool,

    /// Check this program (already built) instead of building the exercise.
    #[arg(long, value_name = "PATH")]
    program: Option<PathBuf>,

    /// Where the results of your checks are kept (default: target/lab-check.txt).
    #[arg(long, value_name = "FILE", hide = true)]
    state_file: Option<PathBuf>,
}

/// The repository's top folder, where the exercises are.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `lab check`; `Ok(false)` is a check that failed (its screen is printed).
pub fn run(args: &Args) -> anyhow::Result<bool> {
    let all = exercises::all();
    let state = State::load(args.state_file.clone());
    let Some(wanted) = &args.exercise else {
        list(&all, &state);
        return Ok(true);
    };
    let exercise = find(&all, wanted)?;
    if args.hints {
        let hints = exercise.hints();
        for (i, hint) in hints.iter().enumerate() {
            print(&format!(
                "hint {} of {}:\n{}\n\n",
                i + 1,
                hints.len(),
                indent(hint)
            ));
        }
        return Ok(true);
    }
    let file = match (&args.program, args.solution) {
        (Some(program), _) => program.display().to_string(),
        (None, true) => exercise.solution_file(),
        (None, false) => exercise.file.to_string(),
    };
    print(&format!(
        "{}\n",
        format!("checking {} — {} ({file})", exercise.id, exercise.title).bold()
    ));
    let path = match &args.program {
        // The program runs in a scratch folder: a relative path must not change meaning.
        Some(path) => std::path::absolute(path)
            .with_context(|| format!("finding {}", path.display()))?,
        None => match build(exercise, args.solution)? {
            Ok(path) => path,
            Err(error) => {
                print(&error);
                if !args.solution {
                    state.record(exercise, false);
                }
                return Ok(false);
            }
        },
    };
    let dir = crate::probe::scratch().context("making a scratch folder")?;
    let program = Program {
        path,
        dir: dir.path().to_path_buf(),
    };
    let outcome = (exercise.check)(&program);
    // Only a check of your own file, built by the lab, counts for the list.
    let own = args.program.is_none() && !args.solution;
    if own {
        state.record(exercise, outcome.is_ok());
    }
    match outcome {
        Ok(passed) => {
            print(&format!(
                "{} {}\n",
                "✓".green().bold(),
                format!("{} passed: {passed}", exercise.id).green()
            ));
            if own {
                print(&next(&all, &state, Some(exercise)));
            }
            Ok(true)
        }
        Err(failure) => {
            print(&screen(exercise, &failure));
            Ok(false)
        }
    }
}

/// The exercise named `wanted` (`05.2`, or `5.2`).
fn find(all: &[&'static Exercise], wanted: &str) -> anyhow::Result<&'static Exercise> {
    let id = match wanted.split_once('.') {
        Some((nn, m)) if nn.len() == 1 => format!("0{nn}.{m}"),
        _ => wanted.to_string(),
    };
    let first = all.first().map_or("", |e| e.id);
    let last = all.last().map_or("", |e| e.id);
    all.iter()
        .find(|e| e.id == id)
        .copied()
        .ok_or_else(|| {
            anyhow!(
                "there is no exercise {:?}: they are {first} to {last}, listed by `cargo run --bin lab -- check`",
                wanted
            )
        })
}

/// The failure screen: at most [`SCREEN`] lines.
fn screen(exercise: &Exercise, failure: &Failure) -> String {
    let mut lines = vec![format!("{} {}", "✗".red().bold(), failure.summary.red())];
    if let Some(expected) = &failure.expected {
        lines.push(format!("  expected: {expected}"));
    }
    if let Some(observed) = &failure.observed {
        lines.push(format!("  observed: {observed}"));
    }
    if let Some(difference) = &failure.difference {
        lines.push(format!("  first difference: {difference}"));
    }
    for detail in failure.details.iter().take(12) {
        lines.push(format!("  {detail}"));
    }
    let hints = exercise.hints();
    let k = failure.hint.min(hints.len());
    if let Some(hint) = k.checked_sub(1).and_then(|i| hints.get(i)) {
        lines.push(format!(
            "{} {}",
            format!("hint {k} of {}", hints.len()).bold(),
            format!(
                "(all of them: cargo run --bin lab -- check {} --hints):",
                exercise.id
            )
            .dimmed()
        ));
        lines.extend(hint.lines().take(10).map(|l| format!("  {l}")));
    }
    if lines.len() > SCREEN {
        lines.truncate(SCREEN - 1);
        lines.push("  …".to_string());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------
// Building the student's program.

/// Builds the exercise's starter (or solution) and the lab programs its check needs with
/// cargo. `Ok(Err(screen))`: it does not compile, and `screen` shows the first error.
fn build(exercise: &Exercise, solution: bool) -> anyhow::Result<Result<PathBuf, String>> {
    let example = exercise.example(solution);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root()).args([
        "build",
        "--quiet",
        "--message-format=json",
        "--example",
        &example,
    ]);
    for peer in exercise.peers {
        cmd.args(["--bin", peer]);
    }
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "running {} to build {example} (or build it yourself and pass --program PATH)",
                Path::new(&cargo).display()
            )
        })?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.take(16 * 1024).read_to_string(&mut text);
        text
    });
    let mut executable = None;
    let mut first_error = None;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-message")
                if first_error.is_none() && message["message"]["level"] == "error" =>
            {
                first_error = message["message"]["rendered"].as_str().map(str::to_string);
            }
            Some("compiler-artifact")
                if message["target"]["name"] == example.as_str() =>
            {
                executable = message["executable"].as_str().map(PathBuf::from);
            }
            _ => {}
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    let stderr = stderr.join().unwrap_or_default();
    match (status.success(), executable) {
        (true, Some(path)) => Ok(Ok(path)),
        (true, None) => bail!("cargo built {example} but did not say where it is"),
        (false, _) => Ok(Err(compile_error(exercise, solution, first_error, &stderr))),
    }
}

/// The screen for a program that does not compile: one line, then the compiler's first
/// error (bounded).
fn compile_error(
    exercise: &Exercise,
    solution: bool,
    first: Option<String>,
    stderr: &str,
) -> String {
    let file = if solution {
        exercise.solution_file()
    } else {
        exercise.file.to_string()
    };
    let mut lines = vec![format!(
        "{} {}",
        "✗".red().bold(),
        format!("{file} does not compile; the compiler's first error:").red()
    )];
    let detail = first.unwrap_or_else(|| stderr.to_string());
    let detail: Vec<&str> = detail.trim_end().lines().collect();
    for line in detail.iter().take(SCREEN - 4) {
        lines.push(format!("  {}", line.chars().take(120).collect::<String>()));
    }
    if detail.len() > SCREEN - 4 {
        lines.push("  …".to_string());
    }
    lines.push(format!(
        "Fix it, then check again: cargo run --bin lab -- check {}",
        exercise.id
    ));
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------
// How far the student is: the list, and the results kept between runs.

/// Where an exercise stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    /// The starter still has its `// NOT STARTED` line.
    NotStarted,
    /// Changed, and not passed as it is now.
    Started,
    /// Its last check passed, and it has not changed since.
    Passed,
}

/// The results of the student's checks, one line per exercise: `05.2 pass SHA256`, where
/// SHA256 is the checksum of the file that was checked.
struct State {
    path: PathBuf,
    lines: Vec<String>,
}

impl State {
    fn load(path: Option<PathBuf>) -> State {
        let path = path.unwrap_or_else(|| root().join("target/lab-check.txt"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        State {
            path,
            lines: text.lines().map(str::to_string).collect(),
        }
    }

    fn status(&self, exercise: &Exercise) -> Status {
        let text = std::fs::read(root().join(exercise.file)).unwrap_or_default();
        let passed = format!("{} pass {}", exercise.id, checksum(&text));
        if self.lines.contains(&passed) {
            Status::Passed
        } else if String::from_utf8_lossy(&text).starts_with(NOT_STARTED) {
            Status::NotStarted
        } else {
            Status::Started
        }
    }

    /// Keeps the result of a check of the student's file (best effort: the list is a
    /// convenience).
    fn record(&self, exercise: &Exercise, passed: bool) {
        let text = std::fs::read(root().join(exercise.file)).unwrap_or_default();
        let word = if passed { "pass" } else { "fail" };
        let mut lines: Vec<String> = self
            .lines
            .iter()
            .filter(|l| !l.starts_with(&format!("{} ", exercise.id)))
            .cloned()
            .collect();
        lines.push(format!("{} {word} {}", exercise.id, checksum(&text)));
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Under a temporary name, renamed when complete: never a half-written list.
        let part = self.path.with_extension("txt.part");
        if std::fs::write(&part, lines.join("\n") + "\n").is_ok() {
            let _ = std::fs::rename(&part, &self.path);
        }
    }
}

fn checksum(bytes: &[u8]) -> String {
    socket_lab::transfer::sha256_of(bytes)
}

/// Prints every exercise with where it stands, lesson by lesson.
fn list(all: &[&'static Exercise], state: &State) {
    let mut text = format!(
        "{}\n",
        "Socket Lab exercises: change the file, then check it: cargo run --bin lab -- check NN.M"
            .bold()
    );
    let name = |e: &Exercise| {
        Path::new(e.file)
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    };
    let width = all.iter().map(|e| name(e).len()).max().unwrap_or(0);
    let mut lesson = "";
    let mut passed = 0;
    for exercise in all {
        if exercise.lesson() != lesson {
            lesson = exercise.lesson();
            let title = LESSONS
                .iter()
                .find(|l| l.number == lesson)
                .map_or("", |l| l.title);
            let folder = Path::new(exercise.file).parent().unwrap_or(Path::new(""));
            text.push_str(&format!(
                "\n{} {}\n",
                format!("lesson {lesson} {title}").bold(),
                format!("({}/)", folder.display()).dimmed()
            ));
        }
        let status = state.status(exercise);
        let mark = match status {
            Status::NotStarted => "·".normal(),
            Status::Started => "✗".red(),
            Status::Passed => {
                passed += 1;
                "✓".green()
            }
        };
        text.push_str(&format!(
            "  {mark} {}  {:<width$}  {}\n",
            exercise.id,
            name(exercise),
            exercise.title
        ));
    }
    text.push_str(&format!(
        "\n· not started (the file still starts with {NOT_STARTED:?})   ✗ not passed yet   ✓ passed\n"
    ));
    text.push_str(&format!("{passed} of {} passed. ", all.len()));
    text.push_str(&next(all, state, None));
    print(&text);
}

/// The next exercise to do, after `after` (or from the start): the first one not passed.
fn next(all: &[&'static Exercise], state: &State, after: Option<&Exercise>) -> String {
    let start = after
        .and_then(|a| all.iter().position(|e| e.id == a.id))
        .map_or(0, |i| i + 1);
    let order = all[start..].iter().chain(all[..start].iter());
    let next = order
        .filter(|e| Some(e.id) != after.map(|a| a.id))
        .find(|e| state.status(e) != Status::Passed);
    match next {
        Some(e) => format!(
            "Next: {} — {}: cargo run --bin lab -- check {}\n",
            e.id, e.title, e.id
        ),
        None => "Every exercise passes: well done.\n".to_string(),
    }
}
