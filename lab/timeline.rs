//! One order for the events of several programs, from their `--trace-file` records.
//!
//! Each program's record is in the order its threads did things. Between programs there is
//! no clock to trust, but there is cause and effect: a read that got bytes comes after the
//! write that sent them, a read that saw the end of the stream (or a reset) comes after the
//! peer's last step on that connection, a datagram is received after it was sent, and a
//! program that `lab demo` starts or types into acts after what the demo waited for. Those
//! rules, and the order within each thread, give a partial order; where they leave a choice,
//! a fixed priority decides (the demo's narration first, then the programs in the order
//! given — clients before servers — then each program's threads), so the same records always
//! give the same order. `lab demo` prints its lines in it; `lab diagram` draws it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use socket_lab::record::{Conn, Event, Op};

/// One program's record.
pub struct Program {
    pub label: String,
    pub events: Vec<Event>,
}

/// Something `lab demo` did (start a program, type a line, say a sentence), with the events
/// it waited for before doing it, and the events it caused.
#[derive(Default, Clone)]
pub struct Action {
    /// `(program, event)` pairs that came before this action.
    pub after: Vec<(usize, usize)>,
    /// `(program, event)` pairs that came after it.
    pub before: Vec<(usize, usize)>,
}

/// A place in the merged order: an event of a program, or an action of the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    Event { program: usize, index: usize },
    Action(usize),
}

/// Where a node goes when cause and effect leave a choice: (class, program, thread, index),
/// smallest first. Class 0 is the demo's actions, class 1 the programs' events.
type Key = (usize, usize, usize, usize);

/// The ports of a connection end: (local, peer). UDP sockets have no peer.
fn ports(conn: &Option<Conn>) -> Option<(u16, Option<u16>)> {
    conn.map(|c| (c.local.port(), c.peer.map(|p| p.port())))
}

