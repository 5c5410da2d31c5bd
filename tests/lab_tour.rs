//! The `lab` program: the tour of the lessons, and what `lab demo` does with a lesson that
//! does not exist. (Each lesson's demo is tested with that lesson: `lab_demo_NN_...`.)

mod common;
use common::*;

#[test]
fn the_tour_lists_every_lesson_with_the_commands_for_both_terminals() {
    let tour = run("lab", &[], None);
    tour.assert_code(0);
    assert_transcript("lab_tour", &tour.terminal());
}

#[test]
fn an_unknown_lesson_is_a_one_line_error() {
    let demo = run("lab", &["demo", "99"], None);
    demo.assert_code(1);
    demo.assert_stderr_starts_with("error: there is no lesson 99: choose one of 01, 02");
    assert_eq!(demo.stderr.lines().count(), 1, "{}", demo.stderr);
}

/// `cargo test --test lab_tour -- --ignored`: every demo 20 times, identical every time
/// (ports and measured values aside). Slow (a few minutes), so not part of `cargo test`;
/// `cargo test` runs each demo 3 times.
#[test]
#[ignore]
fn every_demo_is_the_same_in_20_runs() {
    for lesson in [
        "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    ] {
        assert_demo_is_the_same_every_run(lesson, &[], 20);
    }
}

#[test]
fn a_demo_line_is_never_wider_than_100_columns() {
    for lesson in ["04", "06", "09", "11"] {
        let demo = run_demo(lesson, &["--trace"]);
        for line in demo.run.stdout.lines() {
            let width = line.chars().count();
            assert!(width <= 100, "{width} columns: {line}");
        }
    }
}
