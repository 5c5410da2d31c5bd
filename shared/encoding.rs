//! `--encoding utf-8|gbk`: how a program turns the bytes it receives into text, and its
//! text into bytes.
//!
//! The course decodes command output and chat text as `gbk` (or `gb2312`, which GBK
//! extends): on a Windows set up for Chinese, programs print GBK. Read as UTF-8, those bytes
//! are invalid and show as `�`. Both sides must agree on the encoding, as they must on the
//! byte order of a length header: the bytes carry no label saying which one they are.

/// A text encoding for what crosses the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8, what the lab's own programs send.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// GBK (covers GB2312): Chinese Windows, and the course's `decode('gbk')`.
    #[value(alias = "gb2312")]
    Gbk,
}

impl Encoding {
    /// Bytes to text. Bytes that are not valid in this encoding become `�` (U+FFFD), so
    /// a wrong choice shows instead of failing.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Gbk => encoding_rs::GBK.decode(bytes).0.into_owned(),
        }
    }

    /// Text to bytes. A character GBK cannot encode is sent as an HTML numeric reference
    /// (`&#NNNN;`), encoding_rs's rule for the web.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Gbk => encoding_rs::GBK.encode(text).0.into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_bytes_are_chinese_in_gbk_and_garbage_in_utf8() {
        let nihao = [0xc4, 0xe3, 0xba, 0xc3]; // 你好 in GBK
        assert_eq!(Encoding::Gbk.decode(&nihao), "你好");
        // Not UTF-8: three invalid sequences, three replacement characters.
        assert_eq!(Encoding::Utf8.decode(&nihao), "\u{fffd}\u{fffd}\u{fffd}");
    }

    #[test]
    fn encoding_and_decoding_gbk_round_trips() {
        let text = "说:再见 bye";
        assert_eq!(Encoding::Gbk.decode(&Encoding::Gbk.encode(text)), text);
        assert_eq!(Encoding::Gbk.encode("你好"), [0xc4, 0xe3, 0xba, 0xc3]);
    }
}
