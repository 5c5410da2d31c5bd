//! `lab states`: the TCP connections on one port, each on one line with its two ends side
//! by side, from Linux's table of TCP sockets (`/proc/net/tcp` and `/proc/net/tcp6`: what
//! `ss -tan` reads). It watches the table and prints each change as it sees it, or, with
//! `--once`, prints the table once and stops.
//!
//! A connection between two programs of this machine has two ends in the table, one per
//! socket: the server's end (its local port is the watched port) on the left, the
//! client's on the right, `-` where an end has no socket (any more, or yet).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use socket_lab::proc_tcp::{self, Entry, State};

use crate::demo::print;

/// What the table says about one connection, or about the listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    server_end: Option<State>,
    client_end: Option<State>,
    /// For the listener: connections waiting in its accept queue.
    queued: u32,
    /// What a timer or a counter adds (only with --once: it changes all the time).
    note: String,
}

/// Connections by (server's address, client's address); the listener by (its address,
/// `None`).
type Table = BTreeMap<(SocketAddr, Option<SocketAddr>), Row>;

/// The sockets of `entries` on `port`, as connections.
fn table(entries: &[Entry], port: u16) -> Table {
    let mut rows = Table::new();
    for e in entries {
        if e.state == State::Listen {
            if e.local.port() == port {
                let row = Row {
                    server_end: Some(State::Listen),
                    client_end: None,
                    queued: e.rx_queue,
                    note: format!("accept queue: {}", e.rx_queue),
                };
                rows.insert((e.local, None), row);
            }
            continue;
        }
        let (key, server_side) = if e.local.port() == port {
            ((e.local, Some(e.remote)), true)
        } else if e.remote.port() == port {
            ((e.remote, Some(e.local)), false)
        } else {
            continue;
        };
        let row = rows.entry(key).or_insert(Row {
            server_end: None,
            client_end: None,
            queued: 0,
            note: String::new(),
        });
        if server_side {
            row.server_end = Some(e.state);
        } else {
            row.client_end = Some(e.state);
        }
        if let Some(note) = note(e) {
            row.note = note;
        }
    }
    rows
}

/// The timer of a socket in TIME_WAIT, the retries of a SYN nobody answers.
fn note(e: &Entry) -> Option<String> {
    match e.state {
        State::TimeWait => {
            let left = e.timer.unwrap_or_default().as_secs_f64().ceil();
            Some(format!("TIME_WAIT ends in {left} s"))
        }
        State::SynSent => Some(format!("SYN sent again {} times", e.retransmits)),
        _ => None,
    }
}

fn end(state: Option<State>) -> String {
    state.map_or("-".to_string(), |s| s.to_string())
}

/// One connection, or the listener, on one line.
fn line(key: &(SocketAddr, Option<SocketAddr>), row: &Row, with_note: bool) -> String {
    let (server, client) = key;
    let mut text = match client {
        None => format!("{server}  {}", end(row.server_end)),
        Some(client) => format!(
            "{server}  {:<11} ⇄ {:<11}  {client}",
            end(row.server_end),
            end(row.client_end)
        ),
    };
    if (with_note || client.is_none()) && !row.note.is_empty() {
        text.push_str(&format!("  ({})", row.note));
    }
    text
}

fn read_table(port: u16) -> anyhow::Result<Table> {
    let entries = proc_tcp::sockets_on(port).context(
        "reading /proc/net/tcp: the TCP states come from Linux's /proc (elsewhere, try \
         netstat -an)",
    )?;
    Ok(table(&entries, port))
}

pub fn run(port: u16, once: bool, interval: Duration) -> anyhow::Result<()> {
    let mut shown = read_table(port)?;
    if once {
        // The listener first, then the connections grouped by the states of their ends.
        let mut rows: Vec<_> = shown.iter().collect();
        rows.sort_by_key(|(key, row)| (key.1.is_some(), row.server_end, row.client_end));
        let lines: Vec<String> = rows.iter().map(|(k, r)| line(k, r, true)).collect();
        if lines.is_empty() {
            print(&format!("no TCP socket on port {port}\n"));
        } else {
            print(&format!("{}\n", lines.join("\n")));
        }
        return Ok(());
    }
    print(&format!(
        "watching TCP port {port} in /proc/net/tcp every {} ms (Ctrl-C stops)\n",
        interval.as_millis()
    ));
    let start = Instant::now();
    for (key, row) in &shown {
        print(&format!("{:8.3} s  {}\n", 0.0, line(key, row, false)));
    }
    // Each round: what is new or changed, then what is gone. A change that comes and goes
    // between two rounds is not seen: transient states (SYN_RECV, FIN_WAIT1, LAST_ACK)
    // often last less than a millisecond here.
    loop {
        std::thread::sleep(interval);
        let now = read_table(port)?;
        let t = start.elapsed().as_secs_f64();
        for (key, row) in &now {
            let before = shown.get(key);
            let changed = before.is_none_or(|b| {
                (b.server_end, b.client_end, b.queued)
                    != (row.server_end, row.client_end, row.queued)
            });
            if changed {
                print(&format!("{t:8.3} s  {}\n", line(key, row, false)));
            }
        }
        for key in shown.keys().filter(|k| !now.contains_key(k)) {
            let gone = Row {
                server_end: None,
                client_end: None,
                queued: 0,
                note: "gone".into(),
            };
            print(&format!("{t:8.3} s  {}\n", line(key, &gone, true)));
        }
        shown = now;
    }
}
