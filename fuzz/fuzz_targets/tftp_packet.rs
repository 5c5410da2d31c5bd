//! Lesson 09's TFTP packet parser, on any bytes: never a panic; a packet it accepts is
//! shown without a raw control character, and is at most one 516-byte datagram when
//! encoded again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_lab::tftp::{describe, parse, MAX_PACKET};

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    let shown = describe(&parsed, data.len());
    assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
    if let Ok(packet) = parsed {
        assert!(packet.encode().len() <= MAX_PACKET);
    }
});
