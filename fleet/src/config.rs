//! The client's settings file, `~/.config/repy/client.toml` (see
//! [`repy_portability::paths::config_dir`]): defaults for what would otherwise be typed on
//! every `repy fleet` and `repy lookup` command line.
//!
//! ```toml
//! # DHT peers to find vessels through when neither --nodes nor --bootstrap is given
//! bootstrap = ["dht.example.org:4001", "/ip4/192.0.2.7/tcp/4001"]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// Bootstrap addresses (`host:port`, a multiaddr or `@FILE`), as `--bootstrap` takes them.
    pub bootstrap: Vec<String>,
}

/// The settings file's place, if the environment names a home.
pub fn default_path() -> Option<PathBuf> {
    repy_portability::paths::config_dir("repy").map(|dir| dir.join("client.toml"))
}

impl ClientConfig {
    /// The settings at `path`; a missing file means the defaults, a malformed one is an error
    /// that names the file and the line.
    pub fn load(path: &Path) -> Result<ClientConfig, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClientConfig::default()),
            Err(e) => return Err(format!("cannot read '{}': {e}", path.display())),
        };
        toml::from_str(&text).map_err(|e| format!("'{}': {}", path.display(), e.to_string().trim_end()))
    }

    /// The settings of the user running repy ([`default_path`]).
    pub fn load_default() -> Result<ClientConfig, String> {
        default_path().map_or(Ok(ClientConfig::default()), |path| ClientConfig::load(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_defaults_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        assert_eq!(ClientConfig::load(&path).unwrap(), ClientConfig::default());
        std::fs::write(&path, "# mine\nbootstrap = [\"127.0.0.1:4001\"]\n").unwrap();
        assert_eq!(ClientConfig::load(&path).unwrap().bootstrap, ["127.0.0.1:4001"]);
        std::fs::write(&path, "bootstrap = [\"a:1\"]\nbootstap = []\n").unwrap();
        let e = ClientConfig::load(&path).unwrap_err();
        assert!(e.starts_with(&format!("'{}'", path.display())) && e.contains("line 2") && e.contains("bootstap"), "{e}");
    }
}
