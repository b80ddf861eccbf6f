//! Ed25519 keys (nodemanager.md §1): public keys as 44-character standard base64, secret keys
//! as base64 of the 32-byte seed, key files, and short fingerprints for logs.

use std::{
    fmt,
    fs::OpenOptions,
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
        Ok(PublicKey(text.to_string()))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> PublicKey {
        PublicKey(STANDARD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, as shown in logs and by `repy node status`.
    pub fn fingerprint(&self) -> &str {
        &self.0[..8]
    }

    /// Whether `sig` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let bytes = STANDARD.decode(&self.0).expect("checked at parse");
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
        PublicKey::from_bytes(&bytes)
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
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot create '{}': {e}", path.display()))?;
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
        assert!(PublicKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok());
        assert!(PublicKey::parse("!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap_err().contains("base64"));
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
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(write_key_pair(dir.path(), "alice").unwrap_err().contains("already exists"));
        std::fs::write(dir.path().join("bad.publickey"), "hello\n").unwrap();
        let err = read_public_key(&dir.path().join("bad.publickey")).unwrap_err();
        assert!(err.contains("bad.publickey") && err.contains("'hello'"), "{err}");
    }
}
