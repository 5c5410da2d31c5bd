//! Lesson 06's JSON header: what a request and a reply say, the checks every header
//! passes before anything acts on it, and how a header travels: as ONE lesson 05 frame
//! (its 4-byte length, then the JSON), read and written by lesson 05's own `read_frame`
//! and `write_frame`. lesson06-server and lesson06-client use it through the library, as
//! `socket_lab::json_header`.
//!
//! On the wire every message is: a 4-byte length of the header, the header as UTF-8 JSON,
//! then a body of exactly `total_size` bytes (a file, a command line or a command's
//! output). The body is not a frame: it is streamed, and `transfer.rs` moves it.
//!
//! Read it top to bottom: the types, parsing and checking (pure code, bytes in, a header
//! or an error out), then sending and receiving a header on a connection, then the unit
//! tests.

use std::io::{Read, Write};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::frame::{read_frame, write_frame, ByteOrder, ReadError};
use crate::out::{escape, plural};
use crate::Out;

/// The largest header accepted, in bytes. A header describes a body, it never carries
/// one: a few hundred bytes is normal, so anything above this is refused before
/// allocating.
pub const MAX_HEADER_LEN: u32 = 64 * 1024;

/// A file being received is written under a temporary name first, `.NAME.part`, and
/// renamed to NAME once it is whole and checked (see `transfer.rs`).
pub const PART_PREFIX: &str = ".";
pub const PART_SUFFIX: &str = ".part";

/// The longest file name of the usual Linux file systems, in bytes.
pub const FILE_SYSTEM_NAME_MAX: usize = 255;

/// The longest file name accepted, in bytes: 249, so that the temporary name
/// `.NAME.part` still fits the file system's 255. One limit, checked once, before
/// anything is written.
pub const MAX_NAME_LEN: usize =
    FILE_SYSTEM_NAME_MAX - PART_PREFIX.len() - PART_SUFFIX.len();

// ANCHOR: request
/// What a client asks. The `command` field says which kind it is:
/// `{"command":"put","file_name":"a.txt","total_size":5,"sha256":"2cf2…"}` followed by 5
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Request {
    /// Store the body as `file_name` in the server's directory.
    Put {
        file_name: String,
        total_size: u64,
        sha256: String,
    },
    /// Send back the file `file_name`. No body.
    Get { file_name: String },
    /// Run the command line in the body (lesson 04's remote-command service).
    Run { total_size: u64 },
}

/// What the server answers: a status, and a body of `total_size` bytes (a file for `get`,
/// the output for `run`, nothing otherwise).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    pub total_size: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}
// ANCHOR_END: request

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
}

impl Reply {
    /// A success with no body.
    pub fn ok(message: impl Into<String>) -> Reply {
        Reply {
            status: Status::Ok,
            message: message.into(),
            file_name: String::new(),
            total_size: 0,
            sha256: String::new(),
        }
    }

    /// A refusal with no body: `message` says why.
    pub fn error(message: impl Into<String>) -> Reply {
        Reply {
            status: Status::Error,
            ..Reply::ok(message)
        }
    }
}

// ANCHOR: parse
/// Turns header bytes into a request, or says clearly what is wrong with them: not JSON,
/// a missing field, a wrong type. (serde_json says where: "missing field `total_size` at
/// line 1 column 40".) A request that parses must still pass [`Request::check`].
pub fn parse_request(bytes: &[u8]) -> Result<Request, String> {
    from_json(bytes)
}

impl Request {
    /// What JSON cannot say: the file name is a plain name and the checksum looks like
    /// one. Nothing may act on a request that fails this check.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Request::Put {
                file_name, sha256, ..
            } => {
                check_name(file_name)?;
                check_sha256(sha256)
            }
            Request::Get { file_name } => check_name(file_name),
            Request::Run { .. } => Ok(()),
        }
    }

    /// How many body bytes follow this request's header.
    pub fn body_size(&self) -> u64 {
        match self {
            Request::Put { total_size, .. } | Request::Run { total_size } => *total_size,
            Request::Get { .. } => 0,
        }
    }
}

/// Turns header bytes into a reply (the client side of [`parse_request`]).
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, String> {
    let mut reply: Reply = from_json(bytes)?;
    // The message is for a person to read, on a terminal: no control characters.
    reply.message = escape(reply.message.as_bytes());
    if !reply.file_name.is_empty() {
        check_name(&reply.file_name)?;
    }
    if !reply.sha256.is_empty() {
        check_sha256(&reply.sha256)?;
    }
    Ok(reply)
}

