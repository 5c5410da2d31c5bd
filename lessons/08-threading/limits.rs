//! Lesson 08's limits: what a server with a thread per connection needs so that many
//! clients — or one peer that opens many connections and sends nothing — cannot lock
//! everyone else out. lesson08-server, lesson08-socketserver-echo and lesson08-chat-server
//! use it through the library, as `socket_lab::limits`.
//!
//! Every connection is a file descriptor, and a process may hold only so many: the soft
//! limit RLIMIT_NOFILE, often 1024. Past it, `accept` fails with EMFILE ("too many open
//! files"), and a client that connects waits in the backlog, unanswered. Three defences,
//! each small:
//!
//! 1. [`raise_open_file_limit`] at start: a process may raise its soft limit up to the hard
//!    limit (often much higher) without any privilege. The server says what it did.
//! 2. A cap below the limit (`--max-connections`): beyond it the server still accepts, says
//!    "busy" in one line, and closes — a clear answer instead of a silent wait. And an idle
//!    timeout (`--idle-timeout-ms`): a connection that sends nothing is closed, and frees
//!    its descriptor.
//! 3. [`AcceptBackoff`] for when `accept` fails all the same: retrying at once would fail the
//!    same way, thousands of times a second. Wait instead — 100 ms, doubling up to 1 s — and
//!    say so at most once a second.

use std::fmt;
use std::io::{self, ErrorKind, Write};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// File descriptors the server keeps for itself: stdin, stdout, stderr, the listening
/// socket, and a few to spare (a refusal needs one for a moment).
pub const RESERVED_FDS: u64 = 16;

// ANCHOR: raise
/// The open-file limit before and after [`raise_open_file_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimit {
    pub before: u64,
    pub now: u64,
}

/// Raises this process's soft limit on open files (RLIMIT_NOFILE) to its hard limit:
/// allowed without privileges, and a thread-per-connection server needs one descriptor
/// per client. Returns what the limit was and what it is now.
pub fn raise_open_file_limit() -> io::Result<FileLimit> {
    let limit = getrlimit(Resource::Nofile);
    // `None` means "unlimited"; a soft limit is never above the hard one.
    let before = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if before >= hard {
        return Ok(FileLimit {
            before,
            now: before,
        });
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised)?;
    Ok(FileLimit { before, now: hard })
}
// ANCHOR_END: raise

impl FileLimit {
    /// How many connections fit under the limit at `fds_each` descriptors per connection.
    pub fn connections(&self, fds_each: u64) -> u64 {
        self.now.saturating_sub(RESERVED_FDS) / fds_each.max(1)
    }

    /// The server's start line: the limit, and how many connections it will take.
    pub fn describe(&self, max_connections: usize, fds_each: u64) -> String {
        let fits = self.connections(fds_each);
        let warning = if max_connections as u64 > fits {
            format!("; only {fits} fit: lower --max-connections")
        } else {
            String::new()
        };
        format!("{self}; at most {max_connections} connections at once{warning}")
    }
}

impl fmt::Display for FileLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "open files: up to {} (", self.now)?;
        if self.now > self.before {
            write!(f, "raised from {}, ", self.before)?;
        }
        write!(f, "the hard limit)")
    }
}

/// Tells a client beyond `--max-connections` why it is not served, in one line; the
/// caller then closes the connection. A short write into a new connection's empty send
/// buffer is taken whole at once, even on a non-blocking socket; if it fails, the closed
/// connection says the rest.
pub fn tell_busy(conn: &mut impl Write, max_connections: u32) {
    let busy = format!(
        "busy: this server serves {max_connections} clients at once; try again later\n"
    );
    let _ = conn.write_all(busy.as_bytes());
}

// ANCHOR: backoff
/// What an accept loop does when `accept` fails.
pub struct AcceptBackoff {
    /// How long the next failure waits.
    wait: Duration,
    /// When a line was last printed, and how many failures came since.
    said: Option<Instant>,
    failures: usize,
}

