//! `lab demo NN`: a lesson's programs run together in one terminal, step by step, for a room.
//!
//! Each step says what to watch, runs its programs (every one with `--trace-file`), and
//! prints their lines in the order of cause and effect (see `timeline.rs`), not in the order
//! the lines happened to reach this terminal: the output is the same in every run. Then it
//! says what was seen; the key lines are marked `▶`. `--step` waits for Enter between steps,
//! `--slow` paces them, `--trace` is passed to every program, `--case` picks one case.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use colored::Colorize;
use socket_lab::record::{self, Event, Op};

use crate::lessons::{Act, Case, Lesson, Step, LESSONS};
use crate::timeline::{self, Action, Item, Program};

/// A step that has not ended after this long is stopped: demos always end by themselves.
const LIMIT: Duration = Duration::from_secs(30);
/// The widest line a demo prints (a projector shows about this much).
pub const WIDTH: usize = 100;

/// How `lab demo` was asked to run.
pub struct Options {
    pub case: Option<String>,
    pub step: bool,
    pub slow: bool,
    pub trace: bool,
}

pub fn find(number: &str) -> anyhow::Result<&'static Lesson> {
    let wanted = if number.len() == 1 {
        format!("0{number}")
    } else {
        number.to_string()
    };
    LESSONS.iter().find(|l| l.number == wanted).ok_or_else(|| {
        let known: Vec<&str> = LESSONS.iter().map(|l| l.number).collect();
        anyhow!(
            "there is no lesson {number}: choose one of {}",
            known.join(", ")
        )
    })
}

pub fn run(number: &str, options: &Options) -> anyhow::Result<()> {
    let lesson = find(number)?;
    let cases: Vec<&Case> = match &options.case {
        None => lesson.cases.iter().collect(),
        Some(name) => {
            let case = lesson
                .cases
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = lesson.cases.iter().map(|c| c.name).collect();
                    anyhow!(
                        "lesson {} has no demo case {name:?}: choose one of {}",
                        lesson.number,
                        names.join(", ")
                    )
                })?;
            vec![case]
        }
    };
    let title = format!("demo of lesson {}: {}", lesson.number, lesson.title);
    print(&format!("{}\n", title.bold()));
    for line in wrap(lesson.shows, WIDTH) {
        print(&format!("{line}\n"));
    }
    build(&cases)?;
    let total: usize = cases.iter().map(|c| c.steps.len()).sum();
    let mut number = 0;
    for case in &cases {
        for step in case.steps {
            number += 1;
            if number > 1 {
                pause(options);
            }
            let heading = format!(
                "── case {} · step {number} of {total}: {} ",
                case.name, step.title
            );
            let fill = WIDTH.saturating_sub(heading.chars().count());
            print(&format!(
                "\n{}\n",
                format!("{heading}{}", "─".repeat(fill)).bold()
            ));
            play(step, options)?;
        }
    }
    print(&format!(
        "\n{}\n",
        format!("demo finished: {}", socket_lab::out::plural(total, "step")).bold()
    ));
    Ok(())
}

/// Between two steps: wait for Enter (`--step`), or a moment (`--slow`).
fn pause(options: &Options) {
    if options.step {
        print(&format!("{}", "(Enter: next step) ".dimmed()));
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    } else if options.slow {
        std::thread::sleep(Duration::from_millis(1500));
    }
}

/// Where the lesson binaries are: next to this `lab` binary.
fn bin_path(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the lab binary")?;
    Ok(exe.with_file_name(name))
}

