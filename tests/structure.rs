//! The shape of the lab: every lesson folder has its binaries, its chapter, its place in the
//! book's summary and in the lab tour, and its test file; every exercise has its starter,
//! solution, hints and check; `lessons/` holds only lessons; the book includes code by anchor
//! and transcripts whole, in listings that fit the page; `cargo test` runs only the tests
//! that exist.

mod common;
use common::{bins, manifest_sections, transcripts_dir};

use std::fs;
use std::path::{Path, PathBuf};

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The names in a folder, sorted.
fn names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {dir}/: {e}"))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `NN-slug`: two digits, a dash, a name.
fn is_lesson_slug(name: &str) -> bool {
    name.len() > 3 && name[..2].chars().all(|c| c.is_ascii_digit()) && &name[2..3] == "-"
}

/// The lesson folders: `lessons/NN-slug`.
fn lesson_slugs() -> Vec<String> {
    names("lessons")
        .into_iter()
        .filter(|n| is_lesson_slug(n))
        .collect()
}

#[test]
fn lessons_holds_only_lesson_folders() {
    for name in names("lessons") {
        assert!(
            is_lesson_slug(&name) && Path::new("lessons").join(&name).is_dir(),
            "lessons/{name} is not a lesson folder (lessons/NN-slug); the lab's own program \
             lives in lab/"
        );
    }
}

#[test]
fn every_lesson_has_its_bins_chapter_summary_entry_tour_entry_and_test() {
    let slugs = lesson_slugs();
    assert!(slugs.len() >= 2, "lesson folders: {slugs:?}");
    let bins = bins();
    let summary = read("book/src/SUMMARY.md");
    let tour = read("lab/lessons.rs");
    let tests = names("tests");
    for slug in &slugs {
        let nn = &slug[..2];
        for side in ["server", "client"] {
            let name = format!("lesson{nn}-{side}");
            let path = format!("lessons/{slug}/{side}.rs");
            assert!(
                bins.iter().any(|b| b.name == name && b.path == path),
                "Cargo.toml lacks [[bin]] name = \"{name}\" path = \"{path}\""
            );
            assert!(Path::new(&path).is_file(), "{path} is missing");
        }
        assert!(
            Path::new(&format!("book/src/{slug}.md")).is_file(),
            "book/src/{slug}.md is missing"
        );
        assert!(
            summary.contains(&format!("({slug}.md)")),
            "book/src/SUMMARY.md lacks {slug}.md"
        );
        assert!(
            tour.contains(&format!("slug: \"{slug}\"")),
            "lab/lessons.rs lacks lesson {slug}"
        );
        assert!(
            tests
                .iter()
                .any(|t| t.starts_with(&format!("lesson{nn}_")) && t.ends_with(".rs")),
            "tests/lesson{nn}_*.rs is missing"
        );
    }
}

#[test]
fn every_lesson_binary_lives_in_its_lesson_folder() {
    let slugs = lesson_slugs();
    for bin in bins() {
        let Some(nn) = bin.name.strip_prefix("lesson").map(|r| &r[..2]) else {
            continue;
        };
        let slug = slugs
            .iter()
            .find(|s| s.starts_with(nn))
            .unwrap_or_else(|| panic!("{}: no folder lessons/{nn}-*", bin.name));
        assert!(
            bin.path.starts_with(&format!("lessons/{slug}/")),
            "{} is built from {}, outside lessons/{slug}/",
            bin.name,
            bin.path
        );
    }
}

