//! `lab addr` and `lab resolve`: the network basics of the course, made runnable.
//!
//!   lab addr 192.168.1.10/24                  network, broadcast, hosts, the mask both ways
//!   lab addr 172.16.10.1/255.255.255.0 172.16.10.2   ...and is the second one in it?
//!   lab resolve localhost                     the addresses a name stands for, in order

use std::fmt::Write as _;
use std::net::{Ipv4Addr, ToSocketAddrs};

use anyhow::{anyhow, bail, Context};

/// `ADDRESS/PREFIX` or `ADDRESS/MASK`: the address and its prefix length.
fn parse(spec: &str) -> anyhow::Result<(Ipv4Addr, u32)> {
    let usage = || {
        anyhow!(
            "{spec:?} is not ADDRESS/PREFIX: write it like 192.168.1.10/24 or \
             192.168.1.10/255.255.255.0"
        )
    };
    let (addr, net) = spec.split_once('/').ok_or_else(usage)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| usage())?;
    let prefix = match net.parse::<u32>() {
        Ok(prefix) if prefix <= 32 => prefix,
        Ok(_) => bail!("/{net}: a prefix is 0 to 32, the number of network bits"),
        Err(_) => {
            let mask: Ipv4Addr = net.parse().map_err(|_| usage())?;
            let bits = u32::from(mask);
            // A mask is ones then zeros: 255.255.255.0, never 255.0.255.0.
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                bail!("{mask} is not a mask: its ones must all come before its zeros");
            }
            bits.leading_ones()
        }
    };
    Ok((addr, prefix))
}

/// The mask of a prefix length: `/24` is 255.255.255.0.
fn mask(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}

/// `11000000.10101000.00000001.00001010`: an address as the course writes it, in bits.
fn bits(addr: u32) -> String {
    let octets = addr.to_be_bytes().map(|b| format!("{b:08b}"));
    octets.join(".")
}

/// What `lab addr` prints.
pub fn describe(spec: &str, other: Option<&str>) -> anyhow::Result<String> {
    let (addr, prefix) = parse(spec)?;
    let mask = mask(prefix);
    let network = u32::from(addr) & mask;
    let broadcast = network | !mask;
    let ip = |n: u32| Ipv4Addr::from(n).to_string();
    let mut text = String::new();
    let _ = writeln!(text, "address     {addr:<15}  {}", bits(u32::from(addr)));
    let _ = writeln!(
        text,
        "mask        {:<15}  {}  (/{prefix})",
        ip(mask),
        bits(mask)
    );
    let _ = writeln!(
        text,
        "network     {:<15}  {}  (address AND mask)",
        ip(network),
        bits(network)
    );
    let _ = writeln!(
        text,
        "broadcast   {:<15}  {}  (host bits all 1)",
        ip(broadcast),
        bits(broadcast)
    );
    let hosts = match prefix {
        32 => format!("{addr} only: a single address"),
        31 => format!(
            "{} and {}: a point-to-point link, 2 addresses",
            ip(network),
            ip(broadcast)
        ),
        _ => {
            let count = (1u64 << (32 - prefix)) - 2;
            format!(
                "{} to {}: {count} addresses",
                ip(network + 1),
                ip(broadcast - 1)
            )
        }
    };
    let _ = writeln!(text, "hosts       {hosts}");
    let _ = writeln!(text, "as a number {}", u32::from(addr));
    if let Some(other) = other {
        let other: Ipv4Addr = other
            .parse()
            .with_context(|| format!("{other:?} is not an IPv4 address"))?;
        let theirs = u32::from(other) & mask;
        let _ = writeln!(text, "other       {other:<15}  {}", bits(u32::from(other)));
        let _ = writeln!(
            text,
            "its network {:<15}  {}  (other AND mask)",
            ip(theirs),
            bits(theirs)
        );
        let same = if theirs == network {
            format!(
                "yes: same network {}/{prefix}, reached directly",
                ip(network)
            )
        } else {
            format!(
                "no: network {}/{prefix} is not {}/{prefix}, reached through a router",
                ip(theirs),
                ip(network)
            )
        };
        let _ = writeln!(text, "same network as {addr}? {same}");
    }
    Ok(text)
}

/// What `lab resolve` prints: every address the system's resolver gives for `name`, in the
/// order a client tries them.
pub fn resolve(name: &str) -> anyhow::Result<String> {
    let addrs: Vec<_> = (name, 0)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {name:?}"))?
        .collect();
    let mut text = String::new();
    if name.parse::<std::net::IpAddr>().is_ok() {
        let _ = writeln!(text, "{name} is an address already: nothing to look up");
    } else {
        let count = match addrs.len() {
            1 => "1 address".to_string(),
            n => format!("{n} addresses"),
        };
        let _ = writeln!(
            text,
            "{name} stands for {count}, in the order a client tries:"
        );
    }
    for addr in addrs {
        let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
        let scope = if addr.ip().is_loopback() {
            "loopback: this machine only"
        } else {
            "reachable from other machines"
        };
        let _ = writeln!(text, "  {}  {family}, {scope}", addr.ip());
    }
    Ok(text)
}
