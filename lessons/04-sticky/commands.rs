//! Lesson 04's remote-command service, made safe; lessons 05 and 06 reuse it (through the
//! library, as `socket_lab::commands`).
//!
//! The classic course's server hands whatever a client sends to a shell. This one never
//! runs a shell. It answers a few built-in commands that always print the same bytes (so
//! demos and snapshots are stable), and it runs a real program only when that program's
//! name is in an allow-list the server was started with (`--allow-exec ls,date`; how it
//! runs is in `program.rs`). Everything else gets a one-line refusal as the reply.
//!
//! [`execute`] is pure in the sense that matters for tests: a command line in, the reply
//! bytes out. It never panics, its output is bounded, and its reply is never empty (a
//! client doing one blocking read would wait forever for an empty reply).

use std::time::Duration;

// Running an allowed program is a file of its own, next to this one.
#[path = "program.rs"]
mod program;

/// The largest `N` of `seq N`: its reply is then 588,895 bytes.
pub const MAX_SEQ: u64 = 100_000;

/// The largest reply: `text N` accepts at most this `N`, and a program's output is cut
/// here.
pub const MAX_REPLY: usize = 1024 * 1024;

/// The longest command line accepted, in bytes.
pub const MAX_LINE: usize = 1024;

/// How long an allowed program may run before it is stopped.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Characters that mean something to a shell. A line containing any of them is refused as
/// a whole: nothing of it runs, not even the part before the `;`.
const SHELL_SYNTAX: &[char] = &[
    ';', '|', '&', '$', '`', '<', '>', '(', ')', '{', '}', '[', ']', '*', '?', '~', '!',
    '#', '\\', '\'', '"',
];

/// The built-in commands, as `help` lists them.
const BUILTINS: &[(&str, &str)] = &[
    ("help", "this list"),
    ("echo WORDS", "the words, joined by one space"),
    (
        "seq N",
        "the numbers 1 to N, one per line, like coreutils seq (N up to 100000)",
    ),
    (
        "text N",
        "exactly N bytes of text, in numbered 64-byte lines (N up to 1048576)",
    ),
];

/// What the server may run besides its built-ins.
#[derive(Clone, Debug)]
pub struct Policy {
    programs: Vec<String>,
    time_limit: Duration,
}

