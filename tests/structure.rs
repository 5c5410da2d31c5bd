//! The shape of the lab: every lesson folder has its binaries, its chapter, its place in the
//! book's summary and in the lab tour, and its test file; the book includes only what exists.

mod common;
use common::bins;

use std::fs;
use std::path::Path;

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The lesson folders: `lessons/NN-slug`.
fn lesson_slugs() -> Vec<String> {
    let mut slugs: Vec<String> = fs::read_dir("lessons")
        .expect("lessons/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.len() > 3 && name[..2].chars().all(|c| c.is_ascii_digit()) && &name[2..3] == "-"
        })
        .collect();
    slugs.sort();
    slugs
}

#[test]
fn every_lesson_has_its_bins_chapter_summary_entry_tour_entry_and_test() {
    let slugs = lesson_slugs();
    assert!(slugs.len() >= 2, "lesson folders: {slugs:?}");
    let bins = bins();
    let summary = read("book/src/SUMMARY.md");
    let tour = read("lab/lessons.rs");
    let tests: Vec<String> = fs::read_dir("tests")
        .expect("tests/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for slug in &slugs {
        let nn = &slug[..2];
        for side in ["server", "client"] {
            let name = format!("lesson{nn}-{side}");
            let path = format!("lessons/{slug}/{side}.rs");
            assert!(
                bins.contains(&(name.clone(), path.clone())),
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
    for (name, path) in bins() {
        let Some(nn) = name.strip_prefix("lesson").map(|r| &r[..2]) else {
            continue;
        };
        let slug = slugs
            .iter()
            .find(|s| s.starts_with(nn))
            .unwrap_or_else(|| panic!("{name}: no folder lessons/{nn}-*"));
        assert!(
            path.starts_with(&format!("lessons/{slug}/")),
            "{name} is built from {path}, outside lessons/{slug}/"
        );
    }
}

/// Every `{{#include …}}` of the book: (chapter, target path, what follows the path).
fn includes() -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for entry in fs::read_dir("book/src").expect("book/src").flatten() {
        let chapter = entry.path();
        if chapter.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&chapter).expect("chapter");
        for part in text.split("{{#include ").skip(1) {
            let spec = part.split("}}").next().unwrap_or("").trim();
            let (file, rest) = match spec.find(".rs:").or(spec.find(".snap:")) {
                Some(i) => {
                    let dot = spec[i..].find(':').map(|j| i + j).unwrap_or(spec.len());
                    (&spec[..dot], &spec[dot..])
                }
                None => (spec, ""),
            };
            let target = Path::new("book/src").join(file);
            found.push((
                chapter.display().to_string(),
                target.display().to_string(),
                rest.to_string(),
            ));
        }
    }
    found
}

#[test]
fn the_book_includes_code_by_anchor_and_transcripts_after_their_header() {
    let includes = includes();
    assert!(!includes.is_empty());
    for (chapter, target, rest) in includes {
        let text = fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("{chapter} includes {target}: {e}"));
        if target.ends_with(".rs") {
            let anchor = rest.trim_start_matches(':');
            assert!(
                !anchor.is_empty() && !anchor.chars().all(|c| c.is_ascii_digit() || c == ':'),
                "{chapter} includes {target} by line number ({rest}); use an anchor"
            );
            assert!(
                text.contains(&format!("ANCHOR: {anchor}\n")),
                "{chapter}: {target} has no anchor `{anchor}`"
            );
            assert!(
                text.contains(&format!("ANCHOR_END: {anchor}\n")),
                "{chapter}: {target} has no ANCHOR_END `{anchor}`"
            );
        } else if target.ends_with(".snap") {
            // An insta snapshot starts with a 3-line header; the book shows what follows it.
            assert_eq!(
                rest, ":4:",
                "{chapter} must include {target} as `{target}:4:`"
            );
            let header: Vec<&str> = text.lines().take(3).collect();
            assert!(
                header.len() == 3
                    && header[0] == "---"
                    && header[1].starts_with("source: ")
                    && header[2] == "---",
                "{target} does not start with the 3-line insta header: {header:?}"
            );
        }
    }
}
