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
    pyclass, PyObjectRef, PyPayload, PyResult, VirtualMachine,
};

use crate::runtime::{Runtime, ThreadKind};

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

api_function! {
    /// Calls `function(*args)` on a new thread after `waittime` seconds, under one event.
    fn settimer(call, waittime, function, args) {
        let (rt, vm) = (call.rt, call.vm);
        let seconds = number(&waittime, vm).filter(|w| !w.is_nan()).ok_or_else(|| call.arg_error("waittime must be a number"))?;
        if !function.is_callable() {
            return Err(call.arg_error("function must be callable"));
        }
        if !is_exact::<PyList>(&args, vm) && !is_exact::<PyTuple>(&args, vm) {
            return Err(call.arg_error("args must be a list or tuple"));
        }
        let call_args = deep_copy(vm, &args)?;
        call.check_rules_on(&[waittime])?;
        call.acquire(Resource::Events)?;
        rt.activity_started();
        start_timer(rt, vm, seconds, function, call_args)
    }
}

/// Starts the thread of a checked `settimer` call and gives its handle.
fn start_timer(rt: &Arc<Runtime>, vm: &VirtualMachine, waittime: f64, function: PyObjectRef, call_args: PyObjectRef) -> PyResult {
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

api_function! {
    /// Cancels a timer that has not started: true if it was cancelled.
    fn canceltimer(call, timerhandle) {
        let Some(handle) = timerhandle.downcast_ref::<TimerHandle>() else {
            return Err(call.arg_error("timerhandle must be a handle returned by settimer"));
        };
        call.check_rules_on(&[])?;
        let mut phase = handle.state.phase.lock();
        if *phase != Phase::Pending {
            return Ok(call.vm.ctx.new_bool(false).into());
        }
        *phase = Phase::Cancelled;
        handle.state.wake.notify_all();
        drop(phase);
        call.rt.nanny.release(Resource::Events);
        call.rt.activity_ended();
        Ok(call.vm.ctx.new_bool(true).into())
    }
}

api_function! {
    /// Blocks this thread for `seconds` (negative and NaN: not at all).
    fn sleep(call, seconds) {
        let secs = number(&seconds, call.vm).filter(|s| !s.is_nan()).ok_or_else(|| call.arg_error("seconds must be a number"))?;
        call.check_rules()?;
        let until = Instant::now().checked_add(self::seconds(secs));
        call.vm.allow_threads(|| loop {
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
        Ok(call.vm.ctx.none())
    }
}