/// The calls each chapter explains, and the lesson file that must show them: the subject of a
/// lesson is in its own folder, not hidden in the library.
const CALLS: &[(&str, &[&str])] = &[
    (
        "lessons/01-echo/server.rs",
        &["TcpListener::bind", ".accept()", ".read(", "write_all"],
    ),
    (
        "lessons/01-echo/client.rs",
        &["TcpStream::connect", "write_all", ".read("],
    ),
    (
        "lessons/02-loops/server.rs",
        &["TcpListener::bind", ".accept()", "loop {", "Ok(0)"],
    ),
    (
        "lessons/03-recv/server.rs",
        &[".read(", "Ok(0)", "set_read_timeout", "set_nonblocking"],
    ),
    (
        "lessons/04-sticky/server.rs",
        &[".accept()", ".peek(", ".read("],
    ),
    ("lessons/04-sticky/client.rs", &["set_nodelay", "write_all"]),
    (
        "lessons/05-fixed-header/frame.rs",
        &[
            "fn decode(",
            "fn read_frame(",
            ".read(",
            "fn write_frame(",
            "write_all",
        ],
    ),
    (
        "lessons/06-json-header/json_header.rs",
        &["read_frame(", "write_frame(", "serde_json::from_slice"],
    ),
    (
        "lessons/07-udp/server.rs",
        &["UdpSocket::bind", "recv_from", "send_to"],
    ),
    (
        "lessons/07-udp/client.rs",
        &["UdpSocket::bind", "send_to", "recv_from", ".connect("],
    ),
    (
        "lessons/08-threading/server.rs",
        &[".bind(", ".listen(", ".accept()", "thread::", ".spawn(move"],
    ),
    (
        "lessons/09-tftp/packet.rs",
        &["fn parse(", "from_be_bytes", "fn encode(", "to_be_bytes"],
    ),
    (
        "lessons/09-tftp/transfer.rs",
        &["set_read_timeout", "recv_from", "send_to"],
    ),
    (
        "lessons/09-tftp/server.rs",
        &["UdpSocket::bind", "recv_from", "send_to", "thread::spawn"],
    ),
    ("lessons/09-tftp/client.rs", &["UdpSocket::bind"]),
    (
        "lessons/10-event-loop/server.rs",
        &[
            "set_nonblocking(true)",
            "Poll::new()",
            ".register(",
            "poll.poll(",
            ".accept()",
            "WouldBlock",
        ],
    ),
    (
        "lessons/10-event-loop/client.rs",
        &[
            "TcpStream::connect",
            "Poll::new()",
            ".register(",
            "poll.poll(",
            "WouldBlock",
        ],
    ),
    (
        "lessons/11-lifecycle/server.rs",
        &["set_reuse_address", ".bind(", ".listen(", ".accept()"],
    ),
    (
        "lessons/11-lifecycle/client.rs",
        &["TcpStream::connect", "connect_timeout", "state_of"],
    ),
    (
        "lessons/11-lifecycle/close.rs",
        &["drop(conn)", "wait_for", "State::TimeWait"],
    ),
];

