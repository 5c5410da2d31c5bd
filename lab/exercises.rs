//! The exercises of the lab. Each lesson keeps its own in `lessons/NN-slug/exercises/`: a
//! starter and a solution per exercise (Cargo examples `exNN-M` and `exNN-M-solution`),
//! `hints.md` (the hints, read by the book and by `lab check`), and `checks.rs`: the list
//! of the lesson's exercises and the check of each one. Every new lesson adds one line
//! here.

use crate::probe::{Outcome, Program};

#[path = "../lessons/01-echo/exercises/checks.rs"]
mod lesson01;
#[path = "../lessons/02-loops/exercises/checks.rs"]
mod lesson02;
#[path = "../lessons/03-recv/exercises/checks.rs"]
mod lesson03;
#[path = "../lessons/04-sticky/exercises/checks.rs"]
mod lesson04;
#[path = "../lessons/05-fixed-header/exercises/checks.rs"]
mod lesson05;
#[path = "../lessons/06-json-header/exercises/checks.rs"]
mod lesson06;
#[path = "../lessons/07-udp/exercises/checks.rs"]
mod lesson07;
#[path = "../lessons/08-threading/exercises/checks.rs"]
mod lesson08;
#[path = "../lessons/09-tftp/exercises/checks.rs"]
mod lesson09;
#[path = "../lessons/10-event-loop/exercises/checks.rs"]
mod lesson10;
#[path = "../lessons/11-lifecycle/exercises/checks.rs"]
mod lesson11;

/// Every exercise, in the order of the book.
pub fn all() -> Vec<&'static Exercise> {
    let lessons: &[&'static [Exercise]] = &[
        lesson01::EXERCISES,
        lesson02::EXERCISES,
        lesson03::EXERCISES,
        lesson04::EXERCISES,
        lesson05::EXERCISES,
        lesson06::EXERCISES,
        lesson07::EXERCISES,
        lesson08::EXERCISES,
        lesson09::EXERCISES,
        lesson10::EXERCISES,
        lesson11::EXERCISES,
    ];
    lessons.iter().flat_map(|l| l.iter()).collect()
}

/// The first line of every starter: the exercise is "not started" while it is there.
pub const NOT_STARTED: &str = "// NOT STARTED";

/// One exercise: a program the student changes until its check passes.
pub struct Exercise {
    /// `NN.M`: lesson NN, exercise M.
    pub id: &'static str,
    /// What the program must do, in a few words.
    pub title: &'static str,
    /// The starter, the file the student changes (from the repository's top folder).
    pub file: &'static str,
    /// The lab's programs the check runs against the student's (built with it).
    pub peers: &'static [&'static str],
    /// The check: runs the program black-box; `Ok` says in a line what passed.
    pub check: fn(&Program) -> Outcome<String>,
    /// The lesson's `hints.md`: the hints of exercise M are between
    /// `<!-- ANCHOR: eM_hintK -->` and `<!-- ANCHOR_END: eM_hintK -->`.
    pub hints: &'static str,
}

impl Exercise {
    /// The lesson's two digits.
    pub fn lesson(&self) -> &'static str {
        &self.id[..2]
    }

    /// The Cargo example that builds the starter (`ex05-2`) or the solution
    /// (`ex05-2-solution`).
    pub fn example(&self, solution: bool) -> String {
        let base = format!("ex{}", self.id.replace('.', "-"));
        if solution {
            format!("{base}-solution")
        } else {
            base
        }
    }

    /// The solution's file: the starter's name with `_solution`.
    pub fn solution_file(&self) -> String {
        self.file.replace(".rs", "_solution.rs")
    }

    /// The hints, in order.
    pub fn hints(&self) -> Vec<String> {
        let m = &self.id[3..];
        (1..)
            .map_while(|k| anchored(self.hints, &format!("e{m}_hint{k}")))
            .collect()
    }
}

/// The text between `<!-- ANCHOR: name -->` and `<!-- ANCHOR_END: name -->`.
fn anchored(text: &str, name: &str) -> Option<String> {
    let start = format!("<!-- ANCHOR: {name} -->");
    let end = format!("<!-- ANCHOR_END: {name} -->");
    let from = text.find(&start)? + start.len();
    let to = from + text[from..].find(&end)?;
    Some(text[from..to].trim().to_string())
}