/// Orders the events of `programs` and the demo's `actions`. `programs` are given in
/// priority order: where cause and effect leave a choice, an earlier program goes first.
pub fn order(programs: &[Program], actions: &[Action]) -> Vec<Item> {
    // Node numbers: every event of every program, then the actions.
    let mut first = Vec::new();
    let mut items = Vec::new();
    for (p, program) in programs.iter().enumerate() {
        first.push(items.len());
        for index in 0..program.events.len() {
            items.push(Item::Event { program: p, index });
        }
    }
    let action_base = items.len();
    items.extend((0..actions.len()).map(Item::Action));
    let node = |p: usize, i: usize| first[p] + i;
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    // The next event of the same thread, when it is a line the program printed: it is the
    // report of what the thread just did, and is placed right after it when it can be.
    let mut report: Vec<Option<usize>> = vec![None; items.len()];
    let mut edge = |from: usize, to: usize| {
        if from != to {
            next[from].push(to);
        }
    };

    let mut keys: Vec<Key> = vec![(0, 0, 0, 0); items.len()];
    for (a, key) in keys[action_base..].iter_mut().enumerate() {
        *key = (0, 0, 0, a);
    }

    for (p, program) in programs.iter().enumerate() {
        let events = &program.events;
        // 1. Each thread's events in their own order.
        let mut lanes: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match lanes.iter_mut().find(|(t, _)| *t == e.thread) {
                Some((_, list)) => list.push(i),
                None => lanes.push((e.thread.as_str(), vec![i])),
            }
        }
        // The main thread's last event comes after every other thread's: a program
        // ends when its main thread does, and these programs wait for their threads.
        if let Some((_, main)) = lanes.iter().find(|(t, _)| *t == "main") {
            let last = main[main.len() - 1];
            for (thread, list) in &lanes {
                let their_last = list[list.len() - 1];
                if *thread != "main" && their_last < last {
                    edge(node(p, their_last), node(p, last));
                }
            }
        }
        for (_, list) in &lanes {
            for pair in list.windows(2) {
                edge(node(p, pair[0]), node(p, pair[1]));
                if matches!(events[pair[1]].op, Op::Line { .. }) {
                    report[node(p, pair[0])] = Some(node(p, pair[1]));
                }
            }
        }
        // 2. A connection opened in one thread and used in another (handed to a new
        //    thread): its first use there comes after the opening.
        let opened: Vec<(usize, Conn)> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match (&e.op, e.conn) {
                (Op::Open, Some(c)) => Some((i, c)),
                _ => None,
            })
            .collect();
        let mut lane_rank: HashMap<&str, usize> = HashMap::new();
        for (thread, list) in &lanes {
            let first_event = &events[list[0]];
            let open = opened
                .iter()
                .find(|(_, c)| Some(*c) == first_event.conn)
                .filter(|(i, _)| events[*i].thread != *thread);
            if let Some((i, _)) = open {
                edge(node(p, *i), node(p, list[0]));
            }
            let rank = match (*thread, open) {
                ("main", _) => 0,
                (_, Some((i, _))) => i + 1,
                (_, None) => list[0] + 1,
            };
            lane_rank.insert(thread, rank);
        }
        for (i, e) in events.iter().enumerate() {
            keys[node(p, i)] = (1, p, lane_rank[e.thread.as_str()], i);
        }
    }

    // 3. TCP: a read comes after the write that sent its last byte; the end of the stream
    //    (or a reset) after the peer's shutdown, or its last step on that connection.
    //    4. UDP: the k-th datagram received from a socket is the k-th it sent here.
    let mut streams: HashMap<(u16, u16), (usize, Vec<usize>)> = HashMap::new();
    let mut sends: HashMap<(u16, u16), Vec<usize>> = HashMap::new();
    let mut recvs: HashMap<(u16, u16), Vec<usize>> = HashMap::new();
    for (p, program) in programs.iter().enumerate() {
        for (i, e) in program.events.iter().enumerate() {
            match (ports(&e.conn), &e.op) {
                (Some((local, Some(peer))), _) => {
                    let entry = streams.entry((local, peer)).or_insert((p, Vec::new()));
                    if entry.0 == p {
                        entry.1.push(i);
                    }
                }
                (Some((local, None)), Op::SendTo { to, .. }) => sends
                    .entry((local, to.port()))
                    .or_default()
                    .push(node(p, i)),
                (Some((local, None)), Op::RecvFrom { from, .. }) => recvs
                    .entry((from.port(), local))
                    .or_default()
                    .push(node(p, i)),
                _ => {}
            }
        }
    }
    for (&(local, peer), (p, list)) in &streams {
        let Some((q, theirs)) = streams.get(&(peer, local)) else {
            continue;
        };
        let mine = &programs[*p].events;
        let their = &programs[*q].events;
        // Their writes, as byte ranges of the stream they send us.
        let mut writes = Vec::new();
        let mut offset = 0usize;
        for &j in theirs {
            if let Op::Write { size, .. } = their[j].op {
                writes.push((offset, offset + size, j));
                offset += size;
            }
        }
        // Where they closed: at their shutdown, else when the thread that last used the
        // connection was done (a socket closes when it is dropped, at the latest when
        // that thread or the program ends).
        let closing = theirs
            .iter()
            .copied()
            .find(|&j| matches!(their[j].op, Op::Shutdown | Op::Close))
            .or_else(|| {
                let last = *theirs.last()?;
                let thread = &their[last].thread;
                (last..their.len())
                    .rev()
                    .find(|&j| their[j].thread == *thread)
            });
        let mut read = 0usize;
        for &i in list {
            let end_of_stream = match &mine[i].op {
                Op::Read { got: 0, .. } | Op::PeerFin => true,
                // A timeout (EAGAIN) says nothing about the peer; a reset or a broken pipe
                // comes from the peer's close.
                Op::ReadFailed { error, .. } | Op::WriteFailed { error, .. } => {
                    error != "EAGAIN" && error != "ETIMEDOUT"
                }
                Op::Read { got, .. } => {
                    read += *got;
                    let last = read - 1;
                    if let Some(&(_, _, j)) = writes
                        .iter()
                        .find(|(from, to, _)| *from <= last && last < *to)
                    {
                        edge(node(*q, j), node(*p, i));
                    }
                    false
                }
                _ => false,
            };
            if end_of_stream {
                if let Some(j) = closing {
                    edge(node(*q, j), node(*p, i));
                }
            }
        }
    }
    // 5. A connection is accepted after the other side's connect returned: the accepting
    //    side is the one whose local port is a port it listens on.
    for (p, program) in programs.iter().enumerate() {
        let listening: Vec<u16> = program
            .events
            .iter()
            .filter_map(|e| match &e.op {
                Op::Line { text } => {
                    text.strip_prefix("listening on ")?.rsplit(':').next()
                }
                _ => None,
            })
            .filter_map(|port| port.parse().ok())
            .collect();
        for (i, e) in program.events.iter().enumerate() {
            let (Op::Open, Some((local, Some(peer)))) = (&e.op, ports(&e.conn)) else {
                continue;
            };
            if !listening.contains(&local) {
                continue;
            }
            if let Some((q, theirs)) = streams.get(&(peer, local)) {
                let their = &programs[*q].events;
                if let Some(&j) = theirs.iter().find(|&&j| their[j].op == Op::Open) {
                    edge(node(*q, j), node(p, i));
                }
            }
        }
    }
    for (key, sent) in &sends {
        if let Some(received) = recvs.get(key) {
            for (&s, &r) in sent.iter().zip(received) {
                edge(s, r);
            }
        }
    }

    // 6. The demo's actions.
    for (a, action) in actions.iter().enumerate() {
        for &(p, i) in &action.after {
            edge(node(p, i), action_base + a);
        }
        for &(p, i) in &action.before {
            edge(action_base + a, node(p, i));
        }
        if a > 0 {
            edge(action_base + a - 1, action_base + a);
        }
    }

    topological(&items, &next, &keys, &report)
}

