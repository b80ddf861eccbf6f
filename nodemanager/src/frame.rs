//! Framing (nodemanager.md §3.1): a 4-byte big-endian length N (1 ≤ N ≤ limit) and N bytes of
//! one UTF-8 JSON object, parsed strictly (no key twice in an object, depth ≤ 32, integers in
//! 0..2^53).

use std::{fmt, io::Read, time::Duration};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest file a request carries by default (`max_file_bytes`, nodemanager.md §5): the
/// limit every other transfer size is derived from.
pub const DEFAULT_MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Room for everything of a request but its file data, at each of its two levels: the signed
/// part's call, vessel, file name (≤ 120 characters), node key, seq and expires; the envelope's
/// v, id (≤ 64 characters), key and signature. A few hundred bytes each, with ample margin.
pub const REQUEST_OVERHEAD_BYTES: usize = 32 * 1024;

/// Length of the standard base64 (padded) of `bytes` bytes.
pub const fn base64_len(bytes: usize) -> usize {
    4 * bytes.div_ceil(3)
}

/// The frame an AddFileToVessel of `max_file_bytes` needs: the file is base64 inside the
/// arguments, and the signed part holding them is base64 again inside the envelope (16/9 of
/// the file, about 15 MB for 8 MiB). The node's `max_frame_bytes` must be at least this.
pub const fn frame_bytes_for_file(max_file_bytes: usize) -> usize {
    base64_len(base64_len(max_file_bytes) + REQUEST_OVERHEAD_BYTES) + REQUEST_OVERHEAD_BYTES
}

/// The frame limit of the node (default) and of its clients: nodemanager.md's 16 MiB, which
/// holds what the default largest file needs (checked at compile time).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
const _: () = assert!(DEFAULT_MAX_FRAME_BYTES >= frame_bytes_for_file(DEFAULT_MAX_FILE_BYTES));
pub const MAX_DEPTH: usize = 32;
pub const MAX_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    Closed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The length prefix is 0 or over the limit.
    BadLength {
        length: u64,
        limit: usize,
    },
    /// The frame did not complete within the frame timeout.
    Timeout,
    /// The connection ended inside a frame.
    Truncated,
    Io(std::io::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Closed => write!(f, "connection closed"),
            FrameError::Idle => write!(f, "connection idle for too long"),
            FrameError::BadLength { length: 0, .. } => write!(f, "frame length 0 (a frame holds 1 or more bytes)"),
            FrameError::BadLength { length, limit } => {
                write!(f, "frame length {length} is over the limit of {limit} bytes")
            }
            FrameError::Timeout => write!(f, "frame not complete within the time limit"),
            FrameError::Truncated => write!(f, "connection closed inside a frame"),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The bytes of one frame holding `value`.
pub fn encode(value: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(value).expect("JSON values always serialise");
    encode_bytes(&body)
}

/// Frames raw bytes (tests use it to send malformed bodies).
pub fn encode_bytes(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn check_length(header: [u8; 4], limit: usize) -> Result<usize, FrameError> {
    let length = u32::from_be_bytes(header) as u64;
    if length == 0 || length > limit as u64 {
        return Err(FrameError::BadLength { length, limit });
    }
    Ok(length as usize)
}

/// Reads one frame: waits up to `idle` for its first byte, then up to `complete` for the rest.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
    idle: Duration,
    complete: Duration,
) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    let first = tokio::time::timeout(idle, reader.read(&mut header[..1])).await;
    match first {
        Err(_) => return Err(FrameError::Idle),
        Ok(Err(e)) => return Err(FrameError::Io(e)),
        Ok(Ok(0)) => return Err(FrameError::Closed),
        Ok(Ok(_)) => {}
    }
    let rest = async {
        reader.read_exact(&mut header[1..]).await?;
        let length = check_length(header, limit)?;
        // Grow the buffer as bytes arrive rather than trusting the announced length.
        let mut body = Vec::with_capacity(length.min(64 * 1024));
        (&mut *reader).take(length as u64).read_to_end(&mut body).await?;
        if body.len() < length {
            return Err(FrameError::Truncated);
        }
        Ok(body)
    };
    match tokio::time::timeout(complete, rest).await {
        Err(_) => Err(FrameError::Timeout),
        Ok(Err(FrameError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
        Ok(result) => result,
    }
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// Blocking version for clients (the socket's read timeout bounds the wait).
pub fn read_frame_blocking<R: Read>(reader: &mut R, limit: usize) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    // A signal delivered to the caller interrupts the wait; that is no answer yet (read_exact
    // below retries the same way).
    loop {
        match reader.read(&mut header[..1]) {
            Ok(0) => return Err(FrameError::Closed),
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let eof = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    };
    reader.read_exact(&mut header[1..]).map_err(eof)?;
    let length = check_length(header, limit)?;
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).map_err(eof)?;
    Ok(body)
}

/// Parses a frame body as one strict JSON object.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("frame is not UTF-8: {e}"))?;
    let value = parse_json(text)?;
    check_value(&value, 1)?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object, got {}", kind(&other))),
    }
}

