//! TCP connections and the socket objects programs hold (repy-api.md §7.2): `send`, `recv`,
//! `close`, `willblock`. A connection closes when the program closes it or when nothing
//! refers to it any more, and gives back its `outsockets` unit then.

use std::{
    io,
    mem::MaybeUninit,
    net::{SocketAddr, SocketAddrV4},
    sync::Arc,
    time::Duration,
};

use parking_lot::Mutex;
use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{byte_str, exact_int},
};
use repy_policy::Resource;
use rustpython_vm::{builtins::PyBaseExceptionRef, function::FuncArgs, pyclass, Py, PyPayload, PyResult, VirtualMachine};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{buffers::KernelBuffers, Traffic};
use crate::{call::Call, runtime::Runtime};

/// Most bytes one `recv` returns, whatever it asks for.
const MAX_RECV: usize = 1 << 20;

/// Per-operation header charge (restrictions.md §4.6).
const HEADER: usize = 64;

/// `str(e)` of every SocketClosedError (Repy V1 programs compare it).
const SOCKET_CLOSED: &str = "Socket closed";

/// One open TCP connection of the vessel.
pub struct Connection {
    rt: Arc<Runtime>,
    /// `None` once closed by the program.
    stream: Mutex<Option<Arc<TcpStream>>>,
    /// Wakes operations blocked on this connection when it is closed.
    closed: CancellationToken,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    traffic: Traffic,
    /// Counted against `memory` while the connection is open.
    _buffers: KernelBuffers,
}

/// Why a connected stream could not become a [`Connection`].
pub enum Refused {
    /// The connection ended before its ends were known.
    Ended,
    /// Its kernel buffers (bytes) would take the vessel over its memory limit.
    Memory(usize),
}

/// Why a transfer ended without data.
enum Failure {
    ClosedLocal,
    ClosedRemote,
    Other(io::Error),
}

impl Failure {
    fn from_io(e: io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof => Failure::ClosedRemote,
            _ => Failure::Other(e),
        }
    }
}

impl Connection {
    /// Wraps a connected stream that already holds an `outsockets` unit (given back on
    /// close, also when this fails).
    pub fn new(rt: &Arc<Runtime>, stream: TcpStream) -> Result<Arc<Connection>, Refused> {
        let ends = match (stream.local_addr(), stream.peer_addr()) {
            (Ok(SocketAddr::V4(local)), Ok(SocketAddr::V4(remote))) => Ok((local, remote)),
            _ => Err(Refused::Ended),
        };
        let counted = ends.and_then(|ends| Ok((ends, KernelBuffers::count(rt, socket2::SockRef::from(&stream)).map_err(Refused::Memory)?)));
        let ((local, remote), buffers) = match counted {
            Ok(counted) => counted,
            Err(refused) => {
                rt.nanny.release(Resource::Outsockets);
                return Err(refused);
            }
        };
        rt.net.claim_tuple(local, remote);
        Ok(Arc::new(Connection {
            rt: rt.clone(),
            stream: Mutex::new(Some(Arc::new(stream))),
            closed: CancellationToken::new(),
            local,
            remote,
            traffic: Traffic::with(*remote.ip()),
            _buffers: buffers,
        }))
    }

    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// Closes gracefully (pending data is delivered, then FIN; unread incoming data is
    /// drained first so the OS does not answer with a reset). True the first time.
    pub fn close(&self) -> bool {
        let Some(stream) = self.stream.lock().take() else {
            return false;
        };
        self.closed.cancel();
        let mut sink = [0u8; 4096];
        while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
        drop(stream);
        self.rt.net.release_tuple(self.local, self.remote);
        self.rt.nanny.release(Resource::Outsockets);
        true
    }

    fn closed_error(&self, vm: &VirtualMachine, kind: RepyErrorKind) -> PyBaseExceptionRef {
        self.rt.error(vm, kind, SOCKET_CLOSED)
    }

    fn open_stream(&self, vm: &VirtualMachine) -> PyResult<Arc<TcpStream>> {
        self.stream.lock().clone().ok_or_else(|| self.closed_error(vm, RepyErrorKind::SocketClosedLocal))
    }

    fn failure(&self, call: &Call, failure: Failure) -> PyBaseExceptionRef {
        match failure {
            Failure::ClosedLocal => self.closed_error(call.vm, RepyErrorKind::SocketClosedLocal),
            Failure::ClosedRemote => self.closed_error(call.vm, RepyErrorKind::SocketClosedRemote),
            Failure::Other(e) => call.error(RepyErrorKind::Network, format!("connection with {}: {}", self.remote, e.kind())),
        }
    }

