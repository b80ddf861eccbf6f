//! `repy fleet --key NAME [--nodes FILE] COMMAND`: act on every vessel a key may use.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand};
use repy_fleet::{
    config::ClientConfig,
    discovered,
    exec::Executor,
    fleet::{Command, Fleet, Outcome},
    identity, nodes,
};
use serde_json::json;

#[derive(Args)]
#[command(after_help = "Arguments of start and run may hold placeholders, replaced for each vessel:
  {ip}        the node's IP address (its host in the nodes file, resolved)
  {port}      the vessel's first UDP port (messport)
  {connport}  the vessel's first TCP port (connport)
  {node}      the node as written in the nodes file
  {vessel}    the vessel's name (v1)
  {peers}     (a whole argument) one IP:PORT argument per vessel acted on, this one included
  {{ and }} are literal braces. Quote them in a shell: '{port}'.
A vessel takes at most 64 arguments (the program included), so {peers} suits up to 61 vessels.
Options such as --json go before PROGRAM: everything after it is passed to the program.

Exit status: 0 if every vessel succeeded, 1 if any node or vessel failed, 2 for a usage error.

Example, rehearsed on one machine:
  repy testbed up --nodes 3 --dir tb --vessels 1
  repy fleet --key tb/testbed --nodes tb/nodes.txt browse
  repy fleet --key tb/testbed --nodes tb/nodes.txt upload examples/allpairsping.py
  repy fleet --key tb/testbed --nodes tb/nodes.txt start allpairsping.py '{ip}:{port}' '{connport}' '{peers}'
  repy fleet --key tb/testbed --nodes tb/nodes.txt log
  repy testbed down --dir tb
The same through the testbed's DHT instead of its nodes file:
  repy fleet --key tb/testbed --bootstrap @tb/bootstrap.txt browse")]
pub struct FleetArgs {
    /// Key to act with: NAME.privatekey (and NAME.publickey), NAME being a path prefix.
    #[arg(long, value_name = "NAME")]
    key: String,
    /// Nodes file: one HOST:PORT a line ('#' starts a comment) [nodes.txt, unless --bootstrap
    /// or the settings file's bootstrap finds the nodes on the DHT].
    #[arg(long, value_name = "FILE", conflicts_with = "bootstrap")]
    nodes: Option<PathBuf>,
    /// Find the nodes on the DHT instead: every node announcing the key, reached through this
    /// peer (host:port or a multiaddr; repeatable; @FILE reads one a line), each checked
    /// against the node itself. Default: `bootstrap` in ~/.config/repy/client.toml.
    #[arg(long = "bootstrap", value_name = "ADDR")]
    bootstrap: Vec<String>,
    /// Seconds to wait for the DHT's answers (with --bootstrap).
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    lookup_timeout: f64,
    /// Print one JSON document with a result per vessel instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for a node to accept the connection and for each of its answers.
    #[arg(long, value_name = "S", default_value_t = 30.0, global = true)]
    node_timeout: f64,
    /// Nodes contacted at the same time.
    #[arg(long, value_name = "N", default_value_t = 16, global = true)]
    parallel: usize,
    #[command(subcommand)]
    command: FleetCommand,
}

