//! Request envelopes, signatures and responses (nodemanager.md §3.2–3.4).

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{
    frame,
    keys::{PublicKey, SecretKey},
};

/// Prefix of the signed bytes.
pub const SIGN_PREFIX: &[u8] = b"repy-nodemanager-request-v1\n";
pub const MAX_ID_CHARS: usize = 64;

/// Declares [`Code`] from one list of names: each code's wire text is its name, so the
/// node manager's encoding and the client's decoding cannot drift apart.
macro_rules! error_codes {
    ($($name:ident),* $(,)?) => {
        /// Error codes of §3.4.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code {
            $($name,)*
        }

        impl Code {
            /// Every code, in the order of §3.4.
            pub const ALL: &[Code] = &[$(Code::$name,)*];

            /// The code's text on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$name => stringify!($name),)*
                }
            }
        }
    };
}

error_codes! {
    BadFrame,
    UnknownCall,
    BadArguments,
    BadSignature,
    WrongNode,
    Expired,
    Replay,
    Forbidden,
    NoSuchVessel,
    NoSuchFile,
    BadFilename,
    FileTooLarge,
    DiskQuota,
    InvalidState,
    BadKey,
    LimitExceeded,
    BadResources,
    ResourceMath,
    OwnerMismatch,
    UnsupportedPlatform,
    Busy,
    Internal,
}

impl Code {
    /// The code whose wire text is `text`.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request: code, message naming the culprit, and for `Replay` the last accepted seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NmError {
    pub code: Code,
    pub message: String,
    pub last_seq: Option<u64>,
}

impl NmError {
    pub fn new(code: Code, message: impl Into<String>) -> NmError {
        NmError { code, message: message.into(), last_seq: None }
    }
}

impl std::fmt::Display for NmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Shorthand for building an error result.
pub fn err<T>(code: Code, message: impl Into<String>) -> Result<T, NmError> {
    Err(NmError::new(code, message))
}

/// A request as it arrives, before any check of its signature.
#[derive(Debug)]
pub enum Envelope {
    Unsigned { call: String, args: Map<String, Value> },
    Signed { key: PublicKey, signed: Vec<u8>, sig: Vec<u8> },
}

/// The `id` of a request object, if it is a string short enough to echo.
pub fn request_id(object: &Map<String, Value>) -> Option<String> {
    match object.get("id") {
        Some(Value::String(id)) if id.chars().count() <= MAX_ID_CHARS => Some(id.clone()),
        _ => None,
    }
}

fn check_fields(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), NmError> {
    if let Some(extra) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return err(Code::BadFrame, format!("unknown field '{extra}' in {what}"));
    }
    Ok(())
}

fn string_field<'a>(object: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str, NmError> {
    match object.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => err(Code::BadFrame, format!("field '{name}' of {what} must be a string, not {}", frame::kind(other))),
        None => err(Code::BadFrame, format!("{what} lacks the field '{name}'")),
    }
}

fn base64_field(object: &Map<String, Value>, name: &str, length: Option<usize>) -> Result<Vec<u8>, NmError> {
    let text = string_field(object, name, "the request")?;
    let bytes = STANDARD.decode(text).map_err(|e| NmError::new(Code::BadFrame, format!("field '{name}' is not valid base64: {e}")))?;
    if let Some(n) = length {
        if bytes.len() != n {
            return err(Code::BadFrame, format!("field '{name}' must encode {n} bytes, not {}", bytes.len()));
        }
    }
    Ok(bytes)
}

