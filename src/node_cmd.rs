//! `repy node init|run|status|install|uninstall|call`: the node manager, its registration as
//! a service, and a minimal client for it.

use std::path::PathBuf;

use base64::{engine::general_purpose::STANDARD, Engine};
use clap::Subcommand;
use repy_nodemanager::{
    client::{Client, ClientError},
    frame,
    init::{self, InitOptions},
    install::{self, InstallOptions, Scope},
    keys,
    protocol::Request,
    server,
};
use serde_json::{Map, Value};

#[derive(Subcommand)]
#[command(after_help = "Example, with a node in one terminal and a client in another:
  repy keygen alice
  repy node init --dir state --owner alice.publickey --listen 127.0.0.1:1224
  repy node run --dir state                  (or: repy node install --dir state, to run it from boot)
  repy node call --key alice --node 127.0.0.1:1224 AddFileToVessel vessel=v1 filename=hello.py data=@hello.py
  repy node call --key alice --node 127.0.0.1:1224 StartVessel vessel=v1 'args=[\"hello.py\"]'
  repy node call --key alice --node 127.0.0.1:1224 ReadVesselLog vessel=v1")]
pub enum Action {
    /// Create a node's state directory: node key, node.toml and N vessels owned by a key.
    Init {
        /// State directory (created; must be empty if it exists).
        #[arg(long)]
        dir: PathBuf,
        /// Public key file of the owner of the initial vessels.
        #[arg(long, value_name = "KEYFILE.publickey")]
        owner: PathBuf,
        /// Address to listen on [127.0.0.1:1224].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Number of vessels sharing the donated resources.
        #[arg(long, default_value_t = 4)]
        vessels: u64,
        /// Donate P % of this machine (0 < P <= 100, decimals allowed): of its logical CPUs, its
        /// physical memory, the free disk of STATE's file system and its network link
        /// (netsend and netrecv; 100 Mbit/s where no hardware interface reports its speed). --cpu,
        /// --memory and --disk override it for their resource. [10 % of CPUs, memory and disk,
        /// 10 MB/s of network]
        #[arg(long, value_name = "P")]
        percent: Option<String>,
        /// Donated CPU (fraction of one core) [0.1 x logical CPUs, or P % of them].
        #[arg(long, value_name = "F")]
        cpu: Option<String>,
        /// Donated memory in bytes [10% of physical RAM, or P %].
        #[arg(long, value_name = "BYTES")]
        memory: Option<u64>,
        /// Donated disk in bytes [10% of the free space of STATE's file system, or P %].
        #[arg(long, value_name = "BYTES")]
        disk: Option<u64>,
        /// Donated port range A-B (messport and connport) [63100-63199].
        #[arg(long, value_name = "RANGE")]
        ports: Option<String>,
        /// A DHT peer to join, host:port or a multiaddr (repeatable; @FILE reads one a line).
        /// With one, the node announces its vessels' keys so that `repy lookup` and `repy fleet
        /// --bootstrap` find them.
        #[arg(long = "bootstrap", value_name = "ADDR")]
        bootstrap: Vec<String>,
        /// Where the node's DHT side listens, host:port or a multiaddr [any port, when
        /// --bootstrap is given]. A node with this and no --bootstrap starts a DHT of its own.
        #[arg(long, value_name = "ADDR")]
        discovery_listen: Option<String>,
    },
    /// Run the node manager in the foreground (logs to stderr; stop with Ctrl-C or SIGTERM).
    Run {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Print the node's share of the machine, then its vessels: status, what each holds and uses.
    Status {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Run `repy node run --dir DIR` as a service: started at boot, restarted when it exits.
    ///
    /// Linux: a systemd unit repy-node-NAME-HASH.service (NAME from DIR, HASH of its path, so
    /// that several nodes do not clash), in /etc/systemd/system as root or
    /// ~/.config/systemd/user otherwise (a system unit runs as DIR's owner), then `systemctl
    /// daemon-reload` and `enable --now`.
    /// Where systemd is not running (most containers) the unit is written but not started:
    /// that is said, with the command to start it, and the exit status is still 0. macOS: a
    /// launchd property list (LaunchDaemons as root, else LaunchAgents) and `launchctl load
    /// -w`. Windows: a scheduled task at boot as SYSTEM when elevated, else at logon. The
    /// service runs the repy executable that installs it, by its absolute path.
    Install {
        /// The node's state directory (made by `repy node init`).
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Write the unit (plist, task XML) into this directory and register nothing: for
        /// packaging and tests.
        #[arg(long, value_name = "DIR")]
        unit_dir: Option<PathBuf>,
    },
    /// Stop and remove the service that `repy node install --dir DIR` registered.
    Uninstall {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Remove the unit from this directory, as written by `install --unit-dir`.
        #[arg(long, value_name = "DIR")]
        unit_dir: Option<PathBuf>,
    },
    /// Send one request to a node and print its result.
    ///
    /// Arguments are NAME=VALUE pairs: VALUE is taken as JSON if it parses (numbers, booleans,
    /// lists like '["prog.py","arg"]'), else as a string; NAME=@FILE puts the base64 of FILE's
    /// contents (for AddFileToVessel's `data`). A single argument starting with '{' is the whole
    /// JSON argument object. The call and its arguments are checked as the node checks them
    /// before anything is sent. ReadVesselLog prints the log text and RetrieveFileFromVessel the
    /// file contents; other calls print the JSON result.
    Call {
        /// Key to sign with: NAME.privatekey (a path prefix). Without it the request is unsigned.
        #[arg(long, value_name = "NAME")]
        key: Option<String>,
        /// The node's address.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:1224")]
        node: String,
        /// Request name, e.g. GetVessels, StartVessel, ReadVesselLog.
        call: String,
        /// Arguments: NAME=VALUE..., or one JSON object.
        args: Vec<String>,
    },
    /// Measure a running node: signed GetVessels per second, and the time to start every
    /// vessel the key owns with a small looping program (stopped afterwards).
    Bench {
        /// Owner key (NAME.privatekey) for the start measurement.
        #[arg(long, value_name = "NAME")]
        key: String,
        /// Nodes (repeatable): requests go to the first, vessels are started on all.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:1224")]
        node: Vec<String>,
        /// Parallel connections for the request rate.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Requests per connection.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
    },
}

/// `--system` or `--user` for install and uninstall [the whole machine when root or elevated].
#[derive(clap::Args)]
#[group(multiple = false)]
pub struct ScopeArgs {
    /// A service of the whole machine (systemd system unit, LaunchDaemon, task as SYSTEM).
    #[arg(long)]
    system: bool,
    /// A service of the user who installs (systemd --user unit, LaunchAgent, task at logon).
    #[arg(long)]
    user: bool,
}

impl ScopeArgs {
    fn scope(&self) -> Option<Scope> {
        match (self.system, self.user) {
            (true, _) => Some(Scope::System),
            (_, true) => Some(Scope::User),
            _ => None,
        }
    }
}

pub fn run(action: Action) -> u8 {
    match action {
        Action::Init { dir, owner, listen, vessels, percent, cpu, memory, disk, ports, bootstrap, discovery_listen } => {
            let init = || {
                let bootstrap = repy_discovery::bootstrap::expand(&bootstrap, false)?;
                let opts = InitOptions { dir, owner, listen, vessels, cpu, memory, disk, ports, bootstrap, discovery_listen };
                init::init_donating(&opts, percent.as_deref()).map(|summary| println!("{summary}"))
            };
            report(init())
        }
        Action::Install { dir, scope, unit_dir } => {
            report(install::install(&InstallOptions { dir, scope: scope.scope(), unit_dir }).map(|text| print!("{text}")))
        }
        Action::Uninstall { dir, scope, unit_dir } => {
            report(install::uninstall(&InstallOptions { dir, scope: scope.scope(), unit_dir }).map(|text| print!("{text}")))
        }
        Action::Run { dir } => report(server::run_with(&dir, Some(repy_discovery::node_manager::companion()))),
        Action::Status { dir } => report(init::status(&dir).map(|text| print!("{text}"))),
        Action::Call { key, node, call, args } => report(call_node(key.as_deref(), &node, &call, &args)),
        Action::Bench { key, node, connections, requests } => report(bench(&key, &node, connections, requests)),
    }
}

fn report(result: Result<(), String>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("repy: node: {e}");
            1
        }
    }
}

