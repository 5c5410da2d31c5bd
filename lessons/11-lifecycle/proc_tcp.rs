//! Linux's table of TCP sockets: `/proc/net/tcp` and `/proc/net/tcp6`, one line per
//! socket of the machine with its two addresses and its state (ESTABLISHED, TIME_WAIT,
//! …). `ss -tan` and `netstat -tan` read the same table.
//!
//! The "address in use" error reads it to say what holds a port; lesson 11 and `lab
//! states` read it to show each end of a connection as it opens and closes. Other systems
//! have no such file: there [`sockets_on`] is an error, [`available`] is false and
//! [`state_of`] `None`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The state of a TCP socket, numbered as the kernel numbers them (`tcp_states.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Other(u8),
}

impl State {
    fn from_code(code: u8) -> State {
        match code {
            0x01 => State::Established,
            0x02 => State::SynSent,
            0x03 => State::SynRecv,
            0x04 => State::FinWait1,
            0x05 => State::FinWait2,
            0x06 => State::TimeWait,
            0x07 => State::Close,
            0x08 => State::CloseWait,
            0x09 => State::LastAck,
            0x0A => State::Listen,
            0x0B => State::Closing,
            other => State::Other(other),
        }
    }
}

/// The names `ss` and `netstat` print.
impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN_SENT",
            State::SynRecv => "SYN_RECV",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::TimeWait => "TIME_WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE_WAIT",
            State::LastAck => "LAST_ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
            State::Other(code) => return write!(f, "state {code:#04x}"),
        };
        f.pad(name)
    }
}

/// One line of the table: one socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub local: SocketAddr,
    /// `0.0.0.0:0` for a listening socket.
    pub remote: SocketAddr,
    pub state: State,
    /// For a listening socket, the connections waiting in its accept queue; for the
    /// others, the bytes received and not read yet.
    pub rx_queue: u32,
    /// How many times the socket's timer fired with no answer: for a SYN_SENT socket, how
    /// many times its SYN was sent again.
    pub retransmits: u32,
    /// The time left on the socket's timer, when one runs (for TIME_WAIT: until the
    /// socket is gone).
    pub timer: Option<Duration>,
    /// The socket's inode, as in `/proc/PID/fd/N -> socket:[INODE]`; 0 once no process
    /// holds it (after `close`, a socket in TIME_WAIT belongs to the system alone).
    pub inode: u64,
}

/// The TCP sockets, IPv4 and IPv6, with `port` at one end or the other. Only those lines
/// are parsed: a busy machine has thousands, and programs read the table every few
/// milliseconds.
pub fn sockets_on(port: u16) -> std::io::Result<Vec<Entry>> {
    // Both addresses are `HEX:PORT` followed by a space, the port in 4 hex digits.
    let needle = format!(":{port:04X} ");
    let mut all = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(table) {
            Ok(text) => {
                let lines = text.lines().skip(1).filter(|l| l.contains(&needle));
                all.extend(lines.filter_map(parse_line));
            }
            // A system without IPv6 has no tcp6 table; one without tcp, no table at all.
            Err(e) if table == "/proc/net/tcp" => return Err(e),
            Err(_) => {}
        }
    }
    Ok(all)
}

/// Whether this system has the table (Linux does).
pub fn available() -> bool {
    std::path::Path::new("/proc/net/tcp").exists()
}

/// The socket whose two addresses are `local` and `remote`, if the table has it.
pub fn find(local: SocketAddr, remote: SocketAddr) -> Option<Entry> {
    let (local, remote) = (canonical(local), canonical(remote));
    let all = sockets_on(local.port()).ok()?;
    all.into_iter()
        .find(|e| e.local == local && e.remote == remote)
}

/// The state of the socket whose two addresses are `local` and `remote`; `None` when
/// there is no such socket (any more), or no table on this system.
pub fn state_of(local: SocketAddr, remote: SocketAddr) -> Option<State> {
    find(local, remote).map(|e| e.state)
}

/// How often [`wait_for`] reads the table.
const POLL: Duration = Duration::from_millis(20);

/// Reads the state of the socket `local` ⇄ `remote` until `done` accepts it or `limit`
/// has passed, and returns the last state read. Some changes take the kernel a moment (an
/// ACK to process, a timer to fire): this waits for them, within a bound. Returns at once
/// on a system without the table.
pub fn wait_for(
    local: SocketAddr,
    remote: SocketAddr,
    limit: Duration,
    done: impl Fn(Option<State>) -> bool,
) -> Option<State> {
    let deadline = Instant::now() + limit;
    loop {
        let state = state_of(local, remote);
        if done(state) || !available() || Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(POLL);
    }
}

/// One line of the table: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`,
/// numbers in hex except the last ones.
fn parse_line(line: &str) -> Option<Entry> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let (_, rx_queue) = cols.get(4)?.split_once(':')?;
    let (timer_kind, ticks) = cols.get(5)?.split_once(':')?;
    // The timer's time left is in clock ticks of 1/100 s; kind 0 means no timer runs.
    let ticks = u64::from_str_radix(ticks, 16).ok()?;
    let timer = (timer_kind != "00").then(|| Duration::from_millis(ticks * 10));
    Some(Entry {
        local: parse_addr(cols.get(1)?)?,
        remote: parse_addr(cols.get(2)?)?,
        state: State::from_code(u8::from_str_radix(cols.get(3)?, 16).ok()?),
        rx_queue: u32::from_str_radix(rx_queue, 16).ok()?,
        retransmits: u32::from_str_radix(cols.get(6)?, 16).ok()?,
        timer,
        inode: cols.get(9)?.parse().ok()?,
    })
}

/// `0100007F:2328` -> `127.0.0.1:9000`. The kernel prints each 32-bit word of the address
/// as it lies in memory, so `to_ne_bytes` gives the address's bytes back in order; IPv6
/// addresses are four such words.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        bytes.extend(word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(canonical(SocketAddr::new(ip, port)))
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:127.0.0.1`) as the IPv4 address
/// it is, so that both tables and std's addresses compare alike.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_line_of_the_ipv4_table_is_read() {
        let line = "   0: 0100007F:2328 0100007F:9C40 06 00000000:00000000 03:0000176A \
                    00000000     0        0 0 3 0000000000000000";
        let entry = parse_line(line).expect("a valid line");
        assert_eq!(entry.local, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(entry.remote, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(entry.state, State::TimeWait);
        assert_eq!(entry.timer, Some(Duration::from_millis(59_940)));
        assert_eq!(entry.inode, 0);
    }

    #[test]
    fn an_ipv6_loopback_address_is_read() {
        assert_eq!(
            parse_addr("00000000000000000000000001000000:2329"),
            Some("[::1]:9001".parse().unwrap())
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_two_ends_of_a_connection_of_ours_are_in_the_table() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        assert_eq!(state_of(c, s), Some(State::Established));
        assert_eq!(state_of(s, c), Some(State::Established));
        drop(client);
        // Once our read returns 0 bytes the client's FIN has arrived: CLOSE_WAIT.
        assert_eq!(server.read(&mut [0u8; 8]).unwrap(), 0);
        assert_eq!(state_of(s, c), Some(State::CloseWait));
    }
}