/// Under `cargo run`, make sure the demo's binaries are built and up to date, as the
/// lab's own binary is (`cargo run --bin lab` builds only `lab`).
fn build(cases: &[&Case]) -> anyhow::Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(()); // not under cargo: use the binaries that are there
    };
    let mut bins: Vec<&str> = Vec::new();
    for step in cases.iter().flat_map(|c| c.steps) {
        for act in step.acts {
            if let Some(bin) = act.bin() {
                if !bins.contains(&bin) {
                    bins.push(bin);
                }
            }
        }
    }
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet"]);
    for bin in bins {
        cmd.args(["--bin", bin]);
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

/// Prints and flushes at once. A closed stdout (the lab piped into `head`) is not worth a
/// panic.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// `text` cut into lines of at most `width` characters, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut lines = Vec::new();
    // Leading spaces (a trace line's indent) are kept on the first line.
    let body = text.trim_start_matches(' ');
    let mut current = " ".repeat(text.len() - body.len());
    for word in body.split(' ') {
        let mut word = word.to_string();
        loop {
            let used = current.chars().count();
            let len = word.chars().count();
            let sep = usize::from(!current.trim_start().is_empty());
            if used + sep + len <= width {
                if sep == 1 {
                    current.push(' ');
                }
                current.push_str(&word);
                break;
            }
            if !current.trim_start().is_empty() {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            // A word longer than a line: cut it.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// What the reader threads report.
enum Output {
    Line(usize, String),
    Closed(usize),
}

/// How much of a program the demo had seen when it acted.
#[derive(Clone, Copy)]
enum Seen {
    /// Its first N stdout lines.
    Lines(usize),
    /// Its first N recorded events.
    Events(usize),
    Everything,
}

/// One program of a step.
struct Proc {
    label: &'static str,
    /// The command as a student would type it.
    shown: String,
    child: Child,
    stdin: Option<ChildStdin>,
    trace_file: PathBuf,
    /// Its stdout lines so far.
    lines: Vec<String>,
    closed: bool,
    /// How much of it the demo has waited for.
    seen: Option<Seen>,
    /// Lines typed into it so far.
    typed: usize,
    port: Option<u16>,
    /// Started by `Listen` (a server, or a peer that waits for others): shown after
    /// those that start the talking.
    listens: bool,
    /// Started with `--to`: it sends towards a program that listens (a relay, a peer
    /// that writes first), and is shown before it.
    sends_on: bool,
    stderr: Option<JoinHandle<String>>,
    status: Option<ExitStatus>,
}

/// An action of the demo, before the records are read.
enum Did {
    Start(usize),
    Type(usize, usize),
    EndInput(usize),
    Say(&'static str),
}

struct Stage {
    dir: PathBuf,
    procs: Vec<Proc>,
    tx: Sender<Output>,
    rx: Receiver<Output>,
    did: Vec<(Did, Vec<(usize, Seen)>)>,
    deadline: Instant,
    trace: bool,
}

impl Stage {
    fn find(&self, who: &str) -> anyhow::Result<usize> {
        self.procs
            .iter()
            .position(|p| p.label == who)
            .ok_or_else(|| anyhow!("the demo script names {who:?} before starting it"))
    }

    /// What the demo has seen so far, for the next action.
    fn seen(&self) -> Vec<(usize, Seen)> {
        let seen = self.procs.iter().enumerate();
        seen.filter_map(|(i, p)| p.seen.map(|s| (i, s))).collect()
    }

    fn act(&mut self, did: Did) {
        let seen = self.seen();
        self.did.push((did, seen));
    }

    /// `{port}` is the port of the last program started with `Listen`; `{port:NAME}` the
    /// port of NAME.
    fn fill(&self, arg: &str) -> anyhow::Result<String> {
        let mut out = arg.to_string();
        for p in &self.procs {
            if let Some(port) = p.port {
                out = out.replace(&format!("{{port:{}}}", p.label), &port.to_string());
            }
        }
        if out.contains("{port}") {
            let port = self
                .procs
                .iter()
                .rev()
                .find_map(|p| p.port.filter(|_| p.listens))
                .ok_or_else(|| {
                    anyhow!("the demo script uses {{port}} before any Listen")
                })?;
            out = out.replace("{port}", &port.to_string());
        }
        Ok(out)
    }

    fn command(&self, bin: &str, args: &[String]) -> anyhow::Result<(Command, PathBuf)> {
        let trace_file = self.dir.join(format!("{}.jsonl", self.procs.len()));
        let mut cmd = Command::new(bin_path(bin)?);
        // Every program of a step runs in the step's scratch folder: files it names are
        // there (and the paths shown are the same in every run).
        cmd.current_dir(&self.dir)
            .args(args)
            .args(["--color", "never", "--trace-file"])
            .arg(&trace_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.trace && !args.iter().any(|a| a == "--trace") {
            cmd.arg("--trace");
        }
        Ok((cmd, trace_file))
    }

    fn start(
        &mut self,
        who: &'static str,
        bin: &str,
        args: &[&str],
        listens: bool,
    ) -> anyhow::Result<usize> {
        let mut args: Vec<String> = args
            .iter()
            .map(|a| self.fill(a))
            .collect::<anyhow::Result<_>>()?;
        let shown = shown_command(bin, &args);
        if listens && !args.iter().any(|a| a == "--port") {
            args.extend(["--port".to_string(), "0".to_string()]);
        } else if !listens
            && !args.iter().any(|a| a == "--port" || a == "--to")
            && self.procs.iter().any(|p| p.listens)
        {
            args.extend(["--port".to_string(), self.fill("{port}")?]);
        }
        let (mut cmd, trace_file) = self.command(bin, &args)?;
        let index = self.procs.len();
        self.act(Did::Start(index));
        let (mut child, first, port) = if listens {
            let started = socket_lab::spawn::start(&mut cmd).with_context(|| {
                format!("starting {bin} (build it first: cargo build)")
            })?;
            let port = started.addr.port();
            forward(started.stdout, index, &self.tx);
            (started.child, Some(started.first_line), Some(port))
        } else {
            let mut child = cmd.spawn().with_context(|| {
                format!("starting {bin} (build it first: cargo build)")
            })?;
            let stdout = child.stdout.take().context("its stdout")?;
            forward(stdout, index, &self.tx);
            (child, None, None)
        };
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        });
        let stdin = child.stdin.take();
        self.procs.push(Proc {
            label: who,
            shown,
            child,
            stdin,
            trace_file,
            lines: first.into_iter().collect(),
            closed: false,
            // A listening program's first line has been seen: the demo waited for it.
            seen: listens.then_some(Seen::Lines(1)),
            typed: 0,
            port,
            listens,
            sends_on: args.iter().any(|a| a == "--to"),
            stderr,
            status: None,
        });
        Ok(index)
    }

    /// Takes the readers' output until `done` says so, or the deadline passes.
    fn until(&mut self, mut done: impl FnMut(&Stage) -> bool) -> anyhow::Result<()> {
        loop {
            if done(self) {
                return Ok(());
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Output::Line(i, line)) => self.procs[i].lines.push(line),
                Ok(Output::Closed(i)) => self.procs[i].closed = true,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    bail!("this step did not finish within {LIMIT:?}; stopped it")
                }
            }
        }
    }

    fn wait_line(&mut self, who: usize, text: &str) -> anyhow::Result<()> {
        let from = match self.procs[who].seen {
            Some(Seen::Lines(n)) => n,
            _ => 0,
        };
        // A wait for lines after a wait for events: count the lines among those events.
        let from = match self.procs[who].seen {
            Some(Seen::Events(n)) => {
                let events = self.events_so_far(who);
                let lines = events.iter().take(n);
                lines.filter(|e| matches!(e.op, Op::Line { .. })).count()
            }
            _ => from,
        };
        let mut found = None;
        self.until(|stage| {
            let p = &stage.procs[who];
            found = p.lines.iter().skip(from).position(|l| l.contains(text));
            found.is_some() || p.closed
        })
        .with_context(|| {
            format!("waiting for {} to print {text:?}", self.procs[who].label)
        })?;
        let Some(at) = found else {
            bail!("{} ended without printing {text:?}", self.procs[who].label);
        };
        self.procs[who].seen = Some(Seen::Lines(from + at + 1));
        Ok(())
    }

    /// Waits until the program's record holds one more write (or datagram sent) than when
    /// the demo last looked. The record is a file: it is read again every few ms.
    fn wait_sent(&mut self, who: usize) -> anyhow::Result<()> {
        let sent = |op: &Op| matches!(op, Op::Write { .. } | Op::SendTo { .. });
        let before = match self.procs[who].seen {
            Some(Seen::Events(n)) => n,
            _ => 0,
        };
        let already = self
            .events_so_far(who)
            .iter()
            .take(before)
            .filter(|e| sent(&e.op))
            .count();
        loop {
            let events = self.events_so_far(who);
            let mut count = 0;
            let found = events.iter().position(|e| {
                count += usize::from(sent(&e.op));
                count > already
            });
            if let Some(at) = found {
                self.procs[who].seen = Some(Seen::Events(at + 1));
                return Ok(());
            }
            if Instant::now() >= self.deadline {
                bail!("{} sent nothing within {LIMIT:?}", self.procs[who].label);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The events a running program has recorded so far (a last line still being written
    /// is left out).
    fn events_so_far(&self, who: usize) -> Vec<Event> {
        let text =
            std::fs::read_to_string(&self.procs[who].trace_file).unwrap_or_default();
        text.lines()
            .map_while(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn wait_exit(&mut self, who: usize) -> anyhow::Result<()> {
        self.until(|stage| stage.procs[who].closed)?;
        let left = self.deadline.saturating_duration_since(Instant::now());
        let status = wait_timeout(&mut self.procs[who].child, left)?;
        self.procs[who].status = Some(status);
        self.procs[who].seen = Some(Seen::Everything);
        Ok(())
    }

    fn stop_all(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// Waits for a child to exit, polling, for at most `limit`.
fn wait_timeout(child: &mut Child, limit: Duration) -> anyhow::Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            bail!("a program did not exit within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Forwards each line of `stream` to `tx`, then reports the end.
fn forward(stream: impl Read + Send + 'static, index: usize, tx: &Sender<Output>) {
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(Output::Line(index, line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Output::Closed(index));
    });
}

/// How a student types the command: no `--port 0`, no trace file, no colour choice.
fn shown_command(bin: &str, args: &[String]) -> String {
    let mut shown = format!("cargo run --bin {bin}");
    if !args.is_empty() {
        let quoted: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect();
        shown.push_str(" -- ");
        shown.push_str(&quoted.join(" "));
    }
    shown
}

/// A scratch folder for one step's trace files, under the system's temporary folder.
fn scratch() -> anyhow::Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("socket-lab-demo-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Runs one step and prints it.
fn play(step: &Step, options: &Options) -> anyhow::Result<()> {
    for line in wrap(&format!("watch: {}", step.watch), WIDTH) {
        print(&format!("{}\n", line.yellow()));
    }
    let (tx, rx) = channel();
    let mut stage = Stage {
        dir: scratch()?,
        procs: Vec::new(),
        tx,
        rx,
        did: Vec::new(),
        deadline: Instant::now() + LIMIT,
        trace: options.trace,
    };
    let result = perform(step, &mut stage);
    if result.is_err() {
        stage.stop_all();
    }
    let shown = result.and_then(|()| show(step, &mut stage, options));
    let _ = std::fs::remove_dir_all(&stage.dir);
    shown
}

/// Does what the step says, then waits for every program to end.
fn perform(step: &Step, stage: &mut Stage) -> anyhow::Result<()> {
    for act in step.acts {
        match act {
            Act::Listen { who, bin, args } => {
                stage.start(who, bin, args, true)?;
            }
            Act::Run {
                who,
                bin,
                args,
                input,
            } => {
                let i = stage.start(who, bin, args, false)?;
                if let Some(mut stdin) = stage.procs[i].stdin.take() {
                    // The typed input, then the end of input (Ctrl-D).
                    let _ = stdin.write_all(input.as_bytes());
                }
            }
            Act::Open { who, bin, args } => {
                stage.start(who, bin, args, false)?;
            }
            Act::Type { who, line } => {
                let i = stage.find(who)?;
                let n = stage.procs[i].typed;
                stage.act(Did::Type(i, n));
                stage.procs[i].typed += 1;
                if let Some(stdin) = stage.procs[i].stdin.as_mut() {
                    let _ = stdin.write_all(format!("{line}\n").as_bytes());
                    let _ = stdin.flush();
                }
            }
            Act::EndInput { who } => {
                let i = stage.find(who)?;
                stage.act(Did::EndInput(i));
                stage.procs[i].stdin = None;
            }
            Act::WaitLine { who, text } => {
                let i = stage.find(who)?;
                stage.wait_line(i, text)?;
            }
            Act::WaitExit { who } => {
                let i = stage.find(who)?;
                stage.wait_exit(i)?;
            }
            Act::WaitSent { who } => {
                let i = stage.find(who)?;
                stage.wait_sent(i)?;
            }
            Act::Stop { who } => {
                let i = stage.find(who)?;
                let p = &mut stage.procs[i];
                let _ = p.child.kill();
                p.status = Some(p.child.wait().context("stopping a program")?);
                stage.until(|stage| stage.procs[i].closed)?;
                stage.procs[i].seen = Some(Seen::Everything);
            }
            Act::Say { text } => stage.act(Did::Say(text)),
            Act::File { name, text } => {
                let path = stage.dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    for i in 0..stage.procs.len() {
        stage.procs[i].stdin = None;
        if stage.procs[i].status.is_none() {
            stage.wait_exit(i)?;
        }
    }
    Ok(())
}

/// One program's record, with what it printed on stderr and a failing exit code added at
/// its end.
fn load(p: &mut Proc) -> anyhow::Result<Vec<Event>> {
    let mut events = if p.trace_file.exists() {
        record::read_file(&p.trace_file)?
    } else {
        Vec::new()
    };
    let stderr = p.stderr.take().map(|h| h.join().unwrap_or_default());
    let line = |text: String| Event {
        thread: "main".into(),
        conn: None,
        op: Op::Line { text },
    };
    for text in stderr.unwrap_or_default().lines() {
        events.push(line(text.to_string()));
    }
    if let Some(code) = p.status.and_then(|s| s.code()).filter(|c| *c != 0) {
        events.push(line(format!("[exit code {code}]")));
    }
    Ok(events)
}

/// The index of the `n`-th event of `events` that `is` picks.
fn nth(events: &[Event], n: usize, is: impl Fn(&Op) -> bool) -> Option<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| is(&e.op))
        .nth(n)
        .map(|(i, _)| i)
}

fn show(step: &Step, stage: &mut Stage, options: &Options) -> anyhow::Result<()> {
    // Talkers first, then listeners (servers), each group in the order started; a
    // listener that sends on to another (`--to`) goes before the others.
    let mut priority: Vec<usize> = (0..stage.procs.len()).collect();
    priority.sort_by_key(|&i| {
        let p = &stage.procs[i];
        (p.listens, !p.sends_on, i)
    });
    let mut rank = vec![0; stage.procs.len()];
    for (r, &i) in priority.iter().enumerate() {
        rank[i] = r;
    }
    let mut programs = Vec::new();
    for &i in &priority {
        let events = load(&mut stage.procs[i])?;
        programs.push(Program {
            label: stage.procs[i].label.to_string(),
            events,
        });
    }
    let events_of = |i: usize| &programs[rank[i]].events;
    let mut actions = Vec::new();
    for (did, seen) in &stage.did {
        let mut action = Action::default();
        for &(i, s) in seen {
            let events = events_of(i);
            let at = match s {
                Seen::Lines(n) => nth(events, n.saturating_sub(1), |op| {
                    matches!(op, Op::Line { .. })
                }),
                Seen::Events(n) => n.checked_sub(1),
                Seen::Everything => events.len().checked_sub(1),
            };
            if let Some(at) = at {
                action.after.push((rank[i], at));
            }
        }
        let target = match did {
            Did::Start(i) => (!events_of(*i).is_empty()).then_some((*i, 0)),
            Did::Type(i, n) => {
                nth(events_of(*i), *n, |op| matches!(op, Op::Input { .. }))
                    .map(|at| (*i, at))
            }
            Did::EndInput(i) => {
                nth(events_of(*i), 0, |op| *op == Op::InputEnd).map(|at| (*i, at))
            }
            Did::Say(_) => None,
        };
        if let Some((i, at)) = target {
            action.before.push((rank[i], at));
        }
        actions.push(action);
    }
    let order = timeline::order(&programs, &actions);

    let labels: Vec<&str> = programs.iter().map(|p| p.label.as_str()).collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(6);
    let mut seen_keys = vec![false; step.key.len()];
    for item in order {
        let (label, text, kind) = match item {
            Item::Event { program, index } => {
                let label = labels[program];
                match &programs[program].events[index].op {
                    Op::Line { text } => (label, text.clone(), Kind::Line),
                    Op::Input { text } => (label, format!(">>: {text}"), Kind::Typed),
                    _ => continue,
                }
            }
            Item::Action(a) => match &stage.did[a].0 {
                Did::Start(i) => {
                    let p = &stage.procs[*i];
                    (p.label, format!("$ {}", p.shown), Kind::Command)
                }
                Did::Say(text) => ("", text.to_string(), Kind::Say),
                _ => continue,
            },
        };
        // A key line is one of the program's own lines, not a `--trace` line.
        let key = kind == Kind::Line
            && !text.starts_with("  · ")
            && step.key.iter().enumerate().any(|(k, pattern)| {
                let hit = text.contains(pattern);
                if hit {
                    seen_keys[k] = true;
                }
                hit
            });
        // A printed "line" may hold several (a reply of many lines): one each.
        for part in text.split('\n') {
            print_line(label, part, width, kind, key);
            if options.slow {
                std::thread::sleep(Duration::from_millis(120));
            }
        }
    }
    for line in wrap(&format!("seen: {}", step.seen), WIDTH) {
        print(&format!("{}\n", line.yellow()));
    }
    let missing: Vec<&str> = step
        .key
        .iter()
        .zip(&seen_keys)
        .filter(|(_, seen)| !**seen)
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        bail!(
            "this step should have shown {missing:?}, and did not: the programs no longer do \
             what the demo says"
        );
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Line,
    Typed,
    Command,
    Say,
}

/// Prints `text` under `label`, wrapped to [`WIDTH`]: `  server │ text`. A key line is
/// marked `▶` (and bold when coloured); a narration line has no label.
fn print_line(label: &str, text: &str, width: usize, kind: Kind, key: bool) {
    if kind == Kind::Say {
        for line in wrap(&format!("» {text}"), WIDTH) {
            print(&format!("{}\n", line.yellow()));
        }
        return;
    }
    let bar = if key { "▶" } else { "│" };
    let room = WIDTH.saturating_sub(width + 3);
    for (n, part) in wrap(text, room).into_iter().enumerate() {
        let tag = if n == 0 {
            format!("{label:>width$} {bar}")
        } else {
            format!("{:>width$} {}", "", if key { "▶" } else { "┆" })
        };
        let tag = if label.starts_with("server") || label.ends_with("server") {
            tag.cyan()
        } else {
            tag.green()
        };
        let part = match kind {
            _ if key => part.bold().yellow(),
            Kind::Command | Kind::Typed => part.bold(),
            _ => part.normal(),
        };
        print(&format!("{tag} {part}\n"));
    }
}
