//! `lab diagram`: a sequence diagram, as plain SVG, drawn from the `--trace-file` records of
//! two or three programs.
//!
//! One lifeline per program, in the order given (left to right). Events come in the order of
//! cause and effect (`timeline.rs`), one row each. A write is an arrow from the writer to
//! every read that got some of its bytes; a read is a box split into the parts that came
//! from each write, in that write's colour, so "two writes, one read" or "one write, three
//! reads" shows at a glance. The end of a stream and a reset are drawn from the close that
//! caused them to the read that saw them; a datagram cut short shows the part thrown away.
//!
//! The SVG uses `currentColor` for lines and text, so it takes the colour of the page it is
//! in (the book's light and dark themes alike), and four mid-tone colours for the writes.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use socket_lab::out::preview;
use socket_lab::record::{self, Event, Op};

use crate::timeline::{self, Item, Program};

/// The colours of the writes, in turn: legible on white and on the dark themes.
const COLOURS: [&str; 4] = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9"];
const WIDTH: usize = 760;
/// Where the boxes and labels of a lane go, at most this wide.
const SIDE: f64 = 256.0;
const FONT: &str = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
/// Roughly how wide a character of the 12px font is.
const CHAR: f64 = 7.3;

/// What `lab diagram` was asked to draw.
pub struct Options {
    /// `LABEL=FILE`, left to right.
    pub lanes: Vec<String>,
    pub title: String,
    /// Lines (of any program) that contain one of these are drawn as notes.
    pub notes: Vec<String>,
    /// Name each datagram by its TFTP packet (lesson 09): `DATA block 1`, `ACK block 1`.
    pub tftp: bool,
}

/// One row of the diagram.
enum Row {
    Write {
        lane: usize,
        id: usize,
        label: String,
    },
    Read {
        lane: usize,
        label: String,
        parts: Vec<Part>,
        discarded: usize,
    },
    /// A read that failed, or saw the end of the stream.
    End {
        lane: usize,
        label: String,
        from: Option<usize>,
    },
    /// Where a program closed (or shut down) a connection, as its peer saw it.
    Close {
        lane: usize,
        label: String,
    },
    Note {
        lane: usize,
        text: String,
    },
}

/// Part of a read: bytes of write `write`, shown as `shown`.
struct Part {
    write: usize,
    shown: String,
}

/// A write (or datagram sent): its bytes, its size and how much of it was read so far.
struct Sent {
    bytes: Vec<u8>,
    size: usize,
    taken: usize,
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    let svg = draw(options)?;
    crate::demo::print(&svg);
    Ok(())
}

fn load(options: &Options) -> anyhow::Result<Vec<Program>> {
    if !(2..=3).contains(&options.lanes.len()) {
        bail!("a diagram has 2 or 3 lanes: --lane LABEL=FILE, two or three times");
    }
    options
        .lanes
        .iter()
        .map(|lane| {
            let (label, file) = lane
                .split_once('=')
                .with_context(|| format!("--lane {lane}: write it as LABEL=FILE"))?;
            Ok(Program {
                label: label.to_string(),
                events: record::read_file(&PathBuf::from(file))?,
            })
        })
        .collect()
}

/// The key of a TCP connection end, or of a UDP socket: (local port, peer port).
fn key(e: &Event) -> Option<(u16, Option<u16>)> {
    e.conn.map(|c| (c.local.port(), c.peer.map(|p| p.port())))
}

pub fn draw(options: &Options) -> anyhow::Result<String> {
    let programs = load(options)?;
    let order = timeline::order(&programs, &[]);
    let rows = rows(&programs, &order, options);
    Ok(svg(&programs, &rows, &options.title))
}

