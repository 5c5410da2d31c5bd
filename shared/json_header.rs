//! Lesson 06's JSON header: what a request and a reply say, and the checks every header
//! passes before anything acts on it. Pure code (bytes in, a header or an error out), so it is
//! tested here on its own; reading and writing it on a socket is in `lessons/06-json-header/`.
//!
//! On the wire every message is: a 4-byte length of the header, the header as UTF-8 JSON,
//! then a body of exactly `total_size` bytes (a file, a command line or a command's output).

use serde::{Deserialize, Serialize};

/// The largest header accepted, in bytes. A header describes a body, it never carries one:
/// a few hundred bytes is normal, so anything above this is refused before allocating.
pub const MAX_HEADER_LEN: u32 = 64 * 1024;

/// The longest file name accepted, in bytes (the usual limit of Linux file systems).
pub const MAX_NAME_LEN: usize = 255;

// ANCHOR: request
/// What a client asks. The `command` field says which kind it is:
/// `{"command":"put","file_name":"a.txt","total_size":5,"sha256":"2cf2…"}` followed by 5 bytes.
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
    /// What JSON cannot say: the file name is a plain name and the checksum looks like one.
    /// Nothing may act on a request that fails this check.
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
    let reply: Reply = from_json(bytes)?;
    if !reply.file_name.is_empty() {
        check_name(&reply.file_name)?;
    }
    if !reply.sha256.is_empty() {
        check_sha256(&reply.sha256)?;
    }
    Ok(reply)
}

fn from_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("the header is not a valid message: {e}"),
        _ => format!("the header is not valid JSON: {e}"),
    })
}
// ANCHOR_END: parse

// ANCHOR: check_name
/// A name the server may use inside its directory: one plain file name, nothing that could
/// climb out (`..`), start elsewhere (`/etc/passwd`, `C:\x`) or hide in a sub-folder (`a/b`).
/// Names starting with `.` are refused as well: the server writes its partial files as
/// hidden `.NAME.part`, and nobody may read or overwrite those.
pub fn check_name(name: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("file name {name:?} refused: {why}"));
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return refuse("it is longer than 255 bytes");
    }
    if name.contains("..") {
        return refuse("it contains `..`");
    }
    if name.contains(['/', '\\', ':']) {
        return refuse("a name may not contain `/`, `\\` or `:` (no paths, only a file name)");
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

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

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
            Err("the header is not valid JSON: key must be a string at line 1 column 2".into())
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
        assert!(check_name(&"a".repeat(256)).is_err());
        for good in ["a.txt", "报告.txt", "my file (2).tar.gz", &"a".repeat(255)] {
            assert_eq!(check_name(good), Ok(()), "{good:?} was refused");
        }
    }

    #[test]
    fn a_traversal_in_a_request_is_refused_with_the_reason() {
        let request = parse_request(br#"{"command":"get","file_name":"../../etc/passwd"}"#);
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
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
    }
}