    /// One `send` or `recv` of up to `wanted` bytes: once the socket is ready, takes
    /// `resource` for the header and up to `wanted` bytes, and runs `op(stream, most)`
    /// (non-blocking), which moves at most `most` bytes. What it did not move is given
    /// back; if the socket was not ready after all, everything is, and it waits again.
    fn transfer(
        &self,
        call: &Call,
        stream: &TcpStream,
        interest: tokio::io::Interest,
        resource: Resource,
        wanted: usize,
        mut op: impl FnMut(&TcpStream, usize) -> io::Result<usize>,
    ) -> PyResult<usize> {
        loop {
            call.vm.allow_threads(|| self.blocking(stream, interest, |_| Ok(()))).map_err(|f| self.failure(call, f))?;
            let taken = call.take(resource, HEADER + wanted, HEADER + wanted.min(1))?;
            let most = taken - HEADER;
            match op(stream, most) {
                Ok(moved) => {
                    call.refund(resource, most - moved.min(most));
                    return Ok(moved);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => call.refund(resource, taken),
                Err(e) => {
                    call.refund(resource, most);
                    return Err(self.failure(call, Failure::from_io(e)));
                }
            }
        }
    }

    /// Waits until `ready` resolves or the connection is closed locally, then runs `op`
    /// (non-blocking); repeats while `op` would block.
    fn blocking<T>(
        &self,
        stream: &TcpStream,
        interest: tokio::io::Interest,
        mut op: impl FnMut(&TcpStream) -> io::Result<T>,
    ) -> Result<T, Failure> {
        self.rt.io().block_on(async {
            loop {
                tokio::select! {
                    biased;
                    _ = self.closed.cancelled() => return Err(Failure::ClosedLocal),
                    ready = stream.ready(interest) => { ready.map_err(Failure::from_io)?; }
                }
                match op(stream) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    other => return other.map_err(Failure::from_io),
                }
            }
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// A socket object: a connection from `openconn` or one accepted for `waitforconn`.
#[pyclass(module = false, name = "socket")]
#[derive(PyPayload)]
pub struct RepySocket {
    pub connection: Arc<Connection>,
}

impl std::fmt::Debug for RepySocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("socket")
    }
}

#[pyclass]
impl RepySocket {
    #[pymethod]
    fn send(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult<usize> {
        let conn = &zelf.connection;
        let (call, [message], []) = Call::bind("socket.send", ["message"], [], &conn.rt, vm, args)?;
        let data = super::args::message(&call, &message)?;
        let stream = conn.open_stream(vm)?;
        call.check_rules()?;
        call.wait_for(conn.traffic.recv_resource())?;
        if data.is_empty() {
            call.charge_traffic(conn.traffic, HEADER, HEADER)?;
            return Ok(0);
        }
        // Sends what both the kernel's buffer and the send resource take now.
        let sent = conn.transfer(&call, &stream, tokio::io::Interest::WRITABLE, conn.traffic.send_resource(), data.len(), |s, most| {
            s.try_write(&data[..most])
        })?;
        call.charge(conn.traffic.recv_resource(), HEADER as f64)?;
        Ok(sent)
    }

    #[pymethod]
    fn recv(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        let conn = &zelf.connection;
        let (call, [bytes], []) = Call::bind("socket.recv", ["bytes"], [], &conn.rt, vm, args)?;
        let wanted = exact_int(&bytes, vm).filter(|&n| n >= 1).ok_or_else(|| call.arg_error("bytes must be an int of at least 1"))?;
        let wanted = usize::try_from(wanted).unwrap_or(MAX_RECV).min(MAX_RECV);
        let stream = conn.open_stream(vm)?;
        call.check_rules()?;
        call.wait_for(conn.traffic.send_resource())?;
        // Read into spare capacity: no zeroing of a buffer the data then overwrites.
        let mut buffer = Vec::new();
        let received = conn.transfer(&call, &stream, tokio::io::Interest::READABLE, conn.traffic.recv_resource(), wanted, |s, most| {
            buffer = Vec::with_capacity(most);
            match s.try_read_buf(&mut buffer) {
                Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
                other => other,
            }
        })?;
        call.charge(conn.traffic.send_resource(), HEADER as f64)?;
        Ok(byte_str(vm, &buffer[..received.min(buffer.len())]))
    }

    #[pymethod]
    fn close(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<bool> {
        zelf.connection.rt.check_call_args(vm, "socket.close", &[])?;
        Ok(zelf.connection.close())
    }

    /// `(recv_would_block, send_would_block)`, without blocking.
    #[pymethod]
    fn willblock(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult {
        let conn = &zelf.connection;
        let stream = conn.open_stream(vm)?;
        let mut probe = [MaybeUninit::<u8>::uninit(); 1];
        let recv_blocks = matches!(socket2::SockRef::from(&*stream).peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        // Asked of the kernel: the I/O runtime's readiness stays "writable" until a write
        // fails, also when the buffer has just filled up.
        let raw = repy_portability::readiness::raw_socket(&*stream);
        let send_blocks = !repy_portability::readiness::wait_writable(raw, Duration::ZERO).unwrap_or(true);
        Ok(vm.ctx.new_tuple(vec![vm.ctx.new_bool(recv_blocks).into(), vm.ctx.new_bool(send_blocks).into()]).into())
    }
}
