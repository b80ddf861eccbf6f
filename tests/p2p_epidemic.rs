//! Epidemic examples end to end: push-pull size estimation (examples/aggregate.py) on a
//! 20-vessel testbed, following the size when two vessels stop; UDP multicast down a tree
//! (examples/multicast.py); a TCP tunnel (examples/tcp_tunnel.py) towards an echo server run
//! by the test. Every testbed is stopped by its Drop guard.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Output, Stdio},
    time::{Duration, Instant},
};

mod common;
use common::{
    repy,
    testbed::{run, text, Testbed},
};

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

fn ok_or_show(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed ({:?}):\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
}

/// (node/vessel, log) for every vessel that answered.
fn logs(bed: &Testbed) -> Vec<(String, String)> {
    let (_, doc) = bed.fleet_json(&["log"]);
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!("{}/{}", r["node"].as_str().unwrap(), r["vessel"].as_str().unwrap_or("?")),
                r["log"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Starts PROGRAM with '{ip}:{port}' '{peers}' and returns every vessel's (node, vessel, address).
fn start(bed: &Testbed, program: &str) -> Vec<(String, String, String)> {
    ok_or_show(&bed.fleet(&["upload", &example(program)]), "upload");
    let (out, started) = bed.fleet_json(&["start", program, "{ip}:{port}", "{peers}"]);
    ok_or_show(&out, "start");
    started["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["node"].as_str().unwrap().to_string(), r["vessel"].as_str().unwrap().to_string(), r["args"][1].as_str().unwrap().to_string())
        })
        .collect()
}

/// (estimate, round, epoch) from the asker's `size estimate N round R epoch E` lines.
fn estimates(log: &str) -> Vec<(f64, u32, u32)> {
    log.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (w.len() == 7 && w[0] == "size" && w[1] == "estimate")
                .then(|| (w[2].parse().unwrap(), w[4].parse().unwrap(), w[6].parse().unwrap()))
        })
        .collect()
}

