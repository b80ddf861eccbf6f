//! `repy run`: its command line, handed to [`repy_vessel::run`].

use std::path::PathBuf;

use clap::Args;
use repy_api::net::{LocalAddresses, LocalPreference};
use repy_vessel::{KernelWallMode, RunOptions};

#[derive(Args)]
pub struct RunArgs {
    /// Restrictions file (default: the built-in `default` profile).
    #[arg(long, value_name = "FILE")]
    restrictions: Option<PathBuf>,
    /// The vessel directory, the only directory the program's file API sees.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Also keep the program's output in a size-bounded circular log (PATH.old, PATH.new).
    #[arg(long, value_name = "PATH")]
    logfile: Option<PathBuf>,
    /// Print, at the end, each resource's limit and what the program used (on stderr).
    #[arg(long)]
    usage: bool,
    /// A local IP the program may use; `getmyip()` returns the first usable one (repeatable).
    #[arg(long = "ip", value_name = "IP")]
    ips: Vec<String>,
    /// A network interface whose IPv4 addresses the program may use (repeatable).
    #[arg(long = "iface", value_name = "NAME")]
    ifaces: Vec<String>,
    /// Refuse local addresses outside the --ip/--iface list (127.0.0.1 is always allowed).
    #[arg(long)]
    nootherips: bool,
    /// The worker's kernel wall (Landlock and seccomp on Linux): `enforce` refuses, `report`
    /// only says what it would refuse [default: $REPY_KERNEL_WALL, else enforce].
    #[arg(long = "kernel-wall", value_name = "MODE", value_parser = ["enforce", "report"])]
    kernel_wall: Option<String>,
    /// A directory to find libraries in after the program's own, before the built-in ones
    /// (repeatable).
    #[arg(long = "lib", value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// The program to run.
    program: PathBuf,
    /// Arguments passed to the program as `callargs`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// The environment's choice of kernel wall mode when `--kernel-wall` is not given (how
/// the node manager's vessels, which run `repy run`, are switched).
pub const KERNEL_WALL_VAR: &str = "REPY_KERNEL_WALL";

pub fn run(args: RunArgs, matches: &clap::ArgMatches) -> u8 {
    let preferences = local_preferences(&args.ips, &args.ifaces, matches);
    let kernel_wall = match kernel_wall_mode(args.kernel_wall.as_deref()) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("repy: {message}");
            return repy_contract::status::ExitStatus::Usage.into();
        }
    };
    repy_vessel::run(RunOptions {
        restrictions: args.restrictions,
        cwd: args.cwd,
        logfile: args.logfile,
        usage: args.usage,
        local_addresses: LocalAddresses { preferences, no_other_ips: args.nootherips },
        program: args.program,
        args: args.args,
        kernel_wall,
        lib_dirs: args.lib_dirs,
    })
}

/// The option, else the environment variable, else `enforce`.
fn kernel_wall_mode(option: Option<&str>) -> Result<KernelWallMode, String> {
    let from_env = std::env::var(KERNEL_WALL_VAR).ok().filter(|v| !v.is_empty());
    match option.map(str::to_owned).or(from_env) {
        None => Ok(KernelWallMode::Enforce),
        Some(name) => KernelWallMode::parse(&name).ok_or_else(|| format!("{KERNEL_WALL_VAR} must be 'enforce' or 'report', not '{name}'")),
    }
}

/// The `--ip` and `--iface` options in command-line order (repy-api.md §7.3): clap keeps
/// each list in order; the positions of the options interleave them.
fn local_preferences(ips: &[String], ifaces: &[String], run: &clap::ArgMatches) -> Vec<LocalPreference> {
    let positions = |id: &str| run.indices_of(id).map(|i| i.collect::<Vec<_>>()).unwrap_or_default();
    let mut ordered: Vec<(usize, LocalPreference)> =
        positions("ips").into_iter().zip(ips.iter().cloned().map(LocalPreference::Ip)).collect();
    ordered.extend(positions("ifaces").into_iter().zip(ifaces.iter().cloned().map(LocalPreference::Iface)));
    ordered.sort_by_key(|(position, _)| *position);
    ordered.into_iter().map(|(_, preference)| preference).collect()
}
