//! `repy testbed up|down`: N node managers on loopback, started as detached background
//! processes so that they outlive `testbed up`.
//!
//! Layout of DIR: `nodes.txt` (one `127.0.0.1:PORT` a line), `bootstrap.txt` (each node's DHT
//! address, a multiaddr a line, for `--bootstrap @DIR/bootstrap.txt`), `nodeI/` (state
//! directory of node I, from `repy node init`), `nodeI.log` (its stderr), `nodeI.pid` (while it
//! runs), and the owner key `NAME.publickey` / `NAME.privatekey` when it was created here.
//!
//! Each node takes a block of `2 + 10 x K` consecutive free ports: the first for the node
//! manager, then 10 ports per vessel (`messport` and `connport`), then its DHT port.
//!
//! The nodes form one DHT among themselves: each lists every other node's DHT address as its
//! bootstrap peers, so that any of them, restarted alone, finds the rest.
//!
//! With `--netns` ([`crate::testbed_net`]) each node manager runs in a network namespace with an
//! address of its own and uses the same ports as the others (1224, 4001, vessels from 63100).

use std::{
    fs,
    io::{Read, Seek, SeekFrom},
    net::{TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use repy_nodemanager::{
    client::Client,
    init::{self, InitOptions},
    keys,
    protocol::GetVessels,
    state::{self, Layout},
};
use repy_portability::{
    child::{detach_from_session, repy_command, signal_process, Signal},
    netns,
};

use crate::testbed_net::{self, VirtualNetwork};

/// Ports per vessel.
pub const PORTS_PER_VESSEL: u16 = 10;
/// Default pool the node blocks are taken from (above Linux's ephemeral range).
pub const DEFAULT_POOL: (u16, u16) = (61000, 65000);

pub struct UpOptions {
    pub dir: PathBuf,
    pub nodes: usize,
    pub owner: String,
    pub vessels: u64,
    pub pool: (u16, u16),
    /// The `repy` executable that runs the node managers.
    pub repy: PathBuf,
    /// Seconds an announcement on the DHT lasts unless refreshed (`advertise_ttl_s`); None:
    /// the node manager's default.
    pub advertise_ttl: Option<u64>,
    /// Each node in a network namespace of its own ([`crate::testbed_net`]; root only).
    pub netns: bool,
    /// The nodes find each other by mDNS instead of bootstrap lists (with `netns` only: on
    /// loopback every testbed of the machine would meet).
    pub mdns: bool,
}

fn state_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}"))
}
fn pid_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}.pid"))
}
fn log_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}.log"))
}

/// The file of DHT addresses that `--bootstrap @FILE` reads.
pub fn bootstrap_file(dir: &Path) -> PathBuf {
    dir.join("bootstrap.txt")
}

