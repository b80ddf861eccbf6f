//! IPv4 addresses of the host's network interfaces: `getmyip` and the `--ip` / `--iface`
//! options of `repy run` choose the addresses a vessel may use from these.

use std::{io, net::Ipv4Addr};

/// The IPv4 addresses of interface `name`, in the order the system lists them (possibly
/// none). An interface that does not exist is a `NotFound` error.
pub fn interface_ipv4_addresses(name: &str) -> io::Result<Vec<Ipv4Addr>> {
    all_interfaces()?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, addrs)| addrs)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no network interface named {name:?}")))
}

/// Every interface with its IPv4 addresses (an interface without one has an empty list),
/// in the order the system lists them.
///
/// Unix: `getifaddrs` (interface names such as `lo`, `eth0`, `en0`). Windows:
/// `GetAdaptersAddresses` (the adapters' friendly names, such as `Ethernet`).
pub fn all_interfaces() -> io::Result<Vec<(String, Vec<Ipv4Addr>)>> {
    imp::all_interfaces()
}

/// Adds `addr` (if any) to the entry for `name`, creating the entry on first sight.
fn record(list: &mut Vec<(String, Vec<Ipv4Addr>)>, name: &str, addr: Option<Ipv4Addr>) {
    let index = match list.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            list.push((name.to_owned(), Vec::new()));
            list.len() - 1
        }
    };
    if let Some(addr) = addr {
        if !list[index].1.contains(&addr) {
            list[index].1.push(addr);
        }
    }
}

#[cfg(unix)]
mod imp {
    use std::{ffi::CStr, io, net::Ipv4Addr};

    pub fn all_interfaces() -> io::Result<Vec<(String, Vec<Ipv4Addr>)>> {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs writes a list head that is released below with freeifaddrs.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut list = Vec::new();
        let mut cursor = head;
        while !cursor.is_null() {
            // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
            let entry = unsafe { &*cursor };
            cursor = entry.ifa_next;
            if entry.ifa_name.is_null() {
                continue;
            }
            // SAFETY: a non-null ifa_name is a NUL-terminated string owned by the list.
            let name = unsafe { CStr::from_ptr(entry.ifa_name) }.to_string_lossy();
            let mut addr = None;
            // SAFETY: a non-null ifa_addr points at a sockaddr whose family says how long
            // it is; AF_INET ones are sockaddr_in.
            unsafe {
                if !entry.ifa_addr.is_null() && i32::from((*entry.ifa_addr).sa_family) == libc::AF_INET {
                    let sin = &*entry.ifa_addr.cast::<libc::sockaddr_in>();
                    addr = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
                }
            }
            super::record(&mut list, &name, addr);
        }
        // SAFETY: `head` came from getifaddrs and is freed once.
        unsafe { libc::freeifaddrs(head) };
        Ok(list)
    }
}

#[cfg(windows)]
mod imp {
    use std::{io, net::Ipv4Addr};

    use windows_sys::Win32::{
        Foundation::{ERROR_BUFFER_OVERFLOW, ERROR_SUCCESS},
        NetworkManagement::IpHelper::{
            GetAdaptersAddresses, GAA_FLAG_SKIP_ANYCAST, GAA_FLAG_SKIP_DNS_SERVER, GAA_FLAG_SKIP_MULTICAST, IP_ADAPTER_ADDRESSES_LH,
            IP_ADAPTER_UNICAST_ADDRESS_LH,
        },
        Networking::WinSock::{AF_INET, SOCKADDR_IN},
    };

    pub fn all_interfaces() -> io::Result<Vec<(String, Vec<Ipv4Addr>)>> {
        let flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
        // u64 elements keep the buffer aligned for the structures written into it.
        let mut size: u32 = 16 * 1024;
        let mut buffer: Vec<u64> = Vec::new();
        for _ in 0..4 {
            buffer.resize((size as usize).div_ceil(8), 0);
            let first = buffer.as_mut_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>();
            // SAFETY: `first` points at `size` writable bytes; on overflow `size` is
            // updated to what is needed and the call is repeated.
            let rc = unsafe { GetAdaptersAddresses(u32::from(AF_INET), flags, std::ptr::null(), first, &mut size) };
            if rc == ERROR_BUFFER_OVERFLOW {
                continue;
            }
            if rc != ERROR_SUCCESS {
                return Err(io::Error::from_raw_os_error(rc as i32));
            }
            let mut list = Vec::new();
            let mut adapter = first as *const IP_ADAPTER_ADDRESSES_LH;
            while !adapter.is_null() {
                // SAFETY: nodes of the list GetAdaptersAddresses built inside `buffer`,
                // which lives until the end of this function.
                let a = unsafe { &*adapter };
                adapter = a.Next;
                // SAFETY: FriendlyName is null or a NUL-terminated string inside `buffer`.
                let name = unsafe { wide_to_string(a.FriendlyName) };
                super::record(&mut list, &name, None);
                let mut unicast = a.FirstUnicastAddress as *const IP_ADAPTER_UNICAST_ADDRESS_LH;
                while !unicast.is_null() {
                    // SAFETY: as above.
                    let u = unsafe { &*unicast };
                    unicast = u.Next;
                    let sockaddr = u.Address.lpSockaddr;
                    // SAFETY: with family AF_INET the socket address is a SOCKADDR_IN.
                    unsafe {
                        if !sockaddr.is_null() && (*sockaddr).sa_family == AF_INET {
                            let sin = &*sockaddr.cast::<SOCKADDR_IN>();
                            let addr = Ipv4Addr::from(u32::from_be(sin.sin_addr.S_un.S_addr));
                            super::record(&mut list, &name, Some(addr));
                        }
                    }
                }
            }
            return Ok(list);
        }
        Err(io::Error::other("the adapter list kept growing"))
    }

    /// A NUL-terminated UTF-16 string (null gives "").
    unsafe fn wide_to_string(p: *const u16) -> String {
        if p.is_null() {
            return String::new();
        }
        let mut len = 0;
        // SAFETY: the caller passes a NUL-terminated string.
        while unsafe { *p.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: `len` elements were just read.
        String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn loopback_is_listed_with_its_address() {
        assert!(interface_ipv4_addresses("lo").unwrap().contains(&Ipv4Addr::LOCALHOST));
        let all = all_interfaces().unwrap();
        let lo = all.iter().find(|(n, _)| n == "lo").expect("lo in all_interfaces");
        assert!(lo.1.contains(&Ipv4Addr::LOCALHOST));
        // Each interface appears once.
        for (i, (name, _)) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|(n, _)| n != name), "{name} listed twice");
        }
    }

    #[test]
    fn unknown_interface_is_not_found() {
        let err = interface_ipv4_addresses("no-such-interface0").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn record_merges_by_name_and_skips_duplicates() {
        let mut list = Vec::new();
        let a = Ipv4Addr::new(10, 0, 0, 1);
        record(&mut list, "eth0", None);
        record(&mut list, "eth0", Some(a));
        record(&mut list, "lo", Some(Ipv4Addr::LOCALHOST));
        record(&mut list, "eth0", Some(a));
        assert_eq!(list, vec![("eth0".to_owned(), vec![a]), ("lo".to_owned(), vec![Ipv4Addr::LOCALHOST])]);
    }
}
