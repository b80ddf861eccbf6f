//! The supervisor half of `repy run` (restrictions.md §4.2–§4.4): the program runs in a
//! worker child process; this process holds it to its CPU fraction by suspending and
//! resuming it, rescans the vessel directory for disk use, and reports how it ended.

use std::{
    io,
    path::Path,
    process::ExitStatus,
    sync::mpsc::{Receiver, RecvTimeoutError},
    time::{Duration, Instant},
};

use repy_contract::{
    disk::vessel_disk_usage,
    status::{reported_code, ExitStatus as Status},
    termination::Termination,
};
use repy_policy::{Resource, Restrictions};
use repy_portability::{
    child::{repy_command, signal_process, spawn_supervised, Signal},
    cpu::process_cpu_time,
    suspend::{resume, suspend},
};

/// Environment variable that makes `repy run` the worker instead of the supervisor.
pub const WORKER_ROLE_VAR: &str = "REPY_ROLE";
pub const WORKER_ROLE: &str = "worker";
/// Set for a worker whose program source arrives on its standard input.
pub const SOURCE_ON_STDIN_VAR: &str = "REPY_SOURCE_ON_STDIN";
/// Set (to anything) to start the worker as a new process even where it could be forked:
/// the way systems without fork run, testable on Linux.
pub const SPAWN_WORKER_VAR: &str = "REPY_SPAWN_WORKER";

/// How often CPU use is sampled (§4.2).
const CPU_SAMPLE: Duration = Duration::from_millis(100);
/// How often the vessel directory is rescanned (§4.4).
const DISK_SCAN: Duration = Duration::from_millis(500);

/// The termination of restrictions.md §4.4, or None while within the limit.
pub fn disk_over_limit(dir: &Path, restrictions: &Restrictions) -> Option<Termination> {
    let limit = restrictions.value(Resource::Diskused).whole_units();
    let used = vessel_disk_usage(dir).ok()?;
    (used > limit).then_some(Termination::DiskLimit { used, limit })
}

/// What this process is after [`start_worker`].
pub enum Started {
    /// The supervisor of the worker.
    Supervisor(Worker),
    /// The worker itself (a fork of the supervisor): go on to run the program.
    Worker,
}

/// A running worker process: its pid, and where its end is reported.
pub struct Worker {
    pid: u32,
    ended: Receiver<io::Result<ExitStatus>>,
}

/// Starts the worker. On Unix, while this process has a single thread, by forking: the
/// child goes on with the restrictions and the source already parsed and checked, which
/// saves a second start of this binary (about a sixth of a short program's run). Otherwise
/// by starting this binary again in the worker role, handed `source` on its standard input.
pub fn start_worker(source: &str) -> Result<Started, u8> {
    #[cfg(unix)]
    if std::env::var_os(SPAWN_WORKER_VAR).is_none() && repy_portability::child::is_single_threaded() {
        use repy_portability::child::{fork_supervised, wait_for_exit, Forked};
        // SAFETY: checked just above that no other thread exists (the static check's
        // thread has been joined), and nothing between starts one.
        return match unsafe { fork_supervised() } {
            Ok(Forked::Child) => Ok(Started::Worker),
            Ok(Forked::Parent(pid)) => Ok(Started::Supervisor(Worker { pid, ended: wait_in_background(move || wait_for_exit(pid)) })),
            Err(e) => Err(cannot_start(e)),
        };
    }
    spawn_worker(source).map(Started::Supervisor)
}

/// Starts this binary again in the worker role, with the same arguments.
fn spawn_worker(source: &str) -> Result<Worker, u8> {
    let exe = std::env::current_exe().map_err(|e| {
        eprintln!("repy: cannot find the repy executable: {e}");
        u8::from(Status::Usage)
    })?;
    let mut worker = repy_command(&exe);
    worker.args(std::env::args_os().skip(1));
    worker.env(WORKER_ROLE_VAR, WORKER_ROLE).env(SOURCE_ON_STDIN_VAR, "1").stdin(std::process::Stdio::piped());
    let mut child = spawn_supervised(&mut worker, false, true).map_err(cannot_start)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A thread, so a source larger than the pipe's buffer never blocks supervision.
        let source = source.to_owned();
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, source.as_bytes());
        });
    }
    Ok(Worker { pid: child.id(), ended: wait_in_background(move || child.wait()) })
}

fn cannot_start(e: io::Error) -> u8 {
    Termination::ThreadErr { detail: format!("cannot start the worker process ({e})") }.announce();
    Termination::STATUS.into()
}

