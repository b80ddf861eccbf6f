//! Checking the arguments network calls share: ports, local addresses, destinations and
//! messages (repy-api.md §4, §7; restrictions.md §4.7).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};

use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{byte_data, exact_int, exact_str},
};
use repy_policy::Resource;
use rustpython_vm::{PyObjectRef, PyResult, VirtualMachine};

use crate::{args::Bound, runtime::Runtime};

/// Largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65507;

/// The transport a port belongs to, and the resource that lists the vessel's ports for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn port_resource(self) -> Resource {
        match self {
            Transport::Udp => Resource::Messport,
            Transport::Tcp => Resource::Connport,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// A port: exact int 1–65535.
pub fn port(rt: &Runtime, vm: &VirtualMachine, function: &str, param: &str, value: &PyObjectRef) -> PyResult<u16> {
    exact_int(value, vm)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| rt.arg_error(vm, format!("{function}: {param} must be an int from 1 to 65535")))
}

/// An IPv4 address written as a dotted quad.
pub fn ip(rt: &Runtime, vm: &VirtualMachine, function: &str, param: &str, value: &PyObjectRef) -> PyResult<Ipv4Addr> {
    let text = exact_str(value, vm).ok_or_else(|| rt.arg_error(vm, format!("{function}: {param} must be a str")))?;
    text.parse().map_err(|_| rt.arg_error(vm, format!("{function}: {param} '{text}' is not an IPv4 address")))
}

/// Refuses a local port the vessel does not have (restrictions.md §4.7).
pub fn check_port(rt: &Runtime, vm: &VirtualMachine, function: &str, transport: Transport, port: u16) -> PyResult<()> {
    let resource = transport.port_resource();
    if rt.nanny.port_allowed(resource, port) {
        return Ok(());
    }
    Err(rt.error(
        vm,
        RepyErrorKind::ResourceForbidden,
        format!("{function}: {} port {port} is not a {resource} of this vessel", transport.name()),
    ))
}

/// Refuses a local address outside the allowed list under `--nootherips` (§7.3).
pub fn check_local_ip(rt: &Runtime, vm: &VirtualMachine, function: &str, ip: Ipv4Addr) -> PyResult<()> {
    if rt.net.addresses.may_use(ip) {
        return Ok(());
    }
    Err(rt.error(vm, RepyErrorKind::ResourceForbidden, format!("{function}: IP '{ip}' is not allowed")))
}

/// A local end as the program named it: `None`/0 for what the OS may choose.
pub struct LocalEnd {
    pub ip: Option<Ipv4Addr>,
    pub port: u16,
}

impl LocalEnd {
    /// Checks the named port and address against the vessel's ports and allowed addresses
    /// (after the call rules, §4) and gives the address to bind: with address options an
    /// omitted IP is the vessel's own (§7.3).
    pub fn authorize(&self, rt: &Runtime, vm: &VirtualMachine, function: &str, transport: Transport) -> PyResult<SocketAddrV4> {
        if self.port != 0 {
            check_port(rt, vm, function, transport, self.port)?;
        }
        if let Some(ip) = self.ip {
            check_local_ip(rt, vm, function, ip)?;
        }
        let ip = self.ip.or_else(|| rt.net.addresses.default_local_ip());
        Ok(SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), self.port))
    }
}

/// The optional `localip`/`localport` pair at `index`, `index + 1` of `bound`.
pub fn local_end(rt: &Runtime, vm: &VirtualMachine, bound: &Bound, index: usize) -> PyResult<LocalEnd> {
    let function = bound.function;
    let (ip_value, port_value) = (bound.opt(index, vm), bound.opt(index + 1, vm));
    if ip_value.is_some() != port_value.is_some() {
        return Err(rt.arg_error(vm, format!("{function}: localip and localport must be given together")));
    }
    let ip_addr = match &ip_value {
        None => None,
        Some(v) if exact_str(v, vm).is_some_and(|s| s.is_empty()) => None,
        Some(v) => Some(ip(rt, vm, function, "localip", v)?).filter(|ip| !ip.is_unspecified()),
    };
    let port_number = match &port_value {
        None => 0,
        Some(v) if exact_int(v, vm) == Some(0) => 0,
        Some(v) => port(rt, vm, function, "localport", v)?,
    };
    Ok(LocalEnd { ip: ip_addr, port: port_number })
}

/// The destination `host`:`port`, resolving a host name to its first IPv4 address.
pub fn destination(
    rt: &Runtime,
    vm: &VirtualMachine,
    function: &str,
    host: &PyObjectRef,
    port_value: &PyObjectRef,
) -> PyResult<SocketAddrV4> {
    let name = exact_str(host, vm).ok_or_else(|| rt.arg_error(vm, format!("{function}: desthost must be a str")))?;
    let port_number = port(rt, vm, function, "destport", port_value)?;
    let resolved = resolve(&name);
    match resolved {
        Some(ip) if !ip.is_unspecified() => Ok(SocketAddrV4::new(ip, port_number)),
        _ => Err(rt.error(vm, RepyErrorKind::NetworkAddress, format!("{function}: cannot resolve host '{name}'"))),
    }
}

/// A dotted quad as is, or a host name's first IPv4 address.
pub fn resolve(name: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = name.parse() {
        return Some(ip);
    }
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    (name, 0).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(_) => None,
    })
}

/// Data to send: `str` of bytes or `bytes`/`bytearray`.
pub fn message(rt: &Runtime, vm: &VirtualMachine, function: &str, value: &PyObjectRef) -> PyResult<Vec<u8>> {
    byte_data(value, vm).map_err(|m| rt.arg_error(vm, format!("{function}: message: {m}")))
}

/// The function a listener calls.
pub fn callback(rt: &Runtime, vm: &VirtualMachine, function: &str, value: PyObjectRef) -> PyResult<PyObjectRef> {
    if value.is_callable() {
        Ok(value)
    } else {
        Err(rt.arg_error(vm, format!("{function}: function must be callable")))
    }
}

/// The specific local address and port a listener binds (`""`/`"0.0.0.0"` refused); check
/// it with [`authorize_listen`] after the call rules.
pub fn listen_end(rt: &Runtime, vm: &VirtualMachine, bound: &Bound) -> PyResult<SocketAddrV4> {
    let function = bound.function;
    let ip_addr = ip(rt, vm, function, "localip", &bound.get(0))?;
    if ip_addr.is_unspecified() {
        return Err(rt.arg_error(vm, format!("{function}: localip must be a specific address, not {ip_addr}")));
    }
    let port_number = port(rt, vm, function, "localport", &bound.get(1))?;
    Ok(SocketAddrV4::new(ip_addr, port_number))
}

pub fn authorize_listen(rt: &Runtime, vm: &VirtualMachine, function: &str, transport: Transport, end: SocketAddrV4) -> PyResult<()> {
    check_port(rt, vm, function, transport, end.port())?;
    check_local_ip(rt, vm, function, *end.ip())
}
