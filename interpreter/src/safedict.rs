//! SafeDict (repy-api.md §9): a dict-like namespace whose keys are exact `str` passing the
//! identifier rule, so a context can never carry `__builtins__` or other internals into
//! code evaluated by VirtualNamespace. Entries the VM itself adds are invisible.

use std::sync::LazyLock;

use rustpython_vm::{
    builtins::{PyDict, PyDictRef, PyStr, PyType},
    function::{FuncArgs, OptionalArg, PySetterValue},
    protocol::{PyMappingMethods, PySequenceMethods},
    pyclass,
    types::{AsMapping, AsSequence, Comparable, Constructor, Iterable, PyComparisonOp, Representable, SetAttr},
    AsObject, Py, PyObject, PyObjectRef, PyPayload, PyRef, PyResult, VirtualMachine,
};

use crate::{exceptions::builtin_error, identifier::unsafe_identifier_reason, values::is_exact};

#[pyclass(module = false, name = "SafeDict")]
#[derive(Debug, PyPayload)]
pub struct SafeDict {
    dict: PyDictRef,
}

/// Checks a key: exact `str` (RepyArgumentError) passing the identifier rule
/// (ContextUnsafeError).
pub fn check_key(vm: &VirtualMachine, key: &PyObject) -> PyResult<()> {
    let key = key.to_owned();
    if !is_exact::<PyStr>(&key, vm) {
        return Err(builtin_error(vm, "RepyArgumentError", format!("SafeDict: keys must be str, not {}", key.class().name())));
    }
    let text = key.downcast_ref::<PyStr>().expect("exact str").as_wtf8().to_string_lossy().into_owned();
    match unsafe_identifier_reason(&text) {
        None => Ok(()),
        Some(reason) => Err(builtin_error(vm, "ContextUnsafeError", format!("SafeDict: key {reason}"))),
    }
}

/// Refuses values that are interpreter internals (modules, frames, code objects,
/// tracebacks): a context must not carry them into evaluated code. Programs cannot obtain
/// them; this is the second line behind the identifier rule.
pub fn check_value(vm: &VirtualMachine, value: &PyObject) -> PyResult<()> {
    let types = &vm.ctx.types;
    let class = value.class();
    let internal = [types.module_type, types.frame_type, types.code_type, types.traceback_type].iter().any(|t| class.fast_issubclass(*t));
    if internal {
        return Err(builtin_error(vm, "ContextUnsafeError", format!("SafeDict: a {} cannot be put in a context", class.name())));
    }
    Ok(())
}

/// Whether an entry of the underlying dict is shown to programs.
fn visible(vm: &VirtualMachine, key: &PyObject) -> bool {
    key.downcast_ref::<PyStr>()
        .is_some_and(|s| is_exact::<PyStr>(&key.to_owned(), vm) && unsafe_identifier_reason(&s.as_wtf8().to_string_lossy()).is_none())
}

impl SafeDict {
    /// A SafeDict over `dict` itself (used for `_context`, the program's own globals).
    pub fn wrap(dict: PyDictRef) -> Self {
        Self { dict }
    }

    /// A new SafeDict holding a copy of `source` (a dict or SafeDict), checking every key.
    pub fn copy_from(vm: &VirtualMachine, source: &PyObjectRef) -> PyResult<Self> {
        let new = Self { dict: vm.ctx.new_dict() };
        new.update_from(vm, source)?;
        Ok(new)
    }

    /// The namespace dict code runs in.
    pub fn dict(&self) -> PyDictRef {
        self.dict.clone()
    }

    fn update_from(&self, vm: &VirtualMachine, source: &PyObjectRef) -> PyResult<()> {
        let items = if let Some(other) = source.downcast_ref::<SafeDict>() {
            other.visible_items(vm)
        } else if is_exact::<PyDict>(source, vm) {
            source.downcast_ref::<PyDict>().expect("exact dict").items_vec()
        } else {
            return Err(builtin_error(
                vm,
                "RepyArgumentError",
                format!("SafeDict: expected a dict or SafeDict, not {}", source.class().name()),
            ));
        };
        for (key, value) in items {
            check_key(vm, &key)?;
            check_value(vm, &value)?;
            self.dict.set_item(&*key, value, vm)?;
        }
        Ok(())
    }

