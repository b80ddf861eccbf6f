//! Ed25519 keys (nodemanager.md §1): public keys as 44-character standard base64, secret keys
//! as base64 of the 32-byte seed, key files, and short fingerprints for logs.

use std::{
    fmt,
    io::Write,
    path::{Path, PathBuf},
};

use base64::{engine::general_purpose::STANDARD, Engine};
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A public key in its only accepted text form: standard base64 with padding of 32 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(String);

impl PublicKey {
    /// Accepts exactly the canonical text of 32 bytes; anything else is an error naming it.
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let shown = shorten(text);
        if text.len() != 44 {
            return Err(format!("'{shown}' is not a public key (expected 44 base64 characters, got {})", text.len()));
        }
        let bytes = STANDARD.decode(text).map_err(|e| format!("'{shown}' is not a public key (invalid base64: {e})"))?;
        if bytes.len() != 32 || STANDARD.encode(&bytes) != text {
            return Err(format!("'{shown}' is not a public key (not the base64 of 32 bytes)"));
        }
        PublicKey::from_bytes(&bytes.try_into().expect("length checked"))
    }

    /// The key of 32 bytes, unless they encode a point of small order (see [`has_small_order`]).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, String> {
        let text = STANDARD.encode(bytes);
        if has_small_order(bytes) {
            return Err(format!("'{text}' is a weak public key (a point of small order, whose signatures anyone can forge)"));
        }
        Ok(PublicKey(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, as shown in logs and by `repy node status`.
    pub fn fingerprint(&self) -> &str {
        &self.0[..8]
    }

    /// Whether `sig` is this key's Ed25519 signature of `message`, verified strictly (as
    /// ed25519-dalek's `verify_strict`): ring already refuses an `S` that is not reduced and an
    /// `R` that is not canonically encoded; a small-order `R` is refused here, and the key
    /// cannot be of small order (refused when it was parsed).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let bytes: [u8; 32] = STANDARD.decode(&self.0).expect("checked at parse").try_into().expect("checked at parse");
        let Some(r) = sig.get(..32) else { return false };
        if sig.len() != 64 || has_small_order(r.try_into().expect("32 bytes")) || has_small_order(&bytes) {
            return false;
        }
        UnparsedPublicKey::new(&ED25519, bytes).verify(message, sig).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.0)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PublicKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The encodings of the eight points of small order (the torsion subgroup: the identity, the
/// point of order 2, two of order 4, four of order 8), non-canonical ones (y ≥ p) included,
/// with the sign bit of x (the top bit of the last byte) cleared; as libsodium's
/// `ge25519_has_small_order`. With such a key `A`, `[S]B = R + [k]A` holds for `R` = `[S]B`
/// whatever the message: (R = identity, S = 0) "verifies" everything.
const SMALL_ORDER: [[u8; 32]; 7] = {
    const fn le(first: &[u8], fill: u8, last: u8) -> [u8; 32] {
        let mut out = [fill; 32];
        let mut i = 0;
        while i < first.len() {
            out[i] = first[i];
            i += 1;
        }
        out[31] = last;
        out
    }
    [
        // y = 0: order 4.
        le(&[], 0, 0),
        // y = 1: the identity.
        le(&[1], 0, 0),
        // The two y of the points of order 8.
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3,
            0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c,
            0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
        ],
        // y = p - 1: order 2.
        le(&[0xec], 0xff, 0x7f),
        // y = p (non-canonical 0) and p + 1 (non-canonical 1).
        le(&[0xed], 0xff, 0x7f),
        le(&[0xee], 0xff, 0x7f),
    ]
};

/// Whether the 32 bytes encode a point of small order (whatever the sign bit of x says).
pub fn has_small_order(point: &[u8; 32]) -> bool {
    SMALL_ORDER.iter().any(|weak| weak[..31] == point[..31] && weak[31] == point[31] & 0x7f)
}

/// An Ed25519 key pair built from its 32-byte seed.
pub struct SecretKey {
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl SecretKey {
    pub fn generate() -> SecretKey {
        let mut seed = [0u8; 32];
        SystemRandom::new().fill(&mut seed).expect("the system random generator failed");
        SecretKey::from_seed(seed)
    }

    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32-byte seed is a valid Ed25519 key");
        SecretKey { seed, pair }
    }

    /// Parses the text of a `.privatekey` file (base64 of the seed, surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = text.trim();
        let bytes = STANDARD.decode(text).map_err(|e| format!("not a private key (invalid base64: {e})"))?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("not a private key (expected a 32-byte seed, got {} bytes)", b.len()))?;
        Ok(SecretKey::from_seed(seed))
    }

    pub fn seed_text(&self) -> String {
        STANDARD.encode(self.seed)
    }

    pub fn public(&self) -> PublicKey {
        let bytes: [u8; 32] = self.pair.public_key().as_ref().try_into().expect("Ed25519 public keys have 32 bytes");
        PublicKey::from_bytes(&bytes).expect("the key of a seed is of prime order")
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Reads a `.publickey` file.
pub fn read_public_key(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read key file '{}': {e}", path.display()))?;
    PublicKey::parse(text.trim_end_matches(['\n', '\r'])).map_err(|e| format!("key file '{}': {e}", path.display()))
}

/// Reads a `.privatekey` file.
pub fn read_secret_key(path: &Path) -> Result<SecretKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read key file '{}': {e}", path.display()))?;
    SecretKey::parse(&text).map_err(|e| format!("key file '{}': {e}", path.display()))
}

