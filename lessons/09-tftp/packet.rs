//! Lesson 09 — TFTP packets (RFC 1350): bytes to a packet (or a clear error), and back.
//!
//! Pure code, no socket: the server, the client and the lossy relay of lesson 09 all use
//! it, and the tests below check every rule on bytes alone. The library exports it as
//! `socket_lab::tftp`.
//!
//! A TFTP packet is one UDP datagram. Its first 2 bytes, in network byte order
//! (big-endian, lesson 05), are the opcode; what follows depends on it:
//!
//! ```text
//!   RRQ / WRQ   | 01 or 02 | file name | 0 | mode | 0 |      (mode: "octet", "netascii")
//!   DATA        | 03 | block (2 bytes) | 0 to 512 bytes of data |
//!   ACK         | 04 | block (2 bytes) |
//!   ERROR       | 05 | error code (2 bytes) | message | 0 |
//! ```
//!
//! Every field is bounded by the packet, and the packet by [`MAX_PACKET`]: nothing a peer
//! sends can make this code read past the datagram or allocate more than its size.

use std::fmt;

/// The data in one DATA packet: always 512 bytes, except in the last one, which has fewer
/// (0 to 511). A short block is how the receiver knows the file has ended.
pub const BLOCK_SIZE: usize = 512;

/// The largest TFTP packet: a DATA packet with a full block, 2 + 2 + 512 bytes. Requests
/// must fit in it too. Anything longer is refused.
pub const MAX_PACKET: usize = 4 + BLOCK_SIZE;

// ANCHOR: types
/// One TFTP packet, as the RFC defines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// Opcode 1, read request: "send me this file".
    Rrq(Request),
    /// Opcode 2, write request: "let me send you this file".
    Wrq(Request),
    /// Opcode 3: block number `block` of the file (the first block is 1).
    Data { block: u16, data: Vec<u8> },
    /// Opcode 4: "I have block `block`" (block 0 answers a write request).
    Ack { block: u16 },
    /// Opcode 5: the transfer is over, and why. Never acknowledged, never re-sent.
    Error { code: ErrorCode, message: String },
}

/// What a read or write request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub filename: String,
    pub mode: Mode,
    /// Option names and values after the mode (RFC 2347, e.g. `blksize 512`). A server
    /// may ignore them and answer as plain RFC 1350; this lab's server does.
    pub options: Vec<(String, String)>,
}

/// How the file's bytes are sent. Mode names are case-insensitive on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Text: line ends become CR LF on the wire (and back on arrival).
    Netascii,
    /// Raw bytes, unchanged: what Python's `b'octet'` asks for, and `tftp -m binary`.
    Octet,
    /// Obsolete even in 1992: "send to a user's mailbox".
    Mail,
}

/// The error codes of RFC 1350 (and 8, added by RFC 2347 for option negotiation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: not defined, see the message.
    NotDefined,
    /// 1
    FileNotFound,
    /// 2
    AccessViolation,
    /// 3
    DiskFull,
    /// 4
    IllegalOperation,
    /// 5: a packet from a port that is not this transfer's peer.
    UnknownTid,
    /// 6
    FileExists,
    /// 7
    NoSuchUser,
    /// Any other number (8 is "option negotiation refused").
    Other(u16),
}
// ANCHOR_END: types