fn from_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "not a valid message",
            _ => "not valid JSON",
        };
        // serde_json's message may quote what the peer sent (an unknown command).
        format!("the header is {what}: {}", escape(e.to_string().as_bytes()))
    })
}
// ANCHOR_END: parse

// ANCHOR: check_name
/// A name the server may use inside its directory: one plain file name, nothing that
/// could climb out (`..`), start elsewhere (`/etc/passwd`, `C:\x`) or hide in a
/// sub-folder (`a/b`). Names starting with `.` are refused as well: the server writes its
/// partial files as hidden `.NAME.part`, and nobody may read or overwrite those.
pub fn check_name(name: &str) -> Result<(), String> {
    // The name is the peer's: shown escaped, never raw.
    let shown = escape(name.as_bytes());
    let refuse = |why: &str| Err(format!("file name \"{shown}\" refused: {why}"));
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        let (len, part) = (name.len(), format!("{PART_PREFIX}NAME{PART_SUFFIX}"));
        return refuse(&format!(
            "it is {len} bytes long; the limit is {MAX_NAME_LEN} \
             (its temporary name {part} must fit in {FILE_SYSTEM_NAME_MAX})"
        ));
    }
    if name.contains("..") {
        return refuse("it contains `..`");
    }
    if name.contains(['/', '\\', ':']) {
        return refuse("it contains `/`, `\\` or `:` (only a file name, no paths)");
    }
    if name.starts_with('.') {
        return refuse("hidden names (starting with `.`) are not served");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    Ok(())
}
// ANCHOR_END: check_name

/// A SHA-256 checksum as 64 lowercase hex digits (what Python's `hexdigest()` prints).
pub fn check_sha256(hex: &str) -> Result<(), String> {
    if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(format!("sha256 {hex:?} is not 64 lowercase hex digits"))
    }
}

/// Bytes as lowercase hex: a digest as the header carries it.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ANCHOR: send_header
/// Sends one header as one lesson 05 frame: the 4 length bytes and the JSON in ONE
/// write, so a peer that reads the 4 bytes and then the header (like the course's
/// Python client) finds them there.
pub fn send_header(
    conn: &mut impl Write,
    header: &impl Serialize,
    order: ByteOrder,
    out: &Out,
) -> anyhow::Result<()> {
    // The length counts BYTES of the encoded JSON, not characters: "报告.txt" is
    // 6 characters but 10 bytes. A length in characters would cut the header short.
    let json = serde_json::to_vec(header).context("encoding the header")?;
    out.trace(format!(
        "JSON header, {}: {}",
        plural(json.len(), "byte"),
        String::from_utf8_lossy(&json)
    ));
    // A limit protects the receiver, and the receiver applies its own (--max-header).
    // Here the only limit is what 4 length bytes can say.
    write_frame(conn, &json, order, u32::MAX, out).context("sending the header")
}
// ANCHOR_END: send_header

