//! Discovery end to end (issue 17): two `repy node run` on loopback join one DHT through
//! `node.toml`, and `repy lookup` finds their vessels by key, and follows a change of users; a
//! testbed's nodes form a DHT of their own that `repy fleet --bootstrap` deploys through, a
//! killed node leaves it within a time-to-live, and a forged announcement is not acted on.

use std::{
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use repy_nodemanager::{client::Client, keys};
use serde_json::{json, Value};

mod common;

use common::{repy, testbed::Testbed};

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
    common::node::init(&state, owner, &addr, 4, &[]);
    common::node::set(&state, settings);
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

    // ChangeAdvertise false takes a vessel out of the announcements; true puts it back.
    owner.call("ChangeAdvertise", json!({"vessel": "v1", "advertise": false})).unwrap();
    let on_b = |f: &[Value]| f.iter().find(|x| x["address"] == b.as_str()).map(|x| x["vessels"].clone());
    let (found, _) = lookup_until(alice.to_str().unwrap(), &dht, Duration::from_secs(10), |f| on_b(f) == Some(json!(["v2", "v3", "v4"])));
    assert_eq!(on_b(&found), Some(json!(["v2", "v3", "v4"])), "{found:#?}");
    owner.call("ChangeAdvertise", json!({"vessel": "v1", "advertise": true})).unwrap();
    let (found, _) =
        lookup_until(alice.to_str().unwrap(), &dht, Duration::from_secs(10), |f| on_b(f) == Some(json!(["v1", "v2", "v3", "v4"])));
    assert_eq!(on_b(&found), Some(json!(["v1", "v2", "v3", "v4"])), "{found:#?}");
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

/// The `node/vessel` places of a `repy fleet --json` document's results, sorted.
fn places(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}/{}", r["node"].as_str().unwrap(), r["vessel"].as_str().unwrap_or("-")))
        .collect();
    out.sort();
    out
}

#[test]
fn a_testbed_is_found_on_its_dht_and_a_killed_node_leaves_it() {
    const TTL: u64 = 8;
    let bed = Testbed::up_with(10, 2, "60000-60499", &["--advertise-ttl", &TTL.to_string()]);
    let up = Instant::now();
    let bootstrap = bed.bootstrap();
    let mut all = bed.nodes.clone();
    all.sort();
    let (found, _) = lookup_until(&bed.key(), &bootstrap, Duration::from_secs(30), |f| addresses(f) == all);
    let took = up.elapsed();
    eprintln!("all 10 nodes found {took:?} after testbed up returned");
    assert_eq!(addresses(&found), all, "{found:#?}");
    assert!(took <= Duration::from_secs(10), "every vessel should be found within 10 s of up, took {took:?}");
    assert!(found.iter().all(|f| f["vessels"] == json!(["v1", "v2"])), "{found:#?}");

    // A deployment with only the key and the bootstrap file reaches every vessel.
    let out = bed.fleet_dht(&["--json", "browse"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{doc:#}\n{}", String::from_utf8_lossy(&out.stderr));
    let expected: Vec<String> = {
        let mut v: Vec<String> = all.iter().flat_map(|n| [format!("{n}/v1"), format!("{n}/v2")]).collect();
        v.sort();
        v
    };
    assert_eq!(places(&doc), expected);

    // SIGKILL: no withdrawal is sent, the record just stops being refreshed.
    let victim = bed.nodes[2].clone();
    repy_portability::child::signal_process(bed.pid(3), repy_portability::child::Signal::Kill).unwrap();
    let killed = Instant::now();
    let limit = Duration::from_secs(TTL + TTL / 2 + 5);
    let (found, _) = lookup_until(&bed.key(), &bootstrap, limit, |f| !addresses(f).contains(&victim));
    let gone = killed.elapsed();
    eprintln!("the killed node left the lookups {gone:?} after SIGKILL (time-to-live {TTL} s, refreshed every {} s)", TTL / 2);
    assert!(!addresses(&found).contains(&victim), "{victim} still announced {gone:?} after SIGKILL: {found:#?}");
    assert!(gone <= Duration::from_secs(TTL + TTL / 2 + 2), "took {gone:?}, more than a time-to-live plus a refresh");
    assert_eq!(found.len(), 9, "{found:#?}");
}

#[test]
fn a_forged_announcement_is_never_acted_on_and_bad_bootstraps_are_named() {
    let bed = Testbed::up(2, 1, "60500-60599");
    let owner = bed.path().join("testbed.publickey");
    let rogue_state = bed.path().join("rogue");
    let rogue_addr = format!("127.0.0.1:{}", free_port());
    common::node::init(&rogue_state, &owner, &rogue_addr, 1, &["--bootstrap", &bed.bootstrap(), "--discovery-listen", "127.0.0.1:0"]);
    // The rogue node signs with its own key a record naming the address of testbed node 1.
    let config = bed.path().join("rogue/node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("advertise_address = \"\"", &format!("advertise_address = \"{}\"", bed.nodes[0]))).unwrap();
    let log = std::fs::File::create(bed.path().join("rogue.log")).unwrap();
    let rogue = repy()
        .args(["node", "run", "--dir", bed.path().join("rogue").to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let _rogue = Running(rogue);
    let (found, _) = lookup_until(&bed.key(), &bed.bootstrap(), Duration::from_secs(30), |f| f.len() == 3);
    assert_eq!(found.len(), 3, "the rogue record should be on the DHT: {found:#?}");

    let out = bed.fleet_dht(&["--json", "browse"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{doc:#}\n{stderr}");
    let mut expected = vec![format!("{}/v1", bed.nodes[0]), format!("{}/v1", bed.nodes[1])];
    expected.sort();
    assert_eq!(places(&doc), expected, "{stderr}");
    assert!(
        stderr.contains(&format!("ignored the DHT's answer {}: the node there has key", bed.nodes[0])) && stderr.contains("not the key"),
        "{stderr}"
    );

    // Bootstrap peers that cannot be reached are named, and nothing runs.
    let dead = format!("127.0.0.1:{}", free_port());
    let out = repy().args(["fleet", "--key", &bed.key(), "--bootstrap", &dead, "browse"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&dead) && stderr.contains("cannot reach any bootstrap peer"), "{stderr}");
    let out = repy().args(["fleet", "--key", &bed.key(), "--bootstrap", "@/nonexistent/bootstrap.txt", "browse"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read bootstrap file '/nonexistent/bootstrap.txt'"));
}