/// Why some bytes are not a TFTP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than the packet's fixed part needs.
    TooShort { len: usize, need: usize },
    /// More than [`MAX_PACKET`] bytes.
    TooLong { len: usize },
    /// An opcode that is not 1 to 5.
    UnknownOpcode(u16),
    /// A string (file name, mode, option) without its terminating 0 byte.
    Unterminated { field: &'static str },
    /// An empty file name or mode.
    Empty { field: &'static str },
    /// A file name, mode or option that is not text.
    NotText { field: &'static str },
    /// A mode other than netascii, octet and mail.
    UnknownMode(String),
    /// An option name without a value.
    OptionWithoutValue(String),
    /// An ACK is exactly 4 bytes.
    WrongLength { opcode: &'static str, len: usize },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ParseError::TooShort { len, need } => {
                let s = if *len == 1 { "" } else { "s" };
                write!(
                    f,
                    "{len} byte{s}, too short: this kind of packet needs at least {need}"
                )
            }
            ParseError::TooLong { len } => {
                write!(
                    f,
                    "more than {MAX_PACKET} bytes ({len} or more): no TFTP packet is that long"
                )
            }
            ParseError::UnknownOpcode(op) => {
                write!(f, "unknown opcode {op} (TFTP has 1 to 5)")
            }
            ParseError::Unterminated { field } => {
                write!(f, "the {field} does not end with a 0 byte")
            }
            ParseError::Empty { field } => write!(f, "the {field} is empty"),
            ParseError::NotText { field } => {
                write!(f, "the {field} is not text (not UTF-8)")
            }
            ParseError::UnknownMode(mode) => {
                write!(
                    f,
                    "unknown mode {mode:?} (TFTP has netascii, octet and mail)"
                )
            }
            ParseError::OptionWithoutValue(name) => {
                write!(f, "option {name:?} has no value")
            }
            ParseError::WrongLength { opcode, len } => {
                write!(f, "an {opcode} is exactly 4 bytes; this one has {len}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

// ANCHOR: parse
/// Reads one packet from the bytes of one datagram.
pub fn parse(bytes: &[u8]) -> Result<Packet, ParseError> {
    if bytes.len() > MAX_PACKET {
        return Err(ParseError::TooLong { len: bytes.len() });
    }
    // Python: opcode, = struct.unpack('!H', packet[:2])
    let opcode = read_u16(bytes, 0).ok_or(ParseError::TooShort {
        len: bytes.len(),
        need: 2,
    })?;
    match opcode {
        1 => Ok(Packet::Rrq(parse_request(&bytes[2..])?)),
        2 => Ok(Packet::Wrq(parse_request(&bytes[2..])?)),
        3 => {
            // Python: opcode, block = struct.unpack('!HH', packet[:4]); data = packet[4:]
            let block = second_u16(bytes)?;
            // At most 512 bytes of data: the packet's length was checked first.
            let data = bytes[4..].to_vec();
            Ok(Packet::Data { block, data })
        }
        4 => {
            let block = second_u16(bytes)?;
            if bytes.len() != 4 {
                return Err(ParseError::WrongLength {
                    opcode: "ACK",
                    len: bytes.len(),
                });
            }
            Ok(Packet::Ack { block })
        }
        5 => {
            let code = ErrorCode::from_u16(second_u16(bytes)?);
            // The message should end with a 0 byte; a peer that forgets it has still
            // ended the transfer, so the message is taken as it is.
            let text = &bytes[4..];
            let text = text.strip_suffix(&[0]).unwrap_or(text);
            let message = String::from_utf8_lossy(text).into_owned();
            Ok(Packet::Error { code, message })
        }
        other => Err(ParseError::UnknownOpcode(other)),
    }
}

/// The 2 bytes after the opcode: the block number of a DATA or ACK, the code of an ERROR.
fn second_u16(bytes: &[u8]) -> Result<u16, ParseError> {
    read_u16(bytes, 2).ok_or(ParseError::TooShort {
        len: bytes.len(),
        need: 4,
    })
}

/// `filename 0 mode 0 [option 0 value 0]...`
fn parse_request(bytes: &[u8]) -> Result<Request, ParseError> {
    let mut fields = Fields { rest: bytes };
    let filename = fields.next("file name")?;
    let mode = fields.next("mode")?;
    if filename.is_empty() {
        return Err(ParseError::Empty { field: "file name" });
    }
    let mode = match mode.to_ascii_lowercase().as_str() {
        "netascii" => Mode::Netascii,
        "octet" => Mode::Octet,
        "mail" => Mode::Mail,
        "" => return Err(ParseError::Empty { field: "mode" }),
        _ => return Err(ParseError::UnknownMode(mode)),
    };
    let mut options = Vec::new();
    while !fields.rest.is_empty() {
        let name = fields.next("option name")?;
        if fields.rest.is_empty() {
            return Err(ParseError::OptionWithoutValue(name));
        }
        options.push((name, fields.next("option value")?));
    }
    Ok(Request {
        filename,
        mode,
        options,
    })
}

/// The 0-terminated strings of a request, one after the other.
struct Fields<'a> {
    rest: &'a [u8],
}

impl Fields<'_> {
    fn next(&mut self, field: &'static str) -> Result<String, ParseError> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(ParseError::Unterminated { field })?;
        let text = std::str::from_utf8(&self.rest[..end])
            .map_err(|_| ParseError::NotText { field })?;
        self.rest = &self.rest[end + 1..];
        Ok(text.to_string())
    }
}

/// The big-endian u16 at `at`, if the bytes are long enough.
fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let two = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([two[0], two[1]]))
}
// ANCHOR_END: parse

// ANCHOR: encode
impl Packet {
    /// The packet's bytes, ready for `send_to`. A request with a long name can come out
    /// longer than [`MAX_PACKET`]: the client checks the length before sending.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(MAX_PACKET);
        match self {
            Packet::Rrq(request) | Packet::Wrq(request) => {
                // Python: struct.pack('!H', 1) + name + b'\0' + b'octet' + b'\0'
                bytes.extend_from_slice(&self.opcode().to_be_bytes());
                bytes.extend_from_slice(request.filename.as_bytes());
                bytes.push(0);
                bytes.extend_from_slice(request.mode.name().as_bytes());
                bytes.push(0);
                for (name, value) in &request.options {
                    bytes.extend_from_slice(name.as_bytes());
                    bytes.push(0);
                    bytes.extend_from_slice(value.as_bytes());
                    bytes.push(0);
                }
            }
            Packet::Data { block, data } => {
                // Python: struct.pack('!HH', 3, block) + data
                bytes.extend_from_slice(&3u16.to_be_bytes());
                bytes.extend_from_slice(&block.to_be_bytes());
                bytes.extend_from_slice(data);
            }
            Packet::Ack { block } => {
                // Python: struct.pack('!HH', 4, block)
                bytes.extend_from_slice(&4u16.to_be_bytes());
                bytes.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                // Python: struct.pack('!HH', 5, code) + message + b'\0'
                bytes.extend_from_slice(&5u16.to_be_bytes());
                bytes.extend_from_slice(&code.number().to_be_bytes());
                // A message too long for one packet is cut (at a character boundary).
                let mut end = message.len().min(MAX_PACKET - 5);
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                bytes.extend_from_slice(&message.as_bytes()[..end]);
                bytes.push(0);
            }
        }
        bytes
    }
    // ANCHOR_END: encode

    /// The opcode: 1 RRQ, 2 WRQ, 3 DATA, 4 ACK, 5 ERROR.
    pub fn opcode(&self) -> u16 {
        match self {
            Packet::Rrq(_) => 1,
            Packet::Wrq(_) => 2,
            Packet::Data { .. } => 3,
            Packet::Ack { .. } => 4,
            Packet::Error { .. } => 5,
        }
    }

    /// The opcode's name: RRQ, WRQ, DATA, ACK, ERROR.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Rrq(_) => "RRQ",
            Packet::Wrq(_) => "WRQ",
            Packet::Data { .. } => "DATA",
            Packet::Ack { .. } => "ACK",
            Packet::Error { .. } => "ERROR",
        }
    }

    /// The packet in a few words, for lines about it: `DATA block 7`, `RRQ "a.txt"`.
    pub fn label(&self) -> String {
        match self {
            Packet::Rrq(r) | Packet::Wrq(r) => {
                format!("{} {:?}", self.name(), r.filename)
            }
            Packet::Data { block, .. } => format!("DATA block {block}"),
            Packet::Ack { block } => format!("ACK block {block}"),
            Packet::Error { code, .. } => format!("ERROR {}", code.number()),
        }
    }

    /// An ERROR packet.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Packet {
        Packet::Error {
            code,
            message: message.into(),
        }
    }
}

