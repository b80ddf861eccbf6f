//! Which local addresses a vessel may use (`--ip`, `--iface`, `--nootherips`, repy-api.md
//! §7.3). The calls that answer address questions are in `names.rs`.

use std::net::{Ipv4Addr, UdpSocket};

use parking_lot::Mutex;

/// A fixed public address: "connecting" a UDP socket to it asks the routing table which
/// local address faces the Internet, without sending anything.
const PUBLIC_PROBE: (Ipv4Addr, u16) = (Ipv4Addr::new(8, 8, 8, 8), 53);

/// One `--ip` or `--iface` option, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalPreference {
    Ip(String),
    Iface(String),
}

/// The address options of `repy run`.
#[derive(Clone, Debug, Default)]
pub struct LocalAddresses {
    pub preferences: Vec<LocalPreference>,
    pub no_other_ips: bool,
}

impl LocalAddresses {
    /// Whether any option was given (then the allowed list decides).
    fn restricted(&self) -> bool {
        !self.preferences.is_empty() || self.no_other_ips
    }

    /// The allowed list as of now: each preference expanded in order, only addresses that
    /// can be bound, no duplicates, `127.0.0.1` last if absent.
    fn build_allowed(&self) -> Vec<Ipv4Addr> {
        let mut allowed: Vec<Ipv4Addr> = Vec::new();
        for preference in &self.preferences {
            let candidates = match preference {
                LocalPreference::Ip(text) => text.parse().into_iter().collect(),
                LocalPreference::Iface(name) => repy_portability::interfaces::interface_ipv4_addresses(name).unwrap_or_default(),
            };
            for ip in candidates {
                if !allowed.contains(&ip) && can_bind(ip) {
                    allowed.push(ip);
                }
            }
        }
        if !allowed.contains(&Ipv4Addr::LOCALHOST) {
            allowed.push(Ipv4Addr::LOCALHOST);
        }
        allowed
    }
}

/// The address options with their allowed list, built at start and again on every
/// `getmyip()` (§7.3) — not on every socket call, which only reads it.
#[derive(Default)]
pub struct AddressPolicy {
    options: LocalAddresses,
    allowed: Mutex<Vec<Ipv4Addr>>,
}

impl AddressPolicy {
    pub fn new(options: LocalAddresses) -> AddressPolicy {
        let allowed = Mutex::new(options.build_allowed());
        AddressPolicy { options, allowed }
    }

    pub fn allowed(&self) -> Vec<Ipv4Addr> {
        self.allowed.lock().clone()
    }

    /// Whether the program may name `ip` as a local address.
    pub fn may_use(&self, ip: Ipv4Addr) -> bool {
        !self.options.no_other_ips || ip == Ipv4Addr::LOCALHOST || self.allowed.lock().contains(&ip)
    }

    /// The address an outgoing socket binds when the program names none: the vessel's own
    /// under address options, else the OS's choice (`None`).
    pub fn default_local_ip(&self) -> Option<Ipv4Addr> {
        self.options.restricted().then(|| self.allowed.lock()[0])
    }

    /// What `getmyip()` returns, if the host has connectivity; rebuilds the allowed list.
    pub fn my_ip(&self) -> Option<Ipv4Addr> {
        if self.options.restricted() {
            let allowed = self.options.build_allowed();
            let first = allowed[0];
            *self.allowed.lock() = allowed;
            return Some(first);
        }
        let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        probe.connect(PUBLIC_PROBE).ok()?;
        match probe.local_addr().ok()? {
            std::net::SocketAddr::V4(v4) if !v4.ip().is_unspecified() => Some(*v4.ip()),
            _ => None,
        }
    }
}

fn can_bind(ip: Ipv4Addr) -> bool {
    UdpSocket::bind((ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_list_keeps_order_drops_duplicates_and_ends_with_loopback() {
        let local = AddressPolicy::new(LocalAddresses {
            preferences: vec![
                LocalPreference::Ip("127.0.0.1".into()),
                LocalPreference::Ip("not-an-ip".into()),
                LocalPreference::Iface("no-such-interface0".into()),
                LocalPreference::Ip("127.0.0.1".into()),
            ],
            no_other_ips: true,
        });
        assert_eq!(local.allowed(), vec![Ipv4Addr::LOCALHOST]);
        assert_eq!(local.my_ip(), Some(Ipv4Addr::LOCALHOST));
        assert!(local.may_use(Ipv4Addr::LOCALHOST));
        assert!(!local.may_use(Ipv4Addr::new(10, 1, 2, 3)));
    }

    #[test]
    fn unbindable_addresses_are_left_out() {
        // TEST-NET-1 is never assigned to a host.
        let local = AddressPolicy::new(LocalAddresses { preferences: vec![LocalPreference::Ip("192.0.2.1".into())], no_other_ips: false });
        assert_eq!(local.allowed(), vec![Ipv4Addr::LOCALHOST]);
        assert!(local.may_use(Ipv4Addr::new(192, 0, 2, 1)), "without --nootherips any address may be named");
    }

    #[test]
    fn without_options_the_os_chooses() {
        assert_eq!(AddressPolicy::default().default_local_ip(), None);
    }
}
