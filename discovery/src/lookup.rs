//! Looking a user key up: its providers, then each provider's signed node record.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::kad::{self, GetProvidersOk, GetRecordOk, QueryId, QueryResult};
use libp2p::swarm::SwarmEvent;
use libp2p::{identity, PeerId};
use repy_nodemanager::keys::PublicKey;

use crate::engine::{BehaviourEvent, Engine, Tuning};
use crate::record::NodeRecord;

/// What the DHT claims about one node that announces a key. Only the signature of the node
/// key is checked here; that the node really hosts the vessels is for the caller to confirm
/// by asking the node itself (a signed GetVessels) before relying on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The node's libp2p peer id, derived from `node_key`.
    pub peer: String,
    /// The node manager's `host:port`.
    pub address: String,
    pub node_key: PublicKey,
    /// The vessels the key owns or may use there, by name.
    pub vessels: Vec<String>,
    /// Seconds until the node's record expires unless refreshed.
    pub seconds_left: u64,
}

/// The record found under `repy/node/<peer>`, if it is that peer's own and still valid: its
/// signature verifies with the node key inside, that key derives exactly `peer`, and it has
/// not expired at `now` (Unix seconds).
pub(crate) fn check_node_record(peer: &PeerId, bytes: &[u8], now: u64) -> Result<NodeRecord, String> {
    let record = NodeRecord::decode(bytes).map_err(|e| e.to_string())?;
    if crate::peer_of(&record.node_key) != *peer {
        return Err(format!("node key {} is not the key of peer {peer}", record.node_key.fingerprint()));
    }
    if record.expires <= now {
        return Err(format!("expired {} s ago", now - record.expires));
    }
    Ok(record)
}

/// The answer to report for `user_key` from the record bytes found under the node record key
/// of `peer` (a peer id string), or why there is none: the checks of a node record, and that
/// the record lists `user_key`.
pub fn accept_record(peer: &str, user_key: &PublicKey, bytes: &[u8], now: u64) -> Result<Found, String> {
    let peer_id: PeerId = peer.parse().map_err(|e| format!("'{peer}' is not a peer id: {e}"))?;
    let record = check_node_record(&peer_id, bytes, now)?;
    let Some(vessels) = record.keys.get(user_key) else {
        return Err(format!("the record of {peer} does not list key {}", user_key.fingerprint()));
    };
    Ok(Found {
        peer: peer.to_string(),
        address: record.address.clone(),
        node_key: record.node_key.clone(),
        vessels: vessels.iter().cloned().collect(),
        seconds_left: record.expires - now,
    })
}

/// Every node the DHT says announces `user_key`, found through the `bootstrap` peers with a
/// throw-away identity (a lookup is not a member of the DHT). Answers that fail the checks of
/// [`accept_record`] are left out. Fails when no bootstrap peer can be reached (the error names
/// each address); when `timeout` passes first, returns the nodes verified by then.
pub async fn lookup(bootstrap: &[String], user_key: &PublicKey, timeout: Duration) -> Result<Vec<Found>, String> {
    if bootstrap.is_empty() {
        return Err("a lookup needs at least one bootstrap address".into());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let tuning = Tuning { ttl: crate::DEFAULT_TTL, server: false, query_timeout: timeout, mdns: false };
    let mut engine = Engine::new(identity::Keypair::generate_ed25519(), tuning)?;
    engine.connect(bootstrap, timeout).await?;

    let kad = &mut engine.swarm.behaviour_mut().kad;
    // Every shard at once (see `crate::SHARDS`); done when the last query has ended.
    let mut provider_queries: HashSet<QueryId> =
        (0..crate::SHARDS).map(|shard| kad.get_providers(kad::RecordKey::new(&crate::user_key_dht_key(user_key, shard)))).collect();
    let mut asked: HashSet<PeerId> = HashSet::new();
    let mut record_queries: HashMap<QueryId, PeerId> = HashMap::new();
    // The freshest valid record of each provider: a holder that missed a withdrawal may
    // still hand out an older one.
    let mut freshest: HashMap<PeerId, (u64, Vec<u8>)> = HashMap::new();

    while !(provider_queries.is_empty() && record_queries.is_empty()) {
        let event = match tokio::time::timeout_at(deadline, engine.swarm.select_next_some()).await {
            Ok(event) => event,
            Err(_) => {
                tracing::debug!("lookup timed out with {} record queries open", record_queries.len());
                break;
            }
        };
        let SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed { id, result, step, .. })) = event else {
            engine.handle(event);
            continue;
        };
        match result {
            QueryResult::GetProviders(result) if provider_queries.contains(&id) => {
                if let Ok(GetProvidersOk::FoundProviders { providers, .. }) = result {
                    for peer in providers {
                        if asked.insert(peer) {
                            let query = engine.swarm.behaviour_mut().kad.get_record(crate::node_record_key(&peer));
                            record_queries.insert(query, peer);
                        }
                    }
                }
                if step.last {
                    provider_queries.remove(&id);
                }
            }
            QueryResult::GetRecord(result) => {
                let Some(&peer) = record_queries.get(&id) else { continue };
                if let Ok(GetRecordOk::FoundRecord(peer_record)) = result {
                    let bytes = peer_record.record.value;
                    match check_node_record(&peer, &bytes, crate::now_secs()) {
                        Ok(record) => {
                            if freshest.get(&peer).is_none_or(|(seq, _)| *seq < record.seq) {
                                freshest.insert(peer, (record.seq, bytes));
                            }
                        }
                        Err(e) => tracing::debug!("record under {peer} refused: {e}"),
                    }
                }
                if step.last {
                    record_queries.remove(&id);
                }
            }
            _ => {}
        }
    }
    let now = crate::now_secs();
    let mut answers: Vec<Found> = freshest
        .into_iter()
        .filter_map(|(peer, (_, bytes))| match accept_record(&peer.to_string(), user_key, &bytes, now) {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::debug!("{e}");
                None
            }
        })
        .collect();
    answers.sort_by(|a, b| a.address.cmp(&b.address).then(a.peer.cmp(&b.peer)));
    Ok(answers)
}
