//! The exercises and `lab check`: for every exercise, the check fails on the starter and
//! passes on the solution; every failure fits on one screen; bad input (an unknown name, a
//! starter that does not compile, a program that hangs or prints without end) gets a clear
//! line and a bounded run.
//!
//! The starters and solutions are Cargo examples: `cargo test` builds them all before any
//! test runs, and these tests point `lab check` at the built programs (`--program PATH`),
//! so no cargo runs inside `cargo test`. Where a test needs `lab check`'s own build step, a
//! stand-in for cargo (a tiny shell script, set as `CARGO`) says what cargo would say.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// Where cargo puts the examples: next to the lab's binaries, in `examples/`.
fn examples_dir() -> PathBuf {
    let lab = bin_path("lab");
    lab.parent().expect("the lab's folder").join("examples")
}

/// The built example `name`, checked to be newer than its source: a stale program would
/// make a test pass or fail for the wrong reason.
#[track_caller]
fn example(name: &str, source: &str) -> PathBuf {
    let path = examples_dir().join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let written = std::fs::metadata(source).and_then(|m| m.modified());
    match (built, written) {
        (Ok(built), Ok(written)) if built >= written => path,
        (Err(_), _) => panic!(
            "{} is not built: run `cargo test` (it builds every example first), or \
             `cargo build --examples` before `cargo test --test exercises`",
            path.display()
        ),
        _ => panic!(
            "{} is older than {source}: run `cargo test` (it builds every example first), \
             or `cargo build --examples` before `cargo test --test exercises`",
            path.display()
        ),
    }
}

/// The starter's file of exercise `id`, from the Cargo.toml `[[example]]` of `exNN-M`.
fn source_of(example_name: &str) -> String {
    manifest_sections("[[example]]")
        .into_iter()
        .find_map(|fields| {
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            (get("name")? == example_name)
                .then(|| get("path"))
                .flatten()
        })
        .unwrap_or_else(|| panic!("Cargo.toml has no [[example]] named {example_name}"))
}

/// `lab check ID --program PATH`, with the results kept in a scratch file.
fn check(id: &str, program: &Path, state: &Path) -> Run {
    let program = program.to_string_lossy();
    let state = state.to_string_lossy();
    run(
        "lab",
        &["check", id, "--program", &program, "--state-file", &state],
        None,
    )
}

/// The longest screen a failing check may print.
const SCREEN: usize = 40;

#[track_caller]
fn starter_fails_and_solution_passes(id: &str) {
    // Lesson 11's checks read Linux's /proc/net/tcp; elsewhere they pass, skipped.
    if id.starts_with("11.") && skip_unless_linux() {
        return;
    }
    let name = format!("ex{}", id.replace('.', "-"));
    let solution_name = format!("{name}-solution");
    let starter = example(&name, &source_of(&name));
    let solution = example(&solution_name, &source_of(&solution_name));
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch.path().join("state.txt");

    let failed = check(id, &starter, &state);
    failed.assert_code(1);
    failed.assert_stdout_contains("✗");
    failed.assert_stdout_lacks("✓");
    let lines = failed.stdout.lines().count();
    assert!(
        lines <= SCREEN,
        "a failing check prints at most {SCREEN} lines; {id} printed {lines}:\n{}",
        failed.stdout
    );
    assert_eq!(failed.stderr, "", "a failing check says all on stdout");

    let passed = check(id, &solution, &state);
    passed.assert_code(0);
    passed.assert_stdout_contains(&format!("✓ {id} passed: "));
    // Checks with --program never count as the student's own work.
    assert!(
        !state.exists(),
        "a check with --program wrote {}",
        state.display()
    );
}

macro_rules! exercises {
    ($($test:ident => $id:literal,)*) => {
        $(
            #[test]
            fn $test() {
                starter_fails_and_solution_passes($id);
            }
        )*
        /// Every exercise this file tests.
        const TESTED: &[&str] = &[$($id),*];
    };
}

