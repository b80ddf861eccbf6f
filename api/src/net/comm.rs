//! Registering listeners (`recvmess`, `waitforconn`), running their callbacks, their
//! commhandles and `stopcomm` (repy-api.md §7.1–§7.2, restrictions.md §4.5).
//!
//! Each registration is served by a host job on a sandbox thread that waits for an event to
//! be free, takes one datagram or connection, and has the program's function run on what
//! is, to the program, a new thread (TCP hands it to another thread; UDP hands the serving
//! on and runs the function where it is, see `udp.rs`). While any registration exists the
//! vessel holds one extra "listener" event.

use std::{
    net::SocketAddrV4,
    sync::{atomic::Ordering, Arc},
};

use parking_lot::Mutex;
use repy_interpreter::exceptions::RepyErrorKind;
use repy_policy::Resource;
use rustpython_vm::{pyclass, PyObjectRef, PyPayload, PyResult, VirtualMachine};
use tokio_util::sync::CancellationToken;

use super::{
    args::{authorize_listen, callback, listen_end, Transport},
    registry::{Endpoint, ListenKey, Listener, Serving},
    socket::Connection,
};
use crate::{
    call::Call,
    runtime::{Runtime, ThreadKind},
};

/// Running a registration's callbacks (needs the runtime, so not in `registry.rs`).
pub trait Callbacks {
    /// Runs the registered function on a new sandbox thread with the arguments `make_args`
    /// builds there (the last is this registration's handle). The caller holds the event
    /// the callback runs under; the callback gives it back when it returns.
    fn dispatch(
        &self,
        rt: &Arc<Runtime>,
        vm: &VirtualMachine,
        make_args: impl FnOnce(&VirtualMachine, PyObjectRef) -> Vec<PyObjectRef> + Send + 'static,
    );

    /// One call of the registered function (as of now) and its accounting, for
    /// [`Runtime::spawn`] or [`Runtime::run_here`]. It holds no reference to the listener,
    /// so a callback that stops its own registration does not keep the socket open.
    fn callback(
        &self,
        rt: &Arc<Runtime>,
        make_args: impl FnOnce(&VirtualMachine, PyObjectRef) -> Vec<PyObjectRef> + Send + 'static,
    ) -> impl FnOnce(&VirtualMachine) -> PyResult<()> + Send + 'static;
}

impl Callbacks for Listener {
    fn dispatch(
        &self,
        rt: &Arc<Runtime>,
        vm: &VirtualMachine,
        make_args: impl FnOnce(&VirtualMachine, PyObjectRef) -> Vec<PyObjectRef> + Send + 'static,
    ) {
        rt.spawn(vm, ThreadKind::Comm, self.callback(rt, make_args));
    }

    fn callback(
        &self,
        rt: &Arc<Runtime>,
        make_args: impl FnOnce(&VirtualMachine, PyObjectRef) -> Vec<PyObjectRef> + Send + 'static,
    ) -> impl FnOnce(&VirtualMachine) -> PyResult<()> + Send + 'static {
        let (generation, function) = self.function.lock().clone();
        let key = self.key;
        let rt = rt.clone();
        rt.activity_started();
        move |vm| {
            let handle = CommHandle { target: CommTarget::Listener(key, generation) }.into_ref(&vm.ctx).into();
            let args = make_args(vm, handle);
            function.call(args, vm)?;
            rt.nanny.release(Resource::Events);
            rt.activity_ended();
            Ok(())
        }
    }
}

/// What serves a registration until it is stopped (it may hand the serving on to another
/// thread, with the [`Serving`]). The [`Serving`] comes first so that, as parameters are
/// dropped last to first, it goes after the listener and the socket.
pub type Serve = fn(Serving, &VirtualMachine, &Arc<Runtime>, Arc<Listener>, Endpoint);

/// A `recvmess` or `waitforconn` call: checks the local end and the function, applies the
/// call rules (which see the address and port) and the vessel's ports, then registers.
pub fn listen(
    call: &Call,
    transport: Transport,
    [localip, localport]: [PyObjectRef; 2],
    function: PyObjectRef,
    bind_endpoint: impl FnOnce(&Runtime, SocketAddrV4) -> std::io::Result<Endpoint>,
    serve: Serve,
) -> PyResult {
    let end = listen_end(call, &localip, &localport)?;
    let function = callback(call, function)?;
    call.check_rules_on(&[localip, localport])?;
    authorize_listen(call, transport, end)?;
    register(call, (transport, end), function, |rt| bind_endpoint(rt, end), serve)
}