/// 20 vessels: within 30 rounds of an epoch the asker's estimate is within 2% of 20; after two
/// vessels stop, a later epoch's estimate is within 2% of 18.
#[test]
fn aggregate_estimates_the_size_and_follows_two_stops() {
    let bed = Testbed::up(4, 5, "63000-63499");
    let vessels = start(&bed, "aggregate.py");
    assert_eq!(vessels.len(), 20);
    let asker = format!("{}/{}", vessels[0].0, vessels[0].1);
    let asker_log = |bed: &Testbed| logs(bed).into_iter().find(|(place, _)| *place == asker).map(|(_, log)| log).unwrap_or_default();
    let near = |x: f64, n: f64| (x - n).abs() <= 0.02 * n;

    let deadline = Instant::now() + Duration::from_secs(45);
    let first = loop {
        let found = estimates(&asker_log(&bed)).into_iter().find(|&(x, round, _)| near(x, 20.0) && round <= 30);
        if let Some(hit) = found {
            break hit;
        }
        assert!(Instant::now() < deadline, "no estimate within 2% of 20 in 30 rounds:\n{}", asker_log(&bed));
        std::thread::sleep(Duration::from_millis(500));
    };

    // Stop two vessels (not the asker) through their node manager.
    let stopped_at = estimates(&asker_log(&bed)).last().unwrap().2;
    for (node, vessel, _) in &vessels[7..9] {
        let out = run(&["node", "call", "--key", &bed.key(), "--node", node, "StopVessel", &format!("vessel={vessel}")]);
        ok_or_show(&out, "StopVessel");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = estimates(&asker_log(&bed));
        if all.iter().any(|&(x, _, epoch)| epoch > stopped_at && near(x, 18.0)) {
            break;
        }
        assert!(Instant::now() < deadline, "first {first:?}; no estimate within 2% of 18 after the stops:\n{}", asker_log(&bed));
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// 7 vessels in a binary tree: once every vessel runs, all log the same messages: each one
/// has every sequence number from the latest first one on, with the root's text.
#[test]
fn multicast_reaches_every_vessel_of_the_tree() {
    let bed = Testbed::up(1, 7, "63500-63699");
    let vessels = start(&bed, "multicast.py");
    assert_eq!(vessels.len(), 7);
    let seqs = |log: &str| -> Vec<u32> {
        log.lines().filter_map(|l| l.strip_suffix(" hello from the root")?.strip_prefix("got ")?.parse().ok()).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = logs(&bed);
        let all: Vec<Vec<u32>> = logs.iter().map(|(_, log)| seqs(log)).collect();
        if logs.len() == 7 && all.iter().all(|s| !s.is_empty()) {
            let from = all.iter().map(|s| s[0]).max().unwrap();
            if all.iter().all(|s| (from..from + 4).all(|seq| s.contains(&seq))) {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the vessels did not all get the same 4 messages:\n{logs:#?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `repy run tcp_tunnel.py` towards an echo server of the test: 8 KB sent through the tunnel
/// come back unchanged, on two connections at once.
#[test]
fn tcp_tunnel_relays_both_ways() {
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in echo.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let port = common::free_port();
    let mut child = repy()
        .args(["run", &example("tcp_tunnel.py"), &format!("127.0.0.1:{port}"), &target.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut conns = Vec::new();
    while conns.len() < 2 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => conns.push(c),
            Err(_) => {
                assert!(Instant::now() < deadline, "the tunnel never listened on {port}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let data: Vec<u8> = (0..8192u32).map(|n| (n * 7 + i as u32) as u8).collect();
        conn.write_all(&data).unwrap();
        let mut back = vec![0u8; data.len()];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(back, data, "connection {i}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// FNV-1a 32-bit, as examples/tman_ring.py computes ids.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619))
}

/// (round, me, pred, succ) of every `ring round R me ID pred ID succ ID` line, ids in hex.
fn ring_lines(log: &str) -> Vec<(u32, u32, u32, u32)> {
    log.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            (w.len() == 9 && w[0] == "ring").then(|| Some((w[2].parse().ok()?, hex(w[4])?, hex(w[6])?, hex(w[8])?))).flatten()
        })
        .collect()
}

/// For the live addresses: id -> (pred id, succ id) on the ring sorted by id.
fn ring_of(addresses: &[&str]) -> std::collections::HashMap<u32, (u32, u32)> {
    let mut ids: Vec<u32> = addresses.iter().map(|a| fnv1a(a)).collect();
    ids.sort();
    let n = ids.len();
    (0..n).map(|i| (ids[i], (ids[(i + n - 1) % n], ids[(i + 1) % n]))).collect()
}

/// Waits until every live vessel's latest line names its true neighbours; returns the logs.
fn wait_for_ring(bed: &Testbed, live: &[&str], places: &[String], seconds: u64) -> Vec<Vec<(u32, u32, u32, u32)>> {
    let ring = ring_of(live);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let logs = logs(bed);
        let lines: Vec<Vec<(u32, u32, u32, u32)>> =
            places.iter().map(|p| logs.iter().find(|(q, _)| q == p).map(|(_, l)| ring_lines(l)).unwrap_or_default()).collect();
        let right = |l: &(u32, u32, u32, u32)| ring.get(&l.1) == Some(&(l.2, l.3));
        if lines.iter().all(|l| l.last().is_some_and(right)) {
            return lines;
        }
        let wrong: Vec<_> = places.iter().zip(&lines).filter(|(_, l)| !l.last().is_some_and(right)).map(|(p, l)| (p, l.last())).collect();
        assert!(Instant::now() < deadline, "after {seconds} s these vessels have not got their neighbours right: {wrong:?}\nring {ring:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// 20 vessels: within 20 rounds every vessel names its true predecessor and successor (computed
/// here from the addresses); after two vessels stop, the others route around them within 20 s.
#[test]
fn tman_builds_the_sorted_ring_and_routes_around_stopped_vessels() {
    let bed = Testbed::up(4, 5, "63700-63999");
    let vessels = start(&bed, "tman_ring.py");
    assert_eq!(vessels.len(), 20);
    let places: Vec<String> = vessels.iter().map(|(n, v, _)| format!("{n}/{v}")).collect();
    let addresses: Vec<&str> = vessels.iter().map(|(_, _, a)| a.as_str()).collect();
    let ring = ring_of(&addresses);
    let lines = wait_for_ring(&bed, &addresses, &places, 40);
    for (place, lines) in places.iter().zip(&lines) {
        // The round from which the vessel has stayed right.
        let settled = lines.iter().rev().take_while(|l| ring.get(&l.1) == Some(&(l.2, l.3))).last().unwrap().0;
        assert!(settled <= 20, "{place} settled only in round {settled}");
    }

    for (node, vessel, _) in &vessels[3..5] {
        let out = run(&["node", "call", "--key", &bed.key(), "--node", node, "StopVessel", &format!("vessel={vessel}")]);
        ok_or_show(&out, "StopVessel");
    }
    let live: Vec<&str> = addresses.iter().enumerate().filter(|(i, _)| !(3..5).contains(i)).map(|(_, a)| *a).collect();
    let live_places: Vec<String> = places.iter().enumerate().filter(|(i, _)| !(3..5).contains(i)).map(|(_, p)| p.clone()).collect();
    assert_ne!(ring_of(&live), ring_of(&addresses));
    wait_for_ring(&bed, &live, &live_places, 20);
}
