//! `repy testbed up|down`: local node managers to rehearse a deployment on one machine.

use std::path::PathBuf;

use clap::Subcommand;
use repy_fleet::testbed::{self, UpOptions};

#[derive(Subcommand)]
#[command(after_help = "Example:
  repy testbed up --nodes 3 --dir tb
  repy fleet --key tb/testbed --bootstrap @tb/bootstrap.txt browse
  repy fleet --key tb/testbed --nodes tb/nodes.txt browse      (the same nodes, from the nodes file)
  repy testbed down --dir tb")]
pub enum Action {
    /// Start N node managers on 127.0.0.1 in the background, joined in one DHT, write
    /// DIR/nodes.txt and DIR/bootstrap.txt and give their vessels to the key NAME. A stopped
    /// testbed in DIR is started again as it was.
    Up {
        /// Number of node managers.
        #[arg(long, value_name = "N")]
        nodes: usize,
        /// Directory for the nodes' state, logs, pids, nodes.txt (and the key, if created).
        #[arg(long)]
        dir: PathBuf,
        /// Owner key of the vessels: NAME.publickey if it exists, else DIR/NAME.publickey
        /// (created with its private key if missing).
        #[arg(long, value_name = "NAME", default_value = "testbed")]
        owner: String,
        /// Vessels per node (10 ports each).
        #[arg(long, value_name = "K", default_value_t = 2)]
        vessels: u64,
        /// Ports to take the nodes' ports from: 2 + 10 x K consecutive free ports per node.
        #[arg(long, value_name = "A-B", default_value = "61000-65000")]
        ports: String,
        /// Seconds a node's announcement on the DHT lasts unless refreshed (at half of it)
        /// [the node manager's default, 300].
        #[arg(long, value_name = "S")]
        advertise_ttl: Option<u64>,
        /// Put each node manager in a Linux network namespace of its own, with its own IP
        /// address on a bridge (root only): deployments then cross a real, virtual network.
        /// `testbed down` removes the namespaces; DIR/netns.txt names them.
        #[arg(long)]
        netns: bool,
        /// With --netns: the nodes find each other by mDNS on their bridge instead of being
        /// given each other's DHT addresses.
        #[arg(long, requires = "netns")]
        mdns: bool,
    },
    /// Stop the node managers of the testbed in DIR and their vessels (the state is kept).
    Down {
        #[arg(long)]
        dir: PathBuf,
    },
}

pub fn run(action: Action) -> u8 {
    let result = match action {
        Action::Up { nodes, dir, owner, vessels, ports, advertise_ttl, netns, mdns } => testbed::parse_pool(&ports).and_then(|pool| {
            let repy = std::env::current_exe().map_err(|e| format!("cannot find the repy executable: {e}"))?;
            testbed::up(&UpOptions { dir, nodes, owner, vessels, pool, repy, advertise_ttl, netns, mdns })
        }),
        Action::Down { dir } => testbed::down(&dir),
    };
    match result {
        Ok(summary) => {
            println!("{summary}");
            0
        }
        Err(e) => {
            eprintln!("repy: testbed: {e}");
            1
        }
    }
}
