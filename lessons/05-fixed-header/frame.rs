//! Lesson 05's frame: a 4-byte length, then that many bytes. This file is what the
//! chapter teaches; lesson05-server and lesson05-client use it, and so does lesson 06
//! (its JSON header travels as one of these frames). They all reach it through the
//! library, as `socket_lab::frame`.
//!
//! Read it top to bottom:
//! 1. how the 4 length bytes are laid out ([`ByteOrder`]);
//! 2. the pure decoder ([`decode`]): it looks at the bytes received so far and says "here is a
//!    whole frame", "I need N more bytes", or "this is wrong" (a length over the maximum). It
//!    never reads a socket and never panics, whatever the bytes;
//! 3. the encoder ([`encode`]);
//! 4. the loops on a connection ([`read_frame`], [`write_frame`]): the connection code owns the
//!    buffer and the `read` calls, and tells a clean close between frames from a close inside one;
//! 5. the error messages, one set for every lesson that reads frames;
//! 6. the unit tests and the property tests (`cargo test --lib frame`).

use std::fmt;
use std::io::{Read, Write};

use crate::out::plural;
use crate::Out;

/// The size of the length header: 4 bytes, a `u32`.
pub const HEADER_LEN: usize = 4;

/// The largest frame body accepted unless a flag says otherwise: 1 MiB. A length read
/// from the network is checked against it BEFORE anything is allocated, so a wrong or
/// hostile length (4 GiB, say) costs nothing.
pub const DEFAULT_MAX_FRAME: u32 = 1024 * 1024;

/// How a 4-byte length is laid out: network order (big-endian, the default) or this
/// machine's native order (Python's `struct.pack('i', n)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ByteOrder {
    /// Big-endian, the order of every Internet protocol header: 5 is `00 00 00 05`.
    Network,
    /// This machine's order, what Python's `struct.pack('i', n)` writes
    /// (little-endian on x86 and ARM: 5 is `05 00 00 00`).
    Native,
}

impl fmt::Display for ByteOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ByteOrder::Network => "network",
            ByteOrder::Native => "native",
        })
    }
}

/// The 4 header bytes that carry `len` in `order`.
pub fn len_bytes(len: u32, order: ByteOrder) -> [u8; 4] {
    match order {
        ByteOrder::Network => len.to_be_bytes(),
        ByteOrder::Native => len.to_ne_bytes(),
    }
}

/// The length that 4 header bytes carry in `order`.
pub fn len_from(bytes: [u8; 4], order: ByteOrder) -> u32 {
    match order {
        ByteOrder::Network => u32::from_be_bytes(bytes),
        ByteOrder::Native => u32::from_ne_bytes(bytes),
    }
}

/// What the decoder found at the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole frame: its body, and how many bytes of the buffer it used (header + body).
    /// Bytes after `used` belong to the next frame.
    Frame { body: &'a [u8], used: usize },
    /// Not a whole frame yet: at least `missing` more bytes must arrive.
    NeedMore { missing: usize },
}

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The header announces more than the maximum. Nothing was allocated.
    TooLong { len: u32, max: u32, header: [u8; 4] },
    /// A body to send is larger than the maximum (or than a 4-byte length can say).
    BodyTooLong { len: usize, max: u32 },
    /// The peer closed after `got` of the 4 header bytes.
    ClosedMidHeader { got: usize },
    /// The peer closed after `got` of the `len` body bytes.
    ClosedMidBody { len: u32, got: usize },
}

