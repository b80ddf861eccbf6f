//! `repy testbed up --netns` (issue 17): five node managers in network namespaces of their
//! own, one IP address each on a bridge. A deployment found through the DHT measures round
//! trips between five distinct addresses, and a cut cable (`ip link set ... down`) makes a node
//! unreachable as a machine would be, until it is mended. Needs root, as the feature does.

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use serde_json::Value;

mod common;

use common::testbed::{text, Testbed};

fn example(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)))
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), text(&out.stderr));
}

#[test]
fn five_namespaced_nodes_ping_each_other_and_a_cut_link_is_seen() {
    if !is_root() {
        eprintln!("SKIPPED: --netns needs root (CAP_NET_ADMIN); .ci/run runs this test as root");
        return;
    }
    let bed = Testbed::up_with(5, 1, "60700-60799", &["--netns"]);
    let ips: Vec<String> = bed.nodes.iter().map(|n| n.rsplit_once(':').unwrap().0.to_string()).collect();
    let mut distinct = ips.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{:?}", bed.nodes);
    assert!(ips.iter().all(|ip| ip.starts_with("10.") && ip != "127.0.0.1"), "{ips:?}");

    let out = bed.fleet_dht(&["upload", &example("allpairsping.py")]);
    assert!(out.status.success(), "upload: {}", text(&out.stderr));
    let out = bed.fleet_dht(&["--json", "start", "allpairsping.py", "{ip}:{port}", "{connport}", "{peers}"]);
    let started = json(&out);
    assert!(out.status.success(), "start: {started:#}");
    let me: Vec<String> = started["results"].as_array().unwrap().iter().map(|r| r["args"][1].as_str().unwrap().to_string()).collect();
    assert_eq!(me.len(), 5, "{started:#}");
    for (address, ip) in me.iter().zip(me.iter().map(|a| a.rsplit_once(':').unwrap().0)) {
        assert!(ips.contains(&ip.to_string()), "{address} is not at one of the nodes' addresses {ips:?}");
    }

    // Every vessel measures a round trip to each of the five addresses.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = bed.fleet_dht(&["--json", "log"]);
        let doc = json(&out);
        let logs: Vec<String> = doc["results"].as_array().unwrap().iter().map(|r| r["log"].as_str().unwrap_or("").to_string()).collect();
        if logs.len() == 5 && logs.iter().all(|log| me.iter().all(|peer| log.contains(&format!("rtt {peer} ")))) {
            break;
        }
        assert!(Instant::now() < deadline, "not every vessel measured all five addresses within 60 s:\n{logs:#?}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Cut node 3's cable: it is unreachable by name, the others answer.
    let record = std::fs::read_to_string(bed.path().join("netns.txt")).unwrap();
    let tag = record.split_whitespace().next().unwrap();
    let cable = format!("rp{tag}v3");
    ip(&["link", "set", &cable, "down"]);
    let out = bed.fleet(&["--json", "--node-timeout", "3", "browse"]);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    for r in doc["results"].as_array().unwrap() {
        let cut = r["node"] == bed.nodes[2].as_str();
        assert_eq!(r["ok"], Value::Bool(!cut), "{r}");
        if cut {
            assert!(r["error"].as_str().unwrap().contains("unreachable"), "{r}");
        }
    }
    // Found through the DHT, the cut node's record is ignored, not a failure.
    let out = bed.fleet_dht(&["--json", "--node-timeout", "3", "browse"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&out)["results"].as_array().unwrap().len(), 4);
    assert!(text(&out.stderr).contains(&format!("ignored the DHT's answer {}: unreachable", bed.nodes[2])), "{}", text(&out.stderr));

    ip(&["link", "set", &cable, "up"]);
    let out = bed.fleet(&["--json", "browse"]);
    assert!(out.status.success(), "after mending the link: {}", text(&out.stderr));
    assert_eq!(json(&out)["results"].as_array().unwrap().len(), 5);

    // testbed down removes the namespaces and the bridge.
    let out = common::testbed::run(&["testbed", "down", "--dir", &bed.path().display().to_string()]);
    assert!(out.status.success() && text(&out.stdout).contains("removed its network namespaces"), "{}", text(&out.stderr));
    assert!(!std::path::Path::new(&format!("/run/netns/rp{tag}n1")).exists());
    assert!(!std::path::Path::new(&format!("/sys/class/net/rpb{tag}")).exists());
}

/// Three namespaced nodes told nothing about each other find each other by mDNS on their
/// bridge: a lookup through node 1 alone finds all three.
#[test]
fn namespaced_nodes_find_each_other_by_mdns() {
    if !is_root() {
        eprintln!("SKIPPED: --netns needs root (CAP_NET_ADMIN); .ci/run runs this test as root");
        return;
    }
    let bed = Testbed::up_with(3, 1, "60800-60899", &["--netns", "--mdns"]);
    let first = std::fs::read_to_string(bed.path().join("bootstrap.txt")).unwrap().lines().next().unwrap().to_string();
    let key = bed.key();
    let mut all = bed.nodes.clone();
    all.sort();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = common::testbed::run(&["lookup", "--key", &key, "--bootstrap", &first, "--json", "--timeout", "5"]);
        let mut found: Vec<String> = if out.status.success() {
            json(&out).as_array().unwrap().iter().map(|f| f["address"].as_str().unwrap().to_string()).collect()
        } else {
            Vec::new()
        };
        found.sort();
        if found == all {
            break;
        }
        assert!(Instant::now() < deadline, "through node 1 only {found:?} of {all:?} found within 30 s: {}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(500));
    }
}
