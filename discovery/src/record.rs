//! The signed node record: what a node says about itself under `repy/node/<peer id>`.
//!
//! Kademlia stores opaque bytes, and any peer can store any bytes under any key, so the record
//! carries its own proof: an Ed25519 signature by the node key over a canonical encoding. One
//! type encodes and decodes, so that the two cannot drift apart.
//!
//! Encoding (all integers big-endian):
//!
//! ```text
//! "repy-node-record/1\n"                      magic and version
//! u16 length, UTF-8                           the node manager's host:port
//! 32 bytes                                    the node's public key
//! u64                                         expiry, seconds since the Unix epoch
//! u64                                         sequence number, higher in every newer record
//! u16 count, then for each user key:          keys in ascending byte order, no repeats
//!     32 bytes                                the user's public key
//!     u16 count, then u8 length + UTF-8 each  vessel names, ascending, no repeats
//! 64 bytes                                    signature of every byte before it
//! ```
//!
//! Sorted, duplicate-free lists make the encoding of a record unique, so a signature covers
//! exactly one meaning.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};
use repy_nodemanager::keys::{PublicKey, SecretKey};

const MAGIC: &[u8] = b"repy-node-record/1\n";
const SIGNATURE_LEN: usize = 64;
/// Well below Kademlia's default 65 KiB value limit; a node with more keys than this would
/// need several records, which nobody needs yet.
pub const MAX_KEYS: usize = 1000;

/// What a node announces about itself. The keys map each user key to the names of the vessels
/// it owns or may use on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node manager's `host:port`, where clients send signed requests.
    pub address: String,
    pub node_key: PublicKey,
    /// Seconds since the Unix epoch after which the record means nothing.
    pub expires: u64,
    /// Orders the records of one node: a holder keeps, and a lookup believes, the highest.
    /// Expiry seconds cannot: a withdrawal and a new announcement often share a second.
    pub seq: u64,
    pub keys: BTreeMap<PublicKey, BTreeSet<String>>,
}

/// Why bytes are not a valid node record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid node record: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

fn key_bytes(key: &PublicKey) -> [u8; 32] {
    STANDARD.decode(key.as_str()).expect("a parsed public key is base64").try_into().expect("a parsed public key has 32 bytes")
}

impl NodeRecord {
    /// The canonical bytes with the signature of `secret` appended. Errors when the record
    /// cannot be encoded (too long a field) or `secret` is not the record's node key.
    pub fn encode(&self, secret: &SecretKey) -> Result<Vec<u8>, String> {
        if secret.public() != self.node_key {
            return Err("the node record must be signed by the node key it names".into());
        }
        let mut out = self.unsigned()?;
        let signature = secret.sign(&out);
        out.extend_from_slice(&signature);
        Ok(out)
    }

    /// The bytes that the signature covers.
    pub(crate) fn unsigned(&self) -> Result<Vec<u8>, String> {
        let mut out = MAGIC.to_vec();
        let address = self.address.as_bytes();
        let len = u16::try_from(address.len()).map_err(|_| "the node address is too long")?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(address);
        out.extend_from_slice(&key_bytes(&self.node_key));
        out.extend_from_slice(&self.expires.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        if self.keys.len() > MAX_KEYS {
            return Err(format!("a node record holds at most {MAX_KEYS} keys, not {}", self.keys.len()));
        }
        // PublicKey orders by its base64 text, which is not byte order: sort the bytes.
        let mut keys: Vec<([u8; 32], &BTreeSet<String>)> = self.keys.iter().map(|(k, v)| (key_bytes(k), v)).collect();
        keys.sort();
        out.extend_from_slice(&(keys.len() as u16).to_be_bytes());
        for (key, names) in keys {
            out.extend_from_slice(&key);
            let count = u16::try_from(names.len()).map_err(|_| "too many vessel names")?;
            out.extend_from_slice(&count.to_be_bytes());
            for name in names {
                let len = u8::try_from(name.len()).map_err(|_| format!("vessel name '{name}' is too long"))?;
                out.push(len);
                out.extend_from_slice(name.as_bytes());
            }
        }
        Ok(out)
    }

    /// Parses `bytes` and checks the signature against the node key inside. A record that
    /// decodes is therefore signed by the node it names; whether that node is the peer it was
    /// found under, and whether it has expired, is for the caller to check.
    pub fn decode(bytes: &[u8]) -> Result<NodeRecord, DecodeError> {
        let bad = |what: &str| DecodeError(what.to_string());
        if bytes.len() < MAGIC.len() + SIGNATURE_LEN {
            return Err(bad("too short"));
        }
        let (body, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let mut r = Reader { rest: body };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(bad("not a repy node record (wrong magic or version)"));
        }
        let len = r.u16()? as usize;
        let address = std::str::from_utf8(r.take(len)?).map_err(|_| bad("the address is not UTF-8"))?.to_string();
        let node_key = r.key()?;
        let expires = u64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
        let seq = u64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
        let count = r.u16()? as usize;
        if count > MAX_KEYS {
            return Err(DecodeError(format!("{count} keys, more than {MAX_KEYS}")));
        }
        let mut keys = BTreeMap::new();
        let mut previous: Option<[u8; 32]> = None;
        for _ in 0..count {
            let raw: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
            if previous.is_some_and(|p| p >= raw) {
                return Err(bad("user keys not in ascending order or repeated"));
            }
            previous = Some(raw);
            let key = PublicKey::from_bytes(&raw).map_err(DecodeError)?;
            let names_count = r.u16()? as usize;
            let mut names = BTreeSet::new();
            for _ in 0..names_count {
                let len = r.u8()? as usize;
                let name = std::str::from_utf8(r.take(len)?).map_err(|_| bad("a vessel name is not UTF-8"))?;
                if names.last().is_some_and(|last: &String| last.as_str() >= name) {
                    return Err(bad("vessel names not in ascending order or repeated"));
                }
                names.insert(name.to_string());
            }
            keys.insert(key, names);
        }
        if !r.rest.is_empty() {
            return Err(bad("trailing bytes before the signature"));
        }
        if !node_key.verify(body, signature) {
            return Err(bad("the signature does not verify with the node key it names"));
        }
        Ok(NodeRecord { address, node_key, expires, seq, keys })
    }
}

/// Bounds-checked reads: every shortfall is an error, never a panic.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError("truncated".into()));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn key(&mut self) -> Result<PublicKey, DecodeError> {
        let raw: [u8; 32] = self.take(32)?.try_into().expect("32 bytes");
        PublicKey::from_bytes(&raw).map_err(DecodeError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secret: &SecretKey) -> NodeRecord {
        let mut keys = BTreeMap::new();
        for seed in [7u8, 3, 200] {
            let user = SecretKey::from_seed([seed; 32]).public();
            keys.insert(user, BTreeSet::from(["v1".to_string(), format!("v{seed}")]));
        }
        NodeRecord { address: "127.0.0.1:1224".into(), node_key: secret.public(), expires: 1_800_000_000, seq: 1_800_000_000_123, keys }
    }

