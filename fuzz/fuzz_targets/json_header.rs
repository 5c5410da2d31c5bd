//! Lesson 06's JSON header, on any bytes: parsing a request or a reply and checking it
//! never panics, and a request that passes its checks names a plain file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_lab::json_header::{parse_reply, parse_request, Request, MAX_NAME_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = parse_request(data) {
        let _ = request.body_size();
        if request.check().is_ok() {
            if let Request::Put { file_name, .. } | Request::Get { file_name } = &request {
                assert!(!file_name.is_empty() && file_name.len() <= MAX_NAME_LEN);
                assert!(!file_name.contains(['/', '\\']) && !file_name.contains(".."));
                assert!(!file_name.starts_with('.'));
            }
        }
    }
    if let Ok(reply) = parse_reply(data) {
        assert!(!reply.message.chars().any(char::is_control));
    }
});
