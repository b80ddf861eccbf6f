//! The virtual network of `repy testbed up --netns`: each node manager in a Linux network
//! namespace of its own, with its own IP address, all cabled to one bridge that also gives the
//! host an address on the segment (so `repy fleet` reaches the nodes as remote machines).
//! Traffic between nodes crosses the bridge, never the host's real interfaces.
//!
//! `DIR/netns.txt` holds one line, `TAG SUBNET NODES` (`3fa2c1 10.231.14.0/24 5`): the names
//! of every device and namespace derive from TAG (a hash of DIR, so that two testbeds never
//! share a name), node I has address `SUBNET.(10 + I)`, the host `SUBNET.1`.

use std::{fs, path::Path};

use repy_portability::netns;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualNetwork {
    tag: String,
    /// The first three octets of the /24.
    subnet: [u8; 3],
    nodes: usize,
}

/// The node manager's port in every namespace (each has its own address, so all can use it).
pub const NODE_PORT: u16 = 1224;
/// The DHT port in every namespace.
pub const DHT_PORT: u16 = 4001;
/// The vessels' ports: 10 a vessel from here.
pub const FIRST_VESSEL_PORT: u16 = 63100;

fn file(dir: &Path) -> std::path::PathBuf {
    dir.join("netns.txt")
}

/// FNV-1a of the testbed's directory: short, stable names for its devices.
fn tag_of(dir: &Path) -> String {
    let hash = dir.display().to_string().bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("{:06x}", hash & 0xff_ffff)
}

impl VirtualNetwork {
    /// A network for `nodes` nodes of the testbed in `dir` (not yet created), on a 10.x.y.0/24
    /// that no interface of this machine uses.
    pub fn plan(dir: &Path, nodes: usize) -> Result<VirtualNetwork, String> {
        if nodes > 200 {
            return Err(format!("--netns supports at most 200 nodes, not {nodes}"));
        }
        let tag = tag_of(dir);
        let used = netns::addresses_in_use().map_err(|e| format!("--netns: cannot list this machine's addresses: {e}"))?;
        let seed = u32::from_str_radix(&tag, 16).expect("hex");
        for k in 0..1000u32 {
            let n = seed.wrapping_add(k.wrapping_mul(7919));
            let subnet = [10, 200 + (n % 50) as u8, ((n / 50) % 256) as u8];
            let prefix = format!("{}.{}.{}.", subnet[0], subnet[1], subnet[2]);
            if !used.iter().any(|a| a.starts_with(&prefix)) {
                return Ok(VirtualNetwork { tag, subnet, nodes });
            }
        }
        Err("--netns: found no free 10.x.y.0/24 subnet".into())
    }

    /// The network recorded in `dir`, if the testbed has one; an unreadable record is an error.
    pub fn load(dir: &Path) -> Result<Option<VirtualNetwork>, String> {
        let path = file(dir);
        let Ok(text) = fs::read_to_string(&path) else { return Ok(None) };
        let bad = || format!("'{}' is not `TAG A.B.C.0/24 NODES`: {}", path.display(), text.trim());
        let words: Vec<&str> = text.split_whitespace().collect();
        let [tag, subnet, nodes] = words[..] else { return Err(bad()) };
        let octets: Vec<u8> =
            subnet.strip_suffix(".0/24").ok_or_else(bad)?.split('.').map(|o| o.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
        let subnet: [u8; 3] = octets.try_into().map_err(|_| bad())?;
        let nodes = nodes.parse().map_err(|_| bad())?;
        if tag.len() != 6 || !tag.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Some(VirtualNetwork { tag: tag.to_string(), subnet, nodes }))
    }

    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let [a, b, c] = self.subnet;
        let path = file(dir);
        fs::write(&path, format!("{} {a}.{b}.{c}.0/24 {}\n", self.tag, self.nodes))
            .map_err(|e| format!("cannot write '{}': {e}", path.display()))
    }

    fn address(&self, host: usize) -> String {
        let [a, b, c] = self.subnet;
        format!("{a}.{b}.{c}.{host}")
    }

    /// Node `i`'s IP address (from 1).
    pub fn node_ip(&self, i: usize) -> String {
        self.address(10 + i)
    }

    pub fn bridge(&self) -> String {
        format!("rpb{}", self.tag)
    }

    /// The namespace of node `i`.
    pub fn namespace(&self, i: usize) -> String {
        format!("rp{}n{i}", self.tag)
    }

    /// The host's end of node `i`'s cable: `ip link set THIS down` cuts the node off.
    pub fn host_end(&self, i: usize) -> String {
        format!("rp{}v{i}", self.tag)
    }

    /// Creates what is missing (all of it at first; after a reboot, again), so that `up` on a
    /// stopped testbed finds its network as it was.
    pub fn create(&self) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("--netns (needs root): {e}");
        if !netns::link_exists(&self.bridge()) {
            netns::create_bridge(&self.bridge(), &format!("{}/24", self.address(1))).map_err(fail)?;
        }
        for i in 1..=self.nodes {
            if !netns::namespace_exists(&self.namespace(i)) {
                netns::create_namespace(&self.namespace(i), &self.bridge(), &self.host_end(i), &format!("{}/24", self.node_ip(i)))
                    .map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Removes the namespaces and the bridge (what is already gone is skipped).
    pub fn destroy(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for i in 1..=self.nodes {
            if netns::namespace_exists(&self.namespace(i)) {
                if let Err(e) = netns::delete_namespace(&self.namespace(i)) {
                    problems.push(e.to_string());
                }
            }
        }
        if netns::link_exists(&self.bridge()) {
            if let Err(e) = netns::delete_link(&self.bridge()) {
                problems.push(e.to_string());
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_the_record_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let net = VirtualNetwork { tag: tag_of(dir.path()), subnet: [10, 231, 14], nodes: 200 };
        for name in [net.bridge(), net.namespace(200), net.host_end(200)] {
            assert!(name.len() <= 15, "{name} is longer than IFNAMSIZ - 1");
        }
        assert_eq!(net.node_ip(5), "10.231.14.15");
        net.save(dir.path()).unwrap();
        assert_eq!(VirtualNetwork::load(dir.path()).unwrap(), Some(net));
        fs::write(dir.path().join("netns.txt"), "zz 10.1.2.0/24 3\n").unwrap();
        assert!(VirtualNetwork::load(dir.path()).unwrap_err().contains("netns.txt"));
        assert_eq!(VirtualNetwork::load(&dir.path().join("none")).unwrap(), None);
        assert!(VirtualNetwork::plan(dir.path(), 201).unwrap_err().contains("at most 200"));
    }
}
