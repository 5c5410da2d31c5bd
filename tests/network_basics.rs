//! Chapter 00, the network basics: `lab addr` (network, broadcast, hosts, the mask both ways),
//! `lab resolve` (names and addresses), IPv4 and IPv6 loopback, and why a port below 1024
//! needs privileges — each observed, not stated.

mod common;
use common::*;

#[test]
fn lab_addr_gives_the_network_the_broadcast_the_hosts_and_the_mask_both_ways() {
    let addr = run("lab", &["addr", "192.168.1.10/24"], None);
    addr.assert_code(0);
    addr.assert_stdout_contains("mask        255.255.255.0 ");
    addr.assert_stdout_contains("(/24)");
    addr.assert_stdout_contains("network     192.168.1.0 ");
    addr.assert_stdout_contains("broadcast   192.168.1.255 ");
    addr.assert_stdout_contains(
        "hosts       192.168.1.1 to 192.168.1.254: 254 addresses",
    );
    addr.assert_stdout_contains("as a number 3232235786");
    assert_transcript("network_addr", &transcript(&[&addr]));
}

#[test]
fn a_mask_and_a_prefix_are_two_spellings_of_the_same_network() {
    let prefix = run("lab", &["addr", "10.20.30.40/20"], None);
    let mask = run("lab", &["addr", "10.20.30.40/255.255.240.0"], None);
    prefix
        .assert_code(0)
        .assert_stdout_contains("network     10.20.16.0 ");
    prefix.assert_stdout_contains("10.20.16.1 to 10.20.31.254: 4094 addresses");
    assert_eq!(prefix.stdout, mask.stdout);
}

#[test]
fn lab_addr_answers_the_courses_question_same_network_or_not() {
    let args = ["addr", "172.16.10.1/255.255.255.0", "172.16.10.2"];
    let same = run("lab", &args, None);
    same.assert_code(0).assert_stdout_contains(
        "same network as 172.16.10.1? yes: same network 172.16.10.0/24, reached directly",
    );
    let other = run("lab", &["addr", "172.16.10.1/24", "172.16.11.2"], None);
    other.assert_code(0).assert_stdout_contains(
        "no: network 172.16.11.0/24 is not 172.16.10.0/24, reached through a router",
    );
    assert_transcript("network_same_network", &transcript(&[&same, &other]));
}

#[test]
fn the_smallest_networks_have_no_room_for_a_broadcast() {
    let p2p = run("lab", &["addr", "10.1.2.3/31"], None);
    p2p.assert_code(0)
        .assert_stdout_contains("10.1.2.2 and 10.1.2.3: a point-to-point link");
    let single = run("lab", &["addr", "10.1.2.3/32"], None);
    single
        .assert_code(0)
        .assert_stdout_contains("10.1.2.3 only");
}

#[test]
fn a_mask_whose_ones_do_not_come_first_is_refused() {
    let mask = run("lab", &["addr", "10.0.0.1/255.0.255.0"], None);
    mask.assert_code(1).assert_error(
        "error: 255.0.255.0 is not a mask: its ones must all come before its zeros",
    );
    let prefix = run("lab", &["addr", "10.0.0.1/33"], None);
    prefix
        .assert_code(1)
        .assert_error("error: /33: a prefix is 0 to 32, the number of network bits");
}

#[test]
fn an_address_needs_no_lookup_and_localhost_is_loopback() {
    let address = run("lab", &["resolve", "127.0.0.1"], None);
    address.assert_code(0);
    address.assert_stdout_contains("127.0.0.1 is an address already: nothing to look up");
    assert_transcript("network_resolve_address", &transcript(&[&address]));

    // What localhost stands for comes from /etc/hosts, and differs between machines
    // (127.0.0.1 only, or ::1 as well): it always includes 127.0.0.1, and it is always
    // this machine.
    let name = run("lab", &["resolve", "localhost"], None);
    name.assert_code(0);
    name.assert_stdout_contains("  127.0.0.1  IPv4, loopback: this machine only");
    let addresses: Vec<&str> = name.stdout.lines().skip(1).collect();
    assert!(
        addresses
            .iter()
            .all(|l| l.ends_with("loopback: this machine only")),
        "{}",
        name.stdout
    );
}

