//! The Repy API as programs see it (repy-api.md §2–§8). Each function is a native Rust
//! function bound into the program's globals; every call binds and type-checks its
//! arguments, applies the restrictions file's call rules, charges its resources through the
//! nanny, and only then acts.

pub mod args;
pub mod file;
pub mod lifecycle;
pub mod lock;
pub mod misc;
pub mod namespace;
pub mod net;
pub mod output;
pub mod print;
pub mod runtime;
pub mod threads;
pub mod timer;
pub mod usage;

use std::sync::Arc;

use rustpython_vm::{builtins::PyDictRef, class::PyClassImpl, function::FuncArgs, PyObjectRef, PyPayload, PyResult, VirtualMachine};

use repy_interpreter::safedict::SafeDict;
use runtime::Runtime;

type ApiFn = fn(&Arc<Runtime>, FuncArgs, &VirtualMachine) -> PyResult<PyObjectRef>;

/// Functions bound in the program's globals.
const GLOBAL_FUNCTIONS: &[(&str, ApiFn)] = &[
    ("settimer", timer::settimer),
    ("canceltimer", timer::canceltimer),
    ("sleep", timer::sleep),
    ("getlock", lock::getlock),
    ("getruntime", misc::getruntime),
    ("randomfloat", misc::randomfloat),
    ("get_thread_name", misc::get_thread_name),
    ("exitall", misc::exitall),
    ("VirtualNamespace", namespace::virtual_namespace),
    ("listdir", file::listdir),
    ("removefile", file::removefile),
    ("getmyip", net::addresses::getmyip),
    ("gethostbyname_ex", net::addresses::gethostbyname_ex),
    ("sendmess", net::udp::sendmess),
    ("recvmess", net::udp::recvmess),
    ("openconn", net::tcp::openconn),
    ("waitforconn", net::tcp::waitforconn),
    ("stopcomm", net::comm::stopcomm),
];

/// Functions that replace builtins, so VirtualNamespace code sees them too.
const BUILTIN_FUNCTIONS: &[(&str, ApiFn)] = &[("print", print::print), ("open", file::open)];

/// Names of every function the API exposes to programs.
pub fn exposed_names() -> impl Iterator<Item = &'static str> {
    GLOBAL_FUNCTIONS.iter().chain(BUILTIN_FUNCTIONS).map(|(name, _)| *name)
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
    let native = |name: &'static str, f: ApiFn| {
        let rt = rt.clone();
        vm.new_function(name, move |args: FuncArgs, vm: &VirtualMachine| f(&rt, args, vm))
    };
    for &(name, f) in GLOBAL_FUNCTIONS {
        globals.set_item(name, native(name, f).into(), vm)?;
    }
    // SafeDict is a type programs construct; `_context` is a SafeDict view of the globals.
    globals.set_item("SafeDict", SafeDict::make_static_type().into(), vm)?;
    globals.set_item("_context", SafeDict::wrap(globals.clone()).into_ref(&vm.ctx).into(), vm)?;
    for &(name, f) in BUILTIN_FUNCTIONS {
        vm.builtins.dict().set_item(name, native(name, f).into(), vm)?;
    }
    Ok(())
}
