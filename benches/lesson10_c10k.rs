//! C10K: 10,000 clients connected at once, each making 10 round trips, against lesson 10's
//! event loop (one thread) and lesson 08's server (a thread per client), in the same run.
//!
//!     cargo bench --bench lesson10_c10k
//!     cargo bench --bench lesson10_c10k -- --clients 5000 --rounds 10
//!
//! The load is `lesson10-client`: it first opens every connection and has each answered
//! once, so all 10,000 are open at the same moment, then runs the rounds on all of them.
//! Each server's peak resident memory (VmHWM) and its most threads at once are read from
//! /proc/PID/status while it serves. Each process needs a file descriptor per connection:
//! this bench raises its own limit to the hard limit, and the programs inherit it.

mod common;

use common::{load_client, print_machine, Server, Watch};

fn option(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let clients = option("--clients", 10_000);
    let rounds = option("--rounds", 10);
    let limit = socket_lab::limits::raise_open_file_limit()
        .ok()
        .map(|l| l.now);
    print_machine();
    println!(
        "C10K: {clients} connections open at once, {rounds} round trips each; open files \
         allowed per process: {}",
        limit.map_or("?".to_string(), |l| l.to_string())
    );
    let max = clients.to_string();
    // Both servers take every client at once (--max-connections), and end after the last.
    let args = [
        "--port",
        "0",
        "--quiet",
        "--max-clients",
        &max,
        "--max-connections",
        &max,
    ];
    let mut all_ok = true;
    let mut seen_by = Vec::new();
    for (name, program) in [
        (
            "lesson10-server (one thread, an event loop)",
            env!("CARGO_BIN_EXE_lesson10-server"),
        ),
        (
            "lesson08-server (a thread per client)",
            env!("CARGO_BIN_EXE_lesson08-server"),
        ),
    ] {
        let Some(server) = Server::start(program, &args) else {
            println!("{name}: did not start");
            all_ok = false;
            continue;
        };
        let watch = Watch::start(server.child.id());
        let mut load = load_client(server.addr, clients, rounds);
        let ended = server.wait();
        let seen = watch.stop();
        seen_by.push(seen);
        let round_trips = (load.exact + load.wrong).max(1) as f64;
        load.server_cpu_us = seen.cpu_ticks as f64 * 10_000.0 / round_trips;
        all_ok &= load.all_exact() && ended;
        println!("\n{name}");
        println!(
            "  {} of {clients} connections open at once; {}",
            load.open_at_once,
            load.summary()
        );
        println!(
            "  server: at most {}, peak RSS {:.1} MiB, CPU {:.2} s; exited {}",
            socket_lab::out::plural(seen.max_threads as usize, "thread"),
            seen.peak_mib(),
            seen.cpu_secs(),
            if ended { "cleanly" } else { "with an error" }
        );
    }
    if let [event_loop, threads] = seen_by[..] {
        println!(
            "\na thread per client against the event loop: {:.0} x the threads, {:.1} x the \
             peak memory, {:.1} x the CPU",
            threads.max_threads as f64 / event_loop.max_threads.max(1) as f64,
            threads.peak_kib as f64 / event_loop.peak_kib.max(1) as f64,
            threads.cpu_ticks as f64 / event_loop.cpu_ticks.max(1) as f64
        );
    }
    println!("targets: lesson10-server 0 lost, one thread, peak RSS < 64 MiB");
    if !all_ok {
        println!("SOME ROUND TRIPS WERE LOST OR WRONG (see above)");
        std::process::exit(1);
    }
}
