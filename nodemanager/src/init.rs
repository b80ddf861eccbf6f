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
    share::{self, Explicit, Machine, Record},
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

/// Creates a state directory with the 10 % defaults; returns a summary for the user.
pub fn init(opts: &InitOptions) -> Result<String, String> {
    init_donating(opts, None)
}

/// [`init`] donating `percent` (the text of `--percent`) of the machine when given. Apart
/// from [`InitOptions`] because the testbed builds those field by field.
pub fn init_donating(opts: &InitOptions, percent: Option<&str>) -> Result<String, String> {
    let dir = &opts.dir;
    let percent_value = percent.map(share::parse_percent).transpose()?;
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
    let explicit = Explicit {
        cpu: opts.cpu.as_deref().map(|text| Micro::parse(text).map_err(|e| format!("invalid --cpu '{text}': {e}"))).transpose()?,
        memory: opts.memory,
        disk: opts.disk,
    };
    let machine = Machine::measure(dir, explicit)?;
    let totals = share::totals(&machine, percent_value, explicit);
    let donation = Donation {
        cpu: totals.cpu,
        memory: totals.memory,
        disk: totals.disk,
        net: totals.net,
        ports: parse_range(opts.ports.as_deref().unwrap_or("63100-63199"))?,
    };
    if let Some(p) = percent_value {
        config.donation_percent = p.as_f64();
    }
    let given = [("cpu", explicit.cpu.is_some()), ("memory", explicit.memory.is_some()), ("disk", explicit.disk.is_some())];
    let record = Record {
        percent: percent_value.map(|p| p.to_string()),
        machine,
        totals,
        explicit: given.iter().filter(|(_, g)| *g).map(|(name, _)| name.to_string()).collect(),
        vessels: opts.vessels,
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
    write(layout.donation(), &serde_json::to_vec_pretty(&record).expect("serialises"))?;
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
        "initialised node state in '{}': node key {}, listening on {}, {} vessels owned by {} (each: cpu {}, memory {}, diskused {}, netsend and netrecv {})\n{}",
        dir.display(),
        node_key.public(),
        config.listen,
        shares.len(),
        owner.fingerprint(),
        share.value(Resource::Cpu),
        share.value(Resource::Memory),
        share.value(Resource::Diskused),
        share.value(Resource::Netsend),
        record.summary(),
    ))
}

/// The lines printed by `repy node status`: the share (what was donated, of what), the node,
/// then one line a vessel with what it holds beside what it uses.
pub fn status(dir: &Path) -> Result<String, String> {
    let layout = Layout::new(dir);
    let node = state::load_state(&layout)?;
    let config = state::load_config(&layout)?;
    let key = keys::read_secret_key(&layout.node_key())?.public();
    let mut out = match fs::read(layout.donation()) {
        Ok(data) => {
            let record: Record = serde_json::from_slice(&data)
                .map_err(|e| format!("'{}' is not a valid donation record: {e}", layout.donation().display()))?;
            format!("{}\n", record.summary())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "share: not recorded (initialised by an older repy)\n".to_string(),
        Err(e) => return Err(format!("cannot read '{}': {e}", layout.donation().display())),
    };
    let name = if config.node_name.is_empty() { String::new() } else { format!("'{}' ", config.node_name) };
    out.push_str(&format!("node {name}(key {key}), listening on {}\n", config.listen));
    let row = |cells: [&str; 8]| {
        format!(
            "{:<6} {:<10} {:<8} {:>5} {:>8} {:>17} {:>17} {:>21}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
        )
    };
    out.push_str(&row(["VESSEL", "STATUS", "OWNER", "CPU", "CPU(s)", "MEMORY USED/LIMIT", "DISK USED/LIMIT", "NETSEND/NETRECV LIMIT"]));
    for record in node.sorted() {
        let held = fs::read_to_string(layout.restrictions(&record.name)).ok().and_then(|t| resources::parse_text(&t).ok());
        let limit = |res: Resource, rate: bool| match &held {
            Some(r) => format!("{}{}", share::bytes(r.value(res).whole_units(), ""), if rate { "/s" } else { "" }),
            None => "?".into(),
        };
        let cpu_held = held.as_ref().map(|r| r.value(Resource::Cpu).to_string()).unwrap_or_else(|| "?".into());
        let disk_used = repy_contract::disk::vessel_disk_usage(&layout.vessel_dir(&record.name)).unwrap_or(0);
        let (cpu_used, mem_used) = match (record.status, record.pid.and_then(|pid| machine::process_tree_usage(pid).ok())) {
            (Status::Started, Some((cpu, rss))) => (format!("{:.2}", cpu.as_secs_f64()), share::bytes(rss, "")),
            (Status::Started, None) => ("-".into(), "(gone)".into()),
            _ => ("-".into(), "-".into()),
        };
        out.push_str(&row([
            &record.name,
            record.status.as_str(),
            &record.owner_key.fingerprint(),
            &cpu_held,
            &cpu_used,
            &format!("{mem_used}/{}", limit(Resource::Memory, false)),
            &format!("{}/{}", share::bytes(disk_used, ""), limit(Resource::Diskused, false)),
            &format!("{}/{}", limit(Resource::Netsend, true), limit(Resource::Netrecv, true)),
        ]));
    }
    Ok(out)
}