/// The first wait after a failure, and the longest.
const FIRST_WAIT: Duration = Duration::from_millis(100);
const LONGEST_WAIT: Duration = Duration::from_secs(1);
/// At most one line per this much time about failing accepts.
const QUIET: Duration = Duration::from_secs(1);

impl Default for AcceptBackoff {
    fn default() -> Self {
        AcceptBackoff {
            wait: FIRST_WAIT,
            said: None,
            failures: 0,
        }
    }
}

impl AcceptBackoff {
    /// `accept` worked: the next failure starts again from the shortest wait.
    pub fn accepted(&mut self) {
        self.wait = FIRST_WAIT;
    }

    /// `accept` failed with `e`. A client that left before we took it (or a signal) is
    /// nothing: try again at once. Anything else — out of descriptors (EMFILE, ENFILE) or
    /// memory — fails again until a connection closes: wait, longer each time up to 1 s.
    /// Returns the line to print, at most one a second, counting the failures it stands
    /// for.
    pub fn failed(&mut self, e: &io::Error) -> Option<String> {
        let (line, wait) = self.pause(e)?;
        thread::sleep(wait);
        line
    }

    /// [`AcceptBackoff::failed`] without the sleep, for an event loop, which must never
    /// sleep: all its clients would wait (lesson 10). `None` when `e` is nothing and
    /// `accept` may run again at once; otherwise the line to print (at most one a second)
    /// and how long to leave `accept` alone.
    pub fn pause(&mut self, e: &io::Error) -> Option<(Option<String>, Duration)> {
        use ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted, WouldBlock};
        if matches!(
            e.kind(),
            ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
        ) {
            return None;
        }
        self.failures += 1;
        let wait = self.wait;
        self.wait = (self.wait * 2).min(LONGEST_WAIT);
        let now = Instant::now();
        let line = match self.said {
            Some(said) if now.duration_since(said) < QUIET => None,
            _ => {
                self.said = Some(now);
                let times = std::mem::take(&mut self.failures);
                let s = if times == 1 { "" } else { "s" };
                let ms = wait.as_millis();
                Some(format!(
                    "accept failed ({times} time{s} since the last such line): {e}; \
                     waiting {ms} ms before trying again"
                ))
            }
        };
        Some((line, wait))
    }
}
// ANCHOR_END: backoff

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_left_early_is_no_failure() {
        let mut backoff = AcceptBackoff::default();
        let aborted = io::Error::from(ErrorKind::ConnectionAborted);
        assert_eq!(backoff.failed(&aborted), None);
        assert_eq!(backoff.wait, FIRST_WAIT);
    }

    #[test]
    fn failures_wait_longer_each_time_and_say_so_once_a_second() {
        let mut backoff = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24);
        let first = backoff.failed(&emfile).expect("the first failure is said");
        assert!(first.starts_with("accept failed (1 time since"), "{first}");
        assert!(
            first.ends_with("waiting 100 ms before trying again"),
            "{first}"
        );
        // 100 ms have passed, not a second: the next failure waits 200 ms, silently.
        assert_eq!(backoff.failed(&emfile), None);
        assert_eq!(backoff.wait, Duration::from_millis(400));
        backoff.accepted();
        assert_eq!(backoff.wait, FIRST_WAIT);
    }

    #[test]
    fn the_limit_is_raised_to_the_hard_limit() {
        let limit = raise_open_file_limit().expect("setrlimit");
        let now = getrlimit(Resource::Nofile);
        assert_eq!(now.current, now.maximum);
        assert_eq!(limit.now, now.current.unwrap_or(u64::MAX));
        assert_eq!(
            FileLimit {
                before: 1024,
                now: 1024
            }
            .describe(1000, 2),
            "open files: up to 1024 (the hard limit); at most 1000 connections at once; \
             only 504 fit: lower --max-connections"
        );
        assert_eq!(
            FileLimit {
                before: 1024,
                now: 524288
            }
            .describe(1000, 1),
            "open files: up to 524288 (raised from 1024, the hard limit); at most 1000 \
             connections at once"
        );
    }
}