    #[test]
    fn round_trip() {
        let secret = SecretKey::from_seed([1; 32]);
        let record = sample(&secret);
        let bytes = record.encode(&secret).unwrap();
        assert_eq!(NodeRecord::decode(&bytes).unwrap(), record);
        // Canonical: encoding the decoded record gives the same bytes.
        assert_eq!(NodeRecord::decode(&bytes).unwrap().encode(&secret).unwrap(), bytes);
    }

    #[test]
    fn only_the_named_key_signs() {
        let secret = SecretKey::from_seed([1; 32]);
        let other = SecretKey::from_seed([2; 32]);
        assert!(sample(&secret).encode(&other).is_err());
        // Forge by hand: the body names `secret`'s key, the signature is `other`'s.
        let mut bytes = sample(&secret).unsigned().unwrap();
        let signature = other.sign(&bytes);
        bytes.extend_from_slice(&signature);
        let err = NodeRecord::decode(&bytes).unwrap_err();
        assert!(err.0.contains("signature"), "{err}");
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let secret = SecretKey::from_seed([1; 32]);
        let bytes = sample(&secret).encode(&secret).unwrap();
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            assert!(NodeRecord::decode(&changed).is_err(), "byte {i} changed and still accepted");
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let secret = SecretKey::from_seed([1; 32]);
        let bytes = sample(&secret).encode(&secret).unwrap();
        for len in 0..bytes.len() {
            assert!(NodeRecord::decode(&bytes[..len]).is_err(), "prefix of {len} bytes accepted");
        }
        let mut longer = bytes.clone();
        longer.insert(bytes.len() - SIGNATURE_LEN, 0);
        assert!(NodeRecord::decode(&longer).is_err());
        // Lengths that point past the end, at every position a length is read.
        let mut huge_address = MAGIC.to_vec();
        huge_address.extend_from_slice(&[0xff, 0xff]);
        huge_address.extend_from_slice(&[0; 64]);
        assert_eq!(NodeRecord::decode(&huge_address).unwrap_err().0, "truncated");
        // Deterministic pseudo-random garbage, with and without the magic.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..5000 {
            let mut garbage = if round % 2 == 0 { MAGIC.to_vec() } else { Vec::new() };
            let len = (state % 300) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                garbage.push(state as u8);
            }
            assert!(NodeRecord::decode(&garbage).is_err());
        }
    }

    #[test]
    fn unsorted_or_repeated_names_are_refused() {
        let secret = SecretKey::from_seed([1; 32]);
        let user = SecretKey::from_seed([9; 32]).public();
        let mut record = sample(&secret);
        record.keys = BTreeMap::from([(user, BTreeSet::from(["v1".to_string(), "v2".to_string()]))]);
        let mut body = record.unsigned().unwrap();
        // Swap the two names ("v1", "v2" are the last 6 bytes: 2 v1 2 v2) to "v2", "v1".
        let n = body.len();
        body[n - 4] = b'2';
        body[n - 1] = b'1';
        let signature = secret.sign(&body);
        body.extend_from_slice(&signature);
        assert!(NodeRecord::decode(&body).unwrap_err().0.contains("ascending"));
    }
}
