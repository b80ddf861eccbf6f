//! The state one vessel's API shares across all its threads: the nanny, the exception
//! classes, output, thread naming, and the activity count that decides when the program is
//! idle (repy-api.md §2).

use std::{
    cell::RefCell,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use parking_lot::{Condvar, Mutex};
use repy_contract::{
    status::ExitStatus,
    termination::{self, Termination},
};
use repy_interpreter::{
    exceptions::{RepyErrorKind, RepyExceptions},
    traceback::{format_exception, SourceRegistry},
    values::rule_texts,
};
use repy_policy::{CallDecision, Nanny, Resource, Restrictions};
use rustpython_vm::{builtins::PyBaseExceptionRef, PyObjectRef, PyResult, VirtualMachine};

use crate::{
    net::Network,
    open_files::OpenFiles,
    output::{Output, Stream},
    threads::{Job, Pool},
};

/// Native stack of every sandbox thread: deep enough that the recursion limit (1000 Python
/// frames) raises RecursionError long before the stack could overflow. Only touched pages
/// are ever committed.
pub const THREAD_STACK_BYTES: usize = 256 * 1024 * 1024;

thread_local! {
    static THREAD_NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Which family a sandbox thread belongs to (its name prefix).
#[derive(Clone, Copy)]
pub enum ThreadKind {
    /// Timer callbacks: `_EVENT:Thread:N`.
    Timer,
    /// Network callbacks: `_COMMH:Thread:N`.
    Comm,
}

pub struct Runtime {
    pub errors: RepyExceptions,
    pub nanny: Nanny,
    pub restrictions: Arc<Restrictions>,
    pub sources: SourceRegistry,
    pub output: Output,
    started: Instant,
    next_thread: AtomicU64,
    /// Pending timers + running callbacks + active registrations.
    activity: Mutex<usize>,
    idle: Condvar,
    /// With `--usage`: (peak heap bytes, CPU microseconds) for the closing report.
    pub usage_figures: Option<fn() -> (u64, u64)>,
    /// Counts kernel socket buffers against the memory limit.
    pub outside_heap: crate::outside_heap::OutsideHeap,
    /// Names of the files open now.
    pub open_files: OpenFiles,
    /// Sockets, listeners and the local address rules.
    pub net: Network,
    /// Threads that run callbacks.
    threads: Pool,
    /// The libraries the program may import (VirtualNamespace code may import them too).
    pub library_names: Vec<String>,
}

impl Runtime {
    pub fn new(errors: RepyExceptions, restrictions: Arc<Restrictions>, output: Output, started: Instant) -> Self {
        Self {
            errors,
            nanny: Nanny::new(restrictions.clone()),
            restrictions,
            sources: SourceRegistry::default(),
            output,
            started,
            next_thread: AtomicU64::new(1),
            activity: Mutex::new(0),
            idle: Condvar::new(),
            usage_figures: None,
            outside_heap: Default::default(),
            open_files: Default::default(),
            net: Default::default(),
            threads: Default::default(),
            library_names: Vec::new(),
        }
    }

    /// Seconds since `repy run` started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn error(&self, vm: &VirtualMachine, kind: RepyErrorKind, message: impl Into<String>) -> PyBaseExceptionRef {
        self.errors.error(vm, kind, message)
    }

    pub fn arg_error(&self, vm: &VirtualMachine, message: impl Into<String>) -> PyBaseExceptionRef {
        self.error(vm, RepyErrorKind::Argument, message)
    }

    /// Applies the restrictions file's call rules to a call of `call` with `args`.
    pub fn check_call_args(&self, vm: &VirtualMachine, call: &str, args: &[PyObjectRef]) -> PyResult<()> {
        if !self.restrictions.has_call_rules() {
            return Ok(());
        }
        // Texts of large arguments (a 64 KB message) are costly: make them only when a rule
        // reads them, or for the message of a denial.
        let decision = if self.restrictions.call_reads_arg_texts(call) {
            self.restrictions.decide(call, &rule_texts(vm, args)?.0)
        } else {
            self.restrictions.decide(call, &vec![""; args.len()])
        };
        match decision {
            CallDecision::Allow => Ok(()),
            denied => {
                let (_, repr) = rule_texts(vm, args)?;
                Err(self.error(vm, RepyErrorKind::ResourceForbidden, denied.message(call, &repr)))
            }
        }
    }

    /// Takes one unit of a fungible resource or raises ResourceExhaustedError naming it.
    pub fn acquire(&self, vm: &VirtualMachine, function: &str, resource: Resource) -> PyResult<()> {
        self.nanny
            .try_acquire(resource)
            .map_err(|exhausted| self.error(vm, RepyErrorKind::ResourceExhausted, format!("{function}: {exhausted}")))
    }

    /// As [`acquire`](Self::acquire) for items that unreferenced objects may still hold
    /// (files, sockets): at the limit, collects garbage once and retries (restrictions.md §4.5).
    pub fn acquire_reclaiming(&self, vm: &VirtualMachine, function: &str, resource: Resource) -> PyResult<()> {
        if self.nanny.try_acquire(resource).is_ok() {
            return Ok(());
        }
        vm.state.gc.collect_force(2);
        self.acquire(vm, function, resource)
    }

    /// Adds `amount` used units of a renewable resource after an operation, waiting as the nanny
    /// requires; a
    /// resource whose limit is 0 raises ResourceForbiddenError.
    pub fn charge(&self, vm: &VirtualMachine, function: &str, resource: Resource, amount: f64) -> PyResult<()> {
        self.nanny
            .charge_after(resource, amount)
            .map_err(|forbidden| self.error(vm, RepyErrorKind::ResourceForbidden, format!("{function}: {forbidden}")))
    }

    /// Waits before an operation until `resource` is within its limit.
    pub fn wait_for(&self, vm: &VirtualMachine, function: &str, resource: Resource) -> PyResult<()> {
        vm.allow_threads(|| self.nanny.charge_before(resource))
            .map_err(|forbidden| self.error(vm, RepyErrorKind::ResourceForbidden, format!("{function}: {forbidden}")))
    }

    /// Before an operation of up to `wanted` units, divisible into pieces of at least
    /// `piece`: waits for room in `resource` and takes up to `wanted` whole units of it
    /// (restrictions.md §4.1: the rate holds over any window, whatever one call asks).
    pub fn take(&self, vm: &VirtualMachine, function: &str, resource: Resource, wanted: usize, piece: usize) -> PyResult<usize> {
        let granted = vm
            .allow_threads(|| self.nanny.take(resource, wanted as f64, piece as f64))
            .map_err(|forbidden| self.error(vm, RepyErrorKind::ResourceForbidden, format!("{function}: {forbidden}")))?;
        let whole = (granted.floor() as usize).max(piece.min(wanted));
        self.nanny.refund(resource, granted - whole as f64);
        Ok(whole)
    }

    /// The network I/O runtime; a host that refuses its thread ends the vessel with ThreadErr.
    pub fn io(&self) -> &tokio::runtime::Runtime {
        match self.net.io() {
            Some(io) => io,
            None => self.terminate(Termination::ThreadErr { detail: "the host refused the network I/O thread".into() }),
        }
    }

    pub fn activity_started(&self) {
        *self.activity.lock() += 1;
    }

    pub fn activity_ended(&self) {
        let mut count = self.activity.lock();
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.idle.notify_all();
        }
    }

    /// Blocks until no timer, callback or registration remains (detached from the VM, so
    /// garbage collections of the threads still running are not held up).
    pub fn wait_idle(&self, vm: &VirtualMachine) {
        vm.allow_threads(|| {
            let mut count = self.activity.lock();
            while *count > 0 {
                self.idle.wait(&mut count);
            }
        })
    }

    pub fn set_thread_name(name: String) {
        THREAD_NAME.with(|n| *n.borrow_mut() = name);
    }

    pub fn thread_name() -> String {
        THREAD_NAME.with(|n| n.borrow().clone())
    }

    /// Runs `body` on a new sandbox thread of `kind`. A body that raises ends the program
    /// with its traceback (status 1); a host that refuses a thread ends it with ThreadErr.
    pub fn spawn(
        self: &Arc<Self>,
        vm: &VirtualMachine,
        kind: ThreadKind,
        body: impl FnOnce(&VirtualMachine) -> PyResult<()> + Send + 'static,
    ) {
        self.run_host_job(vm, kind, self.program_thread(kind, body));
    }

    /// Runs `body` on this host thread as a new sandbox thread of `kind` would run it: to
    /// the program it is a new thread (its own name), and a body that raises ends the
    /// program. For a host thread that has nothing else to do meanwhile.
    pub fn run_here(
        self: &Arc<Self>,
        vm: &VirtualMachine,
        kind: ThreadKind,
        body: impl FnOnce(&VirtualMachine) -> PyResult<()> + Send + 'static,
    ) {
        let name = Runtime::thread_name();
        self.program_thread(kind, body)(vm);
        Runtime::set_thread_name(name);
    }

    /// Runs host work (no program code of its own) on a sandbox thread; a host that refuses
    /// a thread ends the program with ThreadErr.
    pub fn run_host_job(&self, vm: &VirtualMachine, kind: ThreadKind, job: Job) {
        if let Err(e) = self.threads.run(vm, format!("{}:worker", thread_prefix(kind)), THREAD_STACK_BYTES, job) {
            self.terminate(Termination::ThreadErr { detail: format!("the host refused a new thread ({e})") });
        }
    }

    /// `body` as the program sees a new thread: named, and ending the program if it raises.
    fn program_thread(self: &Arc<Self>, kind: ThreadKind, body: impl FnOnce(&VirtualMachine) -> PyResult<()> + Send + 'static) -> Job {
        let number = self.next_thread.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}:Thread:{number}", thread_prefix(kind));
        let rt = self.clone();
        Box::new(move |vm| {
            Runtime::set_thread_name(name);
            if let Err(exc) = body(vm) {
                rt.die_with_exception(vm, &exc);
            }
        })
    }

    /// Ends the program because of an uncaught exception: traceback on stderr, status 1.
    pub fn die_with_exception(&self, vm: &VirtualMachine, exc: &PyBaseExceptionRef) -> ! {
        let text = crate::output::bounded_report(format_exception(vm, exc, &self.sources));
        self.finish(text, ExitStatus::Uncaught)
    }

    /// Ends the vessel for `termination`: reported to whoever started it, explained on
    /// stderr, status 4.
    pub fn terminate(&self, termination: Termination) -> ! {
        termination::report(&termination);
        self.finish(termination.message_string(), Termination::STATUS)
    }

    /// Ends the program normally (exit run returned, or exitall).
    pub fn exit(&self) -> ! {
        self.finish(String::new(), ExitStatus::Ok)
    }

    /// Writes `message` (and the usage report, if asked for) to stderr and exits.
    fn finish(&self, mut message: String, status: ExitStatus) -> ! {
        if let Some(figures) = self.usage_figures {
            message.push_str(&crate::usage::report(&self.restrictions, &self.nanny, figures()));
        }
        self.output.finish(Stream::Stderr, message.as_bytes(), status)
    }
}

/// The name prefix of a thread family (Repy V1's names).
fn thread_prefix(kind: ThreadKind) -> &'static str {
    match kind {
        ThreadKind::Timer => "_EVENT",
        ThreadKind::Comm => "_COMMH",
    }
}