    fn visible_items(&self, vm: &VirtualMachine) -> Vec<(PyObjectRef, PyObjectRef)> {
        self.dict.items_vec().into_iter().filter(|(k, _)| visible(vm, k)).collect()
    }

    fn get_checked(&self, vm: &VirtualMachine, key: &PyObject) -> PyResult<Option<PyObjectRef>> {
        check_key(vm, key)?;
        self.dict.get_item_opt(key, vm)
    }
}

#[pyclass(with(Constructor, AsMapping, AsSequence, Iterable, Comparable, Representable, SetAttr))]
impl SafeDict {
    #[pymethod]
    fn keys(zelf: &Py<Self>, vm: &VirtualMachine) -> PyObjectRef {
        vm.ctx.new_list(zelf.visible_items(vm).into_iter().map(|(k, _)| k).collect()).into()
    }

    #[pymethod]
    fn values(zelf: &Py<Self>, vm: &VirtualMachine) -> PyObjectRef {
        vm.ctx.new_list(zelf.visible_items(vm).into_iter().map(|(_, v)| v).collect()).into()
    }

    #[pymethod]
    fn items(zelf: &Py<Self>, vm: &VirtualMachine) -> PyObjectRef {
        let pairs = zelf.visible_items(vm).into_iter().map(|(k, v)| vm.ctx.new_tuple(vec![k, v]).into()).collect();
        vm.ctx.new_list(pairs).into()
    }

    #[pymethod]
    fn get(zelf: &Py<Self>, key: PyObjectRef, default: OptionalArg<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
        Ok(zelf.get_checked(vm, &key)?.unwrap_or_else(|| default.unwrap_or_none(vm)))
    }

    #[pymethod]
    fn pop(zelf: &Py<Self>, key: PyObjectRef, default: OptionalArg<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
        check_key(vm, &key)?;
        match zelf.dict.pop_item(&*key, vm)? {
            Some(value) => Ok(value),
            None => default.into_option().ok_or_else(|| vm.new_key_error(key)),
        }
    }

    #[pymethod]
    fn setdefault(zelf: &Py<Self>, key: PyObjectRef, default: OptionalArg<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
        if let Some(value) = zelf.get_checked(vm, &key)? {
            return Ok(value);
        }
        let value = default.unwrap_or_none(vm);
        check_value(vm, &value)?;
        zelf.dict.set_item(&*key, value.clone(), vm)?;
        Ok(value)
    }

    #[pymethod]
    fn update(zelf: &Py<Self>, other: PyObjectRef, vm: &VirtualMachine) -> PyResult<()> {
        zelf.update_from(vm, &other)
    }

    #[pymethod]
    fn copy(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<SafeDict> {
        let copy = SafeDict { dict: vm.ctx.new_dict() };
        for (key, value) in zelf.visible_items(vm) {
            copy.dict.set_item(&*key, value, vm)?;
        }
        Ok(copy)
    }
}

impl Constructor for SafeDict {
    type Args = FuncArgs;

    fn py_new(_cls: &Py<PyType>, args: FuncArgs, vm: &VirtualMachine) -> PyResult<Self> {
        if !args.kwargs.is_empty() || args.args.len() > 1 {
            return Err(builtin_error(vm, "RepyArgumentError", "SafeDict: takes at most one positional argument (mapping)".to_owned()));
        }
        match args.args.first().filter(|m| !vm.is_none(m)) {
            None => Ok(SafeDict { dict: vm.ctx.new_dict() }),
            Some(mapping) => SafeDict::copy_from(vm, mapping),
        }
    }
}

impl AsMapping for SafeDict {
    fn as_mapping() -> &'static PyMappingMethods {
        static METHODS: LazyLock<PyMappingMethods> = LazyLock::new(|| PyMappingMethods {
            length: Some(|mapping, vm| Ok(SafeDict::mapping_downcast(mapping).visible_items(vm).len())),
            subscript: Some(|mapping, key, vm| {
                SafeDict::mapping_downcast(mapping).get_checked(vm, key)?.ok_or_else(|| vm.new_key_error(key.to_owned()))
            }),
            ass_subscript: Some(|mapping, key, value, vm| {
                let zelf = SafeDict::mapping_downcast(mapping);
                check_key(vm, key)?;
                match value {
                    Some(value) => {
                        check_value(vm, &value)?;
                        zelf.dict.set_item(key, value, vm)
                    }
                    None => zelf.dict.del_item(key, vm),
                }
            }),
        });
        &METHODS
    }
}

