//! What the unit tests share: a runtime on a fresh interpreter.

use std::{sync::Arc, time::Instant};

use repy_interpreter::sandbox;
use repy_policy::Restrictions;
use rustpython_vm::VirtualMachine;

use crate::{output::Output, runtime::Runtime};

/// Runs `body` with a runtime of default restrictions, inside the sandbox's interpreter.
pub fn with_runtime<T>(body: impl FnOnce(&Arc<Runtime>, &VirtualMachine) -> T) -> T {
    sandbox::new_interpreter().enter(|vm| {
        let errors = sandbox::restrict_builtins(vm).expect("sandbox builtins");
        let rt = Arc::new(Runtime::new(errors, Arc::new(Restrictions::default()), Output::new(None), Instant::now()));
        body(&rt, vm)
    })
}