#[derive(Subcommand)]
enum FleetCommand {
    /// List the vessels this key may use: node, vessel, status, role, resources.
    Browse,
    /// Copy files into every vessel (each under its base name); a program brings the
    /// libraries it imports.
    Upload {
        /// A directory to find libraries in after each program's own (repeatable).
        #[arg(long = "lib", value_name = "DIR")]
        lib_dirs: Vec<PathBuf>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Start PROGRAM (already uploaded) with ARGS in every vessel.
    Start {
        program: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Stop the program of every vessel.
    Stop,
    /// Print each vessel's log, each line prefixed with node/vessel.
    Log,
    /// List the files of each vessel.
    List,
    /// Fetch FILE from every vessel into DIR/NODE_VESSEL/FILE (':' in NODE becomes '_').
    Download {
        file: String,
        #[arg(long, value_name = "DIR", default_value = ".")]
        to: PathBuf,
    },
    /// Stop and empty every vessel (files and log).
    Reset,
    /// Upload PROGRAM, start it with ARGS, wait until every vessel stops, print the logs.
    ///
    /// A vessel succeeds if its program ends by itself with exit status 0. One still running
    /// after --timeout seconds is stopped and counts as failed.
    Run {
        /// Seconds to wait for the programs to end.
        #[arg(long, value_name = "S", default_value_t = 300.0)]
        timeout: f64,
        /// A directory to find libraries in after the program's own (repeatable).
        #[arg(long = "lib", value_name = "DIR")]
        lib_dirs: Vec<PathBuf>,
        program: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn build(command: FleetCommand) -> Result<Command, String> {
    Ok(match command {
        FleetCommand::Browse => Command::Browse,
        FleetCommand::Upload { files, lib_dirs } => Command::upload(&files, &lib_dirs)?,
        FleetCommand::Start { program, args } => Command::start(&program, args)?,
        FleetCommand::Stop => Command::Stop,
        FleetCommand::Log => Command::Log,
        FleetCommand::List => Command::List,
        FleetCommand::Download { file, to } => Command::download(&file, to)?,
        FleetCommand::Reset => Command::Reset,
        FleetCommand::Run { timeout, program, args, lib_dirs } => {
            if !(timeout.is_finite() && timeout > 0.0 && timeout <= 1e7) {
                return Err(format!("--timeout {timeout}: expected a positive number of seconds"));
            }
            Command::run(&program, args, Duration::from_secs_f64(timeout), &lib_dirs)?
        }
    })
}

fn seconds(option: &str, value: f64) -> Result<Duration, String> {
    if !(value.is_finite() && value > 0.0 && value <= 1e6) {
        return Err(format!("{option} {value}: expected a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

/// The bootstrap addresses to find the nodes through: `--bootstrap`, else the settings file's;
/// None when neither gives any (then the nodes file is used).
pub fn bootstrap(given: &[String]) -> Result<Option<Vec<String>>, String> {
    let listed = if given.is_empty() { ClientConfig::load_default()?.bootstrap } else { given.to_vec() };
    let expanded = repy_discovery::bootstrap::expand(&listed, false)?;
    Ok((!expanded.is_empty()).then_some(expanded))
}

pub fn run(args: FleetArgs) -> u8 {
    let prepared = (|| {
        let identity = identity::load(&args.key)?;
        let command = build(args.command)?;
        let exec = Executor::new(args.parallel, !args.json)?;
        let timeout = seconds("--node-timeout", args.node_timeout)?;
        let nodes = match (&args.nodes, bootstrap(&args.bootstrap)?) {
            (Some(file), _) => nodes::read_nodes_file(file)?,
            (None, None) => nodes::read_nodes_file(std::path::Path::new("nodes.txt"))?,
            (None, Some(bootstrap)) => {
                let lookup_timeout = seconds("--lookup-timeout", args.lookup_timeout)?;
                let found = discovered::find(&bootstrap, &identity.public, lookup_timeout, timeout, &exec)?;
                for (node, why) in &found.ignored {
                    eprintln!("repy: fleet: ignored the DHT's answer {node}: {why}");
                }
                if found.nodes.is_empty() {
                    return Err(format!(
                        "no node on the DHT (bootstrap {}) announces key {}{}",
                        bootstrap.join(" "),
                        identity.public.fingerprint(),
                        if found.ignored.is_empty() {
                            String::new()
                        } else {
                            format!(" and serves it ({} answers ignored)", found.ignored.len())
                        }
                    ));
                }
                found.nodes
            }
        };
        Ok::<_, String>((Fleet::new(nodes, &identity, exec, timeout), command))
    })();
    let (fleet, command) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("repy: fleet: {e}");
            return 2;
        }
    };
    let name = command.name();
    let outcomes = fleet.execute(command);
    let all_ok = outcomes.iter().all(Outcome::ok);
    if args.json {
        let doc = json!({
            "command": name,
            "ok": all_ok,
            "results": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for o in &outcomes {
            print_text(name, o);
        }
        eprintln!("repy: fleet: {}", summary(name, &outcomes));
    }
    if all_ok {
        0
    } else {
        1
    }
}

fn text(o: &Outcome, key: &str) -> String {
    match o.fields.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(list)) => list.iter().map(|v| v.as_str().unwrap_or("?")).collect::<Vec<_>>().join(" "),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn print_log(o: &Outcome) {
    let place = o.place();
    for line in text(o, "log").lines() {
        println!("{place}: {line}");
    }
}

fn print_text(command: &str, o: &Outcome) {
    let place = o.place();
    if command == "run" {
        print_log(o);
    }
    if let Some(e) = &o.error {
        eprintln!("{place}: error: {e}");
        return;
    }
    match command {
        "browse" => println!(
            "{place}  {:<10} {:<5}  cpu {}  memory {}  disk {}  udp {}  tcp {}",
            text(o, "status"),
            text(o, "role"),
            text(o, "cpu"),
            text(o, "memory"),
            text(o, "diskused"),
            text(o, "messport"),
            text(o, "connport")
        ),
        "upload" => println!("{place}  uploaded {}", text(o, "files")),
        "start" => println!("{place}  {}  {}", text(o, "status"), text(o, "args")),
        "stop" if o.fields.contains_key("note") => println!("{place}  {} (was not running)", text(o, "status")),
        "stop" => println!("{place}  {}", text(o, "status")),
        "log" => print_log(o),
        "list" if text(o, "files").is_empty() => println!("{place}  (no files)"),
        "list" => println!("{place}  {}", text(o, "files")),
        "download" => println!("{place}  saved {} ({} bytes)", text(o, "path"), text(o, "bytes")),
        "reset" => println!("{place}  reset"),
        _ => println!("{place}  {} (exit status 0)", text(o, "status")),
    }
}

fn summary(command: &str, outcomes: &[Outcome]) -> String {
    let vessels_ok = outcomes.iter().filter(|o| o.vessel.is_some() && o.ok()).count();
    let vessels_failed = outcomes.iter().filter(|o| o.vessel.is_some() && !o.ok()).count();
    let failed_nodes: Vec<&str> = outcomes.iter().filter(|o| o.vessel.is_none()).map(|o| o.node.as_str()).collect();
    let mut nodes: Vec<&str> = outcomes.iter().map(|o| o.node.as_str()).collect();
    nodes.dedup();
    let mut text = format!("{command}: {vessels_ok} vessels ok");
    if vessels_failed > 0 {
        text += &format!(", {vessels_failed} failed");
    }
    text += &format!(" on {} nodes", nodes.len());
    if !failed_nodes.is_empty() {
        let n = failed_nodes.len();
        text += &format!("; {n} {} failed: {}", if n == 1 { "node" } else { "nodes" }, failed_nodes.join(" "));
    }
    text
}
