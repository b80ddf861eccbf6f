//! The network API (repy-api.md §7): UDP messages, TCP connections, listeners and the local
//! address rules. Sockets live on one small tokio runtime shared by the vessel; program
//! threads block on it, each on its own operation, so one slow peer never holds up another.

pub mod addresses;
pub mod args;
pub mod comm;
pub mod socket;
pub mod tcp;
pub mod udp;

use std::{
    collections::HashSet,
    net::{Ipv4Addr, SocketAddrV4},
    sync::OnceLock,
};

use parking_lot::Mutex;
use repy_policy::Resource;
use rustpython_vm::{PyResult, VirtualMachine};

use repy_contract::termination::Termination;

use crate::runtime::Runtime;

pub use addresses::{LocalAddresses, LocalPreference};

/// Resources a transfer with one peer is charged to (restrictions.md §4.6).
#[derive(Clone, Copy, Debug)]
pub struct Traffic {
    send: Resource,
    recv: Resource,
}

impl Traffic {
    /// Loopback peers (127.0.0.0/8) are charged to `loopsend`/`looprecv`, others to `netsend`/`netrecv`.
    pub fn with(peer: Ipv4Addr) -> Traffic {
        if peer.is_loopback() {
            Traffic { send: Resource::Loopsend, recv: Resource::Looprecv }
        } else {
            Traffic { send: Resource::Netsend, recv: Resource::Netrecv }
        }
    }

    pub fn internet() -> Traffic {
        Traffic::with(Ipv4Addr::UNSPECIFIED)
    }

    pub fn send_resource(self) -> Resource {
        self.send
    }

    pub fn recv_resource(self) -> Resource {
        self.recv
    }
}

/// The vessel's network state, shared by all its threads.
#[derive(Default)]
pub struct Network {
    io: OnceLock<Option<tokio::runtime::Runtime>>,
    pub addresses: addresses::AddressPolicy,
    pub registry: comm::Registry,
    /// (local, remote) of every open TCP connection, for DuplicateTupleError.
    tuples: Mutex<HashSet<(SocketAddrV4, SocketAddrV4)>>,
}

impl Network {
    pub fn new(local: LocalAddresses) -> Network {
        Network { addresses: addresses::AddressPolicy::new(local), ..Network::default() }
    }
}

impl Runtime {
    /// The I/O runtime, started on first use so programs without networking pay nothing.
    pub fn io(&self) -> &tokio::runtime::Runtime {
        let io = self
            .net
            .io
            .get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("repy-io").enable_all().build().ok());
        match io {
            Some(io) => io,
            None => self.terminate(Termination::ThreadErr { detail: "the host refused the network I/O thread".into() }),
        }
    }

    /// Waits until both resources of `traffic` are within their limits (before an operation).
    pub fn wait_traffic(&self, vm: &VirtualMachine, function: &str, traffic: Traffic) -> PyResult<()> {
        self.wait_for(vm, function, traffic.send)?;
        self.wait_for(vm, function, traffic.recv)
    }

    /// Charges a completed operation: `sent` bytes to the send side, `received` to the receive side.
    pub fn charge_traffic(&self, vm: &VirtualMachine, function: &str, traffic: Traffic, sent: usize, received: usize) -> PyResult<()> {
        if sent > 0 {
            self.charge(vm, function, traffic.send, sent as f64)?;
        }
        if received > 0 {
            self.charge(vm, function, traffic.recv, received as f64)?;
        }
        Ok(())
    }

    /// Records a new connection's tuple; false if this program already uses it.
    pub(crate) fn claim_tuple(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.net.tuples.lock().insert((local, remote))
    }

    pub(crate) fn tuple_in_use(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.net.tuples.lock().contains(&(local, remote))
    }

    pub(crate) fn release_tuple(&self, local: SocketAddrV4, remote: SocketAddrV4) {
        self.net.tuples.lock().remove(&(local, remote));
    }
}
