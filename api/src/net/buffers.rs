//! Kernel socket buffers: memory the vessel holds outside its heap. Each TCP connection's
//! buffers are bounded ([`TCP_BUFFER_BYTES`] asked per direction) and what the kernel then
//! grants is counted against the `memory` limit while the connection is open; a UDP
//! listener's receive buffer is sized to about a second of its receive limits, so datagrams
//! that wait for the rate do not queue for many seconds (the kernel drops the excess, as a
//! full socket does).
//!
//! Without this, 15 loopback TCP pairs held 61 MB of buffers under a 20 MB limit.

use std::sync::Arc;

use repy_policy::{Resource, Restrictions};

use crate::runtime::Runtime;

pub use crate::outside_heap::OutsideHeap;

/// Buffer size asked for each direction of a TCP connection. Linux doubles it (for its
/// bookkeeping), so a connection holds at most about 256 KiB; loopback throughput stays
/// that of the default autotuned buffers (docs/benchmarks.md).
pub const TCP_BUFFER_BYTES: u32 = 64 << 10;

/// Smallest and largest receive buffer asked for a UDP listener.
const UDP_RECEIVE_BUFFER: (f64, f64) = (4096.0, 256.0 * 1024.0);

/// The receive buffer of a UDP listener: one second of the lower of its two receive
/// limits, within [`UDP_RECEIVE_BUFFER`].
pub fn udp_receive_buffer(restrictions: &Restrictions) -> usize {
    let per_second = restrictions.limit(Resource::Looprecv).min(restrictions.limit(Resource::Netrecv));
    per_second.clamp(UDP_RECEIVE_BUFFER.0, UDP_RECEIVE_BUFFER.1) as usize
}

/// The buffers of one open connection, counted until it is dropped.
pub struct KernelBuffers {
    rt: Arc<Runtime>,
    bytes: usize,
}

impl KernelBuffers {
    /// Counts the send and receive buffers the kernel gave `socket`; `Err(bytes)` if they
    /// would take the vessel over its memory limit.
    pub fn count(rt: &Arc<Runtime>, socket: socket2::SockRef<'_>) -> Result<KernelBuffers, usize> {
        let bytes = socket.send_buffer_size().unwrap_or(0) + socket.recv_buffer_size().unwrap_or(0);
        if (rt.outside_heap.reserve)(bytes) {
            Ok(KernelBuffers { rt: rt.clone(), bytes })
        } else {
            Err(bytes)
        }
    }
}

impl Drop for KernelBuffers {
    fn drop(&mut self) {
        (self.rt.outside_heap.release)(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_udp_listener_buffers_about_one_second_of_its_receive_limit() {
        let with = |recv: &str| {
            repy_policy::parse(&repy_policy::DEFAULT_PROFILE.replace("resource looprecv 10000000", &format!("resource looprecv {recv}")))
                .unwrap()
        };
        assert_eq!(udp_receive_buffer(&with("10000")), 10000);
        assert_eq!(udp_receive_buffer(&with("10")), 4096, "at least a few datagrams");
        assert_eq!(udp_receive_buffer(&with("100000000")), 1000000.min(256 * 1024));
    }
}