/// Parses a port pool `A-B`.
pub fn parse_pool(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid port range '{text}' (expected A-B with 1 <= A <= B <= 65535)");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

/// `count` blocks of `size` consecutive free ports inside `pool`, scanned from a varying start
/// so that testbeds started at the same time rarely try the same ports.
pub fn allocate_blocks(count: usize, size: u16, pool: (u16, u16)) -> Result<Vec<u16>, String> {
    let span = u32::from(pool.1) - u32::from(pool.0) + 1;
    let size32 = u32::from(size);
    if size32 == 0 || span < size32 * count as u32 {
        return Err(format!("the port range {}-{} is too small for {count} blocks of {size} ports", pool.0, pool.1));
    }
    let slots = span / size32;
    let noise = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let first = noise % slots;
    let mut bases = Vec::new();
    for k in 0..slots {
        let base = u32::from(pool.0) + ((first + k) % slots) * size32;
        let base = base as u16;
        if (0..size).all(|o| port_free(base + o)) {
            bases.push(base);
            if bases.len() == count {
                return Ok(bases);
            }
        }
    }
    Err(format!(
        "found only {} free blocks of {size} ports in {}-{} ({count} needed); free some ports or give another range with --ports",
        bases.len(),
        pool.0,
        pool.1
    ))
}

/// The owner's public key file: `NAME.publickey` if it exists as given, else `DIR/NAME.publickey`
/// (created with its private key if missing). Returns (public key file, key prefix for --key).
fn owner_key(dir: &Path, owner: &str) -> Result<(PathBuf, String), String> {
    let given = PathBuf::from(format!("{owner}.publickey"));
    if given.exists() {
        return Ok((given, owner.to_string()));
    }
    let here = dir.join(format!("{owner}.publickey"));
    let prefix = dir.join(owner).display().to_string();
    if here.exists() {
        return Ok((here, prefix));
    }
    if owner.contains('/') {
        return Err(format!("owner key '{}' not found", given.display()));
    }
    keys::write_key_pair(dir, owner)?;
    Ok((here, prefix))
}

/// Starts the testbed (or restarts a stopped one in DIR); returns a summary for the user.
pub fn up(opts: &UpOptions) -> Result<String, String> {
    if opts.nodes == 0 {
        return Err("--nodes must be at least 1".into());
    }
    if opts.vessels == 0 || opts.vessels > 100 {
        return Err("--vessels must be from 1 to 100".into());
    }
    if let Some(ttl) = opts.advertise_ttl.filter(|ttl| *ttl < 2) {
        // Before any node is made: a half-made testbed would refuse the next `up`.
        return Err(format!("--advertise-ttl {ttl}: an announcement must last at least 2 s"));
    }
    if opts.mdns && !opts.netns {
        return Err("--mdns needs --netns: on loopback the nodes of every testbed on this machine would find each other".into());
    }
    fs::create_dir_all(&opts.dir).map_err(|e| format!("cannot create '{}': {e}", opts.dir.display()))?;
    let dir = opts.dir.canonicalize().map_err(|e| format!("cannot resolve '{}': {e}", opts.dir.display()))?;
    let nodes_txt = dir.join("nodes.txt");
    let (public, prefix) = owner_key(&dir, &opts.owner)?;

    let network = match VirtualNetwork::load(&dir)? {
        Some(net) => Some(net),
        None if opts.netns && nodes_txt.exists() => {
            return Err(format!("the testbed in '{}' was made without --netns; use another directory", opts.dir.display()))
        }
        None if opts.netns => {
            let net = VirtualNetwork::plan(&dir, opts.nodes)?;
            net.save(&dir)?;
            Some(net)
        }
        None => None,
    };
    if let Some(net) = &network {
        net.create()?;
    }

    let mut already: Vec<usize> = Vec::new();
    let addrs: Vec<String> = if nodes_txt.exists() {
        let addrs = crate::nodes::read_nodes_file(&nodes_txt)?;
        if addrs.len() != opts.nodes {
            return Err(format!(
                "'{}' holds a testbed of {} nodes, not {}; use --nodes {} or another directory",
                opts.dir.display(),
                addrs.len(),
                opts.nodes,
                addrs.len()
            ));
        }
        let running = running_nodes(&dir, addrs.len());
        if running.len() == addrs.len() {
            return Err(format!(
                "the testbed in '{}' is already running (node manager pids {}); stop it with `repy testbed down --dir {}`",
                opts.dir.display(),
                running.iter().map(|(_, p)| p.to_string()).collect::<Vec<_>>().join(" "),
                opts.dir.display()
            ));
        }
        already = running.iter().map(|(i, _)| *i).collect();
        addrs
    } else {
        let vessel_ports = PORTS_PER_VESSEL.checked_mul(opts.vessels as u16).ok_or("--vessels is too large")?;
        let places: Vec<Place> = match &network {
            Some(net) => (1..=opts.nodes)
                .map(|i| Place {
                    ip: net.node_ip(i),
                    node_port: testbed_net::NODE_PORT,
                    first_vessel_port: testbed_net::FIRST_VESSEL_PORT,
                    dht_port: testbed_net::DHT_PORT,
                })
                .collect(),
            None => allocate_blocks(opts.nodes, 2 + vessel_ports, opts.pool)?
                .into_iter()
                .map(|base| Place {
                    ip: "127.0.0.1".into(),
                    node_port: base,
                    first_vessel_port: base + 1,
                    dht_port: base + 1 + vessel_ports,
                })
                .collect(),
        };
        let dht: Vec<String> = places.iter().map(|p| format!("{}:{}", p.ip, p.dht_port)).collect();
        let mut addrs = Vec::new();
        let mut peers = String::new();
        for (i, place) in places.iter().enumerate() {
            let state = state_dir(&dir, i + 1);
            let listen = format!("{}:{}", place.ip, place.node_port);
            init::init(&InitOptions {
                dir: state.clone(),
                owner: public.clone(),
                listen: Some(listen.clone()),
                vessels: opts.vessels,
                cpu: None,
                memory: None,
                disk: None,
                ports: Some(format!("{}-{}", place.first_vessel_port, place.first_vessel_port + vessel_ports - 1)),
                // With mDNS the nodes find each other on the bridge, without being told.
                bootstrap: if opts.mdns { Vec::new() } else { dht.iter().filter(|a| **a != dht[i]).cloned().collect() },
                discovery_listen: Some(dht[i].clone()),
            })
            .map_err(|e| format!("node {}: {e}", i + 1))?;
            let layout = Layout::new(&state);
            if opts.advertise_ttl.is_some() || opts.mdns {
                let mut config = state::load_config(&layout)?;
                config.advertise_ttl_s = opts.advertise_ttl.unwrap_or(config.advertise_ttl_s);
                config.mdns = opts.mdns;
                config.validate().map_err(|e| format!("--advertise-ttl {}: {e}", config.advertise_ttl_s))?;
                state::write_atomic(&layout.tmp(), &layout.config(), config.to_text().as_bytes())
                    .map_err(|e| format!("cannot write '{}': {e}", layout.config().display()))?;
            }
            let node_key = keys::read_secret_key(&layout.node_key())?.public();
            peers += &format!("/ip4/{}/tcp/{}/p2p/{}\n", place.ip, place.dht_port, repy_discovery::peer_id_of(&node_key));
            addrs.push(listen);
        }
        let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
        fs::write(&nodes_txt, text).map_err(|e| format!("cannot write '{}': {e}", nodes_txt.display()))?;
        let bootstrap_txt = bootstrap_file(&dir);
        fs::write(&bootstrap_txt, peers).map_err(|e| format!("cannot write '{}': {e}", bootstrap_txt.display()))?;
        addrs
    };

    let mut children: Vec<(usize, Child)> = Vec::new();
    let started = (|| {
        for i in (1..=addrs.len()).filter(|i| !already.contains(i)) {
            children.push((i, spawn_node(&opts.repy, &dir, i, network.as_ref())?));
        }
        for (i, child) in &mut children {
            wait_ready(&dir, *i, &addrs[*i - 1], child)?;
        }
        Ok::<(), String>(())
    })();
    if let Err(e) = started {
        for (i, child) in &mut children {
            let _ = child.kill();
            let _ = child.wait();
            let _ = fs::remove_file(pid_file(&dir, *i));
        }
        return Err(e);
    }
    let restarted =
        if already.is_empty() { String::new() } else { format!(" ({} were running, {} started again)", already.len(), children.len()) };
    let mut summary = format!(
        "testbed up in '{}': {} node managers ({}){restarted}, owned by key {prefix}\nnodes file: {}",
        dir.display(),
        addrs.len(),
        addrs.join(" "),
        nodes_txt.display()
    );
    let bootstrap_txt = bootstrap_file(&dir);
    if bootstrap_txt.exists() {
        summary += &format!(
            "\nbootstrap file: {}\ntry: repy fleet --key {prefix} --bootstrap @{} browse",
            bootstrap_txt.display(),
            bootstrap_txt.display()
        );
    } else {
        summary += &format!("\ntry: repy fleet --key {prefix} --nodes {} browse", nodes_txt.display());
    }
    Ok(summary)
}

/// Where one node listens: its IP address, the node manager's port, the first of its
/// vessels' ports (10 each), its DHT port.
struct Place {
    ip: String,
    node_port: u16,
    first_vessel_port: u16,
    dht_port: u16,
}

fn spawn_node(repy: &Path, dir: &Path, i: usize, network: Option<&VirtualNetwork>) -> Result<Child, String> {
    let log_path = log_file(dir, i);
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open '{}': {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| format!("cannot open '{}': {e}", log_path.display()))?;
    let mut command = match network {
        Some(net) => netns::command_in(&net.namespace(i), repy),
        None => repy_command(repy),
    };
    command.arg("node").arg("run").arg("--dir").arg(state_dir(dir, i));
    command.stdin(Stdio::null()).stdout(log).stderr(log2);
    // The node survives `testbed up` and Ctrl-C in the shell that ran it.
    detach_from_session(&mut command);
    let child = command.spawn().map_err(|e| format!("cannot start '{}': {e}", repy.display()))?;
    let pid_path = pid_file(dir, i);
    fs::write(&pid_path, format!("{}\n", child.id())).map_err(|e| format!("cannot write '{}': {e}", pid_path.display()))?;
    Ok(child)
}

fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(2000)));
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text.trim_end().to_string()
}