#[test]
fn a_client_given_the_name_localhost_reaches_the_server_on_127_0_0_1() {
    let session = Session::start("lesson01-server", &[]);
    let port = session.port;
    let client =
        session.client("lesson01-client", &["--host", "localhost", "hello"], None);
    let server = session.finish();
    client.assert_code(0).assert_stdout_contains("HELLO");
    // The client prints the address it really reached (getpeername).
    client.assert_stdout_contains(&format!("connected to 127.0.0.1:{port}"));
    assert_transcript("network_localhost", &transcript(&[&server, &client]));
}

/// Whether this machine has IPv6 loopback (`::1`); containers sometimes have IPv6 off.
#[track_caller]
fn ipv6_loopback() -> bool {
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        return true;
    }
    eprintln!(
        "skipped: {}: this machine has no IPv6 loopback (::1)",
        std::panic::Location::caller()
    );
    false
}

#[test]
fn the_same_programs_work_over_ipv6_with_host_double_colon_1() {
    if !ipv6_loopback() {
        return;
    }
    let session = Session::start("lesson01-server", &["--host", "::1"]);
    let port = session.port;
    assert!(
        session.first_line.starts_with("listening on [::1]:"),
        "{}",
        session.first_line
    );
    let client = session.client("lesson01-client", &["--host", "::1", "hello"], None);
    let server = session.finish();
    client.assert_code(0).assert_stdout_contains("HELLO");
    server
        .assert_code(0)
        .assert_stdout_contains("connection from [::1]:");
    // IPv6 ports: the server's as its default, the client's as [port].
    let text = transcript(&[&server, &client]);
    let ipv6 = regex::Regex::new(r"\[::1\]:(\d+)").expect("regex");
    let text = ipv6.replace_all(&text, |caps: &regex::Captures| {
        if caps[1] == port.to_string() {
            "[::1]:9001".to_string()
        } else {
            "[::1]:[port]".to_string()
        }
    });
    assert_transcript("network_ipv6", &text);
}

#[test]
fn a_server_on_ipv4_loopback_is_not_at_ipv6_loopback() {
    if !ipv6_loopback() {
        return;
    }
    let session = Session::start("lesson01-server", &[]);
    let port = session.port.to_string();
    let client = run(
        "lesson01-client",
        &["--host", "::1", "--port", &port, "hi"],
        None,
    );
    client.assert_code(1);
    client.assert_stderr_starts_with(&format!("error: connection refused by ::1:{port}"));
    session.stop();
}

/// The lowest port an unprivileged program may bind (Linux's
/// net.ipv4.ip_unprivileged_port_start, 1024 unless changed).
fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1024)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

#[test]
fn a_port_below_1024_needs_privileges() {
    let start = unprivileged_port_start();
    if start <= 80 {
        eprintln!(
            "skipped: a_port_below_1024_needs_privileges: on this machine port 80 is open \
             to everyone (net.ipv4.ip_unprivileged_port_start = {start})"
        );
        return;
    }
    let args = ["--port", "80"];
    // Root may bind any port: the test then runs the server as the user nobody.
    let server = if running_as_root() {
        if skip_without("setpriv") {
            return;
        }
        let mut cmd = assert_cmd::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin_path("lesson01-server"))
            .args(args)
            .env("NO_COLOR", "1")
            .timeout(LIMIT);
        let output = cmd.output().expect("running setpriv");
        Run {
            bin: "lesson01-server".into(),
            shown: shown_command("lesson01-server", &args, None),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code(),
            port: None,
        }
    } else {
        run("lesson01-server", &args, None)
    };
    server.assert_code(1).assert_error(
        "error: cannot bind 127.0.0.1:80: permission denied (ports below 1024 need \
         privileges). Choose a port of 1024 or above with --port N",
    );
    // The port is the point here: shown as it is, not redacted.
    assert_transcript("network_port_80", &server.terminal());
}