impl AsSequence for SafeDict {
    fn as_sequence() -> &'static PySequenceMethods {
        static METHODS: LazyLock<PySequenceMethods> = LazyLock::new(|| PySequenceMethods {
            length: Some(|seq, vm| Ok(SafeDict::sequence_downcast(seq).visible_items(vm).len())),
            contains: Some(|seq, key, vm| Ok(visible(vm, key) && SafeDict::sequence_downcast(seq).dict.get_item_opt(key, vm)?.is_some())),
            ..PySequenceMethods::NOT_IMPLEMENTED
        });
        &METHODS
    }
}

impl Iterable for SafeDict {
    fn iter(zelf: PyRef<Self>, vm: &VirtualMachine) -> PyResult {
        SafeDict::keys(&zelf, vm).get_iter(vm).map(Into::into)
    }
}

impl Comparable for SafeDict {
    fn cmp(
        zelf: &Py<Self>,
        other: &PyObject,
        op: PyComparisonOp,
        vm: &VirtualMachine,
    ) -> PyResult<rustpython_vm::function::PyComparisonValue> {
        let Some(other) = other.downcast_ref::<SafeDict>() else {
            return Ok(rustpython_vm::function::PyComparisonValue::NotImplemented);
        };
        if !matches!(op, PyComparisonOp::Eq | PyComparisonOp::Ne) {
            return Ok(rustpython_vm::function::PyComparisonValue::NotImplemented);
        }
        let mine: PyObjectRef = vm.ctx.new_dict().into();
        let theirs: PyObjectRef = vm.ctx.new_dict().into();
        for (target, source) in [(&mine, zelf.visible_items(vm)), (&theirs, other.visible_items(vm))] {
            for (k, v) in source {
                target.set_item(&*k, v, vm)?;
            }
        }
        let equal = mine.rich_compare_bool(&theirs, PyComparisonOp::Eq, vm)?;
        Ok(rustpython_vm::function::PyComparisonValue::Implemented(if op == PyComparisonOp::Eq { equal } else { !equal }))
    }
}

/// Entries are items, never attributes: `d.x = 1` is a TypeError (as Seattle's SafeDict),
/// not a silent attribute beside the entries.
impl SetAttr for SafeDict {
    fn setattro(_zelf: &Py<Self>, name: &Py<PyStr>, _value: PySetterValue, vm: &VirtualMachine) -> PyResult<()> {
        let name = name.as_wtf8().to_string_lossy().into_owned();
        Err(vm.new_type_error(format!("SafeDict: attributes cannot be set or deleted ('{name}'); use d['{name}'] for an entry")))
    }
}

impl Representable for SafeDict {
    fn repr_str(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<String> {
        // `_context` holds itself: shown as `SafeDict({...})` inside, as a dict is.
        let Some(_guard) = rustpython_vm::recursion::ReprGuard::enter(vm, zelf.as_object()) else {
            return Ok("SafeDict({...})".to_owned());
        };
        let mut parts = Vec::new();
        for (k, v) in zelf.visible_items(vm) {
            parts.push(format!("{}: {}", k.repr(vm)?.as_wtf8(), v.repr(vm)?.as_wtf8()));
        }
        Ok(format!("SafeDict({{{}}})", parts.join(", ")))
    }
}
