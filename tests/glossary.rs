//! The glossary (`book/src/glossary.md`) keeps its promises: every chapter it points to
//! exists, and the course's key terms appear, in Chinese, in the chapter the glossary names
//! first for them.

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The glossary's table rows: (the course's term, the chapters linked in the `where`
/// column).
fn rows() -> Vec<(String, Vec<String>)> {
    let glossary = read("book/src/glossary.md");
    let mut rows = Vec::new();
    for line in glossary
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| the"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let (Some(term), Some(place)) = (cells.first(), cells.last()) else {
            continue;
        };
        let links = place
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .map(str::to_string)
            .collect();
        rows.push((term.trim().to_string(), links));
    }
    rows
}

#[test]
fn every_chapter_the_glossary_points_to_exists_and_is_in_the_book() {
    let summary = read("book/src/SUMMARY.md");
    let rows = rows();
    assert!(rows.len() > 40, "the glossary has {} rows", rows.len());
    for (term, links) in rows {
        assert!(!links.is_empty(), "{term}: no chapter linked");
        for link in links {
            assert!(
                Path::new("book/src").join(&link).is_file(),
                "{term}: {link} does not exist"
            );
            assert!(
                summary.contains(&format!("({link})")),
                "{term}: {link} is not in SUMMARY.md"
            );
        }
    }
}

#[test]
fn the_courses_key_terms_appear_in_chinese_where_the_glossary_sends_the_reader() {
    let key_terms = [
        "套接字",
        "粘包",
        "报头",
        "通信循环",
        "链接循环",
        "三次握手",
        "四次挥手",
        "半连接池",
        "端口占用",
        "子网掩码",
        "群聊",
        "多进程",
        "数据报",
    ];
    let rows = rows();
    for key in key_terms {
        let (_, links) = rows
            .iter()
            .find(|(term, _)| term.starts_with(key))
            .unwrap_or_else(|| panic!("the glossary has no row for {key}"));
        let first = &links[0];
        let chapter = read(&format!("book/src/{first}"));
        assert!(
            chapter.contains(key),
            "the glossary sends {key} to {first}, which never writes {key}"
        );
    }
}
