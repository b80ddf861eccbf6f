//! Discovery end to end (issue 17): two `repy node run` on loopback join one DHT through
//! `node.toml`, and `repy lookup` finds their vessels by key, and follows a change of users.

use std::{
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use repy_nodemanager::{client::Client, keys};
use serde_json::{json, Value};

mod common;

use common::repy;

fn repy_cli(args: &[&str]) -> (bool, String, String) {
    let out = repy().args(args).output().expect("repy runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the node manager when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `repy node init` (4 vessels owned by `owner`) with `settings` appended to node.toml
/// before its `[network]` table, then `repy node run`; returns the node manager's address.
fn node(dir: &Path, name: &str, owner: &Path, settings: &str) -> (String, Running) {
    let state = dir.join(name);
    let addr = format!("127.0.0.1:{}", free_port());
    let (ok, _, err) = repy_cli(&[
        "node",
        "init",
        "--dir",
        state.to_str().unwrap(),
        "--owner",
        owner.to_str().unwrap(),
        "--listen",
        &addr,
        "--vessels",
        "4",
        "--cpu",
        "0.8",
        "--memory",
        "2000000000",
        "--disk",
        "400000000",
    ]);
    assert!(ok, "node init: {err}");
    let path = state.join("node.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for setting in settings.lines() {
        let key = setting.split('=').next().unwrap().trim();
        let old = text.lines().find(|l| l.starts_with(&format!("{key} ="))).unwrap_or_else(|| panic!("{key} not in node.toml")).to_string();
        text = text.replace(&old, setting);
    }
    std::fs::write(&path, text).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = repy()
        .args(["node", "run", "--dir", state.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    (addr, Running(child))
}

/// `repy lookup --json` until `done` holds for the answers (at most `limit`).
fn lookup_until(key: &str, bootstrap: &str, limit: Duration, done: impl Fn(&[Value]) -> bool) -> (Vec<Value>, Duration) {
    let start = Instant::now();
    loop {
        let (ok, out, err) = repy_cli(&["lookup", "--key", key, "--bootstrap", bootstrap, "--json", "--timeout", "5"]);
        let found: Vec<Value> = if ok { serde_json::from_str(&out).unwrap() } else { Vec::new() };
        if (ok && done(&found)) || start.elapsed() > limit {
            assert!(ok, "repy lookup failed: {err}");
            return (found, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn addresses(found: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = found.iter().map(|f| f["address"].as_str().unwrap().to_string()).collect();
    out.sort();
    out
}

#[test]
fn node_managers_announce_their_vessels_and_lookup_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["alice", "bob"] {
        assert!(repy_cli(&["keygen", name, "--dir", d.to_str().unwrap()]).0);
    }
    let alice = d.join("alice");
    let dht = format!("127.0.0.1:{}", free_port());
    let first_settings = format!("discovery_listen = \"{dht}\"\nadvertise_ttl_s = 30");
    let (a, _a) = node(d, "a", &alice.with_extension("publickey"), &first_settings);
    let second_settings = format!("bootstrap = [\"{dht}\"]\ndiscovery_listen = \"/ip4/127.0.0.1/tcp/0\"\nadvertise_ttl_s = 30");
    let (b, _b) = node(d, "b", &alice.with_extension("publickey"), &second_settings);

    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    let (found, took) = lookup_until(alice.to_str().unwrap(), &dht, Duration::from_secs(30), |f| addresses(f) == both);
    eprintln!("both node managers found {took:?} after they were started");
    assert_eq!(addresses(&found), both, "{found:#?}");
    for f in &found {
        assert_eq!(f["vessels"], json!(["v1", "v2", "v3", "v4"]));
        assert!(f["seconds_left"].as_u64().unwrap() <= 30);
    }

    // alice gives bob v2 on b: bob's key is found there, with only that vessel.
    let mut owner = Client::connect(&b).unwrap().with_key(keys::read_secret_key(&alice.with_extension("privatekey")).unwrap());
    let bob = keys::read_public_key(&d.join("bob.publickey")).unwrap();
    owner.call("ChangeUsers", json!({"vessel": "v2", "user_keys": [bob.as_str()]})).unwrap();
    let (found, _) = lookup_until(bob.as_str(), &dht, Duration::from_secs(10), |f| !f.is_empty());
    assert_eq!(addresses(&found), vec![b.clone()]);
    assert_eq!(found[0]["vessels"], json!(["v2"]));
    // And loses it again: no longer announced under bob's key.
    owner.call("ChangeUsers", json!({"vessel": "v2", "user_keys": []})).unwrap();
    let (found, _) = lookup_until(bob.as_str(), &dht, Duration::from_secs(10), |f| f.is_empty());
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn lookup_names_an_unreachable_bootstrap_peer() {
    let dir = tempfile::tempdir().unwrap();
    assert!(repy_cli(&["keygen", "alice", "--dir", dir.path().to_str().unwrap()]).0);
    let unreachable = format!("127.0.0.1:{}", free_port());
    let (ok, _, err) = repy_cli(&["lookup", "--key", dir.path().join("alice").to_str().unwrap(), "--bootstrap", &unreachable]);
    assert!(!ok);
    assert!(err.contains(&unreachable), "{err}");
}
