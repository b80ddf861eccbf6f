//! TCP: `openconn` and `waitforconn` (repy-api.md §7.2).

use std::{
    io,
    net::{Ipv4Addr, SocketAddrV4},
    sync::Arc,
    time::{Duration, Instant},
};

use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{exact_str, number},
};
use repy_policy::Resource;
use rustpython_vm::{builtins::PyBaseExceptionRef, PyPayload, PyResult, VirtualMachine};
use tokio::net::{TcpSocket, TcpStream};

use super::{
    args::{destination, local_end, Transport},
    buffers::TCP_BUFFER_BYTES,
    comm::{listen, Callbacks, CommHandle, CommTarget},
    registry::{Endpoint, Listener, Serving},
    socket::{Connection, Refused, RepySocket},
    Traffic,
};
use crate::{call::Call, runtime::Runtime};

/// `openconn`'s timeout when none is given.
const DEFAULT_TIMEOUT_SECS: f64 = 5.0;

/// The longest an `openconn` waits, whatever its timeout (`1e308`, `2**70`): far beyond
/// the OS's own connect time-out, and small enough that a deadline never overflows.
const MAX_CONNECT_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Pause before retrying a local port the OS is still releasing.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Connections waiting to be accepted (std's TcpListener asks for 128).
const LISTEN_BACKLOG: u32 = 128;

/// Charges of a connection's set-up (restrictions.md §4.6): (send side, receive side).
const OPENED: (usize, usize) = (128, 64);
const ACCEPTED: (usize, usize) = (64, 128);

api_function! {
    /// Opens a TCP connection to `desthost`:`destport` within `timeout` seconds; returns
    /// its socket object.
    fn openconn(call, desthost, destport; localip, localport, timeout) {
        let (rt, vm) = (call.rt, call.vm);
        if exact_str(&desthost, vm).is_none() {
            return Err(call.arg_error("desthost must be a str"));
        }
        super::args::port(&call, "destport", &destport)?;
        let local = local_end(&call, localip.as_ref(), localport.as_ref())?;
        let timeout = match timeout {
            None => DEFAULT_TIMEOUT_SECS,
            Some(t) => number(&t, vm)
                .filter(|t| *t > 0.0 && t.is_finite())
                .ok_or_else(|| call.arg_error("timeout must be a number greater than 0"))?,
        };
        call.check_rules()?;
        let local = local.authorize(&call, Transport::Tcp)?;
        let dest = destination(&call, &desthost, &destport)?;
        call.acquire_reclaiming(Resource::Outsockets)?;
        let stream = match connect_charged(&call, local, dest, timeout) {
            Ok(stream) => stream,
            Err(e) => {
                rt.nanny.release(Resource::Outsockets);
                return Err(e);
            }
        };
        match Connection::new(rt, stream) {
            Ok(connection) => Ok(RepySocket { connection }.into_ref(&vm.ctx).into()),
            Err(Refused::Ended) => Err(call.error(RepyErrorKind::Network, format!("connection to {dest} ended at once"))),
            Err(Refused::Memory(bytes)) => Err(call.error(
                RepyErrorKind::ResourceExhausted,
                format!("the connection's kernel buffers ({bytes} bytes) would take the vessel over its memory limit"),
            )),
        }
    }
}

/// Checks the tuple, waits for the traffic resources, connects and charges the set-up.
fn connect_charged(call: &Call, local: SocketAddrV4, dest: SocketAddrV4, timeout: f64) -> PyResult<TcpStream> {
    let rt = call.rt;
    if local.port() != 0 && rt.net.tuple_in_use(local, dest) {
        return Err(call.error(RepyErrorKind::DuplicateTuple, format!("Duplicate connection tuple (local {local}, remote {dest})")));
    }
    let traffic = Traffic::with(*dest.ip());
    call.wait_traffic(traffic)?;
    let deadline = Instant::now() + crate::timer::seconds(timeout).min(MAX_CONNECT_WAIT);
    let stream = call
        .vm
        .allow_threads(|| rt.io().block_on(connect(local, dest, deadline)))
        .map_err(|e| connect_error(rt, call.vm, local, dest, timeout, e))?;
    call.charge_traffic(traffic, OPENED.0, OPENED.1)?;
    Ok(stream)
}

/// Bounds the kernel buffers of a socket (and of the connections a listening socket
/// accepts, which inherit them).
fn bound_buffers(socket: &TcpSocket) -> io::Result<()> {
    socket.set_send_buffer_size(TCP_BUFFER_BYTES)?;
    socket.set_recv_buffer_size(TCP_BUFFER_BYTES)
}

enum ConnectError {
    Bind(io::Error),
    Connect(io::Error),
    TimedOut,
}

/// Connects from `local` (unspecified parts left to the OS) before `deadline`, retrying
/// while a named local port is still held by the OS.
async fn connect(local: SocketAddrV4, dest: SocketAddrV4, deadline: Instant) -> Result<TcpStream, ConnectError> {
    let named_port = local.port() != 0;
    loop {
        let attempt = async {
            let socket = TcpSocket::new_v4().map_err(ConnectError::Connect)?;
            bound_buffers(&socket).map_err(ConnectError::Connect)?;
            if named_port {
                socket.set_reuseaddr(true).map_err(ConnectError::Bind)?;
            }
            if local != SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0) {
                socket.bind(local.into()).map_err(ConnectError::Bind)?;
            }
            socket.connect(dest.into()).await.map_err(ConnectError::Connect)
        };
        let outcome = match tokio::time::timeout_at(deadline.into(), attempt).await {
            Err(_) => return Err(ConnectError::TimedOut),
            Ok(outcome) => outcome,
        };
        match outcome {
            Err(ConnectError::Bind(e) | ConnectError::Connect(e))
                if named_port
                    && matches!(e.kind(), io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable)
                    && Instant::now() + RETRY_PAUSE < deadline =>
            {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

fn connect_error(
    rt: &Runtime,
    vm: &VirtualMachine,
    local: SocketAddrV4,
    dest: SocketAddrV4,
    timeout: f64,
    e: ConnectError,
) -> PyBaseExceptionRef {
    use io::ErrorKind as K;
    match e {
        ConnectError::TimedOut => {
            rt.error(vm, RepyErrorKind::Timeout, format!("openconn: connection to {dest} timed out after {timeout} s"))
        }
        ConnectError::Bind(e) => {
            rt.error(vm, RepyErrorKind::AddressBinding, format!("openconn: cannot bind local address {local}: {}", e.kind()))
        }
        ConnectError::Connect(e) => match e.kind() {
            K::ConnectionRefused | K::ConnectionReset => {
                rt.error(vm, RepyErrorKind::ConnectionRefused, format!("openconn: connection to {dest} refused"))
            }
            K::NetworkUnreachable | K::HostUnreachable => {
                rt.error(vm, RepyErrorKind::InternetConnectivity, format!("openconn: no route to {dest}"))
            }
            K::AddrInUse | K::AddrNotAvailable => {
                rt.error(vm, RepyErrorKind::AddressBinding, format!("openconn: cannot use local address {local}: {}", e.kind()))
            }
            K::TimedOut => rt.error(vm, RepyErrorKind::Timeout, format!("openconn: connection to {dest} timed out")),
            kind => rt.error(vm, RepyErrorKind::Network, format!("openconn: connection to {dest} failed: {kind}")),
        },
    }
}

api_function! {
    /// Calls `function(remoteip, remoteport, socket, thiscommhandle, listencommhandle)` for
    /// each connection accepted on `localip`:`localport`; returns the listener's commhandle.
    fn waitforconn(call, localip, localport, function) {
        listen(
            &call,
            Transport::Tcp,
            [localip, localport],
            function,
            |rt, end| {
                let _context = rt.io().enter();
                let socket = TcpSocket::new_v4()?;
                // As std's TcpListener::bind on Unix: a restarted server can bind at once.
                #[cfg(unix)]
                socket.set_reuseaddr(true)?;
                bound_buffers(&socket)?;
                socket.bind(end.into())?;
                Ok(Endpoint::Tcp(socket.listen(LISTEN_BACKLOG)?))
            },
            serve,
        )
    }
}

/// Accepts a connection once both an event and an `outsockets` unit are free (until then
/// it waits in the OS's backlog), and takes them for its callback.
fn serve(_serving: Serving, vm: &VirtualMachine, rt: &Arc<Runtime>, listener: Arc<Listener>, endpoint: Endpoint) {
    let Endpoint::Tcp(socket) = endpoint else { return };
    let stop = listener.stop_token().clone();
    loop {
        if !listener.wait_free(&rt.nanny, Resource::Events) || !listener.wait_free(&rt.nanny, Resource::Outsockets) {
            return;
        }
        let accepted = vm.allow_threads(|| {
            rt.io().block_on(async {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => None,
                    accepted = socket.accept() => Some(accepted),
                }
            })
        });
        let stream = match accepted {
            None => return,
            Some(Ok((stream, _))) => stream,
            Some(Err(_)) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Another thread may have taken the units meanwhile: the connection waits for them.
        if !listener.take(&rt.nanny, Resource::Events) {
            return;
        }
        if !listener.take(&rt.nanny, Resource::Outsockets) {
            rt.nanny.release(Resource::Events);
            return;
        }
        // An accepted connection whose buffers do not fit under the memory limit is closed.
        let Ok(connection) = Connection::new(rt, stream) else {
            rt.nanny.release(Resource::Events);
            continue;
        };
        let remote = connection.remote();
        let traffic = Traffic::with(*remote.ip());
        let charged = rt
            .nanny
            .charge_after(traffic.send_resource(), ACCEPTED.0 as f64)
            .and_then(|_| rt.nanny.charge_after(traffic.recv_resource(), ACCEPTED.1 as f64));
        if charged.is_err() {
            // A traffic limit of 0: this vessel cannot take connections from that peer.
            drop(connection);
            rt.nanny.release(Resource::Events);
            continue;
        }
        listener.dispatch(rt, vm, move |vm, listen_handle| {
            let this_handle = CommHandle { target: CommTarget::Connection(connection.clone()) }.into_ref(&vm.ctx).into();
            vec![
                vm.ctx.new_str(remote.ip().to_string()).into(),
                vm.ctx.new_int(remote.port()).into(),
                RepySocket { connection }.into_ref(&vm.ctx).into(),
                this_handle,
                listen_handle,
            ]
        });
    }
}