/// The arguments object from the command line (NAME=VALUE pairs or one JSON object).
fn parse_args(args: &[String]) -> Result<Map<String, Value>, String> {
    if let [single] = args {
        if single.trim_start().starts_with('{') {
            return match frame::parse_json(single).map_err(|e| format!("arguments: {e}"))? {
                Value::Object(map) => Ok(map),
                _ => Err("arguments: not a JSON object".to_string()),
            };
        }
    }
    let mut map = Map::new();
    for arg in args {
        let (name, value) = arg.split_once('=').ok_or_else(|| format!("argument '{arg}' is not NAME=VALUE"))?;
        let value = if let Some(path) = value.strip_prefix('@') {
            let data = std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
            Value::String(STANDARD.encode(data))
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))
        };
        if map.insert(name.to_string(), value).is_some() {
            return Err(format!("argument '{name}' is given twice"));
        }
    }
    Ok(map)
}

fn key_path(name: &str) -> PathBuf {
    if name.ends_with(".privatekey") {
        PathBuf::from(name)
    } else {
        PathBuf::from(format!("{name}.privatekey"))
    }
}

const BENCH_PROGRAM: &[u8] = b"if callfunc == 'initialize':\n    while True:\n        sleep(0.5)\n";

fn bench(key: &str, nodes: &[String], connections: usize, requests: usize) -> Result<(), String> {
    use repy_nodemanager::bench;
    let path = key_path(key);
    keys::read_secret_key(&path)?;
    let rate = bench::requests_per_second(&nodes[0], connections.max(1), requests)?;
    println!("signed GetVessels: {rate:.0} requests/s ({connections} connections x {requests} requests)");
    let (mut count, mut elapsed) = (0, std::time::Duration::ZERO);
    for node in nodes {
        let (n, t) = bench::start_all(node, keys::read_secret_key(&path)?, BENCH_PROGRAM)?;
        count += n;
        elapsed += t;
    }
    println!(
        "started {count} vessels in {:.3} s ({:.1} ms per StartVessel)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / count as f64
    );
    Ok(())
}

