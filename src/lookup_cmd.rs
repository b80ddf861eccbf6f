//! `repy lookup --key K --bootstrap ADDR [--json]`: what the DHT holds for a key (issue 17):
//! every node that announces it, with its node manager's address, node key, the key's vessels
//! there and the seconds its announcement has left. These are the nodes' own signed claims;
//! `repy fleet` is what asks the nodes themselves.

use std::time::Duration;

use clap::Args;
use repy_nodemanager::keys::{self, PublicKey};

#[derive(Args)]
pub struct LookupArgs {
    /// The key to look up: its 44-character public key, or NAME for NAME.publickey.
    #[arg(long)]
    key: String,
    /// A DHT peer to ask: host:port or a multiaddr (repeatable; @FILE reads one per line)
    /// [`bootstrap` in ~/.config/repy/client.toml].
    #[arg(long = "bootstrap", value_name = "ADDR")]
    bootstrap: Vec<String>,
    /// Seconds to wait for the answers.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Print a JSON array instead of one line per node.
    #[arg(long)]
    json: bool,
}

pub fn run(args: LookupArgs) -> u8 {
    match lookup(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("repy: lookup: {e}");
            1
        }
    }
}

/// A public key written out, or the key of NAME.publickey. Base64 may hold '/', so a text
/// that parses as a key is one, whatever it looks like as a path.
fn parse_key(text: &str) -> Result<PublicKey, String> {
    if let Ok(key) = PublicKey::parse(text) {
        return Ok(key);
    }
    keys::read_public_key(std::path::Path::new(&format!("{text}.publickey")))
}

fn lookup(args: &LookupArgs) -> Result<(), String> {
    let key = parse_key(&args.key)?;
    let bootstrap = crate::fleet_cmd::bootstrap(&args.bootstrap)?
        .ok_or("no bootstrap address: give --bootstrap ADDR, or set bootstrap in ~/.config/repy/client.toml")?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start the network runtime: {e}"))?;
    let found = runtime.block_on(repy_discovery::lookup(&bootstrap, &key, Duration::from_secs(args.timeout)))?;
    if args.json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|f| {
                serde_json::json!({
                    "address": f.address,
                    "node_key": f.node_key.as_str(),
                    "peer": f.peer,
                    "vessels": f.vessels,
                    "seconds_left": f.seconds_left,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).expect("JSON values serialise"));
    } else if found.is_empty() {
        eprintln!("no node announces key {}", key.fingerprint());
    } else {
        for f in &found {
            println!("{}  node {}  {}  {} s left", f.address, f.node_key, f.vessels.join(","), f.seconds_left);
        }
    }
    Ok(())
}
