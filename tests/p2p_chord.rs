//! examples/chord.py on a testbed of 16 vessels (4 nodes x 4): once the ring has stabilised,
//! 1,000 lookups of random keys sent to random vessels all return the successor that this test
//! computes itself from the vessels' addresses (FNV-1a 32-bit over "IP:PORT"), and the vessels
//! log them; then 3 vessels are stopped and the 13 left again answer every lookup correctly.

use std::{
    collections::{BTreeMap, HashMap},
    net::UdpSocket,
    path::Path,
    process::Output,
    time::{Duration, Instant},
};

mod common;
use common::testbed::{run, text, Testbed};

fn ok_or_show(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed ({:?}):\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
}

/// The node id of chord.py: FNV-1a, 32 bits, over the bytes of "IP:PORT".
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(2_166_136_261u32, |h, b| (h ^ b as u32).wrapping_mul(16_777_619))
}

/// The first node id at or after `key`, going round the ring.
fn successor(key: u32, ids: &BTreeMap<u32, String>) -> u32 {
    *ids.range(key..).next().or_else(|| ids.iter().next()).unwrap().0
}

/// A small deterministic generator (xorshift64), so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Sends `count` lookups of random keys to random vessels of `live`, at most 16 outstanding,
/// each sent again after a second without answer. Returns (key, vessel asked, node id
/// answered) per lookup, or None for a lookup unanswered after 5 tries.
fn lookups(live: &[String], count: usize, rng: &mut Rng) -> Vec<(u32, String, Option<u32>)> {
    let keys: Vec<u32> = (0..count).map(|_| rng.next() as u32).collect();
    lookups_of(live, &keys, rng)
}

/// Lookups of `keys`, each sent to a random vessel of `live` (as [`lookups`]).
fn lookups_of(live: &[String], keys: &[u32], rng: &mut Rng) -> Vec<(u32, String, Option<u32>)> {
    let count = keys.len();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let jobs: Vec<(u32, String)> = keys.iter().map(|&k| (k, live[rng.next() as usize % live.len()].clone())).collect();
    let mut answers: Vec<Option<u32>> = vec![None; count];
    let mut sent: HashMap<usize, (Instant, u32)> = HashMap::new();
    let (mut next, mut done) = (0, 0);
    let mut buf = [0u8; 1500];
    while done < count {
        while sent.len() < 16 && next < count {
            sock.send_to(format!("lookup {} {next}", jobs[next].0).as_bytes(), &jobs[next].1).unwrap();
            sent.insert(next, (Instant::now(), 1));
            next += 1;
        }
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
            let parts: Vec<&str> = reply.split(' ').collect();
            if parts[0] == "found" && parts.len() == 6 {
                let i: usize = parts[5].parse().unwrap();
                if sent.remove(&i).is_some() {
                    assert_eq!(parts[1], jobs[i].0.to_string(), "{reply}");
                    answers[i] = Some(parts[2].parse().unwrap());
                    done += 1;
                }
            }
        }
        let late: Vec<usize> = sent.iter().filter(|(_, (at, _))| at.elapsed() > Duration::from_secs(1)).map(|(i, _)| *i).collect();
        for i in late {
            let tries = sent[&i].1;
            if tries >= 5 {
                sent.remove(&i);
                done += 1;
            } else {
                sock.send_to(format!("lookup {} {i}", jobs[i].0).as_bytes(), &jobs[i].1).unwrap();
                sent.insert(i, (Instant::now(), tries + 1));
            }
        }
    }
    jobs.into_iter().zip(answers).map(|((k, v), a)| (k, v, a)).collect()
}

