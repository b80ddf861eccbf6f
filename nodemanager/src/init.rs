//! `repy node init` and `repy node status` (nodemanager.md §8).

use std::{
    fs,
    path::{Path, PathBuf},
};

use repy_policy::{Micro, Resource};
use repy_portability::machine;

use crate::{
    keys::{self, SecretKey},
    replay::{SeqEntry, SeqTable},
    resources::{self, Donation},
    state::{self, Config, Layout, NodeState, Status, VesselRecord},
};

pub struct InitOptions {
    pub dir: PathBuf,
    pub owner: PathBuf,
    pub listen: Option<String>,
    pub vessels: u64,
    pub cpu: Option<String>,
    pub memory: Option<u64>,
    pub disk: Option<u64>,
    pub ports: Option<String>,
    /// DHT peers to join (`node.toml`'s `bootstrap`); empty keeps the node off the DHT unless
    /// `discovery_listen` is set.
    pub bootstrap: Vec<String>,
    /// Where the DHT side listens (`node.toml`'s `discovery_listen`).
    pub discovery_listen: Option<String>,
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid --ports '{text}' (expected A-B with 1 <= A <= B <= 65535)");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// Creates a state directory; returns a summary for the user.
pub fn init(opts: &InitOptions) -> Result<String, String> {
    let dir = &opts.dir;
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(|e| format!("cannot read '{}': {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!("state directory '{}' is not empty; refusing to initialise it", dir.display()));
        }
    } else {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    }
    let owner = keys::read_public_key(&opts.owner)?;
    let mut config = Config::default();
    if let Some(listen) = &opts.listen {
        listen.parse::<std::net::SocketAddr>().map_err(|e| format!("invalid --listen '{listen}': {e} (expected IP:PORT)"))?;
        config.listen = listen.clone();
    }
    config.bootstrap = opts.bootstrap.clone();
    if let Some(listen) = &opts.discovery_listen {
        config.discovery_listen = listen.clone();
    }
    config.validate().map_err(|e| format!("invalid settings: {e}"))?;
    let cpus = std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1);
    let cpu = match &opts.cpu {
        Some(text) => Micro::parse(text).map_err(|e| format!("invalid --cpu '{text}': {e}"))?,
        None => Micro::from_micros(cpus * 100_000),
    };
    let donation = Donation {
        cpu,
        memory: match opts.memory {
            Some(m) => m,
            None => machine::physical_memory().map_err(|e| format!("cannot measure physical memory ({e}): give --memory"))? / 10,
        },
        disk: match opts.disk {
            Some(d) => d,
            None => machine::free_disk_space(dir).map_err(|e| format!("cannot measure free space of '{}': {e}", dir.display()))? / 10,
        },
        ports: parse_range(opts.ports.as_deref().unwrap_or("63100-63199"))?,
    };
    let offcut = resources::parse_offcut(resources::DEFAULT_OFFCUT).expect("the default offcut is valid");
    let shares = resources::initial_shares(&donation, opts.vessels, &offcut)?;

    let layout = Layout::new(dir);
    for sub in [layout.resources_dir(), layout.vessels_dir(), layout.logs_dir(), layout.tmp()] {
        fs::create_dir_all(&sub).map_err(|e| format!("cannot create '{}': {e}", sub.display()))?;
    }
    let write = |path: PathBuf, data: &[u8]| {
        state::write_atomic(&layout.tmp(), &path, data).map_err(|e| format!("cannot write '{}': {e}", path.display()))
    };
    let node_key = SecretKey::generate();
    keys::write_new(&layout.node_key(), format!("{}\n", node_key.seed_text()).as_bytes(), 0o600)?;
    write(layout.config(), config.to_text().as_bytes())?;
    write(layout.offcut(), offcut.to_canonical_text().as_bytes())?;
    let mut node = NodeState::new();
    for share in &shares {
        let name = node.allocate_name();
        write(layout.restrictions(&name), share.to_canonical_text().as_bytes())?;
        fs::create_dir_all(layout.vessel_dir(&name)).map_err(|e| format!("cannot create a vessel directory: {e}"))?;
        node.vessels.insert(name.clone(), VesselRecord::new(name, owner.clone()));
    }
    // The owner has signed nothing here yet: an empty durable entry says so, so that its first
    // request is not taken for one whose history a restart may have lost (see crate::replay).
    let mut seq = SeqTable::new();
    seq.keys.insert(owner.as_str().to_string(), SeqEntry::default());
    write(layout.seq(), &serde_json::to_vec(&seq).expect("serialises"))?;
    write(layout.state(), &serde_json::to_vec_pretty(&node).expect("serialises"))?;
    let share = &shares[0];
    Ok(format!(
        "initialised node state in '{}': node key {}, listening on {}, {} vessels owned by {} (each: cpu {}, memory {}, diskused {})",
        dir.display(),
        node_key.public(),
        config.listen,
        shares.len(),
        owner.fingerprint(),
        share.value(Resource::Cpu),
        share.value(Resource::Memory),
        share.value(Resource::Diskused),
    ))
}

/// The lines printed by `repy node status`.
pub fn status(dir: &Path) -> Result<String, String> {
    let layout = Layout::new(dir);
    let node = state::load_state(&layout)?;
    let config = state::load_config(&layout)?;
    let key = keys::read_secret_key(&layout.node_key())?.public();
    let name = if config.node_name.is_empty() { String::new() } else { format!("'{}' ", config.node_name) };
    let mut out = format!("node {name}(key {key}), listening on {}\n", config.listen);
    out.push_str(&format!("{:<6} {:<10} {:<8} {:>25} {:>10} {:>12}\n", "VESSEL", "STATUS", "OWNER", "DISK USED/LIMIT", "CPU(s)", "MEMORY"));
    for record in node.sorted() {
        let used = repy_contract::disk::vessel_disk_usage(&layout.vessel_dir(&record.name)).unwrap_or(0);
        let limit = fs::read_to_string(layout.restrictions(&record.name))
            .ok()
            .and_then(|t| resources::parse_text(&t).ok())
            .map(|r| r.value(Resource::Diskused).whole_units().to_string())
            .unwrap_or_else(|| "?".into());
        let (cpu, mem) = match (record.status, record.pid.and_then(|pid| machine::process_tree_usage(pid).ok())) {
            (Status::Started, Some((cpu, rss))) => (format!("{:.2}", cpu.as_secs_f64()), format!("{rss}")),
            (Status::Started, None) => ("-".into(), "(no process)".into()),
            _ => ("-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<6} {:<10} {:<8} {:>25} {:>10} {:>12}\n",
            record.name,
            record.status.as_str(),
            record.owner_key.fingerprint(),
            format!("{used}/{limit}"),
            cpu,
            mem
        ));
    }
    Ok(out)
}
