//! Port placeholders: `<port>`, `<port1>`, `<port2>`… in a test and its restrictions file
//! become free port numbers, the same number for the same placeholder in both files.
//! `<port>` is another name for `<port1>`.

use std::{
    collections::{BTreeMap, HashSet},
    net::{Ipv4Addr, TcpListener, UdpSocket},
    sync::Mutex,
};

/// Ports handed out during this `repy test` run: tests running in parallel never share one.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The placeholder numbers (`<port>` counts as 1) used in `text`.
pub fn placeholders(text: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<port") {
        let after = &rest[start + 5..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if after[digits..].starts_with('>') {
            let number = if digits == 0 { Some(1) } else { after[..digits].parse().ok() };
            if let Some(n) = number {
                if !found.contains(&n) {
                    found.push(n);
                }
            }
        }
        rest = after;
    }
    found
}

/// Replaces every placeholder of `ports` in `text`.
pub fn substitute(text: &str, ports: &BTreeMap<u32, u16>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<port") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let number = if digits == 0 { Some(1) } else { after[..digits].parse::<u32>().ok() };
        match (after[digits..].starts_with('>'), number.and_then(|n| ports.get(&n))) {
            (true, Some(port)) => {
                out.push_str(&port.to_string());
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str("<port");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Picks one free port for each placeholder number: a port that is free for both TCP and
/// UDP on loopback right now and was not handed to another test of this run.
pub fn allocate(numbers: &[u32]) -> Result<BTreeMap<u32, u16>, String> {
    let mut ports = BTreeMap::new();
    for &n in numbers {
        ports.insert(n, free_port()?);
    }
    Ok(ports)
}

fn free_port() -> Result<u16, String> {
    let mut last_error = String::from("no port found");
    for _ in 0..200 {
        let tcp = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) {
            Ok(l) => l,
            Err(e) => {
                last_error = format!("cannot bind a loopback TCP port: {e}");
                continue;
            }
        };
        let port = match tcp.local_addr() {
            Ok(a) => a.port(),
            Err(e) => {
                last_error = e.to_string();
                continue;
            }
        };
        if port < 1024 || UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        let mut handed = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
        if handed.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(format!("cannot find a free port for a placeholder: {last_error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_once_each() {
        assert_eq!(placeholders("a <port> b <port2> <port1> <port> <portx> <port12"), vec![1, 2]);
        assert_eq!(placeholders("none"), Vec::<u32>::new());
    }

    #[test]
    fn substitution_is_consistent() {
        let ports = BTreeMap::from([(1, 5000), (2, 6000)]);
        assert_eq!(substitute("<port> <port1> <port2> <port3> <port <portx>", &ports), "5000 5000 6000 <port3> <port <portx>");
    }

    #[test]
    fn allocated_ports_are_distinct() {
        let ports = allocate(&[1, 2, 3]).unwrap();
        let distinct: HashSet<u16> = ports.values().copied().collect();
        assert_eq!(distinct.len(), 3);
    }
}
