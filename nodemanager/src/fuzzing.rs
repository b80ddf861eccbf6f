//! Entry point for the fuzzer (fuzz/) and its corpus replay (tests/fuzz_corpus.rs): any
//! bytes as what a client sends the node manager. Every decoding step (frame, strict JSON,
//! envelope, the signed part, the call's arguments) must refuse or accept without a panic,
//! and a call it accepts must encode to arguments that decode to the same call.

use std::io::Cursor;

use serde_json::Value;

use crate::{frame, protocol::Request, request};

/// Decodes `data` as one request frame, as far as it goes.
pub fn request(data: &[u8]) {
    let Ok(body) = frame::read_frame_blocking(&mut Cursor::new(data), frame::DEFAULT_MAX_FRAME_BYTES) else { return };
    let Ok(object) = frame::parse_object(&body) else { return };
    let _ = request::request_id(&object);
    let call = match request::parse_envelope(&object) {
        Ok(request::Envelope::Unsigned { call, args }) => Some((call, args)),
        // The signature will not verify; decode the signed part as the node would after it.
        Ok(request::Envelope::Signed { signed, .. }) => frame::parse_object(&signed)
            .ok()
            .and_then(|inner| serde_json::from_value::<request::Inner>(Value::Object(inner)).ok())
            .map(|inner| (inner.call, inner.args)),
        Err(_) => None,
    };
    let Some((name, args)) = call else { return };
    let _ = Request::role_of(&name);
    if let Ok(decoded) = Request::parse(&name, args) {
        let (encoded_name, encoded_args) = decoded.encode();
        let Value::Object(encoded_args) = encoded_args else { panic!("{encoded_name}: arguments encode to a non-object") };
        let again = Request::parse(encoded_name, encoded_args).expect("an encoded request decodes");
        assert_eq!(again.encode(), decoded.encode(), "{name}: encoding is not stable");
    }
}