// ANCHOR: decode
/// Decodes the frame at the start of `buf`, refusing any length over `max`.
///
/// Pure and total: any bytes give `Ok(Frame)`, `Ok(NeedMore)` or `Err(TooLong)`, never a
/// panic.
pub fn decode(buf: &[u8], order: ByteOrder, max: u32) -> Result<Decoded<'_>, FrameError> {
    let Some((header, rest)) = buf.split_first_chunk::<HEADER_LEN>() else {
        return Ok(Decoded::NeedMore {
            missing: HEADER_LEN - buf.len(),
        });
    };
    let len = len_from(*header, order);
    // The bound check comes first: the length is whatever the peer sent.
    if len > max {
        return Err(FrameError::TooLong {
            len,
            max,
            header: *header,
        });
    }
    let len = len as usize;
    match rest.get(..len) {
        Some(body) => Ok(Decoded::Frame {
            body,
            used: HEADER_LEN + len,
        }),
        None => Ok(Decoded::NeedMore {
            missing: len - rest.len(),
        }),
    }
}
// ANCHOR_END: decode

/// What leftover bytes mean when the peer has closed: nothing (`Ok`), or a frame cut
/// short.
pub fn check_eof(buf: &[u8], order: ByteOrder, max: u32) -> Result<(), FrameError> {
    if buf.is_empty() {
        return Ok(());
    }
    match decode(buf, order, max)? {
        // A whole frame is still waiting in the buffer: not an error of the stream.
        Decoded::Frame { .. } => Ok(()),
        Decoded::NeedMore { .. } if buf.len() < HEADER_LEN => {
            Err(FrameError::ClosedMidHeader { got: buf.len() })
        }
        Decoded::NeedMore { missing } => {
            let got = buf.len() - HEADER_LEN;
            Err(FrameError::ClosedMidBody {
                len: (got + missing) as u32,
                got,
            })
        }
    }
}

/// The header for a body of `len` bytes, if it fits under `max`.
pub fn header_for(len: usize, order: ByteOrder, max: u32) -> Result<[u8; 4], FrameError> {
    match u32::try_from(len) {
        Ok(n) if n <= max => Ok(len_bytes(n, order)),
        _ => Err(FrameError::BodyTooLong { len, max }),
    }
}

/// One whole frame: the header, then the body.
pub fn encode(body: &[u8], order: ByteOrder, max: u32) -> Result<Vec<u8>, FrameError> {
    let header = header_for(body.len(), order, max)?;
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(body);
    Ok(frame)
}

/// A failed [`read_frame`]: the socket failed, or the bytes were not a frame.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Frame(FrameError),
}

impl From<FrameError> for ReadError {
    fn from(e: FrameError) -> Self {
        ReadError::Frame(e)
    }
}

/// The most a single `read` asks for while a frame comes in.
const READ_CHUNK: usize = 64 * 1024;

// ANCHOR: read_frame
/// Reads one whole frame from `conn`. `buf` is this connection's buffer: bytes that
/// arrived but are not used yet stay in it for the next call.
///
/// `Ok(None)`: the peer closed cleanly between frames. A close in the middle of a frame,
/// or a length over `max`, is an error — never a hang, never a huge allocation. It reads
/// nothing past the frame it returns, so a protocol may follow a frame with bytes of its
/// own (lesson 06 sends a file's body after its header frame).
pub fn read_frame(
    conn: &mut impl Read,
    buf: &mut Vec<u8>,
    order: ByteOrder,
    max: u32,
    out: &Out,
) -> Result<Option<Vec<u8>>, ReadError> {
    loop {
        // Is a whole frame in already? The decoder checks the length against `max` first.
        let missing = match decode(buf, order, max)? {
            Decoded::Frame { body, used } => {
                let body = body.to_vec();
                buf.drain(..used);
                return Ok(Some(body));
            }
            Decoded::NeedMore { missing } => missing,
        };
        // Not yet: one read of what is missing, at most 64 KiB, straight onto the end of
        // the buffer. `read` may return fewer bytes than asked, so we loop and ask again.
        // The buffer grows by what one read can bring, never by what the length claims:
        // a peer that announces 4 GiB and sends 10 bytes costs 10 bytes and one chunk.
        // Asking for no more than is missing also means we never read past this frame:
        // what follows stays in the socket.
        let (old, want) = (buf.len(), missing.min(READ_CHUNK));
        buf.reserve_exact(want);
        buf.resize(old + want, 0);
        let n = match conn.read(&mut buf[old..]) {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(old);
                return Err(ReadError::Io(e));
            }
        };
        out.trace_read(want, &buf[old..old + n]);
        buf.truncate(old + n);
        if n == 0 {
            // The peer closed: fine between frames, an error inside one.
            check_eof(buf, order, max)?;
            return Ok(None);
        }
    }
}
// ANCHOR_END: read_frame

