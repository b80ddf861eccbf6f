//! Program source decoding (repy-api.md §1): UTF-8 only, a BOM is skipped, coding
//! declarations are ignored, invalid UTF-8 is refused at the position of the first bad byte.

/// Line and column (both 1-based, columns in characters) of byte `offset` in `text`.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    // As Python (and the compiler's own messages) count: a line ends at \n, \r\n or a lone \r.
    let bytes = text.as_bytes();
    let (mut line, mut line_start) = (1, 0);
    for (i, &b) in bytes[..offset].iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
            line_start = i + 1;
        }
    }
    (line, text[line_start..offset].chars().count() + 1)
}

/// The source as text, or (line, column, reason) of the first invalid byte.
pub fn decode_source(bytes: &[u8]) -> Result<String, (usize, usize, String)> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let valid = e.valid_up_to();
            let good = std::str::from_utf8(&bytes[..valid]).expect("valid prefix");
            let (line, col) = position(good, valid);
            Err((line, col, format!("invalid UTF-8 (byte 0x{:02x})", bytes[valid])))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_is_skipped_and_invalid_bytes_are_located() {
        assert_eq!(decode_source(b"\xef\xbb\xbfx = 1\n").unwrap(), "x = 1\n");
        assert_eq!(decode_source(b"# -*- coding: latin-1 -*-\nx = 1\n").unwrap(), "# -*- coding: latin-1 -*-\nx = 1\n");
        let (line, col, reason) = decode_source(b"a = 1\nb = '\xc3\xa9\xff'\n").unwrap_err();
        assert_eq!((line, col), (2, 7));
        assert!(reason.contains("0xff"));
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(position("ab\ncé d", 7), (2, 4));
        assert_eq!(position("x", 0), (1, 1));
        // Python's line ends: \n, \r\n and a lone \r (the compiler's errors count so).
        assert_eq!(position("a\rb\r\nc\nd", 7), (4, 1));
    }
}