/// Parses one JSON text, refusing an object (at any depth) that gives a key twice: serde_json
/// alone keeps the last, so that two readers of the same bytes could see different requests.
pub fn parse_json(text: &str) -> Result<Value, String> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = NoDuplicateKeys.deserialize(&mut reader).and_then(|v| reader.end().map(|()| v));
    value.map_err(|e| format!("invalid JSON: {e}"))
}

/// Builds a [`Value`] as serde_json does, but fails on a repeated key.
struct NoDuplicateKeys;

impl<'de> DeserializeSeed<'de> for NoDuplicateKeys {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NoDuplicateKeys)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let shown: String = key.chars().take(64).collect();
                let more = if shown.len() < key.len() { "..." } else { "" };
                return Err(de::Error::custom(format_args!("duplicate key '{shown}{more}'")));
            }
            let value = map.next_value_seed(NoDuplicateKeys)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn check_value(value: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("JSON nested deeper than {MAX_DEPTH} levels"));
    }
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(i) if i <= MAX_INTEGER => Ok(()),
            _ => Err(format!("number {n} is not an integer between 0 and 2^53-1")),
        },
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, depth + 1)),
        Value::Object(map) => map.values().try_for_each(|v| check_value(v, depth + 1)),
        _ => Ok(()),
    }
}

