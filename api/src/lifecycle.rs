//! Running a program through its lifecycle (repy-api.md §2): the initialize run, the idle
//! wait, the exit run, and every way the process ends.

use std::{sync::Arc, time::Instant};

use repy_contract::{log::CircularLog, status::ExitStatus, termination::Termination};
use repy_interpreter::{program, sandbox};
use repy_policy::{Resource, Restrictions};
use rustpython_vm::{builtins::PyDictRef, PyResult, VirtualMachine};

use crate::{
    install,
    output::{Output, Stream},
    runtime::{Runtime, THREAD_STACK_BYTES},
};

/// Everything `repy run` decided before the program starts.
pub struct Program {
    /// The name tracebacks show (the path as given on the command line).
    pub name: String,
    /// Source that passed the static check.
    pub source: String,
    /// The libraries it imports, checked, each before those that import it.
    pub libraries: Vec<repy_libraries::Library>,
    pub callargs: Vec<String>,
    pub restrictions: Arc<Restrictions>,
    /// The circular log, already open: the worker opens it before its kernel wall goes up.
    pub log: Option<CircularLog>,
    /// When `repy run` started (`getruntime()` counts from here).
    pub started: Instant,
    /// Runs before the API is installed and the program compiled: the memory count starts
    /// there.
    pub on_start: Box<dyn FnOnce() + Send>,
    /// With `--usage`: reads (peak heap bytes, CPU microseconds) for the closing report.
    pub usage: Option<fn() -> (u64, u64)>,
    /// Counts memory outside the heap (kernel socket buffers) against the memory limit.
    pub outside_heap: crate::outside_heap::OutsideHeap,
    /// The local addresses the program may use (`--ip`, `--iface`, `--nootherips`).
    pub local_addresses: crate::net::LocalAddresses,
}

/// Runs `program` to its end and exits the process with the status of cli.md.
pub fn run(program: Program) -> ! {
    report_panics_without_paths();
    let worker =
        std::thread::Builder::new().name("MainThread".into()).stack_size(THREAD_STACK_BYTES).spawn(move || run_on_this_thread(program));
    let outcome = match worker {
        Ok(handle) => handle.join(),
        Err(e) => {
            Termination::ThreadErr { detail: format!("the host refused the main thread ({e})") }.announce();
            repy_portability::process::exit_now(Termination::STATUS.code())
        }
    };
    // The worker ends the process itself; reaching here means it panicked (the hook has
    // said so).
    if outcome.is_ok() {
        eprintln!("repy: internal error: the program's thread ended without an exit status");
    }
    repy_portability::process::exit_now(ExitStatus::Uncaught.code())
}

/// A panic is a bug of ours: it is reported as an internal error with its message only.
/// The default report names the source file, a path of the build machine, and it would go
/// into the vessel's log.
fn report_panics_without_paths() {
    std::panic::set_hook(Box::new(|info| {
        // The check turns a parser's panic into a refusal of the source.
        if repy_interpreter::check::is_check_thread() {
            return;
        }
        let payload = info.payload();
        let message = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        eprintln!("repy: internal error: {}", message.unwrap_or("a panic without a message"));
    }));
}

fn run_on_this_thread(mut program: Program) {
    let output = Output::new(program.log.take());
    let interpreter = sandbox::new_interpreter();
    interpreter.enter(|vm| {
        let errors = match sandbox::restrict_builtins(vm) {
            Ok(errors) => errors,
            Err(exc) => {
                let reason = repy_interpreter::traceback::exception_summary(vm, &exc);
                output.write(Stream::Stderr, format!("repy: internal error: cannot set up the sandbox builtins: {reason}\n").as_bytes());
                repy_portability::process::exit_now(ExitStatus::Uncaught.code())
            }
        };
        let mut runtime = Runtime::new(errors, program.restrictions.clone(), output, program.started);
        runtime.usage_figures = program.usage;
        runtime.outside_heap = program.outside_heap;
        runtime.net = crate::net::Network::new(program.local_addresses.clone());
        runtime.library_names = program.libraries.iter().map(|l| l.name.clone()).collect();
        let rt = Arc::new(runtime);
        if let Err(exc) = lifecycle(vm, &rt, program) {
            rt.die_with_exception(vm, &exc);
        }
        rt.exit()
    })
}

fn lifecycle(vm: &VirtualMachine, rt: &Arc<Runtime>, program: Program) -> PyResult<()> {
    // Counting starts before the compiler runs: compiling a small hostile source can take
    // gigabytes (a comparison chain of 3,000 terms).
    (program.on_start)();
    let globals = vm.ctx.new_dict();
    install(vm, rt, &globals)?;
    rt.sources.register(&program.name, &program.source);
    let code = match program::compile(vm, &program.source, &program.name) {
        Ok(code) => code,
        // The static check parsed the same source; a compiler refusal is still a refusal.
        Err(message) => rt.output.finish(Stream::Stderr, format!("{}: {message}\n", program.name).as_bytes(), ExitStatus::CodeSafety),
    };
    Runtime::set_thread_name("MainThread".to_owned());
    globals.set_item("mycontext", vm.ctx.new_dict().into(), vm)?;
    if let Err(message) = crate::imports::install(vm, rt, &program.libraries, &globals)? {
        rt.output.finish(Stream::Stderr, format!("{message}\n").as_bytes(), ExitStatus::CodeSafety)
    }

    for callfunc in ["initialize", "exit"] {
        if callfunc == "exit" {
            rt.wait_idle(vm);
        }
        set_run_globals(vm, &globals, callfunc, &program.callargs)?;
        rt.acquire(vm, callfunc, Resource::Events)?;
        program::run(vm, code.clone(), globals.clone())?;
        rt.nanny.release(Resource::Events);
    }
    Ok(())
}

fn set_run_globals(vm: &VirtualMachine, globals: &PyDictRef, callfunc: &str, callargs: &[String]) -> PyResult<()> {
    globals.set_item("callfunc", vm.ctx.new_str(callfunc).into(), vm)?;
    let args = callargs.iter().map(|a| vm.ctx.new_str(a.as_str()).into()).collect();
    globals.set_item("callargs", vm.ctx.new_list(args).into(), vm)?;
    Ok(())
}
