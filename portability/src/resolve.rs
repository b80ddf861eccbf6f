//! Name resolution for `gethostbyname` (api.md): the system resolver's `getaddrinfo`, asked
//! for IPv4 stream addresses and the canonical name. The flag and family numbers differ
//! between libc and Winsock, hence this module.

use std::net::{Ipv4Addr, SocketAddr};

/// The canonical name (`name` itself when the resolver gives none) and the distinct IPv4
/// addresses of `name`, in the resolver's order; None when it has none.
pub fn ipv4_addresses(name: &str) -> Option<(String, Vec<Ipv4Addr>)> {
    let hints = dns_lookup::AddrInfoHints { flags: imp::AI_CANONNAME, address: imp::AF_INET, socktype: imp::SOCK_STREAM, protocol: 0 };
    let mut canonical = None;
    let mut ips = Vec::new();
    for info in dns_lookup::getaddrinfo(Some(name), None, Some(hints)).ok()?.flatten() {
        if canonical.is_none() {
            canonical = info.canonname.clone();
        }
        if let SocketAddr::V4(v4) = info.sockaddr {
            if !ips.contains(v4.ip()) {
                ips.push(*v4.ip());
            }
        }
    }
    (!ips.is_empty()).then(|| (canonical.unwrap_or_else(|| name.to_owned()), ips))
}

#[cfg(unix)]
mod imp {
    pub const AI_CANONNAME: i32 = libc::AI_CANONNAME;
    pub const AF_INET: i32 = libc::AF_INET;
    pub const SOCK_STREAM: i32 = libc::SOCK_STREAM;
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::Networking::WinSock;

    pub const AI_CANONNAME: i32 = WinSock::AI_CANONNAME as i32;
    pub const AF_INET: i32 = WinSock::AF_INET as i32;
    pub const SOCK_STREAM: i32 = WinSock::SOCK_STREAM as i32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_and_an_invalid_name_does_not() {
        let (_, ips) = ipv4_addresses("localhost").expect("localhost resolves");
        assert!(ips.contains(&Ipv4Addr::LOCALHOST));
        assert_eq!(ipv4_addresses("no-such-host.invalid"), None);
    }
}