// ANCHOR: recv_header
/// Receives one header's bytes: one frame, read by lesson 05's `read_frame`. `None`
/// when the peer closed the connection cleanly between two messages. The length is
/// checked against `max` BEFORE anything is allocated: a wrong byte order or a hostile
/// peer cannot make us reserve gigabytes. A close inside the frame is an error that says
/// where.
pub fn recv_header(
    conn: &mut impl Read,
    order: ByteOrder,
    max: u32,
    out: &Out,
) -> Result<Option<Vec<u8>>, ReadError> {
    // `read_frame` reads nothing past the frame: the body that follows the header is
    // still in the socket when it returns, for the caller to stream. This buffer ends
    // empty.
    let mut buf = Vec::new();
    let header = read_frame(conn, &mut buf, order, max, out)?;
    if let Some(json) = &header {
        out.trace(format!(
            "JSON header, {}: {}",
            plural(json.len(), "byte"),
            escape(json)
        ));
    }
    Ok(header)
}
// ANCHOR_END: recv_header

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA256: &str =
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn a_put_request_reads_from_json() {
        let json = format!(
            r#"{{"command":"put","file_name":"a.txt","total_size":5,"sha256":"{HELLO_SHA256}"}}"#
        );
        assert_eq!(
            parse_request(json.as_bytes()),
            Ok(Request::Put {
                file_name: "a.txt".into(),
                total_size: 5,
                sha256: HELLO_SHA256.into()
            })
        );
    }

    #[test]
    fn a_request_writes_the_fields_of_the_course() {
        let json = serde_json::to_string(&Request::Put {
            file_name: "报告.txt".into(),
            total_size: 5,
            sha256: HELLO_SHA256.into(),
        })
        .unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"command":"put","file_name":"报告.txt","total_size":5,"sha256":"{HELLO_SHA256}"}}"#
            )
        );
        // Six bytes for the two characters 报告: the length prefix must count bytes.
        assert_eq!(json.len(), json.chars().count() + 4);
    }

    #[test]
    fn unknown_fields_are_ignored_like_the_courses_md5() {
        let json = br#"{"command":"get","file_name":"a.txt","md5":"fdsaf2143254f"}"#;
        assert_eq!(
            parse_request(json),
            Ok(Request::Get {
                file_name: "a.txt".into()
            })
        );
    }

    #[test]
    fn escaped_non_ascii_names_read_the_same_as_raw_utf8() {
        // Python's json.dumps escapes non-ASCII by default.
        let json = br#"{"command":"get","file_name":"\u62a5\u544a.txt"}"#;
        assert_eq!(
            parse_request(json),
            Ok(Request::Get {
                file_name: "报告.txt".into()
            })
        );
    }

    #[test]
    fn invalid_json_is_a_clear_error() {
        assert_eq!(
            parse_request(b"{not json"),
            Err(
                "the header is not valid JSON: key must be a string at line 1 column 2"
                    .into()
            )
        );
        assert_eq!(
            parse_request(b"\xff\xfe"),
            Err("the header is not valid JSON: expected value at line 1 column 1".into())
        );
    }

    #[test]
    fn missing_fields_wrong_types_and_unknown_commands_are_clear_errors() {
        assert_eq!(
            parse_request(br#"{"command":"put","file_name":"a.txt","total_size":5}"#),
            Err("the header is not a valid message: missing field `sha256`".into())
        );
        assert_eq!(
            parse_request(br#"{"command":"run","total_size":"12"}"#),
            Err(
                "the header is not a valid message: invalid type: string \"12\", expected u64"
                    .into()
            )
        );
        assert_eq!(
            parse_request(br#"{"command":"run","total_size":-1}"#),
            Err(
                "the header is not a valid message: invalid value: integer `-1`, expected u64"
                    .into()
            )
        );
        assert_eq!(
            parse_request(br#"{"command":"delete","file_name":"a.txt"}"#),
            Err("the header is not a valid message: unknown variant `delete`, expected one of `put`, `get`, `run` at line 1 column 19".into())
        );
        assert_eq!(
            parse_request(br#"{"file_name":"a.txt"}"#),
            Err(
                "the header is not a valid message: missing field `command` at line 1 column 21"
                    .into()
            )
        );
    }

    #[test]
    fn dangerous_names_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../secret",
            "a/../../b",
            "/etc/passwd",
            "sub/a.txt",
            "C:\\x",
            "..\\x",
            ".a.txt.part",
            "a\nb",
            "a\0b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} was accepted");
        }
        // 250 bytes: `.NAME.part` would be 256, over the file system's 255.
        assert_eq!(
            check_name(&"a".repeat(250)).unwrap_err(),
            format!(
                "file name \"{}\" refused: it is 250 bytes long; the limit is 249 \
                 (its temporary name .NAME.part must fit in 255)",
                "a".repeat(250)
            )
        );
        // Bytes, not characters: 84 × 报 are 252 bytes.
        assert!(check_name(&"报".repeat(84)).is_err());
        let longest = "a".repeat(249);
        for good in [
            "a.txt",
            "报告.txt",
            "my file (2).tar.gz",
            &longest,
            &"报".repeat(83),
        ] {
            assert_eq!(check_name(good), Ok(()), "{good:?} was refused");
        }
    }

    #[test]
    fn a_traversal_in_a_request_is_refused_with_the_reason() {
        let request =
            parse_request(br#"{"command":"get","file_name":"../../etc/passwd"}"#);
        assert_eq!(
            request.map(|r| r.check()),
            Ok(Err(
                "file name \"../../etc/passwd\" refused: it contains `..`".into()
            ))
        );
    }

    #[test]
    fn a_checksum_must_be_64_lowercase_hex_digits() {
        assert_eq!(check_sha256(HELLO_SHA256), Ok(()));
        assert!(check_sha256(&HELLO_SHA256.to_uppercase()).is_err());
        assert!(check_sha256("abc").is_err());
        assert!(check_sha256("fdsaf2143254f").is_err());
    }

    #[test]
    fn replies_leave_out_empty_fields() {
        let json = serde_json::to_string(&Reply::error("no such file")).unwrap();
        assert_eq!(
            json,
            r#"{"status":"error","message":"no such file","total_size":0}"#
        );
        assert_eq!(
            parse_reply(json.as_bytes()),
            Ok(Reply::error("no such file"))
        );
    }

    #[test]
    fn a_reply_naming_a_path_is_refused_by_the_client_too() {
        let json = br#"{"status":"ok","file_name":"../x","total_size":0}"#;
        assert!(parse_reply(json).is_err());
    }

    #[test]
    fn control_characters_from_the_network_are_shown_escaped() {
        let reply = parse_reply(
            br#"{"status":"error","message":"\u001b[31mred\r\nok","total_size":0}"#,
        );
        assert_eq!(reply.map(|r| r.message), Ok(r"\e[31mred\r\nok".to_string()));
        let request = parse_request(br#"{"command":"\u001b[2J"}"#);
        assert_eq!(
            request,
            Err(
                "the header is not a valid message: unknown variant `\\e[2J`, \
                 expected one of `put`, `get`, `run` at line 1 column 22"
                    .into()
            )
        );
        let request = parse_request(br#"{"command":"get","file_name":"a\rrefused"}"#);
        assert_eq!(
            request.map(|r| r.check()),
            Ok(Err(
                r#"file name "a\rrefused" refused: it contains a control character"#
                    .into()
            ))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic_the_header_parsers(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            if let Ok(request) = parse_request(&bytes) {
                let _ = request.check();
                let _ = request.body_size();
            }
            let _ = parse_reply(&bytes);
        }

        #[test]
        fn any_json_request_either_passes_its_checks_or_says_why(
            name in ".{0,300}",
            sha in "[0-9a-fA-F]{0,70}",
            total in proptest::prelude::any::<u64>(),
        ) {
            let json = serde_json::json!({
                "command": "put", "file_name": name, "total_size": total, "sha256": sha,
            });
            let request = parse_request(json.to_string().as_bytes());
            proptest::prop_assert!(request.is_ok());
            if let Ok(request) = request {
                match request.check() {
                    Ok(()) => proptest::prop_assert!(
                        !name.is_empty() && name.len() <= MAX_NAME_LEN && !name.contains("..")
                    ),
                    Err(why) => proptest::prop_assert!(
                        !why.chars().any(char::is_control), "{why:?}"
                    ),
                }
            }
        }
    }

    fn quiet() -> Out {
        let style = crate::Style {
            color: crate::ColorWhen::Never,
            trace: false,
            trace_file: None,
        };
        Out::new(crate::Side::Client, &style)
    }

    #[test]
    fn a_header_travels_as_one_lesson_05_frame_and_the_body_stays_behind() {
        let mut wire = Vec::new();
        let request = Request::Get {
            file_name: "报告.txt".into(),
        };
        send_header(&mut wire, &request, ByteOrder::Network, &quiet()).unwrap();
        let json = r#"{"command":"get","file_name":"报告.txt"}"#;
        assert_eq!(&wire[..4], (json.len() as u32).to_be_bytes());
        assert_eq!(&wire[4..], json.as_bytes());
        wire.extend_from_slice(b"body");
        let mut conn = &wire[..];
        let header = recv_header(&mut conn, ByteOrder::Network, MAX_HEADER_LEN, &quiet());
        assert_eq!(header.unwrap(), Some(json.as_bytes().to_vec()));
        assert_eq!(conn, b"body");
    }

    #[test]
    fn a_header_over_the_limit_or_cut_short_gets_lesson_05s_errors() {
        let mut conn: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        let e = recv_header(&mut conn, ByteOrder::Network, 100, &quiet()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "frame length 4294967295 (header [ff ff ff ff]) is over the maximum of 100 bytes"
            ),
            "{e}"
        );
        let mut conn: &[u8] = &[0, 0, 0, 37, b'{'];
        let e = recv_header(&mut conn, ByteOrder::Network, 100, &quiet()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the peer closed the connection in the middle of a frame body (1 of 37 bytes received)"
        );
        let mut conn: &[u8] = &[];
        assert!(matches!(
            recv_header(&mut conn, ByteOrder::Network, 100, &quiet()),
            Ok(None)
        ));
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
    }
}
