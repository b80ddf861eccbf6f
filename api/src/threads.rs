//! The sandbox threads that run timer and network callbacks. Each callback is a new thread
//! to the program (its own name, its own event), but the host keeps finished threads alive
//! for a moment and hands them the next callback: creating a thread with a deep stack and
//! entering the VM costs more than most callbacks do.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use parking_lot::{Condvar, Mutex};
use rustpython_vm::VirtualMachine;

/// A finished thread waits this long for another callback before it ends.
const IDLE_LIFETIME: Duration = Duration::from_secs(2);

pub type Job = Box<dyn FnOnce(&VirtualMachine) + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Waiting threads not yet promised a queued job.
    idle: usize,
}

#[derive(Default)]
pub struct Pool {
    queue: Arc<(Mutex<Queue>, Condvar)>,
}

impl Pool {
    /// Runs `job` on an idle thread, or on a new one named `name` with `stack_bytes` of
    /// stack. Errs only when the host refuses a new thread.
    pub fn run(&self, vm: &VirtualMachine, name: String, stack_bytes: usize, job: Job) -> std::io::Result<()> {
        let (lock, wake) = &*self.queue;
        {
            let mut queue = lock.lock();
            if queue.idle > 0 {
                queue.idle -= 1;
                queue.jobs.push_back(job);
                wake.notify_one();
                return Ok(());
            }
        }
        let thread_vm = vm.new_thread();
        let shared = self.queue.clone();
        std::thread::Builder::new().name(name).stack_size(stack_bytes).spawn(move || {
            thread_vm.run(|vm| {
                job(vm);
                let (lock, wake) = &*shared;
                // Waiting for work is detached from the VM: an attached thread that blocks
                // would hold up every stop-the-world garbage collection until it woke.
                while let Some(next) = vm.allow_threads(|| {
                    let mut queue = lock.lock();
                    queue.idle += 1;
                    loop {
                        if let Some(next) = queue.jobs.pop_front() {
                            return Some(next);
                        }
                        if wake.wait_for(&mut queue, IDLE_LIFETIME).timed_out() && queue.jobs.is_empty() {
                            queue.idle -= 1;
                            return None;
                        }
                    }
                }) {
                    next(vm);
                }
            })
        })?;
        Ok(())
    }
}