#[test]
fn each_lesson_file_shows_the_calls_its_chapter_explains() {
    for (file, calls) in CALLS {
        let text = read(file);
        for call in *calls {
            assert!(text.contains(call), "{file} does not show `{call}`");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The exercises (`cargo run --bin lab -- check`).

/// Every exercise of a lesson is in its `exercises/` folder: a starter `eM_name.rs` whose
/// first line says it is not started, and a solution `eM_name_solution.rs` with the listing
/// the chapter shows; both are Cargo examples (`exNN-M`, `exNN-M-solution`); `hints.md` has
/// its hints and `checks.rs` its check; the chapter shows the hints and the solution.
#[test]
fn every_exercise_is_a_starter_and_a_solution_with_hints_a_check_and_its_chapter() {
    let examples: Vec<(String, String)> = manifest_sections("[[example]]")
        .into_iter()
        .map(|fields| {
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(String::new(), |(_, v)| v.clone())
            };
            (get("name"), get("path"))
        })
        .collect();
    let mut found = Vec::new();
    for slug in lesson_slugs() {
        let dir = format!("lessons/{slug}/exercises");
        if !Path::new(&dir).is_dir() {
            continue;
        }
        let (hints, checks) = (
            read(format!("{dir}/hints.md")),
            read(format!("{dir}/checks.rs")),
        );
        let chapter = read(format!("book/src/{slug}.md"));
        for name in names(&dir) {
            let Some(m) = name.strip_prefix('e').and_then(|r| r.split('_').next()) else {
                continue;
            };
            if !name.ends_with(".rs") || name.ends_with("_solution.rs") || m.is_empty() {
                continue;
            }
            let starter = format!("{dir}/{name}");
            let solution = starter.replace(".rs", "_solution.rs");
            let example = format!("ex{}-{m}", &slug[..2]);
            found.push(example.clone());
            assert!(
                read(&starter).starts_with("// NOT STARTED"),
                "{starter}: a starter's first line is `// NOT STARTED…`"
            );
            let text = read(&solution);
            assert!(
                !text.contains("// NOT STARTED") && text.contains("// ANCHOR: solution\n"),
                "{solution}: a solution has no NOT STARTED line, and an anchor `solution`"
            );
            for (name, path) in [
                (example.clone(), &starter),
                (format!("{example}-solution"), &solution),
            ] {
                assert!(
                    examples.contains(&(name.clone(), path.clone())),
                    "Cargo.toml lacks [[example]] name = \"{name}\" path = \"{path}\""
                );
            }
            assert!(
                checks.contains(&format!("file: \"{starter}\"")),
                "{dir}/checks.rs lacks {starter}"
            );
            assert!(
                hints.contains(&format!("<!-- ANCHOR: e{m}_hint1 -->")),
                "{dir}/hints.md has no hint for exercise {m}"
            );
            for shown in [
                format!(
                    "exercises/{}:solution}}}}",
                    name.replace(".rs", "_solution.rs")
                ),
                format!("exercises/hints.md:e{m}_hint1}}}}"),
            ] {
                assert!(
                    chapter.contains(&shown),
                    "book/src/{slug}.md does not show {shown}"
                );
            }
        }
    }
    // And no example that is not an exercise's.
    for (name, path) in &examples {
        let exercise = name.strip_suffix("-solution").unwrap_or(name);
        assert!(
            found.iter().any(|f| f == exercise) && path.contains("/exercises/"),
            "[[example]] {name} ({path}) is not an exercise's starter or solution"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A quiet suite: `cargo test` prints no empty "running 0 tests" blocks.

/// The source files of a crate root: `root` and every file it brings in with `mod NAME;`
/// (`NAME.rs` or `NAME/mod.rs` next to it) or `#[path = "..."] mod NAME;`, recursively.
fn crate_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.to_path_buf()];
    let mut i = 0;
    while i < files.len() {
        let file = files[i].clone();
        let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut path_attr: Option<String> = None;
        for line in read(&file).lines().map(str::trim) {
            // `#[path = "FILE"]`, alone or before `pub mod NAME;` on the same line.
            let line = match line.strip_prefix("#[path = \"") {
                Some(rest) => {
                    path_attr = rest.split('"').next().map(str::to_string);
                    rest.split_once(']').map_or("", |(_, decl)| decl.trim())
                }
                None => line,
            };
            if line.is_empty() {
                continue;
            }
            let declared = line
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(name) = declared {
                let found = match path_attr.take() {
                    Some(path) => dir.join(path),
                    None if dir.join(format!("{name}.rs")).is_file() => {
                        dir.join(format!("{name}.rs"))
                    }
                    None => dir.join(name).join("mod.rs"),
                };
                assert!(
                    found.is_file(),
                    "{}: mod {name} -> {}",
                    file.display(),
                    found.display()
                );
                files.push(found);
            } else if !line.starts_with("#[") {
                path_attr = None;
            }
        }
        i += 1;
    }
    files
}

fn has_unit_tests(root: &Path) -> bool {
    crate_files(root)
        .iter()
        .any(|f| read(f).contains("#[cfg(test)]") || read(f).contains("#[test]"))
}

#[test]
fn a_binary_has_a_test_harness_exactly_when_it_has_unit_tests() {
    for bin in bins() {
        let tests = has_unit_tests(Path::new(&bin.path));
        assert!(
            bin.test == tests,
            "{} ({}): {}",
            bin.name,
            bin.path,
            if tests {
                "it has unit tests: remove `test = false` from its [[bin]] in Cargo.toml"
            } else {
                "it has no unit tests: add `test = false` to its [[bin]] in Cargo.toml, \
                 or cargo test prints an empty `running 0 tests` block for it"
            }
        );
    }
}

/// Whether doc comments in `text` hold a doctest: a code block rustdoc runs, one whose
/// fence names no language or Rust (a ```text block is only shown).
fn has_doctest(text: &str) -> bool {
    let mut inside = false;
    for line in text.lines().map(str::trim_start) {
        let doc = line
            .strip_prefix("///")
            .or_else(|| line.strip_prefix("//!"));
        let Some(fence) = doc.and_then(|d| d.trim().strip_prefix("```")) else {
            continue;
        };
        if !inside && fence != "text" {
            return true;
        }
        inside = !inside;
    }
    false
}

#[test]
fn the_library_runs_doctests_exactly_when_it_has_some() {
    let lib = manifest_sections("[lib]");
    let lib = lib.first().expect("a [lib] section in Cargo.toml");
    let get = |key: &str| lib.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let doctests_on = get("doctest") != Some("false");
    let root = get("path").expect("[lib] path");
    let with_doctests: Vec<PathBuf> = crate_files(Path::new(root))
        .into_iter()
        .filter(|f| has_doctest(&read(f)))
        .collect();
    if doctests_on {
        assert!(
            !with_doctests.is_empty(),
            "the library has no doctests: add `doctest = false` to [lib] in Cargo.toml, or \
             cargo test prints an empty `Doc-tests` block"
        );
    } else {
        assert!(
            with_doctests.is_empty(),
            "{with_doctests:?} have doctests that never run: remove `doctest = false` from \
             [lib] in Cargo.toml"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The book.

/// One `{{#include …}}` of the book.
struct Include {
    chapter: String,
    /// The included file, as a path from the repository root.
    target: PathBuf,
    /// What follows the file name: `:anchor`, `:4:`, or nothing.
    rest: String,
}

/// Every `{{#include …}}` of the book.
fn includes() -> Vec<Include> {
    let mut found = Vec::new();
    for name in names("book/src") {
        if !name.ends_with(".md") {
            continue;
        }
        let chapter = format!("book/src/{name}");
        let text = read(&chapter);
        for part in text.split("{{#include ").skip(1) {
            let spec = part.split("}}").next().unwrap_or("").trim();
            // The file name ends at the first `:` after its last `/`.
            let name_start = spec.rfind('/').map_or(0, |i| i + 1);
            let end = spec[name_start..]
                .find(':')
                .map_or(spec.len(), |i| name_start + i);
            found.push(Include {
                chapter: chapter.clone(),
                target: normalize(&Path::new("book/src").join(&spec[..end])),
                rest: spec[end..].to_string(),
            });
        }
    }
    found
}

/// Whether an included file is code (Rust, or the course's Python), which the book
/// includes by anchor, rather than a transcript.
fn is_code(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "rs" || e == "py")
}

/// `a/b/../c` -> `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn the_book_includes_code_by_anchor_and_transcripts_whole() {
    let includes = includes();
    assert!(!includes.is_empty());
    for Include {
        chapter,
        target,
        rest,
    } in includes
    {
        let shown = target.display();
        let text = fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("{chapter} includes {shown}: {e}"));
        if is_code(&target) {
            let anchor = rest.trim_start_matches(':');
            assert!(
                !anchor.is_empty()
                    && !anchor.chars().all(|c| c.is_ascii_digit() || c == ':'),
                "{chapter} includes {shown} by line number ({rest}); use an anchor"
            );
            assert!(
                text.contains(&format!("ANCHOR: {anchor}\n")),
                "{chapter}: {shown} has no anchor `{anchor}`"
            );
            assert!(
                text.contains(&format!("ANCHOR_END: {anchor}\n")),
                "{chapter}: {shown} has no ANCHOR_END `{anchor}`"
            );
        } else if target.starts_with("lessons") {
            // An exercise's hint, by its anchor in the lesson's hints.md.
            let anchor = rest.trim_start_matches(':');
            assert!(
                target.ends_with("exercises/hints.md") && !anchor.is_empty(),
                "{chapter} includes {shown}{rest}: from a lesson's folder the book includes \
                 code by anchor, and hints from exercises/hints.md by anchor"
            );
            for mark in ["ANCHOR", "ANCHOR_END"] {
                assert!(
                    text.contains(&format!("<!-- {mark}: {anchor} -->")),
                    "{chapter}: {shown} has no `<!-- {mark}: {anchor} -->`"
                );
            }
        } else if target.starts_with("tests/diagrams") {
            // A diagram is an SVG drawn from a recorded run, inlined whole: a blank line
            // would end the HTML block in the middle of it.
            assert!(
                target.extension().is_some_and(|e| e == "svg") && rest.is_empty(),
                "{chapter} includes {shown}{rest}: diagrams are tests/diagrams/NAME.svg, whole"
            );
            assert!(
                !text.contains("\n\n"),
                "{shown} has a blank line: inlined in a chapter, it would break the page"
            );
        } else {
            // Output is a transcript the tests check, included whole: no line offsets.
            assert!(
                target.starts_with("tests/transcripts") && rest.is_empty(),
                "{chapter} includes {shown}{rest}: the book shows output from \
                 tests/transcripts/NAME.txt, whole (no `:N:` offset)"
            );
        }
    }
}

#[test]
fn every_transcript_starts_with_its_command_and_is_checked_by_a_test() {
    let mut tests = String::new();
    for name in names("tests") {
        if name.ends_with(".rs") {
            tests.push_str(&read(format!("tests/{name}")));
        }
    }
    let dir = transcripts_dir();
    for name in names("tests/transcripts") {
        let stem = name.strip_suffix(".txt").unwrap_or_else(|| {
            panic!("tests/transcripts/{name}: only NAME.txt transcripts belong here")
        });
        let first = read(dir.join(&name))
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        assert!(
            first.starts_with("$ "),
            "tests/transcripts/{name} starts with {first:?}, not with `$ command`"
        );
        assert!(
            tests.contains(&format!("\"{stem}\"")),
            "tests/transcripts/{name} is checked by no test (no \"{stem}\" in tests/*.rs): \
             delete it, or check it"
        );
    }
    // Every diagram is drawn by a test from a recorded run, and shown in the book.
    let mut book = String::new();
    for name in names("book/src") {
        book.push_str(&read(format!("book/src/{name}")));
    }
    for name in names("tests/diagrams") {
        // A recorded measurement (NAME.json) sits next to the diagram drawn from it.
        if let Some(stem) = name.strip_suffix(".json") {
            assert!(
                Path::new(&format!("tests/diagrams/{stem}.svg")).is_file(),
                "tests/diagrams/{name}: no {stem}.svg is drawn from this measurement"
            );
            continue;
        }
        let stem = name.strip_suffix(".svg").unwrap_or_else(|| {
            panic!("tests/diagrams/{name}: only NAME.svg diagrams (and NAME.json) belong here")
        });
        assert!(
            tests.contains(&format!("\"{stem}\"")),
            "tests/diagrams/{name} is drawn by no test (no \"{stem}\" in tests/*.rs)"
        );
        assert!(
            book.contains(&format!("tests/diagrams/{name}}}}}")),
            "tests/diagrams/{name} is in no chapter of the book"
        );
    }
    // What is left of insta: the `--help` screens, one per binary.
    let bins = bins();
    for name in names("tests/snapshots") {
        let known = bins
            .iter()
            .any(|b| name == format!("{}_help.snap", b.name.replace('-', "_")));
        assert!(
            known,
            "tests/snapshots/{name} is not the --help snapshot of a binary"
        );
    }
}

/// The widest a line of a listing may be: the book's page column shows 90 characters.
const PAGE_WIDTH: usize = 90;
/// Where a comment after code may start, at the latest: further right, it is off the
/// reader's line of sight (and rustfmt may have pushed it there).
const COMMENT_COLUMN: usize = 60;

/// Where `//` starts a comment on `line` (not inside a string literal).
fn comment_start(line: &str) -> Option<usize> {
    let chars: Vec<char> = line.chars().collect();
    let mut in_string = false;
    for i in 0..chars.len().saturating_sub(1) {
        match chars[i] {
            '"' if i == 0 || chars[i - 1] != '\\' => in_string = !in_string,
            '/' if !in_string && chars[i + 1] == '/' => return Some(i),
            _ => {}
        }
    }
    None
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// What is wrong with the listing `anchor` of `text`, line by line.
fn listing_problems(text: &str, anchor: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut inside = false;
    let mut previous_indent = None;
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.contains(&format!("ANCHOR: {anchor}")) {
            inside = true;
            continue;
        }
        if line.contains(&format!("ANCHOR_END: {anchor}")) {
            inside = false;
        }
        // mdBook drops every anchor line from a listing.
        if !inside || line.contains("ANCHOR") {
            continue;
        }
        let width = line.chars().count();
        if width > PAGE_WIDTH {
            problems.push(format!("line {number} is {width} characters wide: {line}"));
        }
        if let Some(col) = comment_start(line) {
            let after_code = !line.chars().take(col).all(char::is_whitespace);
            if after_code && col > COMMENT_COLUMN {
                problems.push(format!(
                    "line {number}: a comment after code starts at column {col}: {line}"
                ));
            }
            // A comment line deeper than one step in from the line above: rustfmt lined it
            // up with a comment at the end of that line. Put the comment above the code.
            if !after_code && previous_indent.is_some_and(|p| indent(line) > p + 4) {
                problems.push(format!("line {number}: a comment pushed right: {line}"));
            }
        }
        if !line.trim().is_empty() {
            previous_indent = Some(indent(line));
        }
    }
    problems
}

#[test]
fn every_listing_fits_the_page_and_keeps_its_comments_in_sight() {
    let mut problems = Vec::new();
    for Include {
        chapter,
        target,
        rest,
    } in includes()
    {
        if !is_code(&target) {
            continue;
        }
        let anchor = rest.trim_start_matches(':');
        let found = listing_problems(&read(&target), anchor);
        let shown = target.display().to_string();
        for problem in found {
            problems.push(format!("{chapter} includes {shown}:{anchor}, {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "listings must fit {PAGE_WIDTH} columns, with comments after code starting by column \
         {COMMENT_COLUMN}:\n{}",
        problems.join("\n")
    );
}
