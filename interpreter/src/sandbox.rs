//! Building the sandboxed VM: an interpreter with no standard library whose builtins are
//! cut down to the whitelist of repy-api.md §10.3.

use rustpython_vm::{builtins::PyType, function::FuncArgs, AsObject, Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine};

use crate::exceptions::{new_error, RepyErrorKind, RepyExceptions};

/// Builtins kept exactly as the VM provides them.
pub const KEPT_BUILTINS: &[&str] = &[
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "hash",
    "hex",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "zip",
    "True",
    "False",
    "None",
    "Ellipsis",
    "NotImplemented",
];

/// Builtins that exist only as stubs raising SafetyViolationError (§10.3 "Removed").
pub const REMOVED_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "globals",
    "locals",
    "vars",
    "dir",
    "input",
    "breakpoint",
    "help",
    "exit",
    "quit",
    "memoryview",
    "aiter",
    "anext",
    "copyright",
    "credits",
    "license",
];

/// Exception classes that must not exist in the sandbox: termination never uses exceptions,
/// and exception groups / async iteration are not part of the language subset.
const ABSENT_EXCEPTIONS: &[&str] = &["SystemExit", "KeyboardInterrupt", "BaseExceptionGroup", "ExceptionGroup", "StopAsyncIteration"];

/// Names the VM itself needs in the builtins dict (unreachable from programs by the
/// identifier rule), and builtins kept but guarded at run time (crate::guards).
const VM_INTERNAL_BUILTINS: &[&str] =
    &["__build_class__", "__import__", "__repy_sandbox__", "type", "getattr", "hasattr", "setattr", "delattr"];

/// Creates a VM with nothing importable: no search path, no site, no host access.
pub fn new_interpreter() -> Interpreter {
    let mut settings = Settings::default();
    settings.isolated = true;
    settings.ignore_environment = true;
    settings.import_site = false;
    settings.user_site_directory = false;
    settings.install_signal_handlers = false;
    settings.allow_external_library = false;
    settings.write_bytecode = false;
    settings.path_list = Vec::new();
    settings.argv = Vec::new();
    Interpreter::without_stdlib(settings)
}

/// Strips the builtins module down to the whitelist and installs the Repy exception classes
/// and removed-name stubs. Returns the exception classes for the API layer.
pub fn restrict_builtins(vm: &VirtualMachine) -> PyResult<RepyExceptions> {
    // Needs the import machinery, which the whitelist removes.
    register_latin1_codec(vm)?;
    let dict = vm.builtins.dict();
    let names: Vec<String> = dict
        .keys_vec()
        .into_iter()
        .filter_map(|k| k.downcast_ref::<rustpython_vm::builtins::PyStr>().map(|s| s.as_wtf8().to_string_lossy().into_owned()))
        .collect();
    for name in names {
        let value = dict.get_item(name.as_str(), vm)?;
        let keep = KEPT_BUILTINS.contains(&name.as_str())
            || VM_INTERNAL_BUILTINS.contains(&name.as_str())
            || (is_exception_class(&value, vm) && !ABSENT_EXCEPTIONS.contains(&name.as_str()));
        if !keep {
            dict.del_item(name.as_str(), vm)?;
        }
    }
    install_internal_import(vm)?;
    install_unraisable_hook(vm)?;
    vm.recursion_limit.set(RECURSION_LIMIT);
    crate::guards::install(vm)?;
    let exceptions = RepyExceptions::create(vm);
    exceptions.install(vm)?;
    for &name in REMOVED_BUILTINS {
        let stub = removed_stub(name, exceptions.get(RepyErrorKind::SafetyViolation));
        dict.set_item(name, vm.new_function(name, stub).into(), vm)?;
    }
    Ok(exceptions)
}

/// Python's recursion limit (repy-api.md §10.4): RustPython's default depends on whether it
/// was built with debug assertions (256 or 1000), so it is set here for every build.
pub const RECURSION_LIMIT: usize = 1000;

/// Modules the VM imports by itself while running a program (reporting an exception in a
/// destructor needs `sys`); no other import can succeed.
const INTERNAL_MODULES: &[&str] = &["sys"];