/// Sends one frame: the 4-byte header and the body in ONE `write_all`.
///
/// Two writes (header, then body) would be a write-write-read pattern: Nagle's algorithm
/// holds the body back until the peer acknowledges the header, and the peer delays that
/// ACK by up to 40 ms. One buffer, one write, no stall.
pub fn write_frame(
    conn: &mut impl Write,
    body: &[u8],
    order: ByteOrder,
    max: u32,
    out: &Out,
) -> anyhow::Result<()> {
    let frame = encode(body, order, max)?;
    conn.write_all(&frame)?;
    out.trace(format!(
        "write_all({}) = header {} + body {}",
        plural(frame.len(), "byte"),
        crate::out::preview(&frame[..HEADER_LEN]),
        crate::out::preview(body)
    ));
    Ok(())
}

// The error messages: one set, for lesson 05 and for every later lesson that reads
// frames. They say what happened and, where it helps, what to do.

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max, header } => write!(
                f,
                "frame length {len} (header {}) is over the maximum of {max} bytes; refused \
                 before allocating. Do both sides use the same --byte-order? \
                 (or raise the maximum)",
                crate::out::preview(header)
            ),
            FrameError::BodyTooLong { len, max } => write!(
                f,
                "cannot send {}: the maximum frame is {max} bytes (raise the maximum)",
                plural(*len, "byte")
            ),
            FrameError::ClosedMidHeader { got } => write!(
                f,
                "the peer closed the connection in the middle of a frame header \
                 ({got} of {HEADER_LEN} bytes)"
            ),
            FrameError::ClosedMidBody { len, got } => write!(
                f,
                "the peer closed the connection in the middle of a frame body \
                 ({got} of {} received)",
                plural(*len as usize, "byte")
            ),
        }
    }
}