/// Registers `function` on `key` (checked by [`listen`]): replaces the function of an
/// existing registration, or takes an `insockets` unit (and the listener event for the
/// first registration), binds with `bind_endpoint` and starts serving.
fn register(
    call: &Call,
    key: ListenKey,
    function: PyObjectRef,
    bind_endpoint: impl FnOnce(&Runtime) -> std::io::Result<Endpoint>,
    serve: Serve,
) -> PyResult {
    let (rt, vm) = (call.rt, call.vm);
    let registry = &rt.net.registry;
    let generation = registry.generations.fetch_add(1, Ordering::Relaxed) + 1;
    let handle = || CommHandle { target: CommTarget::Listener(key, generation) }.into_ref(&vm.ctx).into();
    let mut listeners = registry.listeners.lock();
    if let Some(existing) = listeners.get(&key) {
        *existing.function.lock() = (generation, function);
        return Ok(handle());
    }
    call.acquire(Resource::Insockets)?;
    let first = listeners.is_empty();
    if first {
        if let Err(e) = call.acquire(Resource::Events) {
            rt.nanny.release(Resource::Insockets);
            return Err(e);
        }
    }
    let give_back = || {
        rt.nanny.release(Resource::Insockets);
        if first {
            rt.nanny.release(Resource::Events);
        }
    };
    let endpoint = match bind_endpoint(rt) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            give_back();
            return Err(
                call.error(RepyErrorKind::AddressBinding, format!("cannot listen on {}:{}: {}", key.1.ip(), key.1.port(), e.kind()))
            );
        }
    };
    let listener = Arc::new(Listener {
        key,
        function: Mutex::new((generation, function)),
        stop: CancellationToken::new(),
        served: Mutex::new(None),
        udp: match &endpoint {
            Endpoint::Udp(socket) => Some(socket.clone()),
            Endpoint::Tcp(_) => None,
        },
    });
    let (serving, served) = std::sync::mpsc::channel();
    *listener.served.lock() = Some(served);
    let (thread_rt, thread_listener) = (rt.clone(), listener.clone());
    rt.run_host_job(vm, ThreadKind::Comm, Box::new(move |vm| serve(Serving(serving), vm, &thread_rt, thread_listener, endpoint)));
    listeners.insert(key, listener);
    rt.activity_started();
    Ok(handle())
}

/// Ends the registration `key` if `generation` is still current: true if it did.
fn deregister(rt: &Runtime, vm: &VirtualMachine, key: ListenKey, generation: u64) -> bool {
    let listener = {
        let mut listeners = rt.net.registry.listeners.lock();
        match listeners.get(&key) {
            Some(l) if l.function.lock().0 == generation => {}
            _ => return false,
        }
        let listener = listeners.remove(&key).expect("present");
        rt.nanny.release(Resource::Insockets);
        if listeners.is_empty() {
            rt.nanny.release(Resource::Events);
        }
        listener
    };
    listener.stop.cancel();
    // The socket closes when the serving ends: wait, so the port is free on return. (The
    // program's own functions never run while holding the serving.)
    if let Some(served) = listener.served.lock().take() {
        vm.allow_threads(|| {
            let _ = served.recv();
        });
    }
    rt.activity_ended();
    true
}

/// What a commhandle stands for.
pub enum CommTarget {
    /// A registration, as of one generation.
    Listener(ListenKey, u64),
    /// An accepted connection (`thiscommhandle`): stopping it closes the socket.
    Connection(Arc<Connection>),
}

/// The handle `recvmess`/`waitforconn` return and callbacks receive; only `stopcomm` uses it.
#[pyclass(module = false, name = "commhandle")]
#[derive(PyPayload)]
pub struct CommHandle {
    pub target: CommTarget,
}

impl std::fmt::Debug for CommHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("commhandle")
    }
}

#[pyclass]
impl CommHandle {}

api_function! {
    /// Stops a registration or closes an accepted connection: true if it did.
    fn stopcomm(call, commhandle) {
        let Some(handle) = commhandle.downcast_ref::<CommHandle>() else {
            return Err(call.arg_error("commhandle must be a handle returned by recvmess or waitforconn"));
        };
        call.check_rules_on(&[])?;
        let stopped = match &handle.target {
            CommTarget::Listener(key, generation) => deregister(call.rt, call.vm, *key, *generation),
            CommTarget::Connection(connection) => connection.close(),
        };
        Ok(call.vm.ctx.new_bool(stopped).into())
    }
}
