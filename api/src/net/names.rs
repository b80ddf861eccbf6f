//! The calls that answer address questions (repy-api.md §7.3, §7.4): `getmyip` and
//! `gethostbyname_ex`.

use std::net::Ipv4Addr;

use repy_interpreter::{exceptions::RepyErrorKind, values::exact_str};

use super::Traffic;

api_function! {
    /// The vessel's own address: under address options the first allowed one, else the one
    /// facing the Internet.
    fn getmyip(call) {
        call.check_rules()?;
        match call.rt.net.addresses.my_ip() {
            Some(ip) => Ok(call.vm.ctx.new_str(ip.to_string()).into()),
            None => Err(call.error(RepyErrorKind::InternetConnectivity, "no route to the Internet: cannot tell this host's address")),
        }
    }
}

/// What one lookup is charged, each way.
const LOOKUP_BYTES: usize = 4096;

api_function! {
    /// `(canonical name, [], [IPv4 addresses])` of a host name.
    fn gethostbyname_ex(call, name) {
        let vm = call.vm;
        let name = exact_str(&name, vm).ok_or_else(|| call.arg_error("name must be a str"))?;
        call.check_rules()?;
        let traffic = Traffic::internet();
        call.wait_traffic(traffic)?;
        let answer = lookup(&name);
        call.charge_traffic(traffic, LOOKUP_BYTES, LOOKUP_BYTES)?;
        let Some((canonical, ips)) = answer else {
            return Err(call.error(RepyErrorKind::NetworkAddress, format!("cannot resolve '{name}'")));
        };
        let ips = ips.iter().map(|ip| vm.ctx.new_str(ip.to_string()).into()).collect();
        Ok(vm.ctx.new_tuple(vec![vm.ctx.new_str(canonical).into(), vm.ctx.new_list(vec![]).into(), vm.ctx.new_list(ips).into()]).into())
    }
}

/// The canonical name and IPv4 addresses of `name` (a dotted quad answers itself).
fn lookup(name: &str) -> Option<(String, Vec<Ipv4Addr>)> {
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Some((name.to_owned(), vec![ip]));
    }
    if name.is_empty() || name.len() > 253 || name.contains('\0') {
        return None;
    }
    repy_portability::resolve::ipv4_addresses(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_answers_names_and_quads() {
        assert_eq!(lookup("10.0.0.7"), Some(("10.0.0.7".into(), vec![Ipv4Addr::new(10, 0, 0, 7)])));
        let (_, ips) = lookup("localhost").expect("localhost resolves");
        assert!(ips.contains(&Ipv4Addr::LOCALHOST));
        assert_eq!(lookup("no-such-host.invalid"), None);
    }
}
