//! UDP: `sendmess` and `recvmess` (repy-api.md §7.1).

use std::{
    io,
    net::{SocketAddr, SocketAddrV4, UdpSocket},
    sync::Arc,
    time::Duration,
};

use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{byte_str, exact_str},
};
use repy_policy::Resource;
use rustpython_vm::VirtualMachine;
use tokio_util::sync::CancellationToken;

use super::{
    args::{destination, local_end, port, Transport, MAX_DATAGRAM},
    buffers::udp_receive_buffer,
    comm::{listen, Callbacks},
    registry::{Endpoint, Listener, Serving},
    Traffic,
};
use crate::runtime::{Runtime, ThreadKind};

/// How often a listener waiting for a datagram looks whether it was stopped.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Per-datagram header charge (restrictions.md §4.6).
const HEADER: usize = 64;

api_function! {
    /// Sends one datagram; returns the bytes sent.
    fn sendmess(call, desthost, destport, message; localip, localport) {
        let (rt, vm) = (call.rt, call.vm);
        if exact_str(&desthost, vm).is_none() {
            return Err(call.arg_error("desthost must be a str"));
        }
        port(&call, "destport", &destport)?;
        let data = super::args::message(&call, &message)?;
        if data.len() > MAX_DATAGRAM {
            return Err(call.arg_error(format!("message is {} bytes (at most {MAX_DATAGRAM})", data.len())));
        }
        let local = local_end(&call, localip.as_ref(), localport.as_ref())?;
        call.check_rules()?;
        let named = local.ip.is_some() && local.port != 0;
        let local = local.authorize(&call, Transport::Udp)?;
        let dest = destination(&call, &desthost, &destport)?;
        let traffic = Traffic::with(*dest.ip());
        // The whole datagram is taken before it goes: one datagram cannot be split.
        let taken = call.take(traffic.send_resource(), HEADER + data.len(), HEADER + data.len())?;
        let registered = if named { rt.net.registry.udp_socket(local) } else { None };
        let sent = match registered {
            Some(socket) => vm.allow_threads(|| send_nonblocking(&socket, &data, dest)),
            None => {
                let socket = UdpSocket::bind(local)
                    .map_err(|e| call.error(RepyErrorKind::AddressBinding, format!("cannot bind local address {local}: {}", e.kind())))?;
                socket.send_to(&data, dest)
            }
        };
        let sent = sent.inspect_err(|_| call.refund(traffic.send_resource(), taken)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable => {
                call.error(RepyErrorKind::InternetConnectivity, format!("no route to {dest}"))
            }
            kind => call.error(RepyErrorKind::Network, format!("sending to {dest} failed: {kind}")),
        })?;
        call.refund(traffic.send_resource(), taken.saturating_sub(HEADER + sent));
        Ok(vm.ctx.new_int(sent).into())
    }
}

api_function! {
    /// Calls `function(remoteip, remoteport, message, commhandle)` for each datagram that
    /// arrives on `localip`:`localport`; returns the registration's commhandle.
    fn recvmess(call, localip, localport, function) {
        listen(
            &call,
            Transport::Udp,
            [localip, localport],
            function,
            |rt, end| {
                let socket = UdpSocket::bind(end)?;
                socket.set_nonblocking(true)?;
                socket2::SockRef::from(&socket).set_recv_buffer_size(udp_receive_buffer(&rt.restrictions))?;
                Ok(Endpoint::Udp(Arc::new(socket)))
            },
            serve,
        )
    }
}

/// Serves a UDP registration (see [`UdpServer`]).
fn serve(serving: Serving, vm: &VirtualMachine, rt: &Arc<Runtime>, listener: Arc<Listener>, endpoint: Endpoint) {
    let Endpoint::Udp(socket) = endpoint else { return };
    UdpServer { listener, socket, buffer: vec![0u8; MAX_DATAGRAM], _serving: serving }.serve(vm, rt);
}

/// Delivers datagrams while an event is free; a datagram stays in the socket until its
/// sender's receive-side resource is within its limit.
///
/// Leader and followers: the thread that takes a datagram hands the serving to another
/// sandbox thread and runs the program's function itself, so the datagram reaches the
/// program without waiting for a second thread to wake (UDP ping-pong went from 0.73× to
/// 0.80–0.94× CPython, docs/benchmarks.md). Its fields drop in order, the [`Serving`] last.
struct UdpServer {
    listener: Arc<Listener>,
    socket: Arc<UdpSocket>,
    buffer: Vec<u8>,
    /// Held, never read: dropping it tells `stopcomm` the socket is closed.
    _serving: Serving,
}

