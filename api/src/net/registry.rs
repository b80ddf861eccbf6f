//! The listener registrations of one vessel (`recvmess`, `waitforconn`): what each holds
//! and how its serving threads take the resources they wait for. Registering, serving and
//! stopping are in `comm.rs`.

use std::{
    collections::HashMap,
    net::SocketAddrV4,
    sync::{
        atomic::AtomicU64,
        mpsc::{Receiver, Sender},
        Arc,
    },
    time::Duration,
};

use parking_lot::Mutex;
use repy_policy::{Nanny, Resource};
use rustpython_vm::PyObjectRef;
use tokio_util::sync::CancellationToken;

use super::args::Transport;

/// How often a listener waiting for a free event looks whether it was stopped.
const STOP_POLL: Duration = Duration::from_millis(100);

pub type ListenKey = (Transport, SocketAddrV4);

/// The bound socket of a registration.
pub enum Endpoint {
    /// Non-blocking; its listener waits for it in the kernel (see `udp.rs`).
    Udp(Arc<std::net::UdpSocket>),
    Tcp(tokio::net::TcpListener),
}

/// One active registration.
pub struct Listener {
    pub key: ListenKey,
    /// (generation, function): re-registration replaces both, so old handles go stale.
    pub(super) function: Mutex<(u64, PyObjectRef)>,
    pub(super) stop: CancellationToken,
    /// Disconnects when the last [`Serving`] is dropped: the socket is then closed.
    pub(super) served: Mutex<Option<Receiver<()>>>,
    /// A UDP registration's socket: `sendmess` from the same (ip, port) leaves through it.
    pub(super) udp: Option<Arc<std::net::UdpSocket>>,
}

impl Listener {
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// Takes one unit of `resource`, waiting while none is free; false once stopped.
    pub fn take(&self, nanny: &Nanny, resource: Resource) -> bool {
        loop {
            if self.stop.is_cancelled() {
                return false;
            }
            if nanny.acquire_timeout(resource, STOP_POLL) {
                return true;
            }
        }
    }

    /// Waits until a unit of `resource` is free without taking it; false once stopped.
    pub fn wait_free(&self, nanny: &Nanny, resource: Resource) -> bool {
        let free = self.take(nanny, resource);
        if free {
            nanny.release(resource);
        }
        free
    }
}

/// The registrations of one vessel.
#[derive(Default)]
pub struct Registry {
    pub(super) listeners: Mutex<HashMap<ListenKey, Arc<Listener>>>,
    pub(super) generations: AtomicU64,
}

impl Registry {
    /// The socket of the UDP registration on exactly `local`, if any.
    pub fn udp_socket(&self, local: SocketAddrV4) -> Option<Arc<std::net::UdpSocket>> {
        self.listeners.lock().get(&(Transport::Udp, local)).and_then(|l| l.udp.clone())
    }
}

/// Held by whatever serves a registration, with the socket: when it is dropped, the socket
/// is closed and `stopcomm` may return.
pub struct Serving(#[allow(dead_code)] pub(super) Sender<()>);