/// Turns the merged order into rows.
fn rows(programs: &[Program], order: &[Item], options: &Options) -> Vec<Row> {
    let notes = &options.notes;
    // A datagram's name: its TFTP packet with --tftp, else its bytes.
    let packet = |data: &[u8]| {
        let parsed = socket_lab::tftp::parse(data);
        parsed.ok().filter(|_| options.tftp).map(|p| p.label())
    };
    let mut rows = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    // TCP: the writes of each connection end, in order, by (writer local, writer peer).
    let mut streams: Vec<((u16, u16), Vec<usize>)> = Vec::new();
    // UDP: the datagrams from one socket to another, by (from port, to port).
    let mut datagrams: Vec<((u16, u16), Vec<usize>)> = Vec::new();
    // Closes already drawn, by the closing program's connection (local, peer).
    let mut closes: Vec<((u16, u16), usize)> = Vec::new();
    for item in order {
        let Item::Event { program, index } = *item else {
            continue;
        };
        let e = &programs[program].events[index];
        let lane = program;
        match (&e.op, key(e)) {
            (Op::Write { size, bytes }, Some((local, Some(peer)))) => {
                let id = sent.len();
                sent.push(Sent {
                    bytes: record::unhex(bytes),
                    size: *size,
                    taken: 0,
                });
                push(&mut streams, (local, peer), id);
                rows.push(Row::Write {
                    lane,
                    id,
                    label: format!("write {}", what(&sent[id].bytes, *size)),
                });
            }
            (Op::SendTo { to, size, bytes }, Some((local, None))) => {
                let id = sent.len();
                sent.push(Sent {
                    bytes: record::unhex(bytes),
                    size: *size,
                    taken: 0,
                });
                push(&mut datagrams, (local, to.port()), id);
                // A TFTP packet by its name (its size is in the receive's label).
                let label = match packet(&sent[id].bytes) {
                    Some(name) => format!("send_to {name}"),
                    None => format!("send_to {}", what(&sent[id].bytes, *size)),
                };
                rows.push(Row::Write { lane, id, label });
            }
            (Op::Read { asked, got, .. }, Some((local, Some(peer)))) if *got > 0 => {
                let writes = find(&streams, (peer, local));
                let mut parts = Vec::new();
                let mut left = *got;
                for &id in writes {
                    let w = &mut sent[id];
                    if left == 0 {
                        break;
                    }
                    let free = w.size - w.taken;
                    if free == 0 {
                        continue;
                    }
                    let len = free.min(left);
                    let shown = part_text(w, len);
                    w.taken += len;
                    left -= len;
                    parts.push(Part { write: id, shown });
                }
                rows.push(Row::Read {
                    lane,
                    label: format!("read(buf of {asked}) → {}", bytes(*got)),
                    parts,
                    discarded: 0,
                });
            }
            (
                Op::RecvFrom {
                    from, asked, got, ..
                },
                Some((local, None)),
            ) => {
                let ids = find(&datagrams, (from.port(), local));
                let next = ids.iter().copied().find(|&id| sent[id].taken == 0);
                let mut parts = Vec::new();
                let mut discarded = 0;
                // With --tftp the box names the packet; the buffer's size is left out.
                let label = match next.and_then(|id| packet(&sent[id].bytes)) {
                    Some(_) => format!("recv_from → {}", bytes(*got)),
                    None => format!("recv_from(buf of {asked}) → {}", bytes(*got)),
                };
                if let Some(id) = next {
                    let w = &mut sent[id];
                    let shown = packet(&w.bytes).unwrap_or_else(|| part_text(w, *got));
                    parts.push(Part { write: id, shown });
                    discarded = w.size.saturating_sub(*got);
                    w.taken = w.size;
                }
                rows.push(Row::Read {
                    lane,
                    label,
                    parts,
                    discarded,
                });
            }
            (Op::Read { got: 0, .. }, Some((local, Some(peer))))
            | (Op::ReadFailed { .. }, Some((local, Some(peer))))
            | (Op::WriteFailed { .. }, Some((local, Some(peer)))) => {
                let (label, kind) = match &e.op {
                    Op::Read { asked, .. } => {
                        (format!("read(buf of {asked}) → 0 bytes"), "FIN")
                    }
                    Op::ReadFailed { asked, error } => {
                        (format!("read(buf of {asked}) → {error}"), "RST")
                    }
                    Op::WriteFailed { size, error } => {
                        (format!("write {} → {error}", bytes(*size)), "RST")
                    }
                    _ => unreachable!("matched above"),
                };
                // The close that caused it: drawn once, on the peer's lane, at its first
                // effect (a timeout is no one's close).
                let timeout = label.ends_with("EAGAIN") || label.ends_with("ETIMEDOUT");
                let from = match closes.iter().find(|(k, _)| *k == (peer, local)) {
                    _ if timeout => None,
                    Some((_, row)) => Some(*row),
                    None => {
                        let peer_lane = programs.iter().position(|p| {
                            p.events.iter().any(|e| key(e) == Some((peer, Some(local))))
                        });
                        peer_lane.map(|peer_lane| {
                            let text = match kind {
                                "FIN" => "close: FIN",
                                _ => "close: RST",
                            };
                            rows.push(Row::Close {
                                lane: peer_lane,
                                label: text.to_string(),
                            });
                            closes.push(((peer, local), rows.len() - 1));
                            rows.len() - 1
                        })
                    }
                };
                rows.push(Row::End { lane, label, from });
            }
            // A receive on a UDP socket whose timeout passed: nothing came.
            (Op::ReadFailed { asked, error }, Some((_, None))) => {
                let label = match options.tftp {
                    true => format!("recv_from → {error}"),
                    false => format!("recv_from(buf of {asked}) → {error}"),
                };
                rows.push(Row::End {
                    lane,
                    label,
                    from: None,
                });
            }
            (Op::Shutdown | Op::Close, Some((local, Some(peer)))) => {
                let label = match e.op {
                    Op::Shutdown => "shutdown(Write): FIN",
                    _ => "close(): FIN",
                };
                rows.push(Row::Close {
                    lane,
                    label: label.into(),
                });
                closes.push(((local, peer), rows.len() - 1));
            }
            (Op::Line { text }, _) if notes.iter().any(|n| text.contains(n.as_str())) => {
                rows.push(Row::Note {
                    lane,
                    text: text.clone(),
                });
            }
            _ => {}
        }
    }
    rows
}

