//! Peers on real loopback sockets in one process.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use repy_nodemanager::keys::{PublicKey, SecretKey};

use crate::record::NodeRecord;
use crate::{accept_record, lookup, peer_id_of, start, Config, Discovery, Found};

fn config(address: &str, bootstrap: Vec<String>, ttl: Duration) -> Config {
    let mut c = Config::new(address);
    c.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    c.bootstrap = bootstrap;
    c.ttl = ttl;
    c
}

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

/// `host:port` of a listen multiaddr `/ip4/H/tcp/P/p2p/ID`, to bootstrap without a peer id.
fn host_port(multiaddr: &str) -> String {
    let parts: Vec<&str> = multiaddr.split('/').collect();
    format!("{}:{}", parts[2], parts[4])
}

async fn first_address(d: &Discovery) -> String {
    d.listen_addresses().await.unwrap().into_iter().next().unwrap()
}

/// Looks `user` up until `done` holds for the answers or `limit` passes; the last answers.
async fn lookup_until(bootstrap: &str, user: &PublicKey, limit: Duration, done: impl Fn(&[Found]) -> bool) -> (Vec<Found>, Duration) {
    let start = Instant::now();
    loop {
        let found = lookup(&[bootstrap.to_string()], user, Duration::from_secs(5)).await.unwrap();
        if done(&found) || start.elapsed() > limit {
            return (found, start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn peers(found: &[Found]) -> BTreeSet<String> {
    found.iter().map(|f| f.peer.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_peers_in_a_chain_are_all_found() {
    let user = key(100).public();
    let began = Instant::now();
    let mut nodes: Vec<Discovery> = Vec::new();
    for i in 0..10u8 {
        // Each joins through the previous one, alternating both bootstrap forms.
        let bootstrap = match nodes.last() {
            None => vec![],
            Some(previous) if i % 2 == 0 => vec![first_address(previous).await],
            Some(previous) => vec![host_port(&first_address(previous).await)],
        };
        let node = start(&key(i + 1), config(&format!("127.0.0.1:{}", 2000 + i as u16), bootstrap, Duration::from_secs(60))).await.unwrap();
        assert_eq!(node.peer_id(), peer_id_of(&key(i + 1).public()), "the peer id is derived from the node key");
        node.announce(&user, BTreeSet::from([format!("v{i}")])).await.unwrap();
        nodes.push(node);
    }
    let announced = began.elapsed();
    let expected: BTreeSet<String> = nodes.iter().map(|n| n.peer_id().to_string()).collect();
    // A fresh client, through the last node of the chain: the farthest from the first.
    let bootstrap = host_port(&first_address(&nodes[9]).await);
    let (found, took) = lookup_until(&bootstrap, &user, Duration::from_secs(10), |f| peers(f) == expected).await;
    eprintln!("10 peers started and announced in {announced:?}; all found after {took:?}");
    assert_eq!(peers(&found), expected, "found {found:#?}");
    for f in &found {
        let i = (0..10u8).find(|i| key(i + 1).public() == f.node_key).expect("a node key of the test");
        assert_eq!(f.address, format!("127.0.0.1:{}", 2000 + i as u16));
        assert_eq!(f.vessels, vec![format!("v{i}")]);
        assert!(f.seconds_left > 50 && f.seconds_left <= 60, "{}", f.seconds_left);
    }
    // A key nobody announced has no answers.
    let nobody = lookup(&[bootstrap], &key(101).public(), Duration::from_secs(5)).await.unwrap();
    assert!(nobody.is_empty(), "{nobody:?}");
    for node in nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_shut_down_disappears_within_a_ttl_and_the_others_are_refreshed() {
    let ttl = Duration::from_secs(4);
    let user = key(110).public();
    let first = start(&key(11), config("127.0.0.1:3000", vec![], ttl)).await.unwrap();
    let bootstrap = first_address(&first).await;
    let mut nodes = vec![first];
    for i in 1..4u8 {
        nodes.push(start(&key(11 + i), config(&format!("127.0.0.1:{}", 3000 + i as u16), vec![bootstrap.clone()], ttl)).await.unwrap());
    }
    for node in &nodes {
        node.announce(&user, BTreeSet::from(["v1".to_string()])).await.unwrap();
    }
    let all: BTreeSet<String> = nodes.iter().map(|n| n.peer_id().to_string()).collect();
    let (found, _) = lookup_until(&bootstrap, &user, Duration::from_secs(10), |f| peers(f) == all).await;
    assert_eq!(peers(&found), all);

    let gone = nodes.pop().unwrap();
    let gone_peer = gone.peer_id().to_string();
    gone.shutdown().await;
    let stopped = Instant::now();
    let (found, _) = lookup_until(&bootstrap, &user, Duration::from_secs(20), |f| !peers(f).contains(&gone_peer)).await;
    let took = stopped.elapsed();
    eprintln!("the stopped peer left lookups {took:?} after shutdown (TTL {ttl:?}, refresh every {:?})", ttl / 2);
    assert!(!peers(&found).contains(&gone_peer), "still found after {took:?}");
    // One TTL plus a refresh, plus the time one lookup takes.
    assert!(took <= ttl + ttl / 2 + Duration::from_secs(2), "took {took:?}");

    // Well past the first TTL, the others are still there: their refreshes work.
    tokio::time::sleep((ttl * 2).saturating_sub(stopped.elapsed())).await;
    let rest: BTreeSet<String> = nodes.iter().map(|n| n.peer_id().to_string()).collect();
    let (found, _) = lookup_until(&bootstrap, &user, Duration::from_secs(5), |f| peers(f) == rest).await;
    assert_eq!(peers(&found), rest);
    assert!(found.iter().all(|f| f.seconds_left <= 4), "{found:?}");
    for node in nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_keys_are_not_reported_and_new_keys_are() {
    let (k1, k2) = (key(120).public(), key(121).public());
    let a = start(&key(21), config("127.0.0.1:4000", vec![], Duration::from_secs(60))).await.unwrap();
    let bootstrap = first_address(&a).await;
    let b = start(&key(22), config("127.0.0.1:4001", vec![bootstrap.clone()], Duration::from_secs(60))).await.unwrap();
    let c = start(&key(23), config("127.0.0.1:4002", vec![host_port(&bootstrap)], Duration::from_secs(60))).await.unwrap();
    b.announce(&k1, BTreeSet::from(["v1".to_string()])).await.unwrap();
    c.announce(&k1, BTreeSet::from(["v3".to_string()])).await.unwrap();
    let both = BTreeSet::from([b.peer_id().to_string(), c.peer_id().to_string()]);
    let (found, _) = lookup_until(&bootstrap, &k1, Duration::from_secs(10), |f| peers(f) == both).await;
    assert_eq!(peers(&found), both);

    // b's vessel changes hands: withdrawn under k1, announced under k2.
    b.withdraw(&k1).await.unwrap();
    b.announce(&k2, BTreeSet::from(["v1".to_string()])).await.unwrap();
    let only_c = BTreeSet::from([c.peer_id().to_string()]);
    let started = Instant::now();
    let (found, _) = lookup_until(&bootstrap, &k1, Duration::from_secs(10), |f| peers(f) == only_c).await;
    assert_eq!(peers(&found), only_c, "b is still reported for k1 {:?} after withdrawing", started.elapsed());
    let (found, took) = lookup_until(&bootstrap, &k2, Duration::from_secs(10), |f| !f.is_empty()).await;
    assert_eq!(peers(&found), BTreeSet::from([b.peer_id().to_string()]));
    assert_eq!(found[0].vessels, vec!["v1".to_string()]);
    eprintln!("withdrawal seen after {:?}; the new key found {took:?} later", started.elapsed() - took);
    for node in [a, b, c] {
        node.shutdown().await;
    }
}

/// Signs `body`'s encoding with `signer`, whatever key the record names.
fn signed_by(record: &NodeRecord, signer: &SecretKey) -> Vec<u8> {
    let mut bytes = record.unsigned().unwrap();
    let signature = signer.sign(&bytes);
    bytes.extend_from_slice(&signature);
    bytes
}

fn record_for(node: &PublicKey, address: &str, user: &PublicKey, expires: u64) -> NodeRecord {
    NodeRecord {
        address: address.into(),
        node_key: node.clone(),
        expires,
        seq: expires * 1000,
        keys: BTreeMap::from([(user.clone(), BTreeSet::from(["v1".to_string()]))]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_node_records_are_never_reported() {
    let user = key(130).public();
    let ttl = Duration::from_secs(60);
    let expires = crate::now_secs() + 60;
    let honest = start(&key(31), config("127.0.0.1:5000", vec![], ttl)).await.unwrap();
    let bootstrap = first_address(&honest).await;
    let wrong_signer = start(&key(32), config("127.0.0.1:5001", vec![bootstrap.clone()], ttl)).await.unwrap();
    let wrong_key = start(&key(33), config("127.0.0.1:5002", vec![bootstrap.clone()], ttl)).await.unwrap();
    let control = start(&key(34), config("127.0.0.1:5003", vec![bootstrap.clone()], ttl)).await.unwrap();
    honest.announce(&user, BTreeSet::from(["v1".to_string()])).await.unwrap();

    // Names its own node key, but the signature is another key's.
    wrong_signer.provide_only(&user).await;
    wrong_signer.publish_raw(signed_by(&record_for(&key(32).public(), "10.0.0.1:1", &user, expires), &key(99))).await;
    // A correctly signed record of another node (key 99), published under its own peer id.
    wrong_key.provide_only(&user).await;
    wrong_key.publish_raw(signed_by(&record_for(&key(99).public(), "10.0.0.2:1", &user, expires), &key(99))).await;
    // The same path with a valid record: it is found, so the two above fail by their checks.
    control.provide_only(&user).await;
    control.publish_raw(signed_by(&record_for(&key(34).public(), "127.0.0.1:5003", &user, expires), &key(34))).await;

    let expected = BTreeSet::from([honest.peer_id().to_string(), control.peer_id().to_string()]);
    let (found, _) = lookup_until(&bootstrap, &user, Duration::from_secs(10), |f| peers(f) == expected).await;
    assert_eq!(peers(&found), expected, "{found:#?}");
    // Keep looking a little: no forged answer ever shows up.
    for _ in 0..3 {
        let found = lookup(&[bootstrap.clone()], &user, Duration::from_secs(5)).await.unwrap();
        assert!(found.iter().all(|f| !f.address.starts_with("10.0.0.")), "{found:#?}");
    }
    for node in [honest, wrong_signer, wrong_key, control] {
        node.shutdown().await;
    }
}

#[test]
fn accept_record_checks_signature_peer_expiry_and_key() {
    let node = key(41);
    let user = key(140).public();
    let peer = peer_id_of(&node.public());
    let now = 1_800_000_000;
    let good = record_for(&node.public(), "127.0.0.1:1224", &user, now + 30);
    let found = accept_record(&peer, &user, &good.encode(&node).unwrap(), now).unwrap();
    assert_eq!((found.address.as_str(), found.seconds_left, found.vessels.clone()), ("127.0.0.1:1224", 30, vec!["v1".to_string()]));

    let forged = accept_record(&peer, &user, &signed_by(&good, &key(42)), now).unwrap_err();
    assert!(forged.contains("signature"), "{forged}");
    let other = key(43);
    let elsewhere =
        accept_record(&peer, &user, &record_for(&other.public(), "x:1", &user, now + 30).encode(&other).unwrap(), now).unwrap_err();
    assert!(elsewhere.contains("is not the key of peer"), "{elsewhere}");
    let expired = accept_record(&peer, &user, &record_for(&node.public(), "x:1", &user, now).encode(&node).unwrap(), now).unwrap_err();
    assert!(expired.contains("expired"), "{expired}");
    let unlisted = accept_record(&peer, &key(141).public(), &good.encode(&node).unwrap(), now).unwrap_err();
    assert!(unlisted.contains("does not list"), "{unlisted}");
    assert!(accept_record(&peer, &user, b"garbage", now).is_err());
    assert!(accept_record("not-a-peer", &user, &good.encode(&node).unwrap(), now).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bootstrap_peer_is_named() {
    // A port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let plain = format!("127.0.0.1:{port}");
    let err = lookup(&[plain.clone()], &key(150).public(), Duration::from_secs(5)).await.unwrap_err();
    assert!(err.contains(&plain), "{err}");

    // A node whose bootstrap peer is down runs alone and keeps dialling it; once the peer is
    // up, what the node announced meanwhile is found through the peer.
    let late = format!("/ip4/127.0.0.1/tcp/{port}");
    let user = key(151).public();
    let early = start(&key(52), config("127.0.0.1:1", vec![late.clone()], Duration::from_secs(60))).await.unwrap();
    early.announce(&user, ["v1".to_string()].into()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut later = config("127.0.0.1:2", vec![], Duration::from_secs(60));
    later.listen = vec![late.clone()];
    let peer = start(&key(53), later).await.unwrap();
    let (found, took) = lookup_until(&late, &user, Duration::from_secs(20), |f| f.iter().any(|x| x.address == "127.0.0.1:1")).await;
    assert!(found.iter().any(|x| x.address == "127.0.0.1:1"), "not found {took:?} after the peer came up: {found:?}");
    early.shutdown().await;
    peer.shutdown().await;
    let err = lookup(&["no-such-host.invalid:1".to_string()], &key(150).public(), Duration::from_secs(5)).await.unwrap_err();
    assert!(err.contains("no-such-host.invalid:1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_manager_companion_follows_the_advertised_keys() {
    use repy_nodemanager::server::{Advertised, Context};
    let dir = tempfile::tempdir().unwrap();
    let node = key(61);
    let layout = repy_nodemanager::state::Layout::new(dir.path());
    std::fs::write(layout.node_key(), format!("{}\n", node.seed_text())).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = repy_nodemanager::state::Config::default();
    settings.discovery_listen = format!("127.0.0.1:{port}");
    settings.advertise_ttl_s = 60;
    let (k1, k2, k3) = (key(160).public(), key(161).public(), key(162).public());
    let (tx, rx) = tokio::sync::watch::channel(Advertised::from([
        (k1.clone(), BTreeSet::from(["v1".to_string()])),
        (k3.clone(), BTreeSet::from(["v2".to_string()])),
    ]));
    let context =
        Context { dir: dir.path().to_path_buf(), config: settings, local_addr: "127.0.0.1:1224".parse().unwrap(), advertised: rx };
    let task = tokio::spawn(crate::node_manager::serve(context));
    let bootstrap = format!("127.0.0.1:{port}");
    // The companion runs on its own: wait until it listens.
    let waiting = Instant::now();
    while tokio::net::TcpStream::connect(&bootstrap).await.is_err() {
        assert!(waiting.elapsed() < Duration::from_secs(10), "the companion never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let me = BTreeSet::from([peer_id_of(&node.public())]);
    let (found, _) = lookup_until(&bootstrap, &k1, Duration::from_secs(10), |f| peers(f) == me).await;
    assert_eq!(peers(&found), me);
    assert_eq!((found[0].address.as_str(), found[0].vessels.clone()), ("127.0.0.1:1224", vec!["v1".to_string()]));

    // v1 changes hands from k1 to k2; k3's vessel is unchanged.
    tx.send(Advertised::from([(k2.clone(), BTreeSet::from(["v1".to_string()])), (k3.clone(), BTreeSet::from(["v2".to_string()]))]))
        .unwrap();
    let (found, _) = lookup_until(&bootstrap, &k2, Duration::from_secs(10), |f| peers(f) == me).await;
    assert_eq!(peers(&found), me);
    let (found, _) = lookup_until(&bootstrap, &k1, Duration::from_secs(10), |f| f.is_empty()).await;
    assert!(found.is_empty(), "{found:?}");
    let (found, _) = lookup_until(&bootstrap, &k3, Duration::from_secs(10), |f| peers(f) == me).await;
    assert_eq!(found[0].vessels, vec!["v2".to_string()]);

    // The node manager stops: the companion ends.
    drop(tx);
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("the companion ended").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_discovery_settings_the_companion_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(repy_nodemanager::server::Advertised::new());
    let context = repy_nodemanager::server::Context {
        dir: dir.path().to_path_buf(),
        config: repy_nodemanager::state::Config::default(),
        local_addr: "127.0.0.1:1224".parse().unwrap(),
        advertised: rx,
    };
    // Returns at once although the sender lives on and there is no node key to read.
    tokio::time::timeout(Duration::from_secs(2), crate::node_manager::serve(context)).await.unwrap();
}

#[test]
fn peers_spread_over_every_shard_and_shards_are_distinct_keys() {
    let mut counts = [0usize; crate::SHARDS as usize];
    for seed in 0..=255u8 {
        counts[crate::shard_of(&crate::peer_of(&key(seed).public())) as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c >= 5), "256 peers over the shards: {counts:?}");
    let user = key(1).public();
    assert_ne!(crate::user_key_dht_key(&user, 0), crate::user_key_dht_key(&user, 1));
}
