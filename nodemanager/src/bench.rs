//! Measurements against a running node (`repy node bench`): signed requests per second over
//! loopback and the time to start many vessels.

use std::time::{Duration, Instant};

use crate::{
    client::Client,
    keys::SecretKey,
    protocol::{AddFileToVessel, GetVessels, StartVessel, StopVessel},
};
use base64::{engine::general_purpose::STANDARD, Engine};

/// Signed GetVessels requests per second with `connections` clients (each with its own key)
/// sending `per_connection` requests one after another.
pub fn requests_per_second(addr: &str, connections: usize, per_connection: usize) -> Result<f64, String> {
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let addr = addr.to_string();
            std::thread::spawn(move || -> Result<(), String> {
                let mut client = Client::connect(&addr).map_err(|e| e.to_string())?.with_key(SecretKey::generate());
                client.node_key().map_err(|e| e.to_string())?;
                for _ in 0..per_connection {
                    client.send(&GetVessels {}.into()).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a benchmark thread panicked".to_string())??;
    }
    Ok((connections * per_connection) as f64 / start.elapsed().as_secs_f64())
}

/// Uploads `program` to every vessel the key owns, then times starting them all (StartVessel
/// one after another, each returning once its process exists); stops them afterwards.
pub fn start_all(addr: &str, key: SecretKey, program: &[u8]) -> Result<(usize, Duration), String> {
    let mut client = Client::connect(addr).map_err(|e| e.to_string())?.with_key(key);
    let me = client.public_key().expect("has a key");
    let all = client.send(&GetVessels {}.into()).map_err(|e| e.to_string())?;
    let names: Vec<String> = all["vessels"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|v| v["owner_key"] == me.as_str() && v["status"] != "Started")
                .filter_map(|v| v["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        return Err(format!("key {} owns no stopped vessel on {addr}", me.fingerprint()));
    }
    let data = STANDARD.encode(program);
    for name in &names {
        client
            .send(&AddFileToVessel { vessel: name.clone(), filename: "bench.py".into(), data: data.clone() }.into())
            .map_err(|e| format!("{name}: {e}"))?;
    }
    let start = Instant::now();
    for name in &names {
        client.send(&StartVessel { vessel: name.clone(), args: vec!["bench.py".into()] }.into()).map_err(|e| format!("{name}: {e}"))?;
    }
    let elapsed = start.elapsed();
    for name in &names {
        let _ = client.send(&StopVessel { vessel: name.clone() }.into());
    }
    Ok((names.len(), elapsed))
}
