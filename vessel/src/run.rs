//! `repy run` as a library: the checks that come before anything runs (restrictions,
//! program, static safety), the worker's start under its supervisor, the worker's limits
//! (heap, address space), its kernel wall, then the program's lifecycle.

use std::{path::PathBuf, sync::Arc, time::Instant};

use repy_api::{
    lifecycle::{self, Program},
    net::LocalAddresses,
};
use repy_contract::{
    log::CircularLog,
    status::ExitStatus,
    termination::{self, Termination},
};
use repy_policy::Resource;
pub use repy_portability::kernel_wall::Mode as KernelWallMode;

use crate::{
    program::{load, Loaded},
    supervisor,
};

/// Address space beyond heap and stacks: code, interpreter, allocator arenas.
const ADDRESS_SPACE_SLACK: u64 = 4 << 30;

/// What to run, and how (the options of cli.md's `repy run`).
pub struct RunOptions {
    /// Restrictions file (None: the built-in `default` profile).
    pub restrictions: Option<PathBuf>,
    /// The vessel directory (None: the current directory).
    pub cwd: Option<PathBuf>,
    /// Base path of the circular log, if any.
    pub logfile: Option<PathBuf>,
    /// Print the usage report at the end.
    pub usage: bool,
    /// The local addresses the program may use.
    pub local_addresses: LocalAddresses,
    /// The program file.
    pub program: PathBuf,
    /// The program's `callargs`.
    pub args: Vec<String>,
    /// The worker's kernel wall: refusing (the default) or only reporting.
    pub kernel_wall: KernelWallMode,
    /// Directories searched for libraries after the program's own (`--lib`).
    pub lib_dirs: Vec<PathBuf>,
}

/// Runs a vessel to its end; returns the exit status of cli.md. In the worker process
/// (forked or started again) it does not return: the lifecycle ends the process.
///
/// A spawned worker starts this binary again with the same command line, so the binary's
/// `main` must bring it back here with the same options.
pub fn run(args: RunOptions) -> u8 {
    let started = Instant::now();
    // Before the check thread, the fork and the interpreter's threads.
    repy_portability::memory::use_one_heap();
    if let Err(e) = termination::open_report() {
        eprintln!("repy: {e}");
        return ExitStatus::Usage.into();
    }
    let restrictions = match &args.restrictions {
        None => repy_policy::parse(repy_policy::DEFAULT_PROFILE).expect("the built-in profile is valid"),
        Some(path) => match crate::restrictions_file::load(path) {
            Ok(r) => r,
            Err(lines) => {
                lines.iter().for_each(|l| eprintln!("{l}"));
                return ExitStatus::Usage.into();
            }
        },
    };
    let is_worker = std::env::var(supervisor::WORKER_ROLE_VAR).as_deref() == Ok(supervisor::WORKER_ROLE);
    // The worker runs exactly the source the supervisor read and checked (also when the
    // program is a pipe such as /dev/stdin): it arrives on the worker's standard input.
    let handed = is_worker && std::env::var_os(supervisor::SOURCE_ON_STDIN_VAR).is_some();
    let loaded = if handed { read_handed_source(&args.program, &args.lib_dirs) } else { load(&args.program, &args.lib_dirs) };
    let Loaded { source, libraries } = match loaded {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    if !is_worker {
        let vessel_dir = args.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
        if !vessel_dir.is_dir() {
            eprintln!("repy: cannot use vessel directory '{}': not a directory", vessel_dir.display());
            return ExitStatus::Usage.into();
        }
        if let Some(termination) = supervisor::disk_over_limit(&vessel_dir, &restrictions) {
            termination.announce();
            return Termination::STATUS.into();
        }
        match supervisor::start_worker(&source) {
            Ok(supervisor::Started::Supervisor(worker)) => return supervisor::supervise(worker, &vessel_dir, &restrictions),
            // This process is now the worker (forked), with everything checked above.
            Ok(supervisor::Started::Worker) => {}
            Err(status) => return status,
        }
    }
    // Paths given relative to the caller's directory stay valid after entering the vessel.
    let logfile = args.logfile.map(|p| std::path::absolute(&p).unwrap_or(p));
    if let Some(dir) = &args.cwd {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("repy: cannot use vessel directory '{}': {e}", dir.display());
            return ExitStatus::Usage.into();
        }
    }
    let memory_limit = restrictions.value(Resource::Memory).whole_units();
    // Second line of defence behind the counting allocator: the address space may hold the
    // heap limit, every possible thread stack (reserved, mostly untouched: a thread per
    // event, one serving each listener, the main thread and one spare) and the
    // interpreter's own mappings, and no more.
    let threads = restrictions
        .value(Resource::Events)
        .whole_units()
        .saturating_add(restrictions.value(Resource::Insockets).whole_units())
        .saturating_add(2);
    let stacks = threads.saturating_mul(repy_api::runtime::THREAD_STACK_BYTES as u64);
    let address_space = memory_limit.saturating_add(stacks).saturating_add(ADDRESS_SPACE_SLACK);
    let _ = repy_portability::memory::limit_address_space(address_space);
    let log = match &logfile {
        None => None,
        Some(path) => match CircularLog::open(path) {
            Ok(log) => Some(log),
            Err(e) => {
                eprintln!("repy: cannot open log file '{}': {e}", path.display());
                return ExitStatus::Usage.into();
            }
        },
    };
    // Set-up is done and this is still the worker's only thread.
    let vessel_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    crate::wall::raise(args.kernel_wall, &vessel_dir, address_space);
    lifecycle::run(Program {
        name: args.program.display().to_string(),
        source,
        libraries,
        callargs: args.args,
        restrictions: Arc::new(restrictions),
        log,
        started,
        // Counting starts after the interpreter's fixed start-up footprint, before the
        // program is compiled.
        on_start: Box::new(move || crate::heap::start_counting(memory_limit)),
        usage: args.usage.then_some(crate::heap::usage_figures as fn() -> (u64, u64)),
        outside_heap: repy_api::outside_heap::OutsideHeap {
            reserve: crate::heap::reserve_outside_heap,
            release: crate::heap::release_outside_heap,
        },
        local_addresses: args.local_addresses,
    })
}

/// The program source the supervisor handed over, checked again; its libraries are files
/// (or built in), found again from the same directory.
fn read_handed_source(program: &std::path::Path, lib_dirs: &[PathBuf]) -> Result<Loaded, u8> {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
        eprintln!("repy: internal error: cannot receive the program from the supervisor: {e}");
        return Err(ExitStatus::Usage.into());
    }
    crate::program::load_bytes(program, &bytes, lib_dirs)
}