/// Step 1 of §3.3 (and the envelope of the unsigned form).
pub fn parse_envelope(object: &Map<String, Value>) -> Result<Envelope, NmError> {
    match object.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(other) => return err(Code::BadFrame, format!("unsupported protocol version {other} (expected 1)")),
        None => return err(Code::BadFrame, "the request lacks the field 'v'"),
    }
    if let Some(id) = object.get("id") {
        match id {
            Value::String(s) if s.chars().count() <= MAX_ID_CHARS => {}
            Value::String(_) => return err(Code::BadFrame, format!("field 'id' is longer than {MAX_ID_CHARS} characters")),
            other => return err(Code::BadFrame, format!("field 'id' must be a string, not {}", frame::kind(other))),
        }
    }
    let signed = ["key", "signed", "sig"].iter().any(|f| object.contains_key(*f));
    if signed {
        check_fields(object, &["v", "id", "key", "signed", "sig"], "a signed request")?;
        let key_bytes = base64_field(object, "key", Some(32))?;
        let signed = base64_field(object, "signed", None)?;
        let sig = base64_field(object, "sig", Some(64))?;
        let key = PublicKey::from_bytes(&key_bytes.try_into().expect("length checked"))
            .map_err(|e| NmError::new(Code::BadKey, format!("field 'key': {e}")))?;
        Ok(Envelope::Signed { key, signed, sig })
    } else {
        check_fields(object, &["v", "id", "call", "args"], "an unsigned request")?;
        let call = string_field(object, "call", "the request")?.to_string();
        let args = match object.get("args") {
            Some(Value::Object(map)) => map.clone(),
            Some(other) => return err(Code::BadFrame, format!("field 'args' must be an object, not {}", frame::kind(other))),
            None => return err(Code::BadFrame, "the request lacks the field 'args'"),
        };
        Ok(Envelope::Unsigned { call, args })
    }
}

/// The signed part of a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inner {
    pub call: String,
    pub args: Map<String, Value>,
    pub node: String,
    pub seq: u64,
    pub expires: u64,
}

/// A request whose envelope and signature passed: the call, its arguments and, if signed, who
/// signed it with which sequence number and expiry.
#[derive(Debug)]
pub struct Checked {
    pub call: String,
    pub args: Map<String, Value>,
    pub signer: Option<Signer>,
}

#[derive(Debug, Clone)]
pub struct Signer {
    pub key: PublicKey,
    pub seq: u64,
    pub expires: u64,
}

/// Steps 2–5 of §3.3 for a signed envelope; unsigned ones pass through.
pub fn check(envelope: Envelope, node: &PublicKey, now: u64, max_expiry_s: u64) -> Result<Checked, NmError> {
    let (key, signed, sig) = match envelope {
        Envelope::Unsigned { call, args } => return Ok(Checked { call, args, signer: None }),
        Envelope::Signed { key, signed, sig } => (key, signed, sig),
    };
    let mut message = SIGN_PREFIX.to_vec();
    message.extend_from_slice(&signed);
    if !key.verify(&message, &sig) {
        return err(Code::BadSignature, format!("signature does not verify for key {}", key.fingerprint()));
    }
    let object = frame::parse_object(&signed).map_err(|e| NmError::new(Code::BadFrame, format!("signed part: {e}")))?;
    let inner: Inner =
        serde_json::from_value(Value::Object(object)).map_err(|e| NmError::new(Code::BadFrame, format!("signed part: {e}")))?;
    if inner.node != node.as_str() {
        return err(Code::WrongNode, format!("request is addressed to node key '{}', this node is {}", inner.node, node.as_str()));
    }
    if inner.expires < now {
        return err(Code::Expired, format!("request expired at {} (node time {now})", inner.expires));
    }
    if inner.expires > now + max_expiry_s {
        return err(Code::Expired, format!("expiry {} is more than {max_expiry_s} s after node time {now}", inner.expires));
    }
    Ok(Checked { call: inner.call, args: inner.args, signer: Some(Signer { key, seq: inner.seq, expires: inner.expires }) })
}

/// Builds a signed request object (clients and tests).
pub fn sign(secret: &SecretKey, node: &PublicKey, id: &str, call: &str, args: Value, seq: u64, expires: u64) -> Value {
    let inner = json!({"call": call, "args": args, "node": node.as_str(), "seq": seq, "expires": expires});
    let signed = serde_json::to_vec(&inner).expect("JSON values always serialise");
    let mut message = SIGN_PREFIX.to_vec();
    message.extend_from_slice(&signed);
    json!({
        "v": 1,
        "id": id,
        "key": secret.public().as_str(),
        "signed": STANDARD.encode(&signed),
        "sig": STANDARD.encode(secret.sign(&message)),
    })
}

