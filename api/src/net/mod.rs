//! The network API (repy-api.md §7): UDP messages, TCP connections, listeners and the local
//! address rules. Sockets live on one small tokio runtime shared by the vessel; program
//! threads block on it, each on its own operation, so one slow peer never holds up another.

//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`Network`], the vessel's network state, and [`Traffic`] |
//! | `addresses.rs` | the local address rules |
//! | `registry.rs` | the listener registrations |
//! | `args.rs` | checks of the arguments network calls share |
//! | `buffers.rs` | kernel socket buffers: their size and their charge to `memory` |
//! | `names.rs` | `getmyip`, `gethostbyname_ex` |
//! | `udp.rs` | `sendmess`, `recvmess` |
//! | `tcp.rs` | `openconn`, `waitforconn` |
//! | `socket.rs` | connections and socket objects |
//! | `comm.rs` | registering and serving listeners, commhandles, `stopcomm` |
//!
//! The state files (`mod.rs`, `addresses.rs`, `registry.rs`) know nothing of the runtime
//! that holds them; the call files use both.

pub mod addresses;
pub mod args;
pub mod buffers;
pub mod comm;
pub mod names;
pub mod registry;
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
    pub registry: registry::Registry,
    /// (local, remote) of every open TCP connection, for DuplicateTupleError.
    tuples: Mutex<HashSet<(SocketAddrV4, SocketAddrV4)>>,
}

impl Network {
    pub fn new(local: LocalAddresses) -> Network {
        Network { addresses: addresses::AddressPolicy::new(local), ..Network::default() }
    }

    /// The I/O runtime, started on first use so programs without networking pay nothing;
    /// `None` if the host refused its thread.
    pub fn io(&self) -> Option<&tokio::runtime::Runtime> {
        self.io
            .get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("repy-io").enable_all().build().ok())
            .as_ref()
    }

    /// Records a new connection's tuple; false if this program already uses it.
    pub fn claim_tuple(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.tuples.lock().insert((local, remote))
    }

    pub fn tuple_in_use(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.tuples.lock().contains(&(local, remote))
    }

    pub fn release_tuple(&self, local: SocketAddrV4, remote: SocketAddrV4) {
        self.tuples.lock().remove(&(local, remote));
    }
}