fn wait_ready(dir: &Path, i: usize, addr: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "node {i} ({addr}) stopped at start-up ({status}); its log '{}' ends with:\n{}",
                log_file(dir, i).display(),
                log_tail(&log_file(dir, i))
            ));
        }
        if let Ok(mut client) = Client::connect(addr) {
            if client.send_unsigned(&GetVessels {}.into()).is_ok() {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("node {i} ({addr}) did not answer within 30 s; see '{}'", log_file(dir, i).display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The command line of a live (not zombie) process, or None.
fn cmdline(pid: u32) -> Option<Vec<String>> {
    let bytes = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if bytes.is_empty() {
        return None;
    }
    Some(bytes.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect())
}

/// Whether `pid` is the node manager of node `i` of the testbed in `dir` (not a reused pid).
fn is_our_node(pid: u32, dir: &Path, i: usize) -> bool {
    let state = state_dir(dir, i).display().to_string();
    cmdline(pid).is_some_and(|args| args.windows(4).any(|w| w[0] == "node" && w[1] == "run" && w[2] == "--dir" && w[3] == state))
}

fn read_pid(dir: &Path, i: usize) -> Option<u32> {
    fs::read_to_string(pid_file(dir, i)).ok()?.trim().parse().ok()
}

/// (node number, pid) of the testbed's node managers that are running.
fn running_nodes(dir: &Path, count: usize) -> Vec<(usize, u32)> {
    (1..=count.max(node_count(dir))).filter_map(|i| read_pid(dir, i).filter(|&pid| is_our_node(pid, dir, i)).map(|pid| (i, pid))).collect()
}

/// How many `nodeI` state directories DIR holds.
fn node_count(dir: &Path) -> usize {
    let mut i = 0;
    while state_dir(dir, i + 1).is_dir() {
        i += 1;
    }
    i
}

/// Processes (other than node managers) whose command line names a state directory of the
/// testbed: vessels left behind by a node manager that could not stop them.
fn strays(dir: &Path) -> Vec<u32> {
    let prefix = format!("{}/node", dir.display());
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| pid != std::process::id())
        .filter(|&pid| cmdline(pid).is_some_and(|args| args.iter().any(|a| a.starts_with(&prefix))))
        .collect()
}

/// Signals a process that was checked to be one of ours.
fn signal(pid: u32, signal: Signal) {
    let _ = signal_process(pid, signal);
}

/// Stops every node manager of the testbed in DIR (SIGTERM, which stops their vessels; SIGKILL
/// after 20 s) and any vessel process left; keeps the state so that `up` can start it again.
pub fn down(dir: &Path) -> Result<String, String> {
    let shown = dir.display().to_string();
    let dir = dir.canonicalize().map_err(|e| format!("no testbed in '{shown}': {e}"))?;
    let count = node_count(&dir);
    if count == 0 && !dir.join("nodes.txt").exists() {
        return Err(format!("no testbed in '{shown}' (no nodes.txt and no node state directories)"));
    }
    let running = running_nodes(&dir, count);
    for (_, pid) in &running {
        signal(*pid, Signal::Terminate);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left: Vec<(usize, u32)> = running.clone();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left.retain(|(i, pid)| is_our_node(*pid, &dir, *i));
    }
    for (_, pid) in &left {
        signal(*pid, Signal::Kill);
    }
    // Vessels die with their node manager (parent-death signal); sweep anything left all the same.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stray = strays(&dir);
        if stray.is_empty() || Instant::now() >= deadline {
            for pid in stray {
                signal(pid, Signal::Kill);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 1..=count {
        let _ = fs::remove_file(pid_file(&dir, i));
    }
    let mut network_note = String::new();
    if let Some(net) = VirtualNetwork::load(&dir)? {
        let problems = net.destroy();
        network_note = if problems.is_empty() {
            format!("; removed its network namespaces and bridge {}", net.bridge())
        } else {
            format!("; could not remove all of its network: {}", problems.join("; "))
        };
    }
    Ok(format!(
        "testbed in '{shown}' down: stopped {} of {count} node managers{}{network_note}",
        running.len(),
        if left.is_empty() { String::new() } else { format!(" ({} killed after 20 s)", left.len()) }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_and_blocks() {
        assert_eq!(parse_pool("61000-62000").unwrap(), (61000, 62000));
        assert!(parse_pool("62000-61000").unwrap_err().contains("invalid port range"));
        assert!(parse_pool("x").is_err());
        let bases = allocate_blocks(3, 11, (61000, 61999)).unwrap();
        assert_eq!(bases.len(), 3);
        for (k, a) in bases.iter().enumerate() {
            assert!(*a >= 61000 && *a + 10 <= 61999);
            for b in &bases[k + 1..] {
                assert!(a.abs_diff(*b) >= 11, "{bases:?} overlap");
            }
        }
        assert!(allocate_blocks(3, 11, (61000, 61010)).unwrap_err().contains("too small"));
    }
}