/// Kahn's algorithm, taking the ready node with the smallest key each time. If a cycle
/// is left (records that contradict each other), its smallest node is taken anyway, so
/// that every item is placed once.
fn topological(
    items: &[Item],
    next: &[Vec<usize>],
    keys: &[Key],
    report: &[Option<usize>],
) -> Vec<Item> {
    let mut waiting = vec![0usize; items.len()];
    for list in next {
        for &to in list {
            waiting[to] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<(Key, usize)>> = (0..items.len())
        .filter(|&n| waiting[n] == 0)
        .map(|n| Reverse((keys[n], n)))
        .collect();
    let mut done = vec![false; items.len()];
    let mut out = Vec::with_capacity(items.len());
    while out.len() < items.len() {
        let n = match ready.pop() {
            Some(Reverse((_, n))) if !done[n] => n,
            Some(_) => continue,
            None => match (0..items.len())
                .filter(|&n| !done[n])
                .min_by_key(|&n| keys[n])
            {
                Some(n) => n,
                None => break,
            },
        };
        let mut n = n;
        loop {
            done[n] = true;
            out.push(items[n]);
            for &to in &next[n] {
                waiting[to] = waiting[to].saturating_sub(1);
                if waiting[to] == 0 && !done[to] {
                    ready.push(Reverse((keys[to], to)));
                }
            }
            match report[n] {
                Some(line) if waiting[line] == 0 && !done[line] => n = line,
                _ => break,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket_lab::record::Op;

    fn conn(local: u16, peer: u16) -> Option<Conn> {
        Some(Conn {
            local: format!("127.0.0.1:{local}").parse().unwrap(),
            peer: Some(format!("127.0.0.1:{peer}").parse().unwrap()),
        })
    }

    fn ev(conn: Option<Conn>, op: Op) -> Event {
        Event {
            thread: "main".into(),
            conn,
            op,
        }
    }

    fn line(conn: Option<Conn>, text: &str) -> Event {
        ev(conn, Op::Line { text: text.into() })
    }

    fn texts(programs: &[Program], order: &[Item]) -> Vec<String> {
        order
            .iter()
            .filter_map(|item| match item {
                Item::Event { program, index } => {
                    match &programs[*program].events[*index].op {
                        Op::Line { text } => Some(text.clone()),
                        _ => None,
                    }
                }
                Item::Action(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_read_comes_after_the_write_of_its_last_byte() {
        // The server is listed first, so it would go first wherever it can.
        let s = conn(9000, 5000);
        let c = conn(5000, 9000);
        let server = Program {
            label: "server".into(),
            events: vec![
                line(s, "connection"),
                ev(s, Op::read(1024, b"helloworld")),
                line(s, "read helloworld"),
                ev(s, Op::read(1024, b"")),
                line(s, "closed"),
            ],
        };
        let client = Program {
            label: "client".into(),
            events: vec![
                line(c, "connected"),
                ev(c, Op::write(b"hello")),
                line(c, "sent hello"),
                ev(c, Op::write(b"world")),
                line(c, "sent world"),
                line(c, "closing"),
            ],
        };
        let programs = [server, client];
        let order = order(&programs, &[]);
        assert_eq!(
            texts(&programs, &order),
            [
                "connection",
                "connected",
                "sent hello",
                "sent world",
                // A thread's lines stay together while nothing holds them back.
                "closing",
                "read helloworld",
                "closed"
            ]
        );
    }

    #[test]
    fn an_action_orders_what_it_waited_for_and_what_it_caused() {
        let a = Program {
            label: "a".into(),
            events: vec![line(None, "a1"), line(None, "a2")],
        };
        let b = Program {
            label: "b".into(),
            events: vec![line(None, "b1")],
        };
        let programs = [b, a];
        // b is listed first, but starts only after a's last line.
        let actions = [Action {
            after: vec![(1, 1)],
            before: vec![(0, 0)],
        }];
        let order = order(&programs, &actions);
        assert_eq!(texts(&programs, &order), ["a1", "a2", "b1"]);
        assert_eq!(
            order
                .iter()
                .filter(|i| matches!(i, Item::Action(_)))
                .count(),
            1
        );
    }
}
