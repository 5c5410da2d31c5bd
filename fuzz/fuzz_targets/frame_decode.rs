//! Lesson 05's frame decoder and read loop, on any bytes: never a panic, and what they
//! return is consistent with the bytes they were given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_lab::frame::{check_eof, decode, read_frame, ByteOrder, Decoded, FrameError};
use socket_lab::{ColorWhen, Out, Side, Style};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the byte order and the next four the maximum; the rest is the
    // stream.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some((max, stream)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let order = if pick & 1 == 0 {
        ByteOrder::Network
    } else {
        ByteOrder::Native
    };
    let max = u32::from_le_bytes(*max) % (1 << 20);
    match decode(stream, order, max) {
        Ok(Decoded::Frame { body, used }) => {
            assert_eq!(used, 4 + body.len());
            assert!(used <= stream.len());
            assert!(body.len() as u64 <= u64::from(max));
        }
        Ok(Decoded::NeedMore { missing }) => assert!(missing > 0),
        Err(FrameError::TooLong { len, .. }) => assert!(len > max),
        Err(e) => panic!("decode returned {e:?}"),
    }
    let _ = check_eof(stream, order, max);
    // The read loop over the same bytes, as if they came from a socket.
    let style = Style {
        color: ColorWhen::Never,
        trace: false,
    };
    let out = Out::new(Side::Server, &style);
    let mut conn = stream;
    let mut buf = Vec::new();
    while let Ok(Some(frame)) = read_frame(&mut conn, &mut buf, order, max, &out) {
        assert!(frame.len() as u64 <= u64::from(max));
    }
});
