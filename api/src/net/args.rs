//! Checking the arguments network calls share: ports, local addresses, destinations and
//! messages (repy-api.md §4, §7; restrictions.md §4.7).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};

use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{byte_data, exact_int, exact_str},
};
use repy_policy::Resource;
use rustpython_vm::{PyObjectRef, PyResult};

use crate::call::Call;

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
pub fn port(call: &Call, param: &str, value: &PyObjectRef) -> PyResult<u16> {
    exact_int(value, call.vm)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| call.arg_error(format!("{param} must be an int from 1 to 65535")))
}

/// An IPv4 address written as a dotted quad.
pub fn ip(call: &Call, param: &str, value: &PyObjectRef) -> PyResult<Ipv4Addr> {
    let text = exact_str(value, call.vm).ok_or_else(|| call.arg_error(format!("{param} must be a str")))?;
    text.parse().map_err(|_| call.arg_error(format!("{param} '{text}' is not an IPv4 address")))
}

/// Refuses a local port the vessel does not have (restrictions.md §4.7).
pub fn check_port(call: &Call, transport: Transport, port: u16) -> PyResult<()> {
    let resource = transport.port_resource();
    if call.rt.nanny.port_allowed(resource, port) {
        return Ok(());
    }
    Err(call.error(RepyErrorKind::ResourceForbidden, format!("{} port {port} is not a {resource} of this vessel", transport.name())))
}

/// Refuses a local address outside the allowed list under `--nootherips` (§7.3).
pub fn check_local_ip(call: &Call, ip: Ipv4Addr) -> PyResult<()> {
    if call.rt.net.addresses.may_use(ip) {
        return Ok(());
    }
    Err(call.error(RepyErrorKind::ResourceForbidden, format!("IP '{ip}' is not allowed")))
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
    pub fn authorize(&self, call: &Call, transport: Transport) -> PyResult<SocketAddrV4> {
        if self.port != 0 {
            check_port(call, transport, self.port)?;
        }
        if let Some(ip) = self.ip {
            check_local_ip(call, ip)?;
        }
        let ip = self.ip.or_else(|| call.rt.net.addresses.default_local_ip());
        Ok(SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), self.port))
    }
}

/// The optional `localip`/`localport` pair.
pub fn local_end(call: &Call, localip: Option<&PyObjectRef>, localport: Option<&PyObjectRef>) -> PyResult<LocalEnd> {
    if localip.is_some() != localport.is_some() {
        return Err(call.arg_error("localip and localport must be given together"));
    }
    let vm = call.vm;
    let ip_addr = match localip {
        None => None,
        Some(v) if exact_str(v, vm).is_some_and(|s| s.is_empty()) => None,
        Some(v) => Some(ip(call, "localip", v)?).filter(|ip| !ip.is_unspecified()),
    };
    let port_number = match localport {
        None => 0,
        Some(v) if exact_int(v, vm) == Some(0) => 0,
        Some(v) => port(call, "localport", v)?,
    };
    Ok(LocalEnd { ip: ip_addr, port: port_number })
}

/// The destination `host`:`port`, resolving a host name to its first IPv4 address.
pub fn destination(call: &Call, host: &PyObjectRef, port_value: &PyObjectRef) -> PyResult<SocketAddrV4> {
    let name = exact_str(host, call.vm).ok_or_else(|| call.arg_error("desthost must be a str"))?;
    let port_number = port(call, "destport", port_value)?;
    match resolve(&name) {
        Some(ip) if !ip.is_unspecified() => Ok(SocketAddrV4::new(ip, port_number)),
        _ => Err(call.error(RepyErrorKind::NetworkAddress, format!("cannot resolve host '{name}'"))),
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
pub fn message(call: &Call, value: &PyObjectRef) -> PyResult<Vec<u8>> {
    byte_data(value, call.vm).map_err(|m| call.arg_error(format!("message: {m}")))
}

/// The function a listener calls.
pub fn callback(call: &Call, value: PyObjectRef) -> PyResult<PyObjectRef> {
    if value.is_callable() {
        Ok(value)
    } else {
        Err(call.arg_error("function must be callable"))
    }
}

/// The specific local address and port a listener binds (`""`/`"0.0.0.0"` refused); check
/// it with [`authorize_listen`] after the call rules.
pub fn listen_end(call: &Call, localip: &PyObjectRef, localport: &PyObjectRef) -> PyResult<SocketAddrV4> {
    let ip_addr = ip(call, "localip", localip)?;
    if ip_addr.is_unspecified() {
        return Err(call.arg_error(format!("localip must be a specific address, not {ip_addr}")));
    }
    let port_number = port(call, "localport", localport)?;
    Ok(SocketAddrV4::new(ip_addr, port_number))
}

pub fn authorize_listen(call: &Call, transport: Transport, end: SocketAddrV4) -> PyResult<()> {
    check_port(call, transport, end.port())?;
    check_local_ip(call, *end.ip())
}