/// Polls until the ring has stabilised: a round of lookups of every node's own id and of the
/// key just past it (which only a complete ring answers right everywhere), plus 50 random
/// keys, all right. Then checks 1,000 lookups; panics with the wrong answers. Returns the
/// 1,000 (key, vessel asked).
fn all_lookups_right(live: &[String], rng: &mut Rng, within: Duration) -> Vec<(u32, String)> {
    let ids: BTreeMap<u32, String> = live.iter().map(|a| (fnv1a(a), a.clone())).collect();
    assert_eq!(ids.len(), live.len(), "two vessels share a node id");
    let deadline = Instant::now() + within;
    loop {
        let mut keys: Vec<u32> = ids.keys().flat_map(|&id| [id, id.wrapping_add(1)]).collect();
        keys.extend((0..50).map(|_| rng.next() as u32));
        let wrong: Vec<_> = lookups_of(live, &keys, rng).into_iter().filter(|(k, _, a)| *a != Some(successor(*k, &ids))).collect();
        if wrong.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the ring has not stabilised within {within:?}: {wrong:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let checked = lookups(live, 1000, rng);
    let wrong: Vec<_> = checked.iter().filter(|(k, _, a)| *a != Some(successor(*k, &ids))).collect();
    assert!(wrong.is_empty(), "{} of 1000 lookups wrong or unanswered, e.g. {:?}", wrong.len(), &wrong[..wrong.len().min(10)]);
    checked.into_iter().map(|(k, v, _)| (k, v)).collect()
}

#[test]
fn lookups_find_the_successor_before_and_after_three_vessels_stop() {
    let started = Instant::now();
    let bed = Testbed::up(4, 4, "64000-64999");
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("chord.py").display().to_string();
    ok_or_show(&bed.fleet(&["upload", &program]), "upload");
    let (out, doc) = bed.fleet_json(&["start", "chord.py", "{ip}:{port}", "{peers}"]);
    ok_or_show(&out, "start");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 16, "{doc}");
    // (node manager, vessel name, the vessel's address on the ring)
    let vessels: Vec<(String, String, String)> = results
        .iter()
        .map(|r| (r["node"].as_str().unwrap().into(), r["vessel"].as_str().unwrap().into(), r["args"][1].as_str().unwrap().into()))
        .collect();
    let all: Vec<String> = vessels.iter().map(|v| v.2.clone()).collect();
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let checked = all_lookups_right(&all, &mut rng, Duration::from_secs(40));

    // The vessel asked logged each of those lookups with the right node id (earlier lines may
    // be from before the ring had stabilised).
    let (out, doc) = bed.fleet_json(&["log"]);
    ok_or_show(&out, "log");
    let ids: BTreeMap<u32, String> = all.iter().map(|a| (fnv1a(a), a.clone())).collect();
    let mut logs: HashMap<String, String> = HashMap::new();
    for (r, v) in doc["results"].as_array().unwrap().iter().zip(&vessels) {
        assert_eq!((r["node"].as_str().unwrap(), r["vessel"].as_str().unwrap()), (v.0.as_str(), v.1.as_str()));
        logs.insert(v.2.clone(), r["log"].as_str().unwrap().to_string());
    }
    for (key, asked) in &checked {
        let line = format!("lookup {key} -> {}\n", successor(*key, &ids));
        assert!(logs[asked].contains(&line), "{asked} did not log {line}");
    }

    // Stop three vessels on three nodes; the 13 left take over their keys.
    for (node, vessel, _) in [&vessels[1], &vessels[6], &vessels[11]] {
        let out = run(&["node", "call", "--key", &bed.key(), "--node", node, "StopVessel", &format!("vessel={vessel}")]);
        ok_or_show(&out, "StopVessel");
    }
    let stopped = [&vessels[1].2, &vessels[6].2, &vessels[11].2];
    let live: Vec<String> = all.iter().filter(|a| !stopped.contains(a)).cloned().collect();
    assert_eq!(live.len(), 13);
    all_lookups_right(&live, &mut rng, Duration::from_secs(40));
    assert!(started.elapsed() < Duration::from_secs(150), "{:?}", started.elapsed());
}
