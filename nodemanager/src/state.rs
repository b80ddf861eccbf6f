//! The state directory (nodemanager.md §7): layout, configuration, the vessel table, and
//! atomic file replacement (write to `tmp/`, fsync, rename, fsync the directory).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::{self, File},
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    frame::{frame_bytes_for_file, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FRAME_BYTES},
    keys::PublicKey,
    replay::SeqTable,
};

/// What follows a vessel's name in the name of its termination report.
pub const REPORT_SUFFIX: &str = ".ended";

/// Paths inside a state directory.
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        Layout { root: root.to_path_buf() }
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("node.toml")
    }
    pub fn node_key(&self) -> PathBuf {
        self.root.join("node.key")
    }
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn seq(&self) -> PathBuf {
        self.root.join("seq.json")
    }
    /// What `repy node init` measured and donated (crate::share::Record).
    pub fn donation(&self) -> PathBuf {
        self.root.join("donation.json")
    }
    pub fn offcut(&self) -> PathBuf {
        self.root.join("offcut.restrictions")
    }
    pub fn resources_dir(&self) -> PathBuf {
        self.root.join("resources")
    }
    pub fn vessels_dir(&self) -> PathBuf {
        self.root.join("vessels")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
    pub fn restrictions(&self, vessel: &str) -> PathBuf {
        self.resources_dir().join(format!("{vessel}.restrictions"))
    }
    pub fn vessel_dir(&self, vessel: &str) -> PathBuf {
        self.vessels_dir().join(vessel)
    }
    /// The `--logfile` argument; the files are `.old` and `.new` beside it.
    pub fn log_base(&self, vessel: &str) -> PathBuf {
        self.logs_dir().join(format!("{vessel}.log"))
    }
    pub fn log_files(&self, vessel: &str) -> [PathBuf; 2] {
        repy_contract::log::files(&self.log_base(vessel))
    }
    /// Where the vessel's `repy run` reports why it was ended (repy_contract::termination).
    pub fn termination_report(&self, vessel: &str) -> PathBuf {
        self.logs_dir().join(format!("{vessel}{REPORT_SUFFIX}"))
    }
}

/// `node.toml` (§8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    pub node_name: String,
    /// Empty: the running executable.
    pub repy: String,
    pub max_frame_bytes: usize,
    pub max_file_bytes: usize,
    pub max_connections: usize,
    pub frame_timeout_s: u64,
    pub idle_timeout_s: u64,
    pub max_expiry_s: u64,
    pub max_user_keys: usize,
    pub max_owner_info: usize,
    pub max_vessels: usize,
    pub stop_grace_s: u64,
    /// Requests per second accepted from one client address (beyond: `Busy`).
    pub max_requests_per_s: u32,
    /// DHT peers to join (issue 17): `host:port` or multiaddrs. Empty, with an empty
    /// `discovery_listen` too, keeps the node off the DHT.
    pub bootstrap: Vec<String>,
    /// Where the DHT side listens (a multiaddr or `host:port`); empty: any port on all
    /// addresses when `bootstrap` is set.
    pub discovery_listen: String,
    /// The `host:port` that lookups report for this node; empty: `listen`.
    pub advertise_address: String,
    /// How long an announcement lasts unless refreshed (it is refreshed every half of it).
    pub advertise_ttl_s: u64,
    /// Find DHT peers on the local network by mDNS too (off by default: it multicasts on every
    /// interface, which a donor's network may not allow).
    pub mdns: bool,
    /// The `--percent` of the machine that `repy node init` donated (issue 17); 0: not given,
    /// the resources came from `--cpu`, `--memory`, `--disk` or their 10 % defaults. Only
    /// shown by `repy node status` (with the measured machine, in `donation.json`): changing
    /// it changes no vessel.
    pub donation_percent: f64,
    pub network: Network,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub ip: Vec<String>,
    pub iface: Vec<String>,
    pub nootherips: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:1224".into(),
            node_name: String::new(),
            repy: String::new(),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_connections: 32,
            frame_timeout_s: 30,
            idle_timeout_s: 60,
            max_expiry_s: 3600,
            max_user_keys: 16,
            max_owner_info: 256,
            max_vessels: 256,
            stop_grace_s: 5,
            max_requests_per_s: 1000,
            bootstrap: Vec::new(),
            discovery_listen: String::new(),
            advertise_address: String::new(),
            advertise_ttl_s: 300,
            mdns: false,
            donation_percent: 0.0,
            network: Network::default(),
        }
    }
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        let needed = frame_bytes_for_file(self.max_file_bytes);
        if self.max_frame_bytes < needed {
            return Err(format!(
                "max_frame_bytes {} is too small for max_file_bytes {} (an upload is base64-encoded twice: needs at least {needed})",
                self.max_frame_bytes, self.max_file_bytes
            ));
        }
        if self.max_frame_bytes > u32::MAX as usize {
            return Err(format!("max_frame_bytes {} is over 2^32-1", self.max_frame_bytes));
        }
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        if self.max_requests_per_s == 0 {
            return Err("max_requests_per_s must be at least 1".into());
        }
        if self.frame_timeout_s == 0 || self.idle_timeout_s == 0 {
            return Err("frame_timeout_s and idle_timeout_s must be at least 1".into());
        }
        if !(0.0..=100.0).contains(&self.donation_percent) {
            return Err(format!("donation_percent {} is not between 0 and 100", self.donation_percent));
        }
        if self.advertise_ttl_s < 2 {
            return Err("advertise_ttl_s must be at least 2".into());
        }
        for (field, address) in self.bootstrap.iter().map(|a| ("bootstrap", a)).chain([("discovery_listen", &self.discovery_listen)]) {
            if !address.is_empty() {
                dht_address_problem(address).map_err(|why| format!("{field} '{address}': {why}"))?;
            }
        }
        Ok(())
    }

    /// The text written by `repy node init`: every setting with its value.
    pub fn to_text(&self) -> String {
        toml::to_string(self).expect("the configuration always serialises")
    }
}

