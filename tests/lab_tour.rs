//! The `lab` binary: the tour of the lessons and the one-terminal demos.

mod common;
use common::*;

#[test]
fn the_tour_lists_every_lesson_with_the_commands_for_both_terminals() {
    let tour = run("lab", &[], None);
    tour.assert_code(0);
    assert_transcript("lab_tour", &tour.stdout);
}

/// The lines one side printed in a demo, in order (the two sides interleave differently
/// from run to run, but each side's own lines always come in the same order).
fn side_lines(demo: &str, side: &str) -> String {
    let tag = format!("{side:>6} │ ");
    let lines: Vec<&str> = demo.lines().filter_map(|l| l.strip_prefix(&tag)).collect();
    redact_ports(&lines.join("\n"), None, None)
}

#[test]
fn demo_02_runs_server_and_clients_together_and_ends_by_itself() {
    let demo = run_demo("02");
    let text = format!(
        "server lines:\n{}\n\nclient lines:\n{}\n",
        side_lines(&demo.stdout, "server"),
        side_lines(&demo.stdout, "client")
    );
    assert_transcript("lab_demo_02", &text);
}

#[test]
fn demo_01_shows_the_traced_echo() {
    let demo = run("lab", &["demo", "1"], None);
    demo.assert_code(0);
    assert!(
        demo.stdout
            .contains("client │   · read(buf of 1024) -> 5 bytes \"HELLO\""),
        "{}",
        demo.stdout
    );
    assert!(
        demo.stdout.contains("server │ replied: HELLO"),
        "{}",
        demo.stdout
    );
}

#[test]
fn an_unknown_lesson_is_a_one_line_error() {
    let demo = run("lab", &["demo", "99"], None);
    demo.assert_code(1);
    assert!(
        demo.stderr
            .starts_with("error: there is no lesson 99: choose one of 01, 02"),
        "{}",
        demo.stderr
    );
    assert_eq!(demo.stderr.lines().count(), 1);
}
