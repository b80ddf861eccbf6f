//! `VirtualNamespace(code, name)` (repy-api.md §9): code strings checked by the same static
//! rules as programs, compiled once, and evaluated against a SafeDict context.

use std::sync::Arc;

use repy_interpreter::{
    check::{check_source, format_violations, Violation},
    exceptions::RepyErrorKind,
    program,
    safedict::SafeDict,
    values::exact_str,
};
use rustpython_vm::{
    builtins::{PyCode, PyDict},
    function::FuncArgs,
    pyclass, Py, PyObjectRef, PyPayload, PyRef, PyResult, VirtualMachine,
};

use crate::{call::Call, runtime::Runtime};

#[pyclass(module = false, name = "VirtualNamespace")]
#[derive(PyPayload)]
pub struct VirtualNamespace {
    code: PyRef<PyCode>,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for VirtualNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VirtualNamespace")
    }
}

#[pyclass]
impl VirtualNamespace {
    /// Runs the code with `context` as its globals; returns the SafeDict used.
    #[pymethod]
    fn evaluate(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        let (call, [context], []) = Call::bind("evaluate", ["context"], [], &zelf.rt, vm, args)?;
        let safe: PyObjectRef = if context.downcast_ref::<SafeDict>().is_some() {
            context
        } else if repy_interpreter::values::is_exact::<PyDict>(&context, vm) {
            SafeDict::copy_from(vm, &context)?.into_ref(&vm.ctx).into()
        } else {
            return Err(call.arg_error("context must be a dict or SafeDict"));
        };
        let globals = safe.downcast_ref::<SafeDict>().expect("SafeDict").dict();
        program::run(vm, zelf.code.clone(), globals)?;
        Ok(safe)
    }
}

api_function! {
    /// Checks and compiles `code` (named `name` in tracebacks) for evaluation.
    fn VirtualNamespace(call, code; name) {
        let (rt, vm) = (call.rt, call.vm);
        let code = exact_str(&code, vm).ok_or_else(|| call.arg_error("code must be a str"))?;
        let name = match name {
            None => "<string>".to_owned(),
            Some(n) => exact_str(&n, vm).ok_or_else(|| call.arg_error("name must be a str"))?,
        };
        call.check_rules_on(&[])?;
        let violations = match check_source(&code) {
            Err(violations) => violations,
            // Code strings import only what the program's own imports loaded.
            Ok(imports) => imports
                .into_iter()
                .filter(|i| !rt.library_names.contains(&i.name))
                .map(|i| Violation { line: i.line, col: i.col, reason: format!("no library '{}' was loaded with the program", i.name) })
                .collect(),
        };
        if !violations.is_empty() {
            let lines = format_violations(&name, &violations).join("; ");
            return Err(call.error(RepyErrorKind::CodeUnsafe, lines));
        }
        let compiled = program::compile(vm, &code, &name).map_err(|m| call.error(RepyErrorKind::CodeUnsafe, format!("{name}: {m}")))?;
        rt.sources.register(&name, &code);
        Ok(VirtualNamespace { code: compiled, rt: rt.clone() }.into_ref(&vm.ctx).into())
    }
}
