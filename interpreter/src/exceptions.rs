//! The Repy exception hierarchy of repy-api.md §5, created as heap classes and bound in the
//! sandbox builtins.

use rustpython_vm::{
    builtins::{PyBaseExceptionRef, PyTypeRef},
    PyResult, VirtualMachine,
};

/// Every Repy exception class, in creation order (a parent comes before its children).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepyErrorKind {
    Repy,
    Argument,
    CodeUnsafe,
    SafetyViolation,
    ContextUnsafe,
    Resource,
    ResourceExhausted,
    ResourceForbidden,
    File,
    FileNotFound,
    FileInUse,
    FileClosed,
    LockDoubleRelease,
    Timeout,
    Network,
    NetworkAddress,
    AddressBinding,
    DuplicateTuple,
    InternetConnectivity,
    ConnectionRefused,
    SocketClosed,
    SocketClosedLocal,
    SocketClosedRemote,
}

/// The builtin class a Repy class also derives from, so V1 handlers keep working.
#[derive(Clone, Copy)]
enum Extra {
    None,
    TypeAndValue,
    Value,
    Runtime,
    FileNotFound,
    Timeout,
    ConnectionRefused,
}

use RepyErrorKind as K;

/// (kind, name, parent, extra base)
const TABLE: &[(RepyErrorKind, &str, Option<RepyErrorKind>, Extra)] = &[
    (K::Repy, "RepyError", None, Extra::None),
    (K::Argument, "RepyArgumentError", Some(K::Repy), Extra::TypeAndValue),
    (K::CodeUnsafe, "CodeUnsafeError", Some(K::Repy), Extra::Value),
    (K::SafetyViolation, "SafetyViolationError", Some(K::Repy), Extra::None),
    (K::ContextUnsafe, "ContextUnsafeError", Some(K::Repy), Extra::Value),
    (K::Resource, "ResourceError", Some(K::Repy), Extra::None),
    (K::ResourceExhausted, "ResourceExhaustedError", Some(K::Resource), Extra::None),
    (K::ResourceForbidden, "ResourceForbiddenError", Some(K::Resource), Extra::None),
    (K::File, "FileError", Some(K::Repy), Extra::None),
    (K::FileNotFound, "FileNotFoundError", Some(K::File), Extra::FileNotFound),
    (K::FileInUse, "FileInUseError", Some(K::File), Extra::Value),
    (K::FileClosed, "FileClosedError", Some(K::File), Extra::Value),
    (K::LockDoubleRelease, "LockDoubleReleaseError", Some(K::Repy), Extra::Runtime),
    (K::Timeout, "TimeoutError", Some(K::Repy), Extra::Timeout),
    (K::Network, "NetworkError", Some(K::Repy), Extra::None),
    (K::NetworkAddress, "NetworkAddressError", Some(K::Network), Extra::None),
    (K::AddressBinding, "AddressBindingError", Some(K::Network), Extra::None),
    (K::DuplicateTuple, "DuplicateTupleError", Some(K::Network), Extra::None),
    (K::InternetConnectivity, "InternetConnectivityError", Some(K::Network), Extra::None),
    (K::ConnectionRefused, "ConnectionRefusedError", Some(K::Network), Extra::ConnectionRefused),
    (K::SocketClosed, "SocketClosedError", Some(K::Network), Extra::None),
    (K::SocketClosedLocal, "SocketClosedLocal", Some(K::SocketClosed), Extra::None),
    (K::SocketClosedRemote, "SocketClosedRemote", Some(K::SocketClosed), Extra::None),
];

/// The created classes, indexed by [`RepyErrorKind`].
#[derive(Clone)]
pub struct RepyExceptions {
    classes: Vec<(RepyErrorKind, &'static str, PyTypeRef)>,
}

impl RepyExceptions {
    pub fn create(vm: &VirtualMachine) -> Self {
        let ex = &vm.ctx.exceptions;
        let mut classes: Vec<(RepyErrorKind, &'static str, PyTypeRef)> = Vec::new();
        for &(kind, name, parent, extra) in TABLE {
            let mut bases = vec![match parent {
                None => ex.exception_type.to_owned(),
                Some(p) => classes.iter().find(|c| c.0 == p).expect("parent first").2.clone(),
            }];
            match extra {
                Extra::None => {}
                Extra::TypeAndValue => {
                    bases.push(ex.type_error.to_owned());
                    bases.push(ex.value_error.to_owned());
                }
                Extra::Value => bases.push(ex.value_error.to_owned()),
                Extra::Runtime => bases.push(ex.runtime_error.to_owned()),
                Extra::FileNotFound => bases.push(ex.file_not_found_error.to_owned()),
                Extra::Timeout => bases.push(ex.timeout_error.to_owned()),
                Extra::ConnectionRefused => bases.push(ex.connection_refused_error.to_owned()),
            }
            // An OSError-derived extra base carries a larger instance layout: it must come
            // first so the class gets that layout.
            if matches!(extra, Extra::FileNotFound | Extra::Timeout | Extra::ConnectionRefused) {
                bases.reverse();
            }
            let class = vm.ctx.new_exception_type("builtins", name, Some(bases));
            classes.push((kind, name, class));
        }
        Self { classes }
    }

    /// Binds every class in the builtins module under its name.
    pub fn install(&self, vm: &VirtualMachine) -> PyResult<()> {
        for (_, name, class) in &self.classes {
            vm.builtins.dict().set_item(*name, class.clone().into(), vm)?;
        }
        Ok(())
    }

    pub fn get(&self, kind: RepyErrorKind) -> PyTypeRef {
        self.classes.iter().find(|c| c.0 == kind).expect("every kind is created").2.clone()
    }

    /// A fresh exception of `kind` whose only argument is `message`.
    pub fn error(&self, vm: &VirtualMachine, kind: RepyErrorKind, message: impl Into<String>) -> PyBaseExceptionRef {
        new_error(vm, &self.get(kind), message.into())
    }
}

/// A fresh exception of `class` carrying only `message` (no cause, context or traceback).
pub fn new_error(vm: &VirtualMachine, class: &rustpython_vm::builtins::PyTypeRef, message: String) -> PyBaseExceptionRef {
    // The class's own constructor (not `new_exception`'s shortcut for plain layouts), so
    // that an OSError-derived class gets its fields; failure means memory exhaustion, and a
    // RuntimeError that still carries the message stands in.
    match vm.invoke_exception(class, vec![vm.ctx.new_str(message.clone()).into()]) {
        Ok(exc) => exc,
        Err(_) => vm.new_runtime_error(message),
    }
}

/// A fresh instance of the sandbox exception class bound in this interpreter's builtins
/// under `class_name` (code without access to the API's exception table uses this).
pub fn builtin_error(vm: &VirtualMachine, class_name: &'static str, message: String) -> PyBaseExceptionRef {
    match vm.builtins.get_attr(class_name, vm).ok().and_then(|c| c.downcast::<rustpython_vm::builtins::PyType>().ok()) {
        Some(class) => new_error(vm, &class, message),
        None => vm.new_runtime_error(message),
    }
}