fn push(list: &mut Vec<((u16, u16), Vec<usize>)>, key: (u16, u16), id: usize) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, ids)) => ids.push(id),
        None => list.push((key, vec![id])),
    }
}

fn find(list: &[((u16, u16), Vec<usize>)], key: (u16, u16)) -> &[usize] {
    list.iter()
        .find(|(k, _)| *k == key)
        .map_or(&[], |(_, ids)| ids.as_slice())
}

/// `1 byte`, `10 bytes`.
fn bytes(n: usize) -> String {
    socket_lab::out::plural(n, "byte")
}

/// A write as a label: `"hello" (5 bytes)`, or its size when it is long.
fn what(data: &[u8], size: usize) -> String {
    // Short text as text; anything else (a binary header and its body) by its size: the
    // read boxes show its parts.
    let text = std::str::from_utf8(data)
        .is_ok_and(|t| !t.chars().any(|c| c.is_control() && c != '\n'));
    if size <= 16 && data.len() == size && text {
        format!("{} ({})", preview(data), bytes(size))
    } else {
        bytes(size)
    }
}

/// The text of `len` bytes of `w`, from its next unread byte: the bytes themselves when
/// short, else which bytes of the write they are.
fn part_text(w: &Sent, len: usize) -> String {
    let from = w.taken;
    match w.bytes.get(from..from + len) {
        Some(data) if len <= 12 => preview(data),
        _ if len == w.size => bytes(len),
        _ => format!("bytes {}–{}", from + 1, from + len),
    }
}

/// Escapes text for SVG.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The x of each lifeline, on which side (-1 left, +1 right) its boxes go, and how wide
/// its labels and boxes may be. Three lanes (a relay in the middle) have less room each.
fn lanes(n: usize) -> Vec<(f64, f64, f64)> {
    match n {
        2 => vec![(270.0, -1.0, SIDE), (490.0, 1.0, SIDE)],
        _ => vec![
            (190.0, -1.0, 180.0),
            (380.0, 1.0, 170.0),
            (570.0, 1.0, 180.0),
        ],
    }
}

