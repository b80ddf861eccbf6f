//! Runtime guards for what the static check cannot see (repy-api.md §10.4): class creation
//! outside `class` statements, attribute names built at run time for the `getattr` family,
//! and attribute parts of `str.format` fields.

use std::{cell::RefCell, sync::OnceLock};

use rustpython_common::format::{FieldName, FieldNamePart, FormatPart, FormatString, FromTemplate};
use rustpython_vm::{
    builtins::{PyStr, PyTypeRef},
    function::FuncArgs,
    AsObject, PyObjectRef, PyResult, VirtualMachine,
};

use crate::{exceptions::builtin_error, identifier::unsafe_identifier_reason, values::is_exact};

/// Builtins replaced by a guarded wrapper around the original.
pub const NAME_GUARDED_BUILTINS: &[&str] = &["getattr", "hasattr", "setattr", "delattr"];

fn safety_error(vm: &VirtualMachine, message: String) -> rustpython_vm::builtins::PyBaseExceptionRef {
    builtin_error(vm, "SafetyViolationError", message)
}

/// Key in a sandbox's builtins dict that marks its interpreter as sandboxed. The type
/// objects the guards patch are shared by every interpreter in the process; the guards act
/// only for sandboxed ones (programs cannot name this key: it contains `__`).
const SANDBOX_MARKER: &str = "__repy_sandbox__";

fn is_sandboxed(vm: &VirtualMachine) -> bool {
    vm.builtins.dict().get_item_opt(SANDBOX_MARKER, vm).ok().flatten().is_some()
}

/// Installs every guard. Must run before any program code.
pub fn install(vm: &VirtualMachine) -> PyResult<()> {
    vm.builtins.dict().set_item(SANDBOX_MARKER, vm.ctx.new_bool(true).into(), vm)?;
    guard_class_creation(vm)?;
    guard_attribute_builtins(vm)?;
    guard_format(vm)
}

// ---- class creation -------------------------------------------------------------------

thread_local! {
    /// Frame depths at which a `class` statement may create its class (innermost last).
    static CLASS_PERMITS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The signature of a type's `new` slot.
type NewFunc = fn(PyTypeRef, FuncArgs, &VirtualMachine) -> PyResult;

static ORIGINAL_TYPE_NEW: OnceLock<NewFunc> = OnceLock::new();

/// `type(x)` stays; creating a class through `type` (or a subclass of it) requires the
/// permit that only the sandbox's `__build_class__` hands out, valid only at the frame
/// depth of the `class` statement itself: the class body runs one frame deeper, so a
/// `type(name, bases, dict)` call inside the body is refused too.
fn guarded_type_new(metatype: PyTypeRef, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let is_type_query = metatype.is(vm.ctx.types.type_type) && args.args.len() == 1 && args.kwargs.is_empty();
    if !is_type_query && is_sandboxed(vm) {
        let depth = vm.current_recursion_depth();
        let permitted = CLASS_PERMITS.with(|permits| {
            let mut permits = permits.borrow_mut();
            match permits.last_mut() {
                Some(top) if *top == depth => {
                    *top = usize::MAX; // one class per class statement
                    true
                }
                _ => false,
            }
        });
        if !permitted {
            return Err(safety_error(vm, "type: creating a class with type() is not allowed; use a class statement".to_owned()));
        }
    }
    let original = ORIGINAL_TYPE_NEW.get().expect("installed before use");
    original(metatype, args, vm)
}

fn guard_class_creation(vm: &VirtualMachine) -> PyResult<()> {
    let type_type = vm.ctx.types.type_type;
    if let Some(current) = type_type.slots.new.load() {
        if current as usize != guarded_type_new as NewFunc as usize {
            let _ = ORIGINAL_TYPE_NEW.set(current);
        }
    }
    type_type.slots.new.store(Some(guarded_type_new));

    let original = vm.builtins.get_attr("__build_class__", vm)?;
    let build_class = vm.new_function("__build_class__", move |args: FuncArgs, vm: &VirtualMachine| {
        let depth = vm.current_recursion_depth();
        CLASS_PERMITS.with(|p| p.borrow_mut().push(depth));
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                CLASS_PERMITS.with(|p| p.borrow_mut().pop());
            }
        }
        let _pop = Pop;
        original.call(args, vm)
    });
    vm.builtins.dict().set_item("__build_class__", build_class.into(), vm)
}

// ---- getattr family -------------------------------------------------------------------

fn guard_attribute_builtins(vm: &VirtualMachine) -> PyResult<()> {
    for &name in NAME_GUARDED_BUILTINS {
        let original = vm.builtins.get_attr(name, vm)?;
        let wrapper = vm.new_function(name, move |args: FuncArgs, vm: &VirtualMachine| {
            if let Some(attr) = args.args.get(1) {
                check_attribute_name(vm, name, attr)?;
            }
            original.call(args, vm)
        });
        vm.builtins.dict().set_item(name, wrapper.into(), vm)?;
    }
    Ok(())
}

/// The name must be an exact `str` that passes the identifier rule.
fn check_attribute_name(vm: &VirtualMachine, function: &str, attr: &PyObjectRef) -> PyResult<()> {
    if !is_exact::<PyStr>(attr, vm) {
        return Err(safety_error(vm, format!("{function}: attribute name must be an exact str, not {}", attr.class().name())));
    }
    let name = attr.downcast_ref::<PyStr>().expect("exact str").as_wtf8().to_string_lossy().into_owned();
    match unsafe_identifier_reason(&name) {
        None => Ok(()),
        Some(reason) => Err(safety_error(vm, format!("{function}: attribute name {reason}"))),
    }
}

// ---- str.format / str.format_map -----------------------------------------------------

fn guard_format(vm: &VirtualMachine) -> PyResult<()> {
    let str_type = vm.ctx.types.str_type;
    for name in ["format", "format_map"] {
        let interned = vm.ctx.intern_str(name);
        let original = str_type.get_attr(interned).expect("str has format methods");
        let wrapper = vm.new_method(name, str_type, move |args: FuncArgs, vm: &VirtualMachine| {
            if let Some(text) = args.args.first().and_then(|s| s.downcast_ref::<PyStr>()) {
                if is_sandboxed(vm) {
                    check_format_string(vm, name, text.as_wtf8())?;
                }
            }
            original.call(args, vm)
        });
        str_type.set_attr(interned, wrapper.into());
    }
    Ok(())
}

/// Applies the identifier rule to every attribute part of every replacement field,
/// including fields nested in format specs, parsed exactly as the VM will parse them.
fn check_format_string(vm: &VirtualMachine, function: &str, text: &rustpython_common::wtf8::Wtf8) -> PyResult<()> {
    // An unparsable format string is left to the VM, which refuses it the same way.
    let Ok(parsed) = FormatString::from_str(text) else { return Ok(()) };
    for part in &parsed.format_parts {
        let FormatPart::Field { field_name, format_spec, .. } = part else { continue };
        if let Ok(field) = FieldName::parse(field_name) {
            for part in &field.parts {
                if let FieldNamePart::Attribute(attr) = part {
                    let attr = attr.to_string_lossy();
                    if let Some(reason) = unsafe_identifier_reason(&attr) {
                        return Err(safety_error(vm, format!("{function}: format field attribute {reason}")));
                    }
                }
            }
        }
        check_format_string(vm, function, format_spec)?;
    }
    Ok(())
}
