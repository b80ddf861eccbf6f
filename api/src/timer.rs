//! `settimer`, `canceltimer` and `sleep` (repy-api.md §8).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::{Condvar, Mutex};
use repy_interpreter::values::{deep_copy, is_exact, number};
use repy_policy::Resource;
use rustpython_vm::{
    builtins::{PyList, PyTuple},
    function::FuncArgs,
    pyclass, PyObjectRef, PyPayload, PyResult, VirtualMachine,
};

use crate::{
    args::bind,
    runtime::{Runtime, ThreadKind},
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Pending,
    Started,
    Cancelled,
}

#[derive(Debug)]
struct TimerState {
    phase: Mutex<Phase>,
    wake: Condvar,
}

/// The handle `settimer` returns; only `canceltimer` uses it.
#[pyclass(module = false, name = "timerhandle")]
#[derive(Debug, PyPayload)]
pub struct TimerHandle {
    state: Arc<TimerState>,
}

#[pyclass]
impl TimerHandle {}

/// A duration from a number of seconds: negative and NaN are 0, huge values saturate.
pub fn seconds(value: f64) -> Duration {
    if value.is_nan() || value <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
    }
}

pub fn settimer(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("settimer", &["waittime", "function", "args"], 3, args).map_err(|m| rt.arg_error(vm, m))?;
    let waittime =
        number(&bound.get(0), vm).filter(|w| !w.is_nan()).ok_or_else(|| rt.arg_error(vm, "settimer: waittime must be a number"))?;
    let function = bound.get(1);
    if !function.is_callable() {
        return Err(rt.arg_error(vm, "settimer: function must be callable"));
    }
    let call_args = bound.get(2);
    if !is_exact::<PyList>(&call_args, vm) && !is_exact::<PyTuple>(&call_args, vm) {
        return Err(rt.arg_error(vm, "settimer: args must be a list or tuple"));
    }
    let call_args = deep_copy(vm, &call_args)?;
    rt.check_call_args(vm, "settimer", &[bound.get(0)])?;
    rt.acquire(vm, "settimer", Resource::Events)?;
    rt.activity_started();

    let state = Arc::new(TimerState { phase: Mutex::new(Phase::Pending), wake: Condvar::new() });
    let deadline = Instant::now().checked_add(seconds(waittime));
    let thread_state = state.clone();
    let thread_rt = rt.clone();
    rt.spawn(vm, ThreadKind::Timer, move |vm| {
        if !vm.allow_threads(|| wait_until_due(&thread_state, deadline)) {
            return Ok(()); // cancelled: canceltimer already gave back the event
        }
        let positional: Vec<PyObjectRef> = vm.extract_elements_with(&call_args, Ok)?;
        // An exception ends the program before the event is given back, so the exit run
        // can never start in between.
        function.call(positional, vm)?;
        thread_rt.nanny.release(Resource::Events);
        thread_rt.activity_ended();
        Ok(())
    });
    Ok(TimerHandle { state }.into_ref(&vm.ctx).into())
}

/// Sleeps until `deadline` (None: never) unless cancelled; true if the timer must fire.
fn wait_until_due(state: &TimerState, deadline: Option<Instant>) -> bool {
    let mut phase = state.phase.lock();
    loop {
        if *phase == Phase::Cancelled {
            return false;
        }
        match deadline {
            Some(at) if Instant::now() >= at => {
                *phase = Phase::Started;
                return true;
            }
            Some(at) => {
                state.wake.wait_until(&mut phase, at);
            }
            None => state.wake.wait(&mut phase),
        }
    }
}

pub fn canceltimer(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("canceltimer", &["timerhandle"], 1, args).map_err(|m| rt.arg_error(vm, m))?;
    let handle = bound.get(0);
    let Some(handle) = handle.downcast_ref::<TimerHandle>() else {
        return Err(rt.arg_error(vm, "canceltimer: timerhandle must be a handle returned by settimer"));
    };
    rt.check_call_args(vm, "canceltimer", &[])?;
    let mut phase = handle.state.phase.lock();
    if *phase != Phase::Pending {
        return Ok(vm.ctx.new_bool(false).into());
    }
    *phase = Phase::Cancelled;
    handle.state.wake.notify_all();
    drop(phase);
    rt.nanny.release(Resource::Events);
    rt.activity_ended();
    Ok(vm.ctx.new_bool(true).into())
}

pub fn sleep(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let bound = bind("sleep", &["seconds"], 1, args).map_err(|m| rt.arg_error(vm, m))?;
    let secs = number(&bound.get(0), vm).filter(|s| !s.is_nan()).ok_or_else(|| rt.arg_error(vm, "sleep: seconds must be a number"))?;
    rt.check_call(vm, "sleep", &bound)?;
    let duration = seconds(secs);
    let until = Instant::now().checked_add(duration);
    vm.allow_threads(|| loop {
        match until {
            None => std::thread::sleep(Duration::from_secs(3600)),
            Some(at) => {
                let now = Instant::now();
                if now >= at {
                    break;
                }
                std::thread::sleep(at - now);
            }
        }
    });
    Ok(vm.ctx.none())
}