/// How `--trace` and the relay show a packet: `DATA block 7, 512 bytes of data`. Strings
/// that came from the network are shown escaped (`"a\eb"`), so a name or a message
/// can never send control characters to your terminal.
impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Packet::Rrq(r) | Packet::Wrq(r) => {
                let name = escaped(&r.filename);
                write!(f, "{} \"{name}\" {}", self.name(), r.mode.name())?;
                for (name, value) in &r.options {
                    write!(f, " \"{}\"=\"{}\"", escaped(name), escaped(value))?;
                }
                Ok(())
            }
            Packet::Data { block, data } => {
                let s = if data.len() == 1 { "" } else { "s" };
                write!(f, "DATA block {block}, {} byte{s} of data", data.len())
            }
            Packet::Ack { block } => write!(f, "ACK block {block}"),
            Packet::Error { code, message } => {
                write!(f, "ERROR {code}: {}", escaped(message))
            }
        }
    }
}

/// How a received datagram of `len` bytes is shown: the packet, or why it is not one.
pub fn describe(parsed: &Result<Packet, ParseError>, len: usize) -> String {
    match parsed {
        Ok(packet) => packet.to_string(),
        Err(e) => format!("{len} bytes that are not a TFTP packet: {e}"),
    }
}

/// Text from the network, made safe for a terminal: the lab's one escaping
/// ([`crate::out::escape`]) — `\e`, `\r`, `\n`, `\x07`, and `\u{202e}` for characters that
/// command the terminal instead of printing.
pub fn escaped(text: &str) -> String {
    crate::out::escape(text.as_bytes())
}

