//! `repy`: run short Python network programs in sandboxed vessels.

mod check_cmd;
mod fleet_cmd;
mod keygen_cmd;
mod lookup_cmd;
mod node_cmd;
mod restrictions_cmd;
mod run_cmd;
mod test_cmd;
mod testbed_cmd;

use std::{path::PathBuf, process::ExitCode};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "repy", version, about = "Run short Python network programs in sandboxed vessels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one Repy program in a sandboxed vessel.
    Run(run_cmd::RunArgs),
    /// Check programs, and the libraries they import, against the static safety rules
    /// without running them.
    Check {
        /// A directory to find libraries in after each program's own (repeatable).
        #[arg(long = "lib", value_name = "DIR")]
        lib_dirs: Vec<PathBuf>,
        /// Program files to check.
        #[arg(required = true)]
        programs: Vec<PathBuf>,
    },
    /// Show built-in restrictions profiles or check a restrictions file.
    Restrictions {
        #[command(subcommand)]
        action: restrictions_cmd::Action,
    },
    /// Write an Ed25519 key pair NAME.publickey / NAME.privatekey.
    Keygen(keygen_cmd::KeygenArgs),
    /// Act on every vessel a key may use on a list of nodes: browse, upload, start, stop, log,
    /// list, download, reset, run.
    Fleet(fleet_cmd::FleetArgs),
    /// Print what the DHT holds for a key: node address, node key, vessels, seconds left.
    Lookup(lookup_cmd::LookupArgs),
    /// Start or stop local node managers to rehearse a deployment on one machine.
    Testbed {
        #[command(subcommand)]
        action: testbed_cmd::Action,
    },
    /// Donate this machine: the node manager (init, run, status, install as a service) and a client to call it.
    Node {
        #[command(subcommand)]
        action: node_cmd::Action,
    },
    /// Run the ut_*.py test programs under each PATH and compare their output with their pragmas.
    Test(test_cmd::TestArgs),
}

fn main() -> ExitCode {
    // Parsed once; `repy run` also reads the options' positions from the matches.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let status = match cli.command {
        Command::Run(args) => run_cmd::run(args, matches.subcommand_matches("run").expect("parsed as run")),
        Command::Check { programs, lib_dirs } => check_cmd::check(&programs, &lib_dirs),
        Command::Restrictions { action } => restrictions_cmd::run(action),
        Command::Keygen(args) => keygen_cmd::run(args),
        Command::Fleet(args) => fleet_cmd::run(args),
        Command::Lookup(args) => lookup_cmd::run(args),
        Command::Testbed { action } => testbed_cmd::run(action),
        Command::Node { action } => node_cmd::run(action),
        Command::Test(args) => test_cmd::run(args),
    };
    ExitCode::from(status)
}