/// Why `text` is neither a multiaddr (`/ip4/.../tcp/...`) nor `host:port`, checked as far as
/// it can be without resolving names: a typo is refused when `node.toml` is read rather than
/// retried by discovery for ever. (The discovery crate parses multiaddrs fully.)
pub fn dht_address_problem(text: &str) -> Result<(), String> {
    if text.starts_with('/') {
        return if text.len() > 1 && !text.chars().any(char::is_whitespace) { Ok(()) } else { Err("not a multiaddr".into()) };
    }
    let (host, port) = text.rsplit_once(':').ok_or("expected host:port or a multiaddr such as /ip4/127.0.0.1/tcp/4001")?;
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err("the host is empty or contains a space".into());
    }
    match port.parse::<u16>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("port '{port}' is not a number from 0 to 65535")),
    }
}

/// Vessel statuses (§2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Fresh,
    Started,
    Stopped,
    Terminated,
    ThreadErr,
    Stale,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fresh => "Fresh",
            Status::Started => "Started",
            Status::Stopped => "Stopped",
            Status::Terminated => "Terminated",
            Status::ThreadErr => "ThreadErr",
            Status::Stale => "Stale",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastStart {
    pub program: String,
    pub args: Vec<String>,
    pub time: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub time: u64,
    pub reason: String,
}

/// A vessel record (§2.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VesselRecord {
    pub name: String,
    pub owner_key: PublicKey,
    pub user_keys: Vec<PublicKey>,
    pub owner_info: String,
    pub advertise: bool,
    pub status: Status,
    pub last_start: Option<LastStart>,
    pub last_exit: Option<LastExit>,
    pub pid: Option<u32>,
}

impl VesselRecord {
    pub fn new(name: String, owner_key: PublicKey) -> VesselRecord {
        VesselRecord {
            name,
            owner_key,
            user_keys: Vec::new(),
            owner_info: String::new(),
            advertise: true,
            status: Status::Fresh,
            last_start: None,
            last_exit: None,
            pid: None,
        }
    }

    pub fn is_user(&self, key: &PublicKey) -> bool {
        self.owner_key == *key || self.user_keys.contains(key)
    }
}

/// `state.json`, the commit point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeState {
    pub format: u32,
    pub next_vessel: u64,
    pub vessels: BTreeMap<String, VesselRecord>,
}

impl NodeState {
    pub fn new() -> NodeState {
        NodeState { format: 1, next_vessel: 1, vessels: BTreeMap::new() }
    }

    /// What the node announces on the DHT: every key that owns or may use a vessel whose
    /// `advertise` is on, with the names of those vessels.
    pub fn advertised(&self) -> BTreeMap<PublicKey, BTreeSet<String>> {
        let mut out: BTreeMap<PublicKey, BTreeSet<String>> = BTreeMap::new();
        for record in self.vessels.values().filter(|r| r.advertise) {
            for key in std::iter::once(&record.owner_key).chain(&record.user_keys) {
                out.entry(key.clone()).or_default().insert(record.name.clone());
            }
        }
        out
    }

    /// Takes the next vessel name.
    pub fn allocate_name(&mut self) -> String {
        let name = format!("v{}", self.next_vessel);
        self.next_vessel += 1;
        name
    }

    /// Records sorted by vessel number.
    pub fn sorted(&self) -> Vec<&VesselRecord> {
        let mut list: Vec<&VesselRecord> = self.vessels.values().collect();
        list.sort_by_key(|r| vessel_number(&r.name));
        list
    }
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState::new()
    }
}