/// A short name of a JSON value's type, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(bytes: &[u8], limit: usize) -> Result<Vec<u8>, FrameError> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut reader = bytes;
        rt.block_on(read_frame(&mut reader, limit, Duration::from_secs(5), Duration::from_secs(5)))
    }

    #[test]
    fn frames_round_trip_in_sequence() {
        let mut bytes = encode(&json!({"a": 1}));
        bytes.extend(encode(&json!({"b": [true]})));
        let mut reader = &bytes[..];
        assert_eq!(read_frame_blocking(&mut reader, 100).unwrap(), br#"{"a":1}"#);
        assert_eq!(read_frame_blocking(&mut reader, 100).unwrap(), br#"{"b":[true]}"#);
        assert!(matches!(read_frame_blocking(&mut reader, 100), Err(FrameError::Closed)));
        assert_eq!(&bytes[..4], &[0, 0, 0, 7]);
        assert_eq!(read(&bytes, 100).unwrap(), br#"{"a":1}"#);
    }

    /// A client's wait for an answer, interrupted by a signal (EINTR), goes on waiting.
    #[test]
    fn an_interrupted_wait_is_retried() {
        struct InterruptedFirst<'a>(bool, &'a [u8]);
        impl Read for InterruptedFirst<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if !self.0 {
                    self.0 = true;
                    return Err(std::io::ErrorKind::Interrupted.into());
                }
                Read::read(&mut self.1, buf)
            }
        }
        let bytes = encode(&json!({"a": 1}));
        assert_eq!(read_frame_blocking(&mut InterruptedFirst(false, &bytes), 100).unwrap(), br#"{"a":1}"#);
    }

    #[test]
    fn bad_lengths_and_truncation() {
        assert!(matches!(read(&[0, 0, 0, 0], 100), Err(FrameError::BadLength { length: 0, .. })));
        assert!(matches!(read(&[0, 0, 0, 101, b'{'], 100), Err(FrameError::BadLength { length: 101, limit: 100 })));
        assert!(matches!(read(&encode_bytes(b"{}")[..5], 100), Err(FrameError::Truncated)));
        assert!(matches!(read(&[0, 0], 100), Err(FrameError::Truncated)));
        assert!(matches!(read(&[], 100), Err(FrameError::Closed)));
        let mut reader = &[0u8, 0, 1, 0][..];
        assert!(matches!(read_frame_blocking(&mut reader, 255), Err(FrameError::BadLength { length: 256, .. })));
    }

    #[test]
    fn slow_frame_times_out() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (mut client, mut server) = tokio::io::duplex(64);
            use tokio::io::AsyncWriteExt;
            client.write_all(&[0, 0]).await.unwrap();
            let r = read_frame(&mut server, 100, Duration::from_secs(5), Duration::from_millis(50)).await;
            assert!(matches!(r, Err(FrameError::Timeout)), "{r:?}");
            let r = read_frame(&mut server, 100, Duration::from_millis(50), Duration::from_secs(5)).await;
            assert!(matches!(r, Err(FrameError::Idle)), "{r:?}");
        });
    }

    #[test]
    fn strict_json() {
        assert!(parse_object(br#"{"a": [1, "x", null, {"b": 9007199254740991}]}"#).is_ok());
        assert!(parse_object(br#"{"a": 9007199254740992}"#).unwrap_err().contains("2^53"));
        assert!(parse_object(br#"{"a": -1}"#).unwrap_err().contains("-1"));
        assert!(parse_object(br#"{"a": 1.5}"#).unwrap_err().contains("1.5"));
        assert!(parse_object(b"[1]").unwrap_err().contains("an array"));
        assert!(parse_object(b"{\"a\": ").unwrap_err().contains("invalid JSON"));
        assert!(parse_object(b"\xff").unwrap_err().contains("UTF-8"));
        let deep = |n: usize| format!("{}{}", "{\"a\":".repeat(n), "1".to_string() + &"}".repeat(n));
        assert!(parse_object(deep(31).as_bytes()).is_ok());
        assert!(parse_object(deep(32).as_bytes()).unwrap_err().contains("deeper"));
    }

    #[test]
    fn the_largest_upload_fits_the_default_frame() {
        use crate::{keys::SecretKey, protocol::AddFileToVessel, request};
        // Everything at its longest: vessel name, file name, id, sequence number, expiry.
        let secret = SecretKey::generate();
        let node = SecretKey::generate().public();
        let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![0xa5u8; DEFAULT_MAX_FILE_BYTES]);
        assert_eq!(data.len(), base64_len(DEFAULT_MAX_FILE_BYTES));
        let args = AddFileToVessel { vessel: format!("v{}", u64::MAX), filename: "f".repeat(120), data };
        let (call, args) = crate::protocol::Request::from(args).encode();
        let req = request::sign(&secret, &node, &"i".repeat(64), call, args, MAX_INTEGER, MAX_INTEGER);
        let body = encode(&req).len() - 4;
        assert!(body <= DEFAULT_MAX_FRAME_BYTES, "{body} > {DEFAULT_MAX_FRAME_BYTES}");
        // And with a margin for a file one byte over the limit, which is refused as FileTooLarge
        // rather than as an unreadable frame.
        assert!(DEFAULT_MAX_FRAME_BYTES - body > 16 * 1024, "{body}");
        assert!(DEFAULT_MAX_FRAME_BYTES <= u32::MAX as usize);
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        let e = parse_object(br#"{"v": 1, "call": "GetVessels", "call": "StopVessel", "args": {}}"#).unwrap_err();
        assert!(e.starts_with("invalid JSON: duplicate key 'call'"), "{e}");
        let e = parse_object(br#"{"a": [{"x": 1}, {"b": {"c": 1, "c": 2}}]}"#).unwrap_err();
        assert!(e.contains("duplicate key 'c'"), "{e}");
        // The same key in different objects, and escapes that spell the same key, are told apart right.
        assert!(parse_object(br#"{"a": {"x": 1}, "b": {"x": 1}, "x": [1, 1]}"#).is_ok());
        assert!(parse_object(br#"{"ab": 1, "ab": 2}"#).unwrap_err().contains("duplicate key 'ab'"));
        let long = "k".repeat(100);
        let e = parse_object(format!(r#"{{"{long}": 1, "{long}": 2}}"#).as_bytes()).unwrap_err();
        assert!(e.contains(&format!("'{}...'", "k".repeat(64))), "{e}");
        assert!(parse_json("{} {}").unwrap_err().contains("trailing"));
        assert_eq!(parse_json(r#"[true, null, "s", 2, {}]"#).unwrap(), json!([true, null, "s", 2, {}]));
    }
}
