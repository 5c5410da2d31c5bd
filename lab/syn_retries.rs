//! `lab syn-retries`: when does a client send its SYN again, when nobody answers it?
//! Measured here, not quoted from a textbook.
//!
//! A listener with listen(0) that never accepts takes one connection into its accept
//! queue. The queue is then full, and Linux drops the next SYN that arrives, without a
//! word: the client hears nothing, and its system sends the SYN again, at growing
//! intervals, until it gives up. This program makes that second connect and watches its
//! socket in Linux's table of TCP sockets, whose retransmission counter goes up by one
//! each time the SYN goes out again, and prints when.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use socket2::{Domain, Socket, Type};
use socket_lab::out::plural;
use socket_lab::proc_tcp;

use crate::demo::print;

/// How often the table is read: the times below are this precise.
const POLL: Duration = Duration::from_millis(10);

/// A kernel setting, as `sysctl NAME` shows it; `None` where this kernel has no such
/// setting.
fn sysctl(name: &str) -> Option<String> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    let value = std::fs::read_to_string(path).ok()?;
    Some(format!("{name} = {}", value.trim()))
}

/// Stops after `max` retransmissions when given, else when the system gives up.
pub fn run(max: Option<u32>) -> anyhow::Result<()> {
    if !proc_tcp::available() {
        bail!("this measurement reads Linux's /proc/net/tcp, which this system has not");
    }
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let settings: Vec<String> = [
        "net.ipv4.tcp_syn_retries",
        "net.ipv4.tcp_syn_linear_timeouts",
    ]
    .iter()
    .filter_map(|name| sysctl(name))
    .collect();
    print(&format!(
        "Linux {}: {}\n",
        kernel.trim(),
        settings.join(", ")
    ));

    // The listener: listen(0), and no accept, ever.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let any: SocketAddr = "127.0.0.1:0".parse()?;
    listener.bind(&any.into())?;
    listener.listen(0)?;
    let server = listener
        .local_addr()?
        .as_socket()
        .context("an IPv4 address")?;
    print(&format!(
        "a listener on {server}: listen(0), never accepting\n"
    ));

    // Connect 1 completes and fills the queue.
    let first = TcpStream::connect_timeout(&server, Duration::from_secs(5))
        .context("connect 1 should complete: the queue has room for one")?;
    print(&format!(
        "connect 1 from {}: connected; it fills the accept queue\n",
        first.local_addr()?
    ));

    // ANCHOR: watch
    // Connect 2 from a port we know (bind first), in a thread that waits in connect like
    // any client would, while this thread watches its socket in the table.
    let second = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    second.bind(&any.into())?;
    let local = second
        .local_addr()?
        .as_socket()
        .context("an IPv4 address")?;
    let start = Instant::now();
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(second.connect(&server.into())));
    print(&format!(
        "connect 2 from {local}: SYN sent at 0 s; the queue is full: the SYN is dropped\n"
    ));
    let mut seen = 0;
    let mut last = 0.0;
    let end = loop {
        let t = start.elapsed().as_secs_f64();
        let entry = proc_tcp::find(local, server);
        let retransmits = entry.map_or(seen, |e| e.retransmits);
        while seen < retransmits {
            seen += 1;
            print(&format!(
                "  SYN sent again: retransmission {seen} at {t:6.2} s (+{:.2} s)\n",
                t - last
            ));
            last = t;
        }
        let sent = plural(seen as usize, "retransmission");
        // The system gave up (or, against all odds, the connect completed).
        match done.try_recv() {
            Ok(Err(e)) => break format!("connect 2 failed after {t:.1} s, {sent}: {e}"),
            Ok(Ok(())) => break format!("connect 2 completed after {t:.1} s, {sent}"),
            Err(_) => {}
        }
        if max.is_some_and(|max| seen >= max) {
            break format!("stopped after {sent} (--retransmissions {seen})");
        }
        std::thread::sleep(POLL);
    };
    // ANCHOR_END: watch
    print(&format!("{end}\n"));
    drop(first);
    Ok(())
}
