//! The Repy API as programs see it (repy-api.md §2–§8). Each function is a native Rust
//! function bound into the program's globals; every call binds and type-checks its
//! arguments, applies the restrictions file's call rules, charges its resources through the
//! nanny, and only then acts.
//!
//! Layout: `call.rs` binds calls to their signatures ([`api_function!`] declares a module
//! function, methods use [`call::Call::bind`]); `runtime.rs` is the state every thread
//! shares, holding the network state (`net/mod.rs`, `net/addresses.rs`,
//! `net/registry.rs`), the open files (`open_files.rs`) and the count of memory outside the heap (`outside_heap.rs`), none of which imports a call.
//! The calls live in one file per family: `file.rs`, `timer.rs`, `lock.rs`, `misc.rs`,
//! `namespace.rs`, `print.rs` and `net/`. `lifecycle.rs` runs a program, `imports.rs` its
//! libraries.

#[macro_use]
pub mod call;
pub mod file;
pub mod imports;
pub mod lifecycle;
pub mod lock;
pub mod misc;
pub mod namespace;
pub mod net;
pub mod open_files;
pub mod output;
pub mod outside_heap;
pub mod print;
pub mod runtime;
#[cfg(test)]
mod testing;
pub mod threads;
pub mod timer;
pub mod usage;

use std::sync::Arc;

use rustpython_vm::{builtins::PyDictRef, class::PyClassImpl, function::FuncArgs, PyPayload, PyResult, VirtualMachine};

use call::ApiFunction;
use repy_interpreter::safedict::SafeDict;
use runtime::Runtime;

/// Functions bound in the program's globals.
const GLOBAL_FUNCTIONS: &[ApiFunction] = &[
    timer::settimer,
    timer::canceltimer,
    timer::sleep,
    lock::getlock,
    misc::getruntime,
    misc::randomfloat,
    misc::get_thread_name,
    misc::exitall,
    namespace::VirtualNamespace,
    file::listdir,
    file::removefile,
    net::names::getmyip,
    net::names::gethostbyname_ex,
    net::udp::sendmess,
    net::udp::recvmess,
    net::tcp::openconn,
    net::tcp::waitforconn,
    net::comm::stopcomm,
];

/// Functions that replace builtins, so VirtualNamespace code sees them too.
const BUILTIN_FUNCTIONS: &[ApiFunction] = &[print::print, file::open];

/// Every function the API exposes to programs, with its signature.
pub fn functions() -> impl Iterator<Item = &'static ApiFunction> {
    GLOBAL_FUNCTIONS.iter().chain(BUILTIN_FUNCTIONS)
}

/// Names of every function the API exposes to programs.
pub fn exposed_names() -> impl Iterator<Item = &'static str> {
    functions().map(|f| f.name)
}

/// Binds the API into `globals` and the builtins module.
pub fn install(vm: &VirtualMachine, rt: &Arc<Runtime>, globals: &PyDictRef) -> PyResult<()> {
    let api_classes = [
        timer::TimerHandle::make_static_type(),
        lock::Lock::make_static_type(),
        namespace::VirtualNamespace::make_static_type(),
        file::FileObject::make_static_type(),
        net::comm::CommHandle::make_static_type(),
        net::socket::RepySocket::make_static_type(),
    ];
    for class in api_classes {
        // API objects come only from API calls: their types cannot be called.
        class.slots.new.store(None);
    }
    for f in BUILTIN_FUNCTIONS {
        vm.builtins.dict().set_item(f.name, native(vm, rt, f), vm)?;
    }
    install_globals(vm, rt, globals)
}

/// Binds the API's global functions into `globals`: a program's, or a library's.
pub fn install_globals(vm: &VirtualMachine, rt: &Arc<Runtime>, globals: &PyDictRef) -> PyResult<()> {
    for f in GLOBAL_FUNCTIONS {
        globals.set_item(f.name, native(vm, rt, f), vm)?;
    }
    // SafeDict is a type programs construct; `_context` is a SafeDict view of the globals.
    globals.set_item("SafeDict", SafeDict::make_static_type().into(), vm)?;
    globals.set_item("_context", SafeDict::wrap(globals.clone()).into_ref(&vm.ctx).into(), vm)?;
    Ok(())
}

fn native(vm: &VirtualMachine, rt: &Arc<Runtime>, f: &ApiFunction) -> rustpython_vm::PyObjectRef {
    let (rt, run) = (rt.clone(), f.run);
    vm.new_function(f.name, move |args: FuncArgs, vm: &VirtualMachine| run(&rt, args, vm)).into()
}
