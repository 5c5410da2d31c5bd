//! The tour: every lesson of the lab, what it shows, and the commands for both terminals.

use colored::Colorize;

use crate::lessons::LESSONS;

/// Prints every lesson: what it shows and the commands for both terminals.
pub fn print() {
    use std::fmt::Write as _;
    // Writing to a String cannot fail; the whole tour is then printed at once.
    let mut text = String::new();
    let title = "Socket Lab: TCP and UDP sockets, one runnable lesson at a time";
    let _ = writeln!(text, "{}", title.bold());
    let _ = writeln!(
        text,
        "Each lesson is a server and a client: start the server in one terminal, the client in another."
    );
    let _ = writeln!(
        text,
        "The book shows each one's code and output: mdbook serve book --open\n"
    );
    for lesson in LESSONS {
        let _ = writeln!(
            text,
            "{} {}  {}",
            format!("lesson {}", lesson.number).bold(),
            lesson.title.bold(),
            format!("(code: lessons/{0}, chapter: {0}.html)", lesson.slug).dimmed()
        );
        let _ = writeln!(text, "  shows:       {}", lesson.shows);
        let _ = writeln!(text, "  terminal 1:  {}", lesson.terminal1.cyan());
        let _ = writeln!(text, "  terminal 2:  {}", lesson.terminal2.green());
        let _ = writeln!(
            text,
            "  or both:     cargo run --bin lab -- demo {}\n",
            lesson.number
        );
    }
    let _ = writeln!(
        text,
        "Practise: each chapter ends with exercises you write and the lab checks: {}",
        "cargo run --bin lab -- check".cyan()
    );
    let _ = writeln!(text, "Run every test: cargo test");
    crate::demo::print(&text);
}