/// A success response.
pub fn ok_response(id: Option<&str>, result: Value, warning: Option<String>) -> Value {
    let mut object = json!({"v": 1, "ok": true, "result": result});
    if let Some(id) = id {
        object["id"] = json!(id);
    }
    if let Some(w) = warning {
        object["warning"] = json!(w);
    }
    object
}

/// An error response.
pub fn error_response(id: Option<&str>, error: &NmError) -> Value {
    let mut e = json!({"code": error.code.as_str(), "message": error.message});
    if let Some(last) = error.last_seq {
        e["last_seq"] = json!(last);
    }
    let mut object = json!({"v": 1, "ok": false, "error": e});
    if let Some(id) = id {
        object["id"] = json!(id);
    }
    object
}

/// Current Unix time in seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Current Unix time in microseconds.
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_reads_back_from_its_text() {
        assert_eq!(Code::ALL.len(), 22);
        for &code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::DiskQuota.as_str(), "DiskQuota");
        assert_eq!(Code::parse("diskquota"), None);
    }

    fn envelope(v: &Value) -> Result<Envelope, NmError> {
        parse_envelope(v.as_object().unwrap())
    }

    #[test]
    fn signed_request_verifies_and_checks_in_order() {
        let client = SecretKey::generate();
        let node = SecretKey::generate().public();
        let now = 1_700_000_000;
        let req = sign(&client, &node, "c-1", "StopVessel", json!({"vessel": "v3"}), 5, now + 60);
        let checked = check(envelope(&req).unwrap(), &node, now, 3600).unwrap();
        assert_eq!(checked.call, "StopVessel");
        assert_eq!(checked.args["vessel"], "v3");
        let signer = checked.signer.unwrap();
        assert_eq!((signer.key, signer.seq, signer.expires), (client.public(), 5, now + 60));

        // Wrong node, expired, too far in the future.
        let other = SecretKey::generate().public();
        assert_eq!(check(envelope(&req).unwrap(), &other, now, 3600).unwrap_err().code, Code::WrongNode);
        assert_eq!(check(envelope(&req).unwrap(), &node, now + 61, 3600).unwrap_err().code, Code::Expired);
        assert_eq!(check(envelope(&req).unwrap(), &node, now - 3541, 3600).unwrap_err().code, Code::Expired);
        assert!(check(envelope(&req).unwrap(), &node, now + 60, 3600).is_ok());
    }

    #[test]
    fn forged_or_altered_requests_fail_the_signature() {
        let client = SecretKey::generate();
        let node = SecretKey::generate().public();
        let req = sign(&client, &node, "x", "StopVessel", json!({"vessel": "v3"}), 5, 100);
        // Another key claims the request.
        let mut forged = req.clone();
        forged["key"] = json!(SecretKey::generate().public().as_str());
        assert_eq!(check(envelope(&forged).unwrap(), &node, 50, 3600).unwrap_err().code, Code::BadSignature);
        // Altered inner bytes (v3 -> v4).
        let mut altered = req.clone();
        let inner = String::from_utf8(STANDARD.decode(req["signed"].as_str().unwrap()).unwrap()).unwrap();
        altered["signed"] = json!(STANDARD.encode(inner.replace("v3", "v4")));
        assert_eq!(check(envelope(&altered).unwrap(), &node, 50, 3600).unwrap_err().code, Code::BadSignature);
        // A signature checked before the content: invalid inner JSON with a bad signature is BadSignature.
        let mut junk = req.clone();
        junk["signed"] = json!(STANDARD.encode("not json"));
        assert_eq!(check(envelope(&junk).unwrap(), &node, 50, 3600).unwrap_err().code, Code::BadSignature);
    }

    #[test]
    fn a_small_order_signer_is_refused_before_its_signature() {
        // The identity point signs anything with (R = identity, S = 0); the all-zero key
        // (order 4) likewise with R = identity.
        let node = SecretKey::generate().public();
        let signed = serde_json::to_vec(&json!({"call": "AddFileToVessel", "args": {"vessel": "v1", "filename": "a.py",
            "data": "cGFzcwo="}, "node": node.as_str(), "seq": 1, "expires": 100}))
        .unwrap();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity);
        for key in [identity, [0u8; 32]] {
            let req = json!({"v": 1, "key": STANDARD.encode(key), "signed": STANDARD.encode(&signed), "sig": STANDARD.encode(sig)});
            let e = envelope(&req).unwrap_err();
            assert_eq!(e.code, Code::BadKey, "{e}");
            assert!(e.message.contains("'key'") && e.message.contains("weak"), "{e}");
        }
    }

    #[test]
    fn a_key_given_twice_in_the_signed_part_is_refused() {
        // Signed as is: a reader that kept the first "vessel" and one that kept the last would
        // act on different vessels.
        let client = SecretKey::generate();
        let node = SecretKey::generate().public();
        let signed =
            format!(r#"{{"call": "StopVessel", "args": {{"vessel": "v1", "vessel": "v2"}}, "node": "{node}", "seq": 1, "expires": 100}}"#);
        let mut message = SIGN_PREFIX.to_vec();
        message.extend_from_slice(signed.as_bytes());
        let req = json!({"v": 1, "key": client.public().as_str(), "signed": STANDARD.encode(&signed),
            "sig": STANDARD.encode(client.sign(&message))});
        let e = check(envelope(&req).unwrap(), &node, 50, 3600).unwrap_err();
        assert_eq!(e.code, Code::BadFrame);
        assert!(e.message.starts_with("signed part: invalid JSON: duplicate key 'vessel'"), "{e}");
    }

    #[test]
    fn inner_must_have_exactly_the_fields() {
        let client = SecretKey::generate();
        let node = SecretKey::generate().public();
        let signed = serde_json::to_vec(&json!({"call": "GetVessels", "args": {}, "node": node.as_str(),
            "seq": 1, "expires": 100, "extra": 1}))
        .unwrap();
        let mut message = SIGN_PREFIX.to_vec();
        message.extend_from_slice(&signed);
        let req = json!({"v": 1, "key": client.public().as_str(), "signed": STANDARD.encode(&signed),
            "sig": STANDARD.encode(client.sign(&message))});
        let e = check(envelope(&req).unwrap(), &node, 50, 3600).unwrap_err();
        assert_eq!(e.code, Code::BadFrame);
        assert!(e.message.contains("extra"), "{e}");
    }

    #[test]
    fn envelope_errors_name_the_field() {
        let e = envelope(&json!({"v": 2, "call": "GetVessels", "args": {}})).unwrap_err();
        assert!(e.code == Code::BadFrame && e.message.contains("version"));
        let e = envelope(&json!({"v": 1, "call": "GetVessels", "args": {}, "bogus": 1})).unwrap_err();
        assert!(e.message.contains("bogus"));
        let e = envelope(&json!({"v": 1, "key": "AAAA", "signed": "", "sig": ""})).unwrap_err();
        assert!(e.message.contains("'key'") && e.message.contains("32"), "{e}");
        let e = envelope(&json!({"v": 1, "call": "GetVessels"})).unwrap_err();
        assert!(e.message.contains("'args'"));
        let e = envelope(&json!({"v": 1, "id": "x".repeat(65), "call": "GetVessels", "args": {}})).unwrap_err();
        assert!(e.message.contains("'id'"));
        assert!(matches!(envelope(&json!({"v": 1, "call": "GetVessels", "args": {}})).unwrap(), Envelope::Unsigned { .. }));
    }
}