impl Mode {
    /// The name as the RFC writes it, and as it goes on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
            Mode::Mail => "mail",
        }
    }
}

impl ErrorCode {
    pub fn from_u16(number: u16) -> ErrorCode {
        match number {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTid,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            other => ErrorCode::Other(other),
        }
    }

    pub fn number(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTid => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::Other(n) => n,
        }
    }

    /// The meaning RFC 1350 gives the code.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::NotDefined => "not defined, see the message",
            ErrorCode::FileNotFound => "file not found",
            ErrorCode::AccessViolation => "access violation",
            ErrorCode::DiskFull => "disk full or allocation exceeded",
            ErrorCode::IllegalOperation => "illegal TFTP operation",
            ErrorCode::UnknownTid => "unknown transfer ID",
            ErrorCode::FileExists => "file already exists",
            ErrorCode::NoSuchUser => "no such user",
            ErrorCode::Other(_) => "not in RFC 1350",
        }
    }
}

/// `1 (file not found)`.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} ({})", self.number(), self.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rrq(name: &str) -> Packet {
        Packet::Rrq(Request {
            filename: name.into(),
            mode: Mode::Octet,
            options: vec![],
        })
    }

    #[test]
    fn a_read_request_is_opcode_name_zero_mode_zero() {
        assert_eq!(rrq("a.txt").encode(), b"\x00\x01a.txt\x00octet\x00");
        assert_eq!(parse(b"\x00\x01a.txt\x00octet\x00"), Ok(rrq("a.txt")));
    }

    #[test]
    fn modes_are_case_insensitive_and_options_are_read() {
        let curl = b"\x00\x01f\x00OCTET\x00tsize\x000\x00blksize\x00512\x00";
        let Ok(Packet::Rrq(request)) = parse(curl) else {
            panic!("not an RRQ: {:?}", parse(curl));
        };
        assert_eq!(request.mode, Mode::Octet);
        assert_eq!(
            request.options,
            [
                ("tsize".into(), "0".into()),
                ("blksize".into(), "512".into())
            ]
        );
        assert_eq!(
            parse(b"\x00\x02f\x00NetAscii\x00"),
            Ok(Packet::Wrq(Request {
                filename: "f".into(),
                mode: Mode::Netascii,
                options: vec![]
            }))
        );
    }

    #[test]
    fn data_and_ack_carry_a_big_endian_block_number() {
        let data = Packet::Data {
            block: 258,
            data: b"hi".to_vec(),
        };
        assert_eq!(data.encode(), b"\x00\x03\x01\x02hi");
        assert_eq!(parse(b"\x00\x03\x01\x02hi"), Ok(data));
        assert_eq!(Packet::Ack { block: 65535 }.encode(), [0, 4, 0xff, 0xff]);
        assert_eq!(parse(&[0, 4, 0, 0]), Ok(Packet::Ack { block: 0 }));
    }

    #[test]
    fn the_last_data_packet_may_be_empty_and_a_full_one_is_516_bytes() {
        assert_eq!(
            parse(&[0, 3, 0, 9]),
            Ok(Packet::Data {
                block: 9,
                data: vec![]
            })
        );
        let mut full = vec![0, 3, 0, 1];
        full.extend([7u8; BLOCK_SIZE]);
        assert_eq!(full.len(), MAX_PACKET);
        assert!(
            matches!(parse(&full), Ok(Packet::Data { data, .. }) if data.len() == 512)
        );
        full.push(7);
        assert_eq!(parse(&full), Err(ParseError::TooLong { len: 517 }));
    }

    #[test]
    fn an_error_carries_a_code_and_a_message() {
        let error = Packet::error(ErrorCode::FileNotFound, "no such file");
        assert_eq!(error.encode(), b"\x00\x05\x00\x01no such file\x00");
        assert_eq!(parse(b"\x00\x05\x00\x01no such file\x00"), Ok(error));
        // Without the final 0 byte the message is still read.
        assert_eq!(
            parse(b"\x00\x05\x00\x08nope"),
            Ok(Packet::error(ErrorCode::Other(8), "nope"))
        );
    }

    #[test]
    fn an_error_message_too_long_for_one_packet_is_cut() {
        let long = "é".repeat(600);
        let bytes = Packet::error(ErrorCode::NotDefined, long).encode();
        assert!(bytes.len() <= MAX_PACKET, "{}", bytes.len());
        assert!(matches!(parse(&bytes), Ok(Packet::Error { .. })));
    }

    #[test]
    fn malformed_packets_are_clear_errors() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"", ParseError::TooShort { len: 0, need: 2 }),
            (b"\x00", ParseError::TooShort { len: 1, need: 2 }),
            (b"\x00\x03\x00", ParseError::TooShort { len: 3, need: 4 }),
            (b"\x00\x09", ParseError::UnknownOpcode(9)),
            (b"\x00\x00whatever", ParseError::UnknownOpcode(0)),
            (
                b"\x00\x01a.txt",
                ParseError::Unterminated { field: "file name" },
            ),
            (
                b"\x00\x01a.txt\x00octet",
                ParseError::Unterminated { field: "mode" },
            ),
            (
                b"\x00\x01\x00octet\x00",
                ParseError::Empty { field: "file name" },
            ),
            (b"\x00\x01a\x00\x00", ParseError::Empty { field: "mode" }),
            (
                b"\x00\x01a\x00binary\x00",
                ParseError::UnknownMode("binary".into()),
            ),
            (
                b"\x00\x01\xff\x00octet\x00",
                ParseError::NotText { field: "file name" },
            ),
            (
                b"\x00\x01a\x00octet\x00blksize\x00",
                ParseError::OptionWithoutValue("blksize".into()),
            ),
            (
                b"\x00\x04\x00\x01x",
                ParseError::WrongLength {
                    opcode: "ACK",
                    len: 5,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(parse(bytes).as_ref(), Err(expected), "{bytes:?}");
        }
    }

    #[test]
    fn a_huge_datagram_is_refused_before_anything_is_read() {
        let mut huge = b"\x00\x01".to_vec();
        huge.extend(vec![b'a'; 60_000]);
        assert_eq!(parse(&huge), Err(ParseError::TooLong { len: 60_002 }));
    }

    #[test]
    fn every_packet_reads_back_as_itself() {
        let packets = [
            rrq("hello.txt"),
            Packet::Wrq(Request {
                filename: "报告.txt".into(),
                mode: Mode::Octet,
                options: vec![("blksize".into(), "512".into())],
            }),
            Packet::Data {
                block: 1,
                data: vec![0, 1, 2, 255],
            },
            Packet::Ack { block: 0 },
            Packet::error(ErrorCode::UnknownTid, "who are you?"),
        ];
        for packet in packets {
            assert_eq!(parse(&packet.encode()), Ok(packet.clone()), "{packet}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_packet_or_an_error_never_a_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..700),
        ) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_data_packet_reads_back_as_itself(
            block in any::<u16>(),
            data in prop::collection::vec(any::<u8>(), 0..=BLOCK_SIZE),
        ) {
            let packet = Packet::Data { block, data };
            prop_assert_eq!(parse(&packet.encode()), Ok(packet));
        }
    }

    #[test]
    fn names_and_messages_from_the_network_are_shown_escaped() {
        let shown = rrq("a\x1b[31mb").to_string();
        assert_eq!(shown, r#"RRQ "a\e[31mb" octet"#);
        let shown = Packet::error(ErrorCode::FileNotFound, "bad\nname").to_string();
        assert_eq!(shown, r#"ERROR 1 (file not found): bad\nname"#);
        assert_eq!(escaped("say \"hi\"\u{202e}"), r#"say "hi"\u{202e}"#);
        assert_eq!(
            Packet::Data {
                block: 2,
                data: vec![1]
            }
            .to_string(),
            "DATA block 2, 1 byte of data"
        );
    }
}
