//! `getlock()` and lock objects (repy-api.md §8): not re-entrant, releasable by any thread.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{exact_int, is_exact},
};
use rustpython_vm::{
    builtins::{PyBool, PyInt},
    function::FuncArgs,
    pyclass, Py, PyPayload, PyResult, VirtualMachine,
};

use crate::{call::Call, runtime::Runtime};

#[pyclass(module = false, name = "lock")]
#[derive(PyPayload)]
pub struct Lock {
    locked: Mutex<bool>,
    freed: Condvar,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("lock")
    }
}

#[pyclass]
impl Lock {
    #[pymethod]
    fn acquire(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult<bool> {
        let (call, [], [blocking]) = Call::bind("acquire", [], ["blocking"], &zelf.rt, vm, args)?;
        let blocking = match blocking {
            None => true,
            Some(v) if is_exact::<PyBool>(&v, vm) => v.try_to_bool(vm)?,
            Some(v) if is_exact::<PyInt>(&v, vm) => exact_int(&v, vm).is_none_or(|i| i != 0),
            Some(_) => return Err(call.arg_error("blocking must be a bool or int")),
        };
        let mut locked = zelf.locked.lock();
        if !blocking {
            if *locked {
                return Ok(false);
            }
        } else {
            vm.allow_threads(|| {
                while *locked {
                    zelf.freed.wait(&mut locked);
                }
            });
        }
        *locked = true;
        Ok(true)
    }

    #[pymethod]
    fn release(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        let mut locked = zelf.locked.lock();
        if !*locked {
            return Err(zelf.rt.error(vm, RepyErrorKind::LockDoubleRelease, "release: the lock is not locked"));
        }
        *locked = false;
        zelf.freed.notify_one();
        Ok(())
    }

    #[pymethod]
    fn __enter__(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<bool> {
        Self::acquire(zelf, FuncArgs::default(), vm)
    }

    #[pymethod]
    fn __exit__(zelf: &Py<Self>, _args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        Self::release(zelf, vm)
    }
}

api_function! {
    /// A new lock, unlocked.
    fn getlock(call) {
        call.check_rules()?;
        let lock = Lock { locked: Mutex::new(false), freed: Condvar::new(), rt: call.rt.clone() };
        Ok(lock.into_ref(&call.vm.ctx).into())
    }
}