pub fn vessel_number(name: &str) -> u64 {
    name.strip_prefix('v').and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

/// Replaces `target` atomically: the data goes to a file in `tmp`, is synced, renamed over the
/// target, and the target's directory is synced.
pub fn write_atomic(tmp: &Path, target: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::Builder::new().prefix(".write-").tempfile_in(tmp)?;
    file.write_all(data)?;
    file.as_file().sync_all()?;
    file.persist(target).map_err(|e| e.error)?;
    sync_dir(target.parent().unwrap_or(Path::new(".")))
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn load_state(layout: &Layout) -> Result<NodeState, String> {
    let path = layout.state();
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let state: NodeState = serde_json::from_str(&text).map_err(|e| format!("'{}' is not a valid vessel table: {e}", path.display()))?;
    if state.format != 1 {
        return Err(format!("'{}' has unknown format {}", path.display(), state.format));
    }
    for (name, record) in &state.vessels {
        if *name != record.name || vessel_number(name) == u64::MAX || vessel_number(name) >= state.next_vessel {
            return Err(format!("'{}': inconsistent vessel entry '{name}'", path.display()));
        }
    }
    Ok(state)
}

pub fn load_seq(layout: &Layout) -> Result<SeqTable, String> {
    let path = layout.seq();
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("'{}' is not a valid sequence table: {e}", path.display()))
}

pub fn load_config(layout: &Layout) -> Result<Config, String> {
    let path = layout.config();
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    Config::parse(&text).map_err(|e| format!("'{}': {e}", path.display()))
}

/// An exclusive lock on `STATE/lock`, held while the value lives.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

pub fn lock(layout: &Layout) -> Result<StateLock, String> {
    let path = layout.lock();
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open '{}': {e}", path.display()))?;
    // std's lock is flock on Unix and LockFileEx on Windows.
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(format!(
            "state directory '{}' is in use by another node manager (lock '{}' is held)",
            layout.root.display(),
            path.display()
        )),
        Err(fs::TryLockError::Error(e)) => Err(format!("cannot lock '{}': {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let target = dir.path().join("state.json");
        write_atomic(&tmp, &target, b"first").unwrap();
        // A reader holding the old file keeps seeing the old contents while it is replaced.
        let old = File::open(&target).unwrap();
        write_atomic(&tmp, &target, b"second version").unwrap();
        let mut text = String::new();
        use std::io::Read;
        (&old).read_to_string(&mut text).unwrap();
        assert_eq!(text, "first");
        assert_eq!(fs::read(&target).unwrap(), b"second version");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
        // Writing into a missing directory fails without touching the target.
        assert!(write_atomic(&dir.path().join("nope"), &target, b"x").is_err());
        assert_eq!(fs::read(&target).unwrap(), b"second version");
    }

    #[test]
    fn state_round_trips_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        fs::create_dir(layout.tmp()).unwrap();
        let mut state = NodeState::new();
        let key = SecretKey::generate().public();
        for _ in 0..11 {
            let name = state.allocate_name();
            state.vessels.insert(name.clone(), VesselRecord::new(name, key.clone()));
        }
        write_atomic(&layout.tmp(), &layout.state(), &serde_json::to_vec(&state).unwrap()).unwrap();
        let back = load_state(&layout).unwrap();
        assert_eq!(back, state);
        let names: Vec<&str> = back.sorted().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[..3], ["v1", "v2", "v3"]);
        assert_eq!(names[10], "v11");
        fs::write(layout.state(), b"{\"format\": 1}").unwrap();
        assert!(load_state(&layout).unwrap_err().contains("state.json"));
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(Config::parse(&c.to_text()).unwrap(), c);
        let c = Config::parse("listen = \"0.0.0.0:9\"\n[network]\nip = [\"1.2.3.4\"]\n").unwrap();
        assert_eq!(c.network.ip, ["1.2.3.4"]);
        assert!(Config::parse("bogus = 1\n").unwrap_err().contains("bogus"));
        assert!(Config::parse("max_frame_bytes = 1000\n").unwrap_err().contains("max_frame_bytes"));
        // The old default frame (12 MiB) cannot carry an 8 MiB upload: refused at start.
        let e = Config::parse(&format!("max_frame_bytes = {}\n", 12 * 1024 * 1024)).unwrap_err();
        assert!(e.contains("max_frame_bytes 12582912") && e.contains("max_file_bytes 8388608"), "{e}");
        let needed = frame_bytes_for_file(1_000_000);
        assert!(Config::parse(&format!("max_file_bytes = 1000000\nmax_frame_bytes = {needed}\n")).is_ok());
        assert!(Config::parse(&format!("max_file_bytes = 1000000\nmax_frame_bytes = {}\n", needed - 1)).is_err());
    }

    #[test]
    fn bootstrap_addresses_are_checked_when_read() {
        let ok = "bootstrap = [\"127.0.0.1:4001\", \"/ip4/10.0.0.1/tcp/4001/p2p/12D3KooW\", \"dht.example.org:4001\"]\n";
        assert_eq!(Config::parse(ok).unwrap().bootstrap.len(), 3);
        let e = Config::parse("bootstrap = [\"127.0.0.1:4001\", \"localhost\"]\n").unwrap_err();
        assert!(e.starts_with("bootstrap 'localhost': expected host:port or a multiaddr"), "{e}");
        let e = Config::parse("bootstrap = [\"h:40o1\"]\n").unwrap_err();
        assert!(e.contains("bootstrap 'h:40o1': port '40o1'"), "{e}");
        let e = Config::parse("discovery_listen = \"/ \"\n").unwrap_err();
        assert!(e.contains("discovery_listen '/ ': not a multiaddr"), "{e}");
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let held = lock(&layout).unwrap();
        assert!(lock(&layout).unwrap_err().contains("in use"));
        drop(held);
        assert!(lock(&layout).is_ok());
    }
}