exercises! {
    exercise_01_1_an_echo_client => "01.1",
    exercise_01_2_a_server_that_tells_callers_who_they_are => "01.2",
    exercise_01_3_a_server_that_counts_every_byte => "01.3",
    exercise_01_4_a_client_that_says_what_failed => "01.4",
    exercise_02_1_a_client_loop_that_never_hangs => "02.1",
    exercise_02_2_a_server_that_survives_a_reset => "02.2",
    exercise_02_3_stop_the_spin => "02.3",
    exercise_02_4_a_server_that_hangs_up => "02.4",
    exercise_03_1_recv_exact => "03.1",
    exercise_03_2_what_did_the_read_say => "03.2",
    exercise_03_3_a_timeout_is_not_the_end => "03.3",
    exercise_03_4_leave_with_a_reset => "03.4",
    exercise_04_1_leave_cleanly_with_replies_unread => "04.1",
    exercise_04_2_a_client_that_finds_the_lines => "04.2",
    exercise_04_3_a_command_server_that_reads_lines => "04.3",
    exercise_05_1_send_frames => "05.1",
    exercise_05_2_a_framed_client_right_under_any_cutting => "05.2",
    exercise_05_3_a_framed_server_no_client_can_fool => "05.3",
    exercise_05_4_a_clean_close_or_a_frame_cut_short => "05.4",
    exercise_06_1_a_put_client_that_speaks_the_json_header => "06.1",
    exercise_06_2_a_get_that_keeps_nothing_it_cannot_trust => "06.2",
    exercise_06_3_a_get_server_that_stays_in_its_folder => "06.3",
    exercise_07_1_a_udp_client_with_a_timeout_and_3_tries => "07.1",
    exercise_07_2_a_reply_from_the_server_not_anyone => "07.2",
    exercise_07_3_a_udp_server_that_never_cuts_a_datagram => "07.3",
    exercise_07_4_a_udp_client_that_hears_nobody_is_there => "07.4",
    exercise_08_1_a_thread_for_each_client => "08.1",
    exercise_08_2_a_fixed_pool_of_threads => "08.2",
    exercise_08_3_one_counter_for_all_the_threads => "08.3",
    exercise_08_4_stop_gracefully => "08.4",
    exercise_09_1_a_tftp_client_that_gets_a_whole_file => "09.1",
    exercise_09_2_a_tftp_client_that_survives_loss => "09.2",
    exercise_09_3_a_tftp_server_that_answers_from_a_new_port => "09.3",
    exercise_10_1_accept_every_waiting_client => "10.1",
    exercise_10_2_keep_what_write_did_not_take => "10.2",
    exercise_10_3_close_the_silent_client => "10.3",
    exercise_11_1_a_server_that_can_start_again_at_once => "11.1",
    exercise_11_2_a_client_that_closes_first_and_sees_its_time_wait => "11.2",
    exercise_11_3_listen_n_and_never_accept => "11.3",
}

/// The exercise ids `lab check` lists.
fn listed(list: &Run) -> Vec<String> {
    let id = regex::Regex::new(r"^  . (\d\d\.\d+) ").expect("valid regex");
    list.stdout
        .lines()
        .filter_map(|l| id.captures(l).map(|c| c[1].to_string()))
        .collect()
}

#[test]
fn the_list_shows_every_exercise_not_started_with_the_file_to_change() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch
        .path()
        .join("state.txt")
        .to_string_lossy()
        .into_owned();
    let list = run("lab", &["check", "--state-file", &state], None);
    list.assert_code(0);
    assert_eq!(
        listed(&list),
        TESTED,
        "lab check lists exactly the exercises tested here"
    );
    list.assert_stdout_contains("0 of 39 passed. Next: 01.1 — an echo client");
    let shown = Run {
        shown: "cargo run --bin lab -- check".into(),
        ..list
    };
    assert_transcript("lab_check_list", &shown.terminal());
}

#[test]
fn every_chapter_has_at_least_3_exercises_and_30_in_all() {
    assert!(TESTED.len() >= 30, "{} exercises", TESTED.len());
    for lesson in [
        "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    ] {
        let count = TESTED.iter().filter(|id| id.starts_with(lesson)).count();
        assert!(
            count >= 3,
            "lesson {lesson} has {count} exercises, fewer than 3"
        );
    }
}

#[test]
fn an_unknown_exercise_is_one_line_and_exit_code_1() {
    let check = run("lab", &["check", "09.9"], None);
    check.assert_code(1);
    check.assert_error(
        "error: there is no exercise \"09.9\": they are 01.1 to 11.3, listed by \
         `cargo run --bin lab -- check`",
    );
}

#[test]
fn hints_are_printed_on_request_all_of_them_in_order() {
    let hints = run("lab", &["check", "5.2", "--hints"], None);
    hints.assert_code(0);
    hints.assert_count("hint ", 3);
    hints.assert_stdout_contains("hint 1 of 3:\n  `read` returns what has arrived");
}

/// A program of the test's own: a shell script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("writing a script");
    let mut mode = std::fs::metadata(&path).expect("the script").permissions();
    mode.set_mode(0o755);
    std::fs::set_permissions(&path, mode).expect("making it runnable");
    path
}

#[test]
fn a_program_that_hangs_is_stopped_and_reported_in_one_line() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch.path().join("state.txt");
    let hangs = script(scratch.path(), "hangs", "exec sleep 60");
    // As a client: it never connects.
    let client = check("01.1", &hangs, &state);
    client.assert_code(1);
    client.assert_stdout_contains("✗ your client did not connect to the lab's server");
    client.assert_stdout_contains("your client was still running: the lab stopped it");
    // As a server: it never says where it listens.
    let server = check("01.2", &hangs, &state);
    server.assert_code(1);
    server
        .assert_stdout_contains("✗ your server did not say where it listens within 2 s");
}

