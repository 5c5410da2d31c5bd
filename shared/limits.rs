//! The limit of open file descriptors: every socket is one. A server that holds 10,000
//! clients needs 10,000 of them, and the usual soft limit is 1024.

use rustix::process::{getrlimit, setrlimit, Resource};

/// Raises this process's soft limit of open file descriptors to its hard limit (the
/// most it may raise it to without privileges), and returns the limit now in force.
/// Programs it starts inherit it.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    // Refused only on systems that do not let a process raise its own limit: it stays.
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current
}