impl Policy {
    /// Built-in commands only: the default of every server.
    pub fn builtins_only() -> Policy {
        Policy {
            programs: Vec::new(),
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }

    /// Real programs, by name, only these; only used when the server is started with an
    /// explicit flag (e.g. `--allow-exec ls,date`). A name is a bare program name found
    /// on PATH: names with a `/` or shell syntax are ignored, and a built-in keeps its
    /// meaning even when its name is listed.
    pub fn with_programs(names: Vec<String>) -> Policy {
        let programs = names
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| is_plain_word(n) && !n.is_empty() && !n.contains('/'))
            .filter(|n| !is_builtin(n))
            .collect();
        Policy {
            programs,
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }

    /// The same policy with another time limit for programs (tests use a short one).
    pub fn with_time_limit(mut self, limit: Duration) -> Policy {
        self.time_limit = limit;
        self
    }

    /// The programs this policy allows, in the order given.
    pub fn programs(&self) -> &[String] {
        &self.programs
    }
}

/// Runs one command line — the bytes as they came from the network, or a `&str` — and
/// returns the reply bytes. Refusals and errors are replies too (a clear one-line
/// message). Never a shell, never panics, output bounded.
pub fn execute(line: impl AsRef<[u8]>, policy: &Policy) -> Vec<u8> {
    let bytes = line.as_ref().trim_ascii();
    if bytes.is_empty() {
        return reply_line("error: empty command; send `help` to see the commands");
    }
    // The limit counts the bytes that came, before any conversion: a byte that is not
    // UTF-8 would become a 3-byte replacement character, and 1000 bytes could pass for
    // 3000.
    if bytes.len() > MAX_LINE {
        return reply_line(&format!(
            "refused: the command is {} bytes long; the limit is {MAX_LINE}",
            bytes.len()
        ));
    }
    let Ok(line) = std::str::from_utf8(bytes) else {
        return reply_line("refused: the command is not UTF-8 text; nothing was run");
    };
    // ANCHOR: dispatch
    if let Some(c) = line.chars().find(|c| is_shell_syntax(*c)) {
        return reply_line(&format!(
            "refused: {} is shell syntax, and this server never runs a shell; \
             nothing was run",
            describe(c)
        ));
    }
    let mut words = line.split_ascii_whitespace();
    let Some(name) = words.next() else {
        return reply_line("error: empty command; send `help` to see the commands");
    };
    let args: Vec<&str> = words.collect();
    match name {
        "help" => help(policy),
        "echo" => {
            let mut reply = args.join(" ").into_bytes();
            reply.push(b'\n');
            reply
        }
        "seq" => seq(&args),
        "text" => text(&args),
        _ if policy.programs.iter().any(|p| p == name) => {
            program::run_program(name, &args, policy.time_limit)
        }
        _ => reply_line(&format!(
            "refused: {name} is not a built-in command{}; \
             send `help` to see the commands",
            if policy.programs.is_empty() {
                " and this server runs no programs".to_string()
            } else {
                format!(" nor an allowed program ({})", policy.programs.join(", "))
            }
        )),
    }
    // ANCHOR_END: dispatch
}

/// `text` followed by a newline, as bytes.
fn reply_line(text: &str) -> Vec<u8> {
    format!("{text}\n").into_bytes()
}

fn is_builtin(name: &str) -> bool {
    BUILTINS
        .iter()
        .any(|(usage, _)| usage.split(' ').next() == Some(name))
}

fn is_shell_syntax(c: char) -> bool {
    SHELL_SYNTAX.contains(&c) || c.is_control()
}

fn is_plain_word(s: &str) -> bool {
    !s.chars()
        .any(|c| is_shell_syntax(c) || c.is_ascii_whitespace())
}

fn describe(c: char) -> String {
    if c.is_control() {
        let shown = crate::out::escape(c.to_string().as_bytes());
        format!("a control character ({shown})")
    } else {
        format!("`{c}`")
    }
}

fn help(policy: &Policy) -> Vec<u8> {
    let mut text = String::from("built-in commands:\n");
    for (usage, what) in BUILTINS {
        text.push_str(&format!("  {usage:<11} {what}\n"));
    }
    if policy.programs.is_empty() {
        text.push_str(
            "no programs allowed (the server was started without --allow-exec)\n",
        );
    } else {
        text.push_str(&format!(
            "allowed programs (run without a shell): {}\n",
            policy.programs.join(", ")
        ));
    }
    text.into_bytes()
}

/// Parses the single number argument of `seq N` / `text N`, within `1..=max`.
fn number_arg(args: &[&str], usage: &str, max: u64) -> Result<u64, Vec<u8>> {
    let bad = || reply_line(&format!("error: usage: {usage}, with N from 1 to {max}"));
    let [arg] = args else {
        return Err(bad());
    };
    match arg.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// `seq N`: "1\n2\n...N\n", byte for byte what coreutils `seq N` prints.
fn seq(args: &[&str]) -> Vec<u8> {
    match number_arg(args, "seq N", MAX_SEQ) {
        Ok(n) => {
            let mut out = String::new();
            for i in 1..=n {
                out.push_str(&i.to_string());
                out.push('\n');
            }
            out.into_bytes()
        }
        Err(reply) => reply,
    }
}

/// `text N`: exactly N bytes, in numbered lines of 64 bytes (`00001 abc…xyzabc…\n`), so a
/// reader can see where a cut fell: 1024 bytes are lines 00001 to 00016.
fn text(args: &[&str]) -> Vec<u8> {
    match number_arg(args, "text N", MAX_REPLY as u64) {
        Ok(n) => {
            let n = n as usize;
            let letters = "abcdefghijklmnopqrstuvwxyz".repeat(3);
            let mut out = String::with_capacity(n + 64);
            let mut line = 1;
            while out.len() < n {
                out.push_str(&format!("{line:05} {}\n", &letters[..57]));
                line += 1;
            }
            out.truncate(n);
            out.into_bytes()
        }
        Err(reply) => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(line: &str) -> String {
        String::from_utf8(execute(line, &Policy::builtins_only())).expect("text reply")
    }

    #[test]
    fn seq_prints_what_coreutils_seq_prints() {
        assert_eq!(run("seq 3"), "1\n2\n3\n");
        assert_eq!(run("seq 1"), "1\n");
        let expected: String = (1..=1000).map(|i| format!("{i}\n")).collect();
        assert_eq!(run("seq 1000"), expected);
        assert_eq!(run("seq 1000").len(), 3893);
        assert_eq!(run("seq 100000").len(), 588_895);
    }

    #[test]
    fn seq_matches_the_real_seq_program_when_it_exists() {
        let Ok(real) = Command::new("seq").arg("2500").output() else {
            // No coreutils here: the previous test pins the format. CI must have them.
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but `seq` is missing"
            );
            eprintln!(
                "skipped: seq_matches_the_real_seq_program_when_it_exists (no `seq`)"
            );
            return;
        };
        assert_eq!(execute("seq 2500", &Policy::builtins_only()), real.stdout);
    }

    #[test]
    fn seq_refuses_a_bad_or_too_large_n_with_one_line() {
        for line in ["seq", "seq 0", "seq -3", "seq abc", "seq 100001", "seq 1 2"] {
            assert_eq!(
                run(line),
                "error: usage: seq N, with N from 1 to 100000\n",
                "{line}"
            );
        }
    }

    #[test]
    fn text_gives_exactly_n_bytes_of_lines() {
        let t = run("text 130");
        assert_eq!(t.len(), 130);
        let letters = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcde";
        assert_eq!(t, format!("00001 {letters}\n00002 {letters}\n00"));
        let t = run("text 1024");
        assert!(t.ends_with(&format!("00016 {letters}\n")), "{t}");
        assert_eq!(run("text 1048576").len(), MAX_REPLY);
        assert_eq!(
            run("text 1048577"),
            "error: usage: text N, with N from 1 to 1048576\n"
        );
    }

    #[test]
    fn echo_joins_its_words() {
        assert_eq!(run("echo  hello   world "), "hello world\n");
        assert_eq!(run("echo"), "\n");
    }

    #[test]
    fn help_lists_the_builtins_and_the_allowed_programs() {
        let help = run("help");
        assert!(help.starts_with("built-in commands:\n  help"), "{help}");
        assert!(help.contains("seq N"), "{help}");
        assert!(help.ends_with("(the server was started without --allow-exec)\n"));
        let policy = Policy::with_programs(vec!["ls".into(), "date".into()]);
        let help = String::from_utf8(execute("help", &policy)).unwrap();
        assert!(
            help.ends_with("allowed programs (run without a shell): ls, date\n"),
            "{help}"
        );
    }

    #[test]
    fn an_unknown_command_is_refused_with_one_line() {
        assert_eq!(
            run("ls -l"),
            "refused: ls is not a built-in command and this server runs no programs; \
             send `help` to see the commands\n"
        );
        let policy = Policy::with_programs(vec!["date".into()]);
        assert_eq!(
            String::from_utf8(execute("ls", &policy)).unwrap(),
            "refused: ls is not a built-in command nor an allowed program (date); \
             send `help` to see the commands\n"
        );
    }

    #[test]
    fn empty_and_overlong_lines_get_a_reply_too() {
        assert_eq!(
            run("  \r\n"),
            "error: empty command; send `help` to see the commands\n"
        );
        let long = format!("echo {}", "a".repeat(2000));
        assert_eq!(
            run(&long),
            "refused: the command is 2005 bytes long; the limit is 1024\n"
        );
    }

    #[test]
    fn a_command_is_measured_in_the_bytes_that_came() {
        // 500 bytes that are not UTF-8: within the limit of 1024 bytes (as text with
        // replacement characters they would be 1500), and refused for what they are.
        let mut line = b"echo ".to_vec();
        line.extend([0xffu8; 500]);
        assert_eq!(
            execute(&line, &Policy::builtins_only()),
            b"refused: the command is not UTF-8 text; nothing was run\n"
        );
        let mut long = b"echo ".to_vec();
        long.extend([0xffu8; 1020]);
        assert_eq!(
            execute(&long, &Policy::builtins_only()),
            b"refused: the command is 1025 bytes long; the limit is 1024\n"
        );
        assert_eq!(
            run("echo \u{1b}[2J"),
            "refused: a control character (\\e) is shell syntax, and this server never \
             runs a shell; nothing was run\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_get_a_bounded_reply_of_at_least_one_byte_and_never_a_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1100),
        ) {
            let reply = execute(&bytes, &Policy::builtins_only());
            proptest::prop_assert!(!reply.is_empty());
            proptest::prop_assert!(reply.len() <= MAX_REPLY);
        }
    }

    #[test]
    fn shell_syntax_is_refused_and_nothing_runs() {
        let scratch = tempfile::tempdir().expect("a scratch directory");
        let dir = scratch.path();
        let marker = |n: usize| dir.join(format!("ran{n}"));
        // Even with `touch` and `ls` allowed, a line with shell syntax runs nothing at
        // all.
        let policy =
            Policy::with_programs(vec!["touch".into(), "ls".into(), "rm".into()]);
        let attacks = [
            "ls; rm -rf /".to_string(),
            format!(
                "touch {}; touch {}",
                marker(0).display(),
                marker(1).display()
            ),
            format!("touch $(touch {})", marker(2).display()),
            format!("echo $(touch {})", marker(3).display()),
            format!("echo `touch {}`", marker(4).display()),
            format!("ls | touch {}", marker(5).display()),
            format!("ls && touch {}", marker(6).display()),
            format!("ls > {}", marker(7).display()),
            format!(
                "touch {}\ntouch {}",
                marker(8).display(),
                marker(9).display()
            ),
            format!("sh -c 'touch {}'", marker(10).display()),
        ];
        for attack in &attacks {
            let reply = String::from_utf8(execute(attack, &policy)).unwrap();
            assert!(
                reply.starts_with("refused: ") && reply.ends_with("nothing was run\n"),
                "{attack:?} -> {reply:?}"
            );
            assert_eq!(reply.lines().count(), 1, "{reply:?}");
        }
        assert_eq!(
            execute("ls; rm -rf /", &Policy::builtins_only()),
            b"refused: `;` is shell syntax, and this server never runs a shell; nothing was run\n"
        );
        let left: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        assert!(left.is_empty(), "something ran: {left:?}");
    }

    #[test]
    fn sh_is_not_allowed_unless_listed_and_a_path_never_is() {
        let policy = Policy::with_programs(vec!["/bin/sh".into(), "ls;id".into()]);
        assert!(policy.programs().is_empty());
        let reply = String::from_utf8(execute("sh -c id", &policy)).unwrap();
        assert!(
            reply.starts_with("refused: sh is not a built-in"),
            "{reply}"
        );
        let reply = String::from_utf8(execute("/bin/sh -c id", &policy)).unwrap();
        assert!(
            reply.starts_with("refused: /bin/sh is not a built-in"),
            "{reply}"
        );
    }

    #[test]
    fn a_builtin_keeps_its_meaning_when_listed_as_a_program() {
        let policy = Policy::with_programs(vec!["seq".into(), "echo".into()]);
        assert!(policy.programs().is_empty());
        assert_eq!(execute("seq 2", &policy), b"1\n2\n");
    }
}
