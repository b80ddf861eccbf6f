//! Values crossing the API boundary (repy-api.md §4): exact types only, byte strings as
//! latin-1 `str`, and deep copies of containers taken before any check, so a program can
//! neither fool a check with a subclass nor change an argument after it was checked.

use std::collections::HashMap;

use num_traits::{Signed, ToPrimitive};

use rustpython_vm::{
    builtins::{PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyStr, PyTuple},
    AsObject, PyObjectRef, PyPayload, PyResult, VirtualMachine,
};

/// Whether `obj` is exactly of type `T` (no subclass; `bool` is not an `int`).
pub fn is_exact<T: PyPayload>(obj: &PyObjectRef, vm: &VirtualMachine) -> bool {
    obj.class().is(T::class(&vm.ctx))
}

/// The text of an exact `str` (lone surrogates replaced; names and IPs are ordinary text).
pub fn exact_str(obj: &PyObjectRef, vm: &VirtualMachine) -> Option<String> {
    if !is_exact::<PyStr>(obj, vm) {
        return None;
    }
    obj.downcast_ref::<PyStr>().map(|s| s.as_wtf8().to_string_lossy().into_owned())
}

/// An exact `int` as i64 (None for other types or out-of-range values).
pub fn exact_int(obj: &PyObjectRef, vm: &VirtualMachine) -> Option<i64> {
    if !is_exact::<PyInt>(obj, vm) {
        return None;
    }
    obj.downcast_ref::<PyInt>()?.as_bigint().to_i64()
}

/// A "number" of the API: exact `int` or `float`, as f64.
pub fn number(obj: &PyObjectRef, vm: &VirtualMachine) -> Option<f64> {
    if is_exact::<PyFloat>(obj, vm) {
        return obj.downcast_ref::<PyFloat>().map(|f| f.to_f64());
    }
    if is_exact::<PyInt>(obj, vm) {
        let big = obj.downcast_ref::<PyInt>()?.as_bigint();
        return Some(big.to_f64().unwrap_or(if big.is_negative() { f64::NEG_INFINITY } else { f64::INFINITY }));
    }
    None
}

/// Data to send or write: a `str` of characters below 256, or `bytes`/`bytearray`.
/// The error text names the first bad character and its index.
pub fn byte_data(obj: &PyObjectRef, vm: &VirtualMachine) -> Result<Vec<u8>, String> {
    if is_exact::<PyBytes>(obj, vm) {
        return Ok(obj.downcast_ref::<PyBytes>().expect("exact").as_bytes().to_vec());
    }
    if is_exact::<PyByteArray>(obj, vm) {
        return Ok(obj.downcast_ref::<PyByteArray>().expect("exact").borrow_buf().to_vec());
    }
    if is_exact::<PyStr>(obj, vm) {
        let s = obj.downcast_ref::<PyStr>().expect("exact");
        if s.isascii() {
            // ASCII text is its own bytes: no per-character work.
            return Ok(s.as_bytes().to_vec());
        }
        let mut out = Vec::with_capacity(s.as_wtf8().len());
        for (index, cp) in s.as_wtf8().code_points().enumerate() {
            let value = cp.to_u32();
            if value > 255 {
                let shown = char::from_u32(value).map_or_else(|| format!("\\u{value:x}"), String::from);
                return Err(format!("character '{shown}' at index {index} is not a byte (code point above 255)"));
            }
            out.push(value as u8);
        }
        return Ok(out);
    }
    Err(format!("expected str or bytes, got {}", obj.class().name()))
}

/// Bytes as the API returns them: a `str` with one character per byte.
pub fn byte_str(vm: &VirtualMachine, data: &[u8]) -> PyObjectRef {
    if data.is_ascii() {
        return vm.ctx.new_str(String::from_utf8(data.to_vec()).expect("ASCII is UTF-8")).into();
    }
    let text: String = data.iter().map(|&b| b as char).collect();
    vm.ctx.new_str(text).into()
}

/// Deep copy of the built-in containers (list, tuple, dict, set, frozenset, bytearray) of
/// exact type; every other object is shared. Shared and cyclic structure is preserved.
pub fn deep_copy(vm: &VirtualMachine, obj: &PyObjectRef) -> PyResult<PyObjectRef> {
    let mut memo = HashMap::new();
    copy_inner(vm, obj, &mut memo, 0)
}

const MAX_COPY_DEPTH: usize = 500;

fn copy_inner(vm: &VirtualMachine, obj: &PyObjectRef, memo: &mut HashMap<usize, PyObjectRef>, depth: usize) -> PyResult<PyObjectRef> {
    if let Some(done) = memo.get(&obj.get_id()) {
        return Ok(done.clone());
    }
    if depth > MAX_COPY_DEPTH {
        return Err(vm.new_recursion_error("argument nested too deeply to copy".to_owned()));
    }
    let copy: PyObjectRef = if is_exact::<PyList>(obj, vm) {
        let items = obj.downcast_ref::<PyList>().expect("exact").borrow_vec().to_vec();
        let list = vm.ctx.new_list(Vec::new());
        memo.insert(obj.get_id(), list.clone().into());
        let copied = items.iter().map(|i| copy_inner(vm, i, memo, depth + 1)).collect::<PyResult<Vec<_>>>()?;
        *list.borrow_vec_mut() = copied;
        list.into()
    } else if is_exact::<PyTuple>(obj, vm) {
        let items = obj.downcast_ref::<PyTuple>().expect("exact").as_slice().to_vec();
        let copied = items.iter().map(|i| copy_inner(vm, i, memo, depth + 1)).collect::<PyResult<Vec<_>>>()?;
        vm.ctx.new_tuple(copied).into()
    } else if is_exact::<PyDict>(obj, vm) {
        let source = obj.downcast_ref::<PyDict>().expect("exact");
        let dict = vm.ctx.new_dict();
        memo.insert(obj.get_id(), dict.clone().into());
        for (k, v) in source.items_vec() {
            let k = copy_inner(vm, &k, memo, depth + 1)?;
            let v = copy_inner(vm, &v, memo, depth + 1)?;
            dict.set_item(&*k, v, vm)?;
        }
        dict.into()
    } else if is_exact::<PySet>(obj, vm) || is_exact::<PyFrozenSet>(obj, vm) || is_exact::<PyByteArray>(obj, vm) {
        // Elements of sets are hashable (immutable in practice); a shallow copy suffices.
        let class = obj.class().to_owned();
        class.as_object().call((obj.clone(),), vm)?
    } else {
        return Ok(obj.clone());
    };
    memo.insert(obj.get_id(), copy.clone());
    Ok(copy)
}

/// `str()` of each argument, as call rules compare them, and the repr of the whole tuple
/// for messages.
pub fn rule_texts(vm: &VirtualMachine, args: &[PyObjectRef]) -> PyResult<(Vec<String>, String)> {
    let texts = args.iter().map(|a| a.str(vm).map(|s| s.as_wtf8().to_string_lossy().into_owned())).collect::<PyResult<Vec<_>>>()?;
    let tuple: PyObjectRef = vm.ctx.new_tuple(args.to_vec()).into();
    let repr = tuple.repr(vm)?.as_wtf8().to_string_lossy().into_owned();
    Ok((texts, repr))
}
