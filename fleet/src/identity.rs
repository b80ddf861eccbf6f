//! The key a fleet acts with: `NAME.privatekey` (required) and `NAME.publickey` (checked if present).

use std::path::PathBuf;

use repy_nodemanager::keys::{self, PublicKey, SecretKey};

pub struct Identity {
    pub secret: SecretKey,
    pub public: PublicKey,
    /// The private key file it was read from.
    pub path: PathBuf,
}

/// Loads the key NAME: a path prefix (`alice`, `keys/alice`); a trailing `.privatekey` or
/// `.publickey` is accepted too.
pub fn load(name: &str) -> Result<Identity, String> {
    let base = name.strip_suffix(".privatekey").or_else(|| name.strip_suffix(".publickey")).unwrap_or(name);
    if base.is_empty() {
        return Err("the key name is empty".into());
    }
    let private = PathBuf::from(format!("{base}.privatekey"));
    let public = PathBuf::from(format!("{base}.publickey"));
    if !private.exists() {
        return Err(format!(
            "key '{name}': private key file '{}' not found (create a key pair with `repy keygen {base}`, or get \
             the node owner to add your public key to their vessels)",
            private.display()
        ));
    }
    let secret = keys::read_secret_key(&private)?;
    let derived = secret.public();
    if public.exists() {
        let stored = keys::read_public_key(&public)?;
        if stored != derived {
            return Err(format!(
                "key '{name}': '{}' does not belong to '{}' (public key {} expected, file has {})",
                public.display(),
                private.display(),
                derived.fingerprint(),
                stored.fingerprint()
            ));
        }
    }
    Ok(Identity { secret, public: derived, path: private })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_checks_pairs() {
        let dir = tempfile::tempdir().unwrap();
        keys::write_key_pair(dir.path(), "alice").unwrap();
        keys::write_key_pair(dir.path(), "bob").unwrap();
        let prefix = dir.path().join("alice").display().to_string();
        let id = load(&prefix).unwrap();
        assert_eq!(id.public, keys::read_public_key(&dir.path().join("alice.publickey")).unwrap());
        assert_eq!(load(&format!("{prefix}.privatekey")).unwrap().public, id.public);

        let e = load(&dir.path().join("carol").display().to_string()).err().unwrap();
        assert!(e.contains("carol.privatekey' not found") && e.contains("repy keygen"), "{e}");

        std::fs::copy(dir.path().join("bob.publickey"), dir.path().join("alice.publickey")).unwrap();
        let e = load(&prefix).err().unwrap();
        assert!(e.contains("does not belong to"), "{e}");
    }
}