/// A thread waits for the worker's end, so it is seen at once rather than at the next tick.
fn wait_in_background(wait: impl FnOnce() -> io::Result<ExitStatus> + Send + 'static) -> Receiver<io::Result<ExitStatus>> {
    let (ended_tx, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = ended_tx.send(wait());
    });
    ended
}

/// Supervises `worker` until it ends; returns the status `repy run` exits with.
pub fn supervise(worker: Worker, vessel_dir: &Path, restrictions: &Restrictions) -> u8 {
    let Worker { pid, ended } = worker;
    let cpu_limit = restrictions.limit(Resource::Cpu);
    let mut throttle = Throttle::new(cpu_limit);
    let mut last_scan = Instant::now();
    loop {
        match ended.recv_timeout(CPU_SAMPLE) {
            Ok(Ok(status)) => return exit_status(status),
            Err(RecvTimeoutError::Timeout) => {}
            Ok(Err(e)) => {
                eprintln!("repy: internal error: cannot wait for the worker: {e}");
                return Status::Uncaught.into();
            }
            Err(RecvTimeoutError::Disconnected) => {
                eprintln!("repy: internal error: lost track of the worker");
                return Status::Uncaught.into();
            }
        }
        if let Ok(cpu) = process_cpu_time(pid) {
            if let Some(pause) = throttle.sample(cpu) {
                if suspend(pid).is_ok() {
                    std::thread::sleep(pause);
                    let _ = resume(pid);
                    throttle.resumed();
                }
            }
        }
        if last_scan.elapsed() >= DISK_SCAN {
            last_scan = Instant::now();
            if let Some(termination) = disk_over_limit(vessel_dir, restrictions) {
                let _ = signal_process(pid, Signal::Kill);
                let _ = ended.recv();
                termination.announce();
                return Termination::STATUS.into();
            }
        }
    }
}

/// The status `repy run` reports for the worker's end: its own code, or 128 + signal.
fn exit_status(status: ExitStatus) -> u8 {
    reported_code(status).and_then(|code| u8::try_from(code).ok()).unwrap_or(Status::Uncaught.into())
}

/// The CPU rule of §4.2: with `c` CPU seconds used since the last sample and `e` wall
/// seconds since the last sample or resume (whichever is later), the worker is stopped for
/// `c / cpu − e` seconds when that is positive.
pub struct Throttle {
    limit: f64,
    last_cpu: Duration,
    last_wall: Instant,
}

impl Throttle {
    /// For a worker that starts now: a new process has used no CPU, so the first sample
    /// is charged everything it used since its start.
    pub fn new(limit: f64) -> Self {
        Self { limit, last_cpu: Duration::ZERO, last_wall: Instant::now() }
    }

    /// Records a sample of total CPU time; returns how long to suspend, if at all.
    pub fn sample(&mut self, cpu: Duration) -> Option<Duration> {
        self.sample_at(cpu, Instant::now())
    }

    /// [`sample`](Self::sample) taken at `now`.
    fn sample_at(&mut self, cpu: Duration, now: Instant) -> Option<Duration> {
        let previous = std::mem::replace(&mut self.last_cpu, cpu);
        let elapsed = now.duration_since(self.last_wall).as_secs_f64();
        self.last_wall = now;
        let used = cpu.saturating_sub(previous).as_secs_f64();
        let stop = used / self.limit - elapsed;
        (stop > 0.0).then(|| Duration::from_secs_f64(stop))
    }

    /// The worker runs again: wall time counts from now.
    pub fn resumed(&mut self) {
        self.last_wall = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_first_sample_charges_the_cpu_used_since_the_start() {
        // A worker that ran flat out for its first 100 ms at a twentieth of a core owes
        // 1.9 s: nothing of the start is free.
        let mut t = Throttle::new(0.05);
        let start = t.last_wall;
        assert_eq!(t.sample_at(MS(100), start + MS(100)), Some(MS(1900)));
    }

    #[test]
    fn throttle_stops_for_the_excess_over_the_fraction() {
        let mut t = Throttle::new(0.25);
        let start = t.last_wall;
        // 100 ms of CPU in 100 ms of wall at a quarter core: stop 300 ms.
        assert_eq!(t.sample_at(MS(100), start + MS(100)), Some(MS(300)));
        // Resumed after the stop; then 10 ms in 100 ms is within 25 %.
        t.last_wall = start + MS(400);
        assert_eq!(t.sample_at(MS(110), start + MS(500)), None);
        // 60 ms in the next 100 ms is 35 ms over: stop 140 ms.
        assert_eq!(t.sample_at(MS(170), start + MS(600)), Some(MS(140)));
    }
}