fn row_height(row: &Row, lanes: &[(f64, f64, f64)]) -> f64 {
    match row {
        Row::Read { .. } | Row::End { .. } => 44.0,
        Row::Note { text, lane } => {
            14.0 + 15.0 * note_lines(text, lanes[*lane].2).len() as f64
        }
        _ => 28.0,
    }
}

/// A note, in lines that fit beside a lifeline.
fn note_lines(text: &str, room: f64) -> Vec<String> {
    crate::demo::wrap(text, (room / CHAR) as usize)
}

/// An arrow from (x1, y1) to (x2, y2): a line and a filled head, in `colour`.
fn arrow(
    s: &mut String,
    (x1, y1): (f64, f64),
    (x2, y2): (f64, f64),
    colour: &str,
    dashed: bool,
) {
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    // The head: 9 long, 8 wide; the line stops where the head begins.
    let (bx, by) = (x2 - 9.0 * ux, y2 - 9.0 * uy);
    let (px, py) = (-uy * 4.0, ux * 4.0);
    let dash = if dashed {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let _ = writeln!(
        s,
        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="{colour}" stroke-width="1.6"{dash}/>"#
    );
    let _ = writeln!(
        s,
        r#"<path d="M{x2:.1} {y2:.1} L{:.1} {:.1} L{:.1} {:.1} z" fill="{colour}"/>"#,
        bx + px,
        by + py,
        bx - px,
        by - py
    );
}

fn svg(programs: &[Program], rows: &[Row], title: &str) -> String {
    let lanes = lanes(programs.len());
    let top = 52.0;
    let mut ys = Vec::new();
    let mut y = top;
    for row in rows {
        ys.push(y);
        y += row_height(row, &lanes);
    }
    let height = y + 16.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" style="max-width:{WIDTH}px" role="img" font-family="{FONT}" font-size="12" fill="currentColor" stroke="none">"#
    );
    let _ = writeln!(s, "<title>{}</title>", esc(title));
    // Lane heads and lifelines.
    for (p, (x, _, _)) in lanes.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="20" text-anchor="middle" font-weight="bold" font-size="14">{}</text>"#,
            esc(&programs[p].label)
        );
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="30" x2="{x}" y2="{}" stroke="currentColor" stroke-opacity="0.45" stroke-width="1.5"/>"#,
            height - 8.0
        );
    }
    // Where each write's arrow starts, and each read's box row.
    let mut write_at = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if let Row::Write { id, lane, .. } = row {
            write_at.push((*id, *lane, ys[i] + 14.0));
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let y = ys[i];
        match row {
            Row::Write { lane, id, label } => {
                // The label away from where the bytes go, like a read's from its sender.
                let to = rows.iter().find_map(|row| match row {
                    Row::Read { lane, parts, .. }
                        if parts.iter().any(|p| p.write == *id) =>
                    {
                        Some(*lane)
                    }
                    _ => None,
                });
                let (x, side, room) = match to {
                    Some(to) => away_from(&lanes, *lane, Some(lanes[to].0)),
                    None => lanes[*lane],
                };
                let colour = COLOURS[*id % COLOURS.len()];
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x}" cy="{}" r="3.5" fill="{colour}"/>"#,
                    y + 14.0
                );
                let at = (x + side * 10.0, y + 18.0);
                text_in(&mut s, at, side, room, label, Some(colour), false);
            }
            Row::Read {
                lane,
                label,
                parts,
                discarded,
            } => {
                let (x, side, room) = away_from_sender(&lanes, *lane, parts, &write_at);
                read_label(&mut s, (x, side, room), y, label);
                let box_y = y + 20.0;
                // Arrows from each write that gave bytes, ending at the lifeline.
                for part in parts {
                    if let Some(&(_, from_lane, from_y)) =
                        write_at.iter().find(|(id, _, _)| *id == part.write)
                    {
                        let (fx, _, _) = lanes[from_lane];
                        let c = COLOURS[part.write % COLOURS.len()];
                        let tx = if fx < x { x - 2.0 } else { x + 2.0 };
                        arrow(&mut s, (fx, from_y), (tx, box_y + 10.0), c, false);
                    }
                }
                read_box(&mut s, (x, side, room), box_y, parts, *discarded);
            }
            Row::End { lane, label, from } => {
                let (x, side, room) = lanes[*lane];
                let box_y = y + 20.0;
                if let Some(from) = from {
                    if let Row::Close {
                        lane: from_lane, ..
                    } = &rows[*from]
                    {
                        let (fx, _, _) = lanes[*from_lane];
                        let tx = if fx < x { x - 2.0 } else { x + 2.0 };
                        let from_y = ys[*from] + 14.0;
                        arrow(
                            &mut s,
                            (fx, from_y),
                            (tx, box_y + 10.0),
                            "currentColor",
                            true,
                        );
                    }
                }
                read_label(&mut s, (x, side, room), y, label);
                let end = if label.contains("0 bytes") {
                    "end of stream"
                } else if label.starts_with("recv_from") {
                    "nothing came in time"
                } else {
                    "no data: an error"
                };
                let w = (end.chars().count() as f64 * CHAR + 12.0).ceil().max(150.0);
                let bx = if side < 0.0 { x - 10.0 - w } else { x + 10.0 };
                let _ = writeln!(
                    s,
                    r#"<rect x="{bx}" y="{box_y}" width="{w}" height="20" rx="3" fill="none" stroke="currentColor" stroke-opacity="0.6" stroke-dasharray="3 2"/>"#
                );
                let _ = writeln!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle" font-style="italic">{end}</text>"#,
                    bx + w / 2.0,
                    box_y + 14.0
                );
            }
            Row::Close { lane, label } => {
                let (x, side, room) = lanes[*lane];
                let _ = writeln!(
                    s,
                    r#"<path d="M{} {} l8 8 m0 -8 l-8 8" stroke="currentColor" stroke-width="2"/>"#,
                    x - 4.0,
                    y + 10.0
                );
                text_in(
                    &mut s,
                    (x + side * 10.0, y + 18.0),
                    side,
                    room,
                    label,
                    None,
                    true,
                );
            }
            Row::Note { lane, text: note } => {
                let (x, side, room) = lanes[*lane];
                for (n, line) in note_lines(note, room).iter().enumerate() {
                    let ly = y + 18.0 + 15.0 * n as f64;
                    text_in(&mut s, (x + side * 10.0, ly), side, room, line, None, true);
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Where a read's label and box go: on the side of its lifeline away from the program
/// that sent the bytes, so that the arrows do not cross them (a relay in the middle reads
/// from both sides). Returns the lane's x, that side, and the room there.
fn away_from_sender(
    lanes: &[(f64, f64, f64)],
    lane: usize,
    parts: &[Part],
    write_at: &[(usize, usize, f64)],
) -> (f64, f64, f64) {
    let sender = parts.first().and_then(|part| {
        let found = write_at.iter().find(|(id, _, _)| *id == part.write);
        found.map(|&(_, from_lane, _)| lanes[from_lane].0)
    });
    away_from(lanes, lane, sender)
}

/// A lane's x, the side away from the lifeline at `other` (the lane's own side when there
/// is none), and the room on that side.
fn away_from(
    lanes: &[(f64, f64, f64)],
    lane: usize,
    other: Option<f64>,
) -> (f64, f64, f64) {
    let (x, side, room) = lanes[lane];
    let away = match other {
        Some(ox) if ox > x => -1.0,
        Some(ox) if ox < x => 1.0,
        _ => side,
    };
    if away == side {
        return (x, side, room);
    }
    // The other side: as far as the next lifeline that way, or the edge.
    let limit = lanes
        .iter()
        .map(|l| l.0)
        .filter(|&lx| (lx - x) * away > 0.0)
        .map(|lx| (lx - x).abs() - 20.0)
        .fold(f64::INFINITY, f64::min);
    let edge = if away < 0.0 {
        x - 10.0
    } else {
        WIDTH as f64 - x - 10.0
    };
    (x, away, limit.min(edge).min(SIDE))
}

/// The label of a read (or of a read that got nothing), above its box.
fn read_label(s: &mut String, (x, side, room): (f64, f64, f64), y: f64, label: &str) {
    text_in(
        s,
        (x + side * 10.0, y + 13.0),
        side,
        room,
        label,
        None,
        false,
    );
}

/// A label beside a lifeline, on its side, cut to fit the side.
fn text(
    s: &mut String,
    x: f64,
    y: f64,
    side: f64,
    label: &str,
    colour: Option<&str>,
    italic: bool,
) {
    text_in(s, (x, y), side, SIDE, label, colour, italic);
}

/// [`text`], cut to fit `room` pixels.
fn text_in(
    s: &mut String,
    (x, y): (f64, f64),
    side: f64,
    room: f64,
    label: &str,
    colour: Option<&str>,
    italic: bool,
) {
    let max = (room / CHAR) as usize;
    let shown: String = if label.chars().count() > max {
        let cut: String = label.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        label.to_string()
    };
    let anchor = if side < 0.0 { "end" } else { "start" };
    let fill = colour.map_or(String::new(), |c| format!(r#" fill="{c}""#));
    let style = if italic {
        r#" font-style="italic""#
    } else {
        ""
    };
    let _ = writeln!(
        s,
        r#"<text x="{x}" y="{y}" text-anchor="{anchor}"{fill}{style}>{}</text>"#,
        esc(&shown)
    );
}

/// A read's box: one part per write, each as wide as its text needs (at least a little),
/// in its write's colour; the part of a datagram that did not fit, struck out after it.
fn read_box(
    s: &mut String,
    (x, side, room): (f64, f64, f64),
    y: f64,
    parts: &[Part],
    discarded: usize,
) {
    let widths: Vec<f64> = parts
        .iter()
        .map(|p| (p.shown.chars().count() as f64 * CHAR + 12.0).max(28.0))
        .collect();
    let lost = format!("{} dropped", bytes(discarded));
    let lost_w = if discarded > 0 {
        lost.chars().count() as f64 * CHAR + 12.0
    } else {
        0.0
    };
    let total: f64 = widths.iter().sum::<f64>() + lost_w;
    let scale = if total > room { room / total } else { 1.0 };
    let mut bx = if side < 0.0 {
        x - 10.0 - total * scale
    } else {
        x + 10.0
    };
    for (part, w) in parts.iter().zip(&widths) {
        let w = w * scale;
        let c = COLOURS[part.write % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<rect x="{bx:.1}" y="{y}" width="{w:.1}" height="20" fill="{c}" fill-opacity="0.22" stroke="{c}" stroke-width="1.4"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            bx + w / 2.0,
            y + 14.0,
            esc(&part.shown)
        );
        bx += w;
    }
    if discarded > 0 {
        let w = lost_w * scale;
        let _ = writeln!(
            s,
            r#"<rect x="{bx:.1}" y="{y}" width="{w:.1}" height="20" fill="none" stroke="currentColor" stroke-opacity="0.6" stroke-dasharray="3 2"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-style="italic" text-decoration="line-through">{}</text>"#,
            bx + w / 2.0,
            y + 14.0,
            esc(&lost)
        );
    }
}

/// A measurement of SYN retries against a full listen queue (recorded by the ignored test
/// `record_syn_retries_against_a_full_backlog` of lesson 08, kept in tests/diagrams/).
#[derive(serde::Deserialize)]
pub struct SynRetries {
    /// The listen backlog of the server, which never accepts until `accept_ms`.
    pub backlog: u32,
    /// How many connections were completed and queued before the measured client came.
    pub queued: u32,
    /// When the measured client sent its SYNs, in ms after the first.
    pub syn_ms: Vec<u64>,
    /// When the server accepted one of the queued connections.
    pub accept_ms: u64,
    /// When the measured client's connect() returned.
    pub connected_ms: u64,
}

/// A time-line of the measurement: the client's SYNs dropped while the queue is full, the
/// accept that frees a place, the SYN after it answered.
pub fn draw_syn(file: &str, title: &str) -> anyhow::Result<String> {
    let json =
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let m: SynRetries = serde_json::from_str(&json)
        .with_context(|| format!("{file}: not a SYN measurement"))?;
    if m.syn_ms.is_empty() {
        bail!("{file}: no SYN in the measurement");
    }
    let (client, server) = (250.0, 490.0);
    let per_s = 100.0;
    let y = |ms: u64| 70.0 + ms as f64 / 1000.0 * per_s;
    let end_ms = m.connected_ms.max(*m.syn_ms.last().unwrap_or(&0)) + 400;
    let height = y(end_ms) + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" style="max-width:{WIDTH}px" role="img" font-family="{FONT}" font-size="12" fill="currentColor" stroke="none">"#
    );
    let _ = writeln!(s, "<title>{}</title>", esc(title));
    for (x, label) in [(client, "client"), (server, "server")] {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="20" text-anchor="middle" font-weight="bold" font-size="14">{label}</text>"#
        );
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="30" x2="{x}" y2="{:.0}" stroke="currentColor" stroke-opacity="0.45" stroke-width="1.5"/>"#,
            height - 8.0
        );
    }
    // The time axis, one tick a second.
    let _ = writeln!(
        s,
        r#"<line x1="40" y1="{:.0}" x2="40" y2="{:.0}" stroke="currentColor" stroke-opacity="0.3"/>"#,
        y(0),
        y(end_ms)
    );
    for second in 0..=end_ms / 1000 {
        let ty = y(second * 1000);
        let _ = writeln!(
            s,
            r#"<text x="34" y="{:.0}" text-anchor="end" fill-opacity="0.7">{second} s</text><line x1="36" y1="{ty:.0}" x2="44" y2="{ty:.0}" stroke="currentColor" stroke-opacity="0.5"/>"#,
            ty + 4.0
        );
    }
    let queue = format!("listen({}): {} queued, none accepted", m.backlog, m.queued);
    text(&mut s, server + 10.0, y(0) - 20.0, 1.0, &queue, None, true);
    let last = m.syn_ms.len() - 1;
    for (n, &ms) in m.syn_ms.iter().enumerate() {
        let sy = y(ms);
        let label = if n == 0 {
            format!("SYN at {:.2} s", ms as f64 / 1000.0)
        } else {
            format!("SYN again at {:.2} s", ms as f64 / 1000.0)
        };
        text(
            &mut s,
            client - 10.0,
            sy + 4.0,
            -1.0,
            &label,
            Some(COLOURS[n % COLOURS.len()]),
            false,
        );
        let colour = COLOURS[n % COLOURS.len()];
        if n < last || ms < m.accept_ms {
            // Dropped: the queue is full. Nothing comes back; the client tries again.
            let _ = writeln!(
                s,
                r#"<line x1="{client}" y1="{sy:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.6"/>"#,
                server - 16.0,
                sy + 8.0
            );
            let _ = writeln!(
                s,
                r#"<path d="M{:.1} {:.1} l8 8 m0 -8 l-8 8" stroke="{colour}" stroke-width="2"/>"#,
                server - 16.0,
                sy + 4.0
            );
            text(
                &mut s,
                server + 10.0,
                sy + 12.0,
                1.0,
                "dropped: the queue is full",
                None,
                true,
            );
        } else {
            arrow(
                &mut s,
                (client, sy),
                (server - 2.0, sy + 8.0),
                colour,
                false,
            );
            text(
                &mut s,
                server + 10.0,
                sy + 12.0,
                1.0,
                "a place is free: SYN-ACK",
                None,
                true,
            );
            arrow(
                &mut s,
                (server, sy + 12.0),
                (client + 2.0, y(m.connected_ms) + 12.0),
                "currentColor",
                false,
            );
        }
    }
    let ay = y(m.accept_ms);
    let _ = writeln!(
        s,
        r#"<circle cx="{server}" cy="{ay:.1}" r="3.5" fill="currentColor"/>"#
    );
    let accept = format!("accept() at {:.2} s", m.accept_ms as f64 / 1000.0);
    text(&mut s, server + 10.0, ay + 4.0, 1.0, &accept, None, false);
    let done = format!(
        "connect() returns at {:.2} s",
        m.connected_ms as f64 / 1000.0
    );
    text(
        &mut s,
        client - 10.0,
        y(m.connected_ms) + 28.0,
        -1.0,
        &done,
        None,
        false,
    );
    s.push_str("</svg>\n");
    Ok(s)
}