impl std::error::Error for FrameError {}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Frame(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: u32 = DEFAULT_MAX_FRAME;

    #[test]
    fn network_order_puts_the_most_significant_byte_first() {
        assert_eq!(len_bytes(5, ByteOrder::Network), [0, 0, 0, 5]);
        assert_eq!(len_from([0, 0, 1, 0], ByteOrder::Network), 256);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn native_order_on_this_machine_matches_python_struct_pack_i() {
        // struct.pack('i', 5) == b'\x05\x00\x00\x00' on a little-endian machine.
        assert_eq!(len_bytes(5, ByteOrder::Native), [5, 0, 0, 0]);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn a_length_of_5_read_in_the_other_order_is_83886080() {
        let header = len_bytes(5, ByteOrder::Native);
        assert_eq!(len_from(header, ByteOrder::Network), 83_886_080);
    }

    #[test]
    fn a_whole_frame_is_decoded_and_the_rest_is_left() {
        let mut bytes = encode(b"hello", ByteOrder::Network, MAX).unwrap();
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode(&bytes, ByteOrder::Network, MAX),
            Ok(Decoded::Frame {
                body: b"hello",
                used: 9
            })
        );
    }

    #[test]
    fn a_partial_header_needs_the_rest_of_the_header() {
        assert_eq!(
            decode(&[0, 0], ByteOrder::Network, MAX),
            Ok(Decoded::NeedMore { missing: 2 })
        );
        assert_eq!(
            decode(&[], ByteOrder::Network, MAX),
            Ok(Decoded::NeedMore { missing: 4 })
        );
    }

    #[test]
    fn a_partial_body_needs_the_rest_of_the_body() {
        assert_eq!(
            decode(&[0, 0, 0, 5, b'h', b'e'], ByteOrder::Network, MAX),
            Ok(Decoded::NeedMore { missing: 3 })
        );
    }

    #[test]
    fn an_empty_frame_is_a_frame() {
        assert_eq!(
            decode(&[0, 0, 0, 0], ByteOrder::Native, MAX),
            Ok(Decoded::Frame { body: b"", used: 4 })
        );
    }

    #[test]
    fn a_length_over_the_maximum_is_refused_from_the_header_alone() {
        let header = [5, 0, 0, 0];
        assert_eq!(
            decode(&header, ByteOrder::Network, MAX),
            Err(FrameError::TooLong {
                len: 83_886_080,
                max: MAX,
                header
            })
        );
    }

    #[test]
    fn a_length_equal_to_the_maximum_is_allowed() {
        assert_eq!(
            decode(&[0, 0, 0, 3], ByteOrder::Network, 3),
            Ok(Decoded::NeedMore { missing: 3 })
        );
    }

    #[test]
    fn a_close_mid_header_or_mid_body_is_named() {
        assert_eq!(check_eof(&[], ByteOrder::Network, MAX), Ok(()));
        assert_eq!(
            check_eof(&[0, 0, 0], ByteOrder::Network, MAX),
            Err(FrameError::ClosedMidHeader { got: 3 })
        );
        assert_eq!(
            check_eof(&[0, 0, 0, 5, b'h'], ByteOrder::Network, MAX),
            Err(FrameError::ClosedMidBody { len: 5, got: 1 })
        );
    }

    #[test]
    fn a_body_over_the_maximum_is_not_encoded() {
        assert_eq!(
            encode(b"abcd", ByteOrder::Network, 3),
            Err(FrameError::BodyTooLong { len: 4, max: 3 })
        );
    }

    #[test]
    fn the_errors_read_as_sentences() {
        let e = decode(&[5, 0, 0, 0], ByteOrder::Network, MAX).unwrap_err();
        assert_eq!(
            e.to_string(),
            "frame length 83886080 (header [05 00 00 00]) is over the maximum of 1048576 bytes; \
             refused before allocating. Do both sides use the same --byte-order? (or raise the maximum)"
        );
        assert_eq!(
            FrameError::ClosedMidBody { len: 5, got: 1 }.to_string(),
            "the peer closed the connection in the middle of a frame body (1 of 5 bytes received)"
        );
    }

    /// A reader that hands out its bytes in the given chunk sizes (a `read` returning
    /// less than asked, as TCP does).
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
            let want = self.sizes.get(self.next).copied().unwrap_or(usize::MAX);
            self.next += 1;
            let n = want.max(1).min(dst.len()).min(self.data.len() - self.pos);
            dst[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn quiet() -> Out {
        Out::new(
            crate::Side::Server,
            &crate::Style {
                color: crate::ColorWhen::Never,
                trace: false,
            },
        )
    }

    fn order() -> impl Strategy<Value = ByteOrder> {
        prop_oneof![Just(ByteOrder::Network), Just(ByteOrder::Native)]
    }

    /// Decodes every frame from a stream that arrives in pieces cut at `cuts`, the way a
    /// connection would: append a piece, take every whole frame, repeat.
    fn decode_in_pieces(stream: &[u8], cuts: &[usize], order: ByteOrder) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut frames = Vec::new();
        let mut buf = Vec::new();
        let mut from = 0;
        for to in cuts {
            buf.extend_from_slice(&stream[from..to]);
            from = to;
            while let Ok(Decoded::Frame { body, used }) = decode(&buf, order, MAX) {
                frames.push(body.to_vec());
                buf.drain(..used);
            }
        }
        assert_eq!(check_eof(&buf, order, MAX), Ok(()));
        frames
    }

    proptest! {
        #[test]
        fn any_frames_split_anywhere_decode_to_the_same_frames(
            bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in prop::collection::vec(any::<usize>(), 0..20),
            order in order(),
        ) {
            let stream: Vec<u8> = bodies
                .iter()
                .flat_map(|b| encode(b, order, MAX).unwrap())
                .collect();
            prop_assert_eq!(decode_in_pieces(&stream, &cuts, order), bodies);
        }

        #[test]
        fn read_frame_gets_the_same_frames_whatever_sizes_read_returns(
            bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
            sizes in prop::collection::vec(1usize..50, 0..40),
            order in order(),
        ) {
            let data: Vec<u8> = bodies
                .iter()
                .flat_map(|b| encode(b, order, MAX).unwrap())
                .collect();
            let mut conn = Chunked { data, pos: 0, sizes, next: 0 };
            let mut buf = Vec::new();
            let mut got = Vec::new();
            while let Some(frame) = read_frame(&mut conn, &mut buf, order, MAX, &quiet()).unwrap() {
                got.push(frame);
            }
            prop_assert_eq!(got, bodies);
        }

        #[test]
        fn read_frame_reads_nothing_past_the_frame_it_returns(
            body in prop::collection::vec(any::<u8>(), 0..300),
            after in prop::collection::vec(any::<u8>(), 1..100),
            sizes in prop::collection::vec(1usize..50, 0..40),
            order in order(),
        ) {
            let frame = encode(&body, order, MAX).unwrap();
            let mut data = frame.clone();
            data.extend_from_slice(&after);
            let mut conn = Chunked { data, pos: 0, sizes, next: 0 };
            let mut buf = Vec::new();
            let got = read_frame(&mut conn, &mut buf, order, MAX, &quiet()).unwrap();
            prop_assert_eq!(got, Some(body));
            prop_assert!(buf.is_empty(), "{} bytes left in the buffer", buf.len());
            prop_assert_eq!(conn.pos, frame.len());
        }

        #[test]
        fn any_bytes_never_panic_the_decoder(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
            max in any::<u32>(),
            order in order(),
        ) {
            match decode(&bytes, order, max) {
                Ok(Decoded::Frame { body, used }) => {
                    prop_assert_eq!(used, HEADER_LEN + body.len());
                    prop_assert!(used <= bytes.len());
                    prop_assert!(body.len() as u64 <= max as u64);
                }
                Ok(Decoded::NeedMore { missing }) => prop_assert!(missing > 0),
                Err(FrameError::TooLong { len, .. }) => prop_assert!(len > max),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            let _ = check_eof(&bytes, order, max);
        }

        #[test]
        fn a_stream_cut_short_is_an_error_never_a_hang(
            body in prop::collection::vec(any::<u8>(), 1..300),
            keep in any::<usize>(),
            order in order(),
        ) {
            let frame = encode(&body, order, MAX).unwrap();
            let keep = 1 + keep % (frame.len() - 1); // 1 ..= len-1 bytes arrive
            let mut conn = Chunked { data: frame[..keep].to_vec(), pos: 0, sizes: vec![], next: 0 };
            let mut buf = Vec::new();
            let err = read_frame(&mut conn, &mut buf, order, MAX, &quiet()).unwrap_err();
            match err {
                ReadError::Frame(FrameError::ClosedMidHeader { got }) => prop_assert_eq!(got, keep),
                ReadError::Frame(FrameError::ClosedMidBody { len, got }) => {
                    prop_assert_eq!(len as usize, body.len());
                    prop_assert_eq!(got, keep - HEADER_LEN);
                }
                other => prop_assert!(false, "unexpected {other}"),
            }
        }

        #[test]
        fn lengths_survive_a_round_trip_in_either_order(len in any::<u32>(), order in order()) {
            prop_assert_eq!(len_from(len_bytes(len, order), order), len);
        }
    }
}