/// Writes `DIR/NAME.publickey` and `DIR/NAME.privatekey` (mode 0600), refusing to overwrite.
pub fn write_key_pair(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("invalid key name '{name}' (a file name without '/')"));
    }
    let public_path = dir.join(format!("{name}.publickey"));
    let private_path = dir.join(format!("{name}.privatekey"));
    for path in [&public_path, &private_path] {
        if path.exists() {
            return Err(format!("'{}' already exists; refusing to overwrite a key", path.display()));
        }
    }
    let key = SecretKey::generate();
    write_new(&private_path, format!("{}\n", key.seed_text()).as_bytes(), 0o600)?;
    write_new(&public_path, format!("{}\n", key.public()).as_bytes(), 0o644)?;
    Ok((public_path, private_path))
}

/// Creates a new file with `mode` (never replaces one), writes and syncs it.
pub fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    let mut file = repy_portability::files::create_new(path, mode).map_err(|e| format!("cannot create '{}': {e}", path.display()))?;
    file.write_all(data).and_then(|_| file.sync_all()).map_err(|e| format!("cannot write '{}': {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_text_is_strict() {
        let key = SecretKey::generate().public();
        assert_eq!(key.as_str().len(), 44);
        assert_eq!(PublicKey::parse(key.as_str()).unwrap(), key);
        assert!(PublicKey::parse(&key.as_str()[..43]).unwrap_err().contains("44"));
        // 33 bytes of base64 without padding, or a non-canonical last character.
        assert!(PublicKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(PublicKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=").is_err());
        assert!(PublicKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap_err().contains("weak"));
        assert!(PublicKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=").is_ok());
        assert!(PublicKey::parse("!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap_err().contains("base64"));
    }

    /// The identity point and (R = identity, S = 0): a "signature" of every message.
    fn identity_forgery() -> ([u8; 32], [u8; 64]) {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity);
        (identity, sig)
    }

    #[test]
    fn small_order_keys_are_refused() {
        // ring alone accepts the forgery: the check below is what stops it.
        let (identity, forged) = identity_forgery();
        assert!(UnparsedPublicKey::new(&ED25519, identity).verify(b"any message", &forged).is_ok());
        for weak in SMALL_ORDER {
            for sign in [0, 0x80] {
                let mut bytes = weak;
                bytes[31] |= sign;
                assert!(has_small_order(&bytes));
                let e = PublicKey::from_bytes(&bytes).unwrap_err();
                assert!(e.contains("weak") && e.contains(&STANDARD.encode(bytes)), "{e}");
                let e = PublicKey::parse(&STANDARD.encode(bytes)).unwrap_err();
                assert!(e.contains("weak public key"), "{e}");
            }
        }
        // Generated keys never are.
        for _ in 0..64 {
            let key = SecretKey::generate().public();
            assert!(!has_small_order(&STANDARD.decode(key.as_str()).unwrap().try_into().unwrap()));
        }
    }

    #[test]
    fn a_small_order_r_never_verifies() {
        let key = SecretKey::generate();
        let (_, forged) = identity_forgery();
        assert!(!key.public().verify(b"hello", &forged));
        for weak in SMALL_ORDER {
            let mut sig = key.sign(b"hello");
            sig[..32].copy_from_slice(&weak);
            assert!(!key.public().verify(b"hello", &sig));
        }
        assert!(!key.public().verify(b"hello", &key.sign(b"hello")[..63]));
        assert!(!key.public().verify(b"hello", &[]));
    }

    #[test]
    fn sign_and_verify() {
        let key = SecretKey::generate();
        let sig = key.sign(b"hello");
        assert_eq!(sig.len(), 64);
        assert!(key.public().verify(b"hello", &sig));
        assert!(!key.public().verify(b"hellO", &sig));
        assert!(!SecretKey::generate().public().verify(b"hello", &sig));
        let again = SecretKey::parse(&format!("{}\n", key.seed_text())).unwrap();
        assert_eq!(again.public(), key.public());
    }

    #[test]
    fn key_files_round_trip_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let (public, private) = write_key_pair(dir.path(), "alice").unwrap();
        let secret = read_secret_key(&private).unwrap();
        assert_eq!(read_public_key(&public).unwrap(), secret.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(write_key_pair(dir.path(), "alice").unwrap_err().contains("already exists"));
        std::fs::write(dir.path().join("bad.publickey"), "hello\n").unwrap();
        let err = read_public_key(&dir.path().join("bad.publickey")).unwrap_err();
        assert!(err.contains("bad.publickey") && err.contains("'hello'"), "{err}");
    }
}
