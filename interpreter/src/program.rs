//! Compiling and running checked source in sandbox globals.

use rustpython_vm::{
    builtins::{PyCode, PyDictRef},
    compiler::Mode,
    scope::Scope,
    PyRef, PyResult, VirtualMachine,
};

/// Compiles source that already passed the static check. `name` is what tracebacks show.
pub fn compile(vm: &VirtualMachine, source: &str, name: &str) -> Result<PyRef<PyCode>, String> {
    vm.compile(source, Mode::Exec, name.to_owned()).map_err(|e| e.to_string())
}

/// Runs `code` with `globals` as its module namespace and the sandbox builtins.
pub fn run(vm: &VirtualMachine, code: PyRef<PyCode>, globals: PyDictRef) -> PyResult<()> {
    globals.set_item("__builtins__", vm.builtins.clone().into(), vm)?;
    // Class bodies read the module name for `__module__`; the program cannot see it.
    if !globals.contains_key("__name__", vm) {
        globals.set_item("__name__", vm.ctx.new_str("__main__").into(), vm)?;
    }
    let scope = Scope::with_builtins(None, globals, vm);
    vm.run_code_obj(code, scope).map(drop)
}