/// Keeps `__import__` for the VM's own use only: RustPython unwraps `import("sys")` when it
/// reports an exception raised while a generator is closed by garbage collection, so with
/// no `__import__` at all a program could panic the worker. Programs cannot name it (it
/// contains `__`) and the getattr guards refuse it.
fn install_internal_import(vm: &VirtualMachine) -> PyResult<()> {
    let original = vm.builtins.get_attr("__import__", vm)?;
    let import = vm.new_function("__import__", move |args: FuncArgs, vm: &VirtualMachine| {
        let name = args
            .args
            .first()
            .and_then(|n| n.downcast_ref::<rustpython_vm::builtins::PyStr>().map(|s| s.as_wtf8().to_string_lossy().into_owned()));
        match name {
            Some(name) if INTERNAL_MODULES.contains(&name.as_str()) => original.call(args, vm),
            Some(name) => Err(vm.new_import_error(format!("import of '{name}' is not available in the sandbox"), vm.ctx.new_str(name))),
            None => Err(vm.new_import_error("import is not available in the sandbox", vm.ctx.new_str(""))),
        }
    });
    vm.builtins.dict().set_item("__import__", import.into(), vm)
}

/// Reports an exception that nothing can catch (raised in a generator's `finally` while it
/// is collected) on stderr, as CPython does, with no traceback module to import.
fn install_unraisable_hook(vm: &VirtualMachine) -> PyResult<()> {
    let hook = vm.new_function("unraisablehook", |unraisable: PyObjectRef, vm: &VirtualMachine| {
        let object = unraisable.get_attr("object", vm).ok().filter(|o| !vm.is_none(o));
        let shown = object.map(|o| match o.repr(vm) {
            Ok(text) => text.as_wtf8().to_string_lossy().into_owned(),
            Err(_) => format!("<{} object>", o.class().name()),
        });
        let summary = unraisable
            .get_attr("exc_value", vm)
            .ok()
            .and_then(|e| e.downcast::<rustpython_vm::builtins::PyBaseException>().ok())
            .map(|e| crate::traceback::exception_summary(vm, &e))
            .unwrap_or_else(|| "an exception".to_owned());
        match shown {
            Some(shown) => eprintln!("Exception ignored in: {shown}\n{summary}"),
            None => eprintln!("Exception ignored while an object was collected:\n{summary}"),
        }
    });
    vm.sys_module.set_attr("unraisablehook", hook, vm)
}

fn is_exception_class(value: &PyObjectRef, vm: &VirtualMachine) -> bool {
    value.downcast_ref::<PyType>().is_some_and(|t| t.fast_issubclass(vm.ctx.exceptions.base_exception_type))
}

/// A native function that refuses to run, naming itself.
fn removed_stub(
    name: &'static str,
    safety_violation: rustpython_vm::builtins::PyTypeRef,
) -> impl Fn(FuncArgs, &VirtualMachine) -> PyResult<()> + Send + Sync + 'static {
    move |_args: FuncArgs, vm: &VirtualMachine| Err(new_error(vm, &safety_violation, format!("{name}: not available in the sandbox")))
}

/// Whether `obj` is an instance of exactly the built-in type `T` (no subclasses).
pub fn is_exact<T: rustpython_vm::PyPayload>(obj: &PyObjectRef, vm: &VirtualMachine) -> bool {
    obj.class().is(T::class(&vm.ctx))
}

/// Normalised names under which `latin-1` is found (the VM itself knows utf-8 and ascii).
const LATIN1_NAMES: &[&str] = &["latin_1", "latin1", "latin", "l1", "iso8859_1", "iso_8859_1", "8859", "cp819"];

/// Makes the `latin-1` codec work natively: the byte-string model (one character per byte)
/// depends on it, and no codec module can be imported.
fn register_latin1_codec(vm: &VirtualMachine) -> PyResult<()> {
    let codecs = vm.import("_codecs", 0)?;
    let encode = codecs.get_attr("latin_1_encode", vm)?;
    let decode = codecs.get_attr("latin_1_decode", vm)?;
    let none = vm.ctx.none();
    let info: PyObjectRef = vm.ctx.new_tuple(vec![encode, decode, none.clone(), none]).into();
    let search = vm.new_function("latin1_search", move |name: PyObjectRef, vm: &VirtualMachine| -> PyObjectRef {
        let name = name.str(vm).map(|s| s.as_wtf8().to_string_lossy().into_owned()).unwrap_or_default();
        if LATIN1_NAMES.contains(&name.as_str()) {
            info.clone()
        } else {
            vm.ctx.none()
        }
    });
    vm.state.codec_registry.register(search.into(), vm)
}
