//! `import NAME` at run time. The program's libraries were found and checked before it
//! started (repy-libraries); here each is compiled, and run once, at its first import, in a
//! module namespace of its own that holds the Repy API, the program's `mycontext` and
//! `callargs`, and `callfunc == "import"`.

use std::{collections::HashMap, sync::Arc};

use repy_interpreter::program;
use repy_libraries::Library;
use rustpython_vm::{
    builtins::{PyCode, PyDictRef, PyStr},
    function::FuncArgs,
    PyObjectRef, PyRef, PyResult, VirtualMachine,
};

use crate::runtime::Runtime;

/// What `callfunc` holds while a library runs.
pub const IMPORT_CALLFUNC: &str = "import";

/// Compiles `libraries` and makes `import` find them; any other import goes on to the
/// sandbox's own `__import__`, which refuses it. Err(message) when one does not compile.
pub fn install(vm: &VirtualMachine, rt: &Arc<Runtime>, libraries: &[Library], program_globals: &PyDictRef) -> PyResult<Result<(), String>> {
    let mut compiled: HashMap<String, PyRef<PyCode>> = HashMap::new();
    for library in libraries {
        let shown = library.shown();
        match program::compile(vm, &library.source, &shown) {
            Ok(code) => compiled.insert(library.name.clone(), code),
            Err(message) => return Ok(Err(format!("{shown}: {message}"))),
        };
        rt.sources.register(&shown, &library.source);
    }
    let previous = vm.builtins.get_attr("__import__", vm)?;
    // Modules by name, entered before a library runs (as sys.modules is): an import from
    // another thread meanwhile gets the module as far as it has run.
    let modules = vm.ctx.new_dict();
    let (rt, program_globals) = (rt.clone(), program_globals.clone());
    let import = vm.new_function("__import__", move |args: FuncArgs, vm: &VirtualMachine| -> PyResult {
        let name = args.args.first().and_then(|n| n.downcast_ref::<PyStr>()).map(|s| s.as_wtf8().to_string_lossy().into_owned());
        let Some((name, code)) = name.and_then(|n| compiled.get_key_value(&n)) else {
            return previous.call(args, vm);
        };
        if let Some(module) = modules.get_item_opt(name.as_str(), vm)? {
            return Ok(module);
        }
        let globals = vm.ctx.new_dict();
        crate::install_globals(vm, &rt, &globals)?;
        globals.set_item("__name__", vm.ctx.new_str(name.as_str()).into(), vm)?;
        globals.set_item("callfunc", vm.ctx.new_str(IMPORT_CALLFUNC).into(), vm)?;
        for shared in ["mycontext", "callargs"] {
            if let Some(value) = program_globals.get_item_opt(shared, vm)? {
                globals.set_item(shared, value, vm)?;
            }
        }
        let module: PyObjectRef = vm.new_module(name, globals.clone(), None).into();
        modules.set_item(name.as_str(), module.clone(), vm)?;
        if let Err(exc) = program::run(vm, code.clone(), globals) {
            // As in Python: a library that raised is not imported; the next import runs it again.
            let _ = modules.del_item(name.as_str(), vm);
            return Err(exc);
        }
        Ok(module)
    });
    vm.builtins.dict().set_item("__import__", import.into(), vm)?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use rustpython_vm::builtins::PyTuple;

    #[test]
    fn every_module_the_vm_has_built_in_is_kept_from_libraries() {
        crate::testing::with_runtime(|_rt, vm| {
            let names = vm.sys_module.get_attr("builtin_module_names", vm).unwrap();
            let names = names.downcast_ref::<PyTuple>().expect("a tuple");
            for name in names.as_slice() {
                let name = name.str(vm).unwrap().as_wtf8().to_string_lossy().into_owned();
                assert!(
                    repy_libraries::name_problem(&name).is_some(),
                    "'{name}' is built into the VM but could be a library's name: add it to repy_libraries::RESERVED_NAMES"
                );
            }
        });
    }
}
