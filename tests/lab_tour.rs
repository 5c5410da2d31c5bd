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
