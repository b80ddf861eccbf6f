//! Discovery of vessels on a libp2p Kademlia DHT, without any central server (issue 17).
//!
//! A node announces "this user key has a vessel here" as a Kademlia *provider record* under a
//! hash of the user key ([`user_key_dht_key`]): many nodes can provide one key, where a value
//! record holds only one value. What the node is (its node manager's `host:port`, its node key,
//! the vessel names of each key, an expiry) is one [`record::NodeRecord`] per node under
//! `repy/node/<peer id>`, signed by the node key. The node's libp2p identity is its node key,
//! so a lookup can check that the record found under a peer id is that peer's own.
//!
//! libp2p stays inside this crate: callers speak repy keys, `host:port` and multiaddr strings.
//!
//! Bootstrap addresses are `host:port` (TCP) or multiaddrs, with or without `/p2p/<peer id>`;
//! a missing peer id is learnt from the connection's Noise handshake when dialling.

pub mod bootstrap;
pub mod record;

mod engine;
mod lookup;
mod node;
pub mod node_manager;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use libp2p::{identity, kad, PeerId};
use repy_nodemanager::keys::{PublicKey, SecretKey};

pub use lookup::{accept_record, lookup, Found};
pub use node::{start, Config, Discovery};

/// The default time-to-live of an announcement (issue 17: "a few minutes").
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The libp2p peer id of the node whose node key is `key` (as shown in multiaddrs).
pub fn peer_id_of(key: &PublicKey) -> String {
    peer_of(key).to_string()
}

fn key_raw(key: &PublicKey) -> [u8; 32] {
    STANDARD.decode(key.as_str()).expect("a parsed public key is base64").try_into().expect("32 bytes")
}

fn peer_of(key: &PublicKey) -> PeerId {
    let ed = identity::ed25519::PublicKey::try_from_bytes(&key_raw(key)).expect("a parsed public key is a valid Ed25519 key");
    identity::PublicKey::from(ed).to_peer_id()
}

/// The libp2p identity of a node: its node key, so that the peer id is a function of it.
fn keypair_of(secret: &SecretKey) -> identity::Keypair {
    let seed = STANDARD.decode(secret.seed_text()).expect("a seed is base64");
    identity::Keypair::ed25519_from_bytes(seed).expect("any 32-byte seed is an Ed25519 key")
}

/// How many DHT keys the providers of one user key are spread over. A Kademlia peer answers
/// a provider query with at most its replication factor (20) of the providers it holds, always
/// the same ones, so one key with vessels on 50 nodes showed about 40 of them. Each node
/// provides under the shard of its peer id, and a lookup asks all shards at once: about 20 x
/// `SHARDS` nodes per user key before answers are cut.
pub const SHARDS: u8 = 16;

/// The DHT key under which the nodes of `shard` provide `user_key`: a hash, so that keys have
/// a fixed size, and the `repy/key/` prefix keeps them apart from other uses of the DHT.
pub fn user_key_dht_key(user_key: &PublicKey, shard: u8) -> Vec<u8> {
    let digest = ring::digest::digest(&ring::digest::SHA256, &key_raw(user_key));
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("repy/key/{hex}/{shard}").into_bytes()
}

/// The shard a node provides its keys under: from its peer id, so it never changes.
fn shard_of(peer: &PeerId) -> u8 {
    let bytes = peer.to_bytes();
    bytes.iter().fold(0u8, |acc, b| acc.wrapping_mul(31).wrapping_add(*b)) % SHARDS
}

fn node_record_key(peer: &PeerId) -> kad::RecordKey {
    kad::RecordKey::new(&format!("repy/node/{peer}"))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests;