fn call_node(key: Option<&str>, node: &str, call: &str, args: &[String]) -> Result<(), String> {
    // Checked here as the node would, so that a bad call or argument is reported before sending.
    let request = Request::parse(call, parse_args(args)?).map_err(|e| e.message)?;
    let mut client = Client::connect(node).map_err(|e| e.to_string())?;
    if let Some(name) = key {
        client = client.with_key(keys::read_secret_key(&key_path(name))?);
    }
    let result = client.send(&request).map_err(|e| match e {
        ClientError::Remote(e) => format!("{node} refused {call}: {e}"),
        other => format!("{node}: {other}"),
    })?;
    match request {
        Request::ReadVesselLog(_) => print!("{}", result["log"].as_str().unwrap_or("")),
        Request::RetrieveFileFromVessel(_) => {
            let data = STANDARD.decode(result["data"].as_str().unwrap_or("")).map_err(|e| format!("bad file data: {e}"))?;
            use std::io::Write;
            std::io::stdout().write_all(&data).map_err(|e| e.to_string())?;
        }
        Request::GetVesselResources(_) | Request::GetOffcutResources(_) => print!("{}", result["resources"].as_str().unwrap_or("")),
        _ => println!("{}", serde_json::to_string_pretty(&result).unwrap_or_default()),
    }
    Ok(())
}