impl UdpServer {
    fn serve(mut self, vm: &VirtualMachine, rt: &Arc<Runtime>) {
        let stop = self.listener.stop_token().clone();
        loop {
            if !vm.allow_threads(|| wait_datagram(&self.socket, &stop)) {
                return;
            }
            // The datagram waits in the socket until an event is free and the sender's
            // receive-side resource is within its limit.
            if !self.listener.take(&rt.nanny, Resource::Events) {
                return;
            }
            // Usually both receive resources have room for the largest datagram and it is
            // taken at once; otherwise a peek tells the sender and the size, and the
            // datagram waits until the sender's resource has room for all of it.
            let room = (HEADER + MAX_DATAGRAM) as f64;
            let taken = if rt.nanny.has_room(Resource::Looprecv, room) && rt.nanny.has_room(Resource::Netrecv, room) {
                None
            } else {
                match self.socket.peek_from(&mut self.buffer) {
                    Ok((length, SocketAddr::V4(from))) => {
                        let resource = Traffic::with(*from.ip()).recv_resource();
                        let units = (HEADER + length) as f64;
                        Some(vm.allow_threads(|| rt.nanny.take(resource, units, units)).map(|taken| (resource, taken)))
                    }
                    _ => None,
                }
            };
            let (length, from) = match (self.socket.recv_from(&mut self.buffer), &taken) {
                (Ok((length, SocketAddr::V4(from))), None | Some(Ok(_))) => (length, from),
                // Nothing after all, an error, or a receive limit of 0 (the datagram is dropped).
                (_, taken) => {
                    if let Some(Ok((resource, units))) = taken {
                        rt.nanny.refund(*resource, *units);
                    }
                    rt.nanny.release(Resource::Events);
                    continue;
                }
            };
            let resource = Traffic::with(*from.ip()).recv_resource();
            match taken {
                // Another datagram than the one peeked (another thread's read came between).
                Some(Ok((peeked, units))) if peeked != resource || units != (HEADER + length) as f64 => {
                    rt.nanny.refund(peeked, units);
                    let _ = rt.nanny.charge_after(resource, (HEADER + length) as f64);
                }
                Some(_) => {}
                None => {
                    let _ = rt.nanny.charge_after(resource, (HEADER + length) as f64);
                }
            }
            let message = self.buffer[..length].to_vec();
            let call = self.listener.callback(rt, move |vm, handle| {
                vec![vm.ctx.new_str(from.ip().to_string()).into(), vm.ctx.new_int(from.port()).into(), byte_str(vm, &message), handle]
            });
            let next_rt = rt.clone();
            rt.run_host_job(vm, ThreadKind::Comm, Box::new(move |vm| self.serve(vm, &next_rt)));
            rt.run_here(vm, ThreadKind::Comm, call);
            return;
        }
    }
}

/// Waits until a datagram is there (false once the listener is stopped). The thread waits
/// in the kernel, looking for a stop every [`STOP_POLL`].
fn wait_datagram(socket: &UdpSocket, stop: &CancellationToken) -> bool {
    loop {
        if stop.is_cancelled() {
            return false;
        }
        match wait_for(socket, false) {
            Ok(true) => return true,
            Ok(false) => {}
            // No readiness call here: look again shortly.
            Err(_) => {
                std::thread::sleep(STOP_POLL / 10);
                return true;
            }
        }
    }
}

/// Sends on a non-blocking socket, waiting for room if the OS has none.
fn send_nonblocking(socket: &UdpSocket, data: &[u8], dest: SocketAddrV4) -> io::Result<usize> {
    loop {
        match socket.send_to(data, dest) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if wait_for(socket, true).is_err() {
                    std::thread::sleep(STOP_POLL / 10);
                }
            }
            sent => return sent,
        }
    }
}

/// Waits up to [`STOP_POLL`] for the socket to be readable (or writable).
fn wait_for(socket: &UdpSocket, write: bool) -> io::Result<bool> {
    use repy_portability::readiness::{raw_socket, wait_readable, wait_writable};
    let raw = raw_socket(socket);
    if write {
        wait_writable(raw, STOP_POLL)
    } else {
        wait_readable(raw, STOP_POLL)
    }
}