#[test]
fn a_program_that_prints_without_end_is_cut_off_and_reported_in_one_line() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch.path().join("state.txt");
    // `yes` prints "y" lines forever: gigabytes, if nobody stops it.
    let floods = script(scratch.path(), "floods", "exec yes");
    let client = check("01.1", &floods, &state);
    client.assert_code(1);
    client.assert_stdout_contains("✗ your client did not connect to the lab's server");
    client.assert_stdout_contains(
        "your client printed more than 16 MiB: the lab stopped reading it",
    );
    assert!(
        client.stdout.len() < 4096,
        "the screen stays short:\n{}",
        client.stdout
    );
    let server = check("01.2", &floods, &state);
    server.assert_code(1);
    server.assert_stdout_contains(
        "✗ your server's first line is not `listening on HOST:PORT`",
    );
    server.assert_stdout_contains("observed: \"y\"");
}

/// A stand-in for cargo that says it built the exercise's program at `built` (or, with
/// `error`, that the file did not compile).
fn fake_cargo(
    dir: &Path,
    example: &str,
    built: Option<&Path>,
    error: Option<&str>,
) -> PathBuf {
    let mut lines = Vec::new();
    if let Some(error) = error {
        let message = serde_json::json!({
            "reason": "compiler-message",
            "message": {"level": "error", "rendered": error},
        });
        lines.push(message.to_string());
    }
    if let Some(built) = built {
        let artifact = serde_json::json!({
            "reason": "compiler-artifact",
            "target": {"name": example, "kind": ["example"]},
            "executable": built,
        });
        lines.push(artifact.to_string());
    }
    let success = error.is_none();
    lines.push(
        serde_json::json!({"reason": "build-finished", "success": success}).to_string(),
    );
    let mut body = String::from("cat <<'EOF'\n");
    body.push_str(&lines.join("\n"));
    body.push_str("\nEOF\n");
    body.push_str(if success { "exit 0" } else { "exit 101" });
    script(dir, "cargo", &body)
}

/// `lab check ARGS` run the way a student runs it, with `cargo` standing in for cargo and
/// the results kept in `state`.
fn check_as_a_student(args: &[&str], cargo: &Path, state: &Path) -> Run {
    let mut cmd = command("lab");
    cmd.arg("check")
        .args(args)
        .args(["--state-file", &state.to_string_lossy()])
        .env("CARGO", cargo);
    let out = cmd.output().expect("running lab check");
    Run {
        bin: "lab".into(),
        shown: format!("cargo run --bin lab -- check {}", args.join(" ")),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        port: None,
    }
}

#[test]
fn a_starter_that_does_not_compile_shows_the_compilers_first_error() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch.path().join("state.txt");
    let error = "error[E0308]: mismatched types\n  --> lessons/01-echo/exercises/e1_echo_client.rs:47:18\n   |\n47 |     let x: u32 = \"no\";\n   |            ---   ^^^^ expected `u32`, found `&str`\n";
    let cargo = fake_cargo(scratch.path(), "ex01-1", None, Some(error));
    let check = check_as_a_student(&["01.1"], &cargo, &state);
    check.assert_code(1);
    check.assert_stdout_contains(
        "✗ lessons/01-echo/exercises/e1_echo_client.rs does not compile; the compiler's first error:\n  error[E0308]: mismatched types",
    );
    check.assert_stdout_contains(
        "Fix it, then check again: cargo run --bin lab -- check 01.1",
    );
    assert!(check.stdout.lines().count() <= SCREEN, "{}", check.stdout);
}

#[test]
fn a_failing_check_shows_expected_observed_the_first_difference_and_a_hint() {
    // The screen a student sees, built by `lab check` itself (cargo stands in).
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch.path().join("state.txt");
    let starter = example("ex05-1", &source_of("ex05-1"));
    let cargo = fake_cargo(scratch.path(), "ex05-1", Some(&starter), None);
    let check = check_as_a_student(&["05.1"], &cargo, &state);
    check.assert_code(1);
    check.assert_stdout_contains(
        "first difference: byte 0: expected '\\0' (0x00), observed '\\u{5}' (0x05)",
    );
    assert_transcript("lab_check_05_1_starter", &check.terminal());
    // A failure does not count as done: the list still shows it not started.
    let list = check_as_a_student(&[], &cargo, &state);
    list.assert_stdout_contains("  · 05.1  e1_send_frames.rs");
}

#[test]
fn a_check_that_passes_is_kept_and_the_list_shows_it_done() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let state = scratch.path().join("state.txt");
    // The solution stands in for the student's finished file.
    let solution = example("ex01-1-solution", &source_of("ex01-1-solution"));
    let cargo = fake_cargo(scratch.path(), "ex01-1", Some(&solution), None);
    let check = check_as_a_student(&["01.1"], &cargo, &state);
    check.assert_code(0);
    check.assert_stdout_contains("✓ 01.1 passed: ");
    check.assert_stdout_contains(
        "Next: 01.2 — a server that tells callers who they are: cargo run --bin lab -- check 01.2",
    );
    let list = check_as_a_student(&[], &cargo, &state);
    list.assert_stdout_contains("  ✓ 01.1  e1_echo_client.rs");
    list.assert_stdout_contains("1 of 39 passed. Next: 01.2");
}
