//! The libp2p swarm shared by nodes and lookups: TCP + Noise + Yamux, Kademlia on repy's own
//! protocol name (so it never mixes with the IPFS DHT), identify, which tells Kademlia the
//! addresses peers listen on (an inbound connection only shows an ephemeral port), and, when
//! asked for, mDNS, which finds peers on the local network without a bootstrap address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{behaviour::toggle::Toggle, ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity, kad, mdns, noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};

use crate::record::NodeRecord;

pub(crate) const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/repy/kad/1.0.0");
const IDENTIFY_PROTOCOL: &str = "/repy/id/1.0.0";

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub kad: kad::Behaviour<MemoryStore>,
    pub identify: identify::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
}

pub(crate) type Event = SwarmEvent<BehaviourEvent>;

pub(crate) struct Engine {
    pub swarm: Swarm<Behaviour>,
}

/// How the swarm is tuned: the announcement TTL, and whether this side serves the DHT.
pub(crate) struct Tuning {
    pub ttl: Duration,
    pub server: bool,
    pub query_timeout: Duration,
    /// Whether to find peers on the local network by mDNS.
    pub mdns: bool,
}

impl Engine {
    pub fn new(keypair: identity::Keypair, tuning: Tuning) -> Result<Engine, String> {
        let peer = keypair.public().to_peer_id();
        let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(|e| format!("cannot set up the libp2p transport: {e}"))?
            .with_behaviour(|key| {
                let mut config = kad::Config::new(KAD_PROTOCOL);
                config
                    .set_query_timeout(tuning.query_timeout)
                    .set_record_ttl(Some(tuning.ttl))
                    // The node re-signs and re-publishes its record itself (the expiry inside
                    // changes), so Kademlia's own republication and replication are off.
                    .set_publication_interval(None)
                    .set_replication_interval(None)
                    .set_provider_record_ttl(Some(tuning.ttl))
                    // Refresh before the TTL ends, with room for one lost round.
                    .set_provider_publication_interval(Some(tuning.ttl / 2))
                    // Nodes check every record before storing it (see `store_checked`).
                    .set_record_filtering(kad::StoreInserts::FilterBoth);
                let store_config = MemoryStoreConfig {
                    // A popular key may have vessels on many nodes: keep more than K providers.
                    max_providers_per_key: 200,
                    ..MemoryStoreConfig::default()
                };
                let mut kad = kad::Behaviour::with_config(peer, MemoryStore::with_config(peer, store_config), config);
                kad.set_mode(Some(if tuning.server { kad::Mode::Server } else { kad::Mode::Client }));
                let identify = identify::Behaviour::new(
                    identify::Config::new(IDENTIFY_PROTOCOL.into(), key.public())
                        .with_agent_version(format!("repy/{}", env!("CARGO_PKG_VERSION"))),
                );
                let mdns = if tuning.mdns { Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer)?) } else { None };
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Behaviour { kad, identify, mdns: mdns.into() })
            })
            .map_err(|e| format!("cannot set up the libp2p behaviour: {e}"))?
            // Lookups and republication reuse connections; without traffic they close.
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        Ok(Engine { swarm })
    }

    pub fn peer(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Listens on each address and waits until the swarm reports where it listens.
    pub async fn listen(&mut self, addresses: &[String]) -> Result<(), String> {
        for text in addresses {
            let addr = parse_address(text).await?;
            self.swarm.listen_on(addr).map_err(|e| format!("cannot listen on '{text}': {e}"))?;
            loop {
                match self.swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr { .. } => break,
                    SwarmEvent::ListenerError { error, .. } => return Err(format!("cannot listen on '{text}': {error}")),
                    SwarmEvent::ListenerClosed { reason: Err(error), .. } => return Err(format!("cannot listen on '{text}': {error}")),
                    other => self.handle(other),
                }
            }
        }
        Ok(())
    }

    /// The addresses this peer listens on, each ending in `/p2p/<peer id>`, as bootstrap
    /// addresses for others.
    pub fn listen_addresses(&self) -> Vec<String> {
        let peer = self.peer();
        self.swarm.listeners().map(|a| a.clone().with(Protocol::P2p(peer)).to_string()).collect()
    }

    /// Dials every bootstrap address and waits (at most `timeout`) until one has connected or
    /// all have failed: one peer is enough to reach the rest of the DHT, and a peer whose
    /// cable is cut would otherwise hold every lookup up for the whole timeout. The dials still
    /// open go on in the background. Fails, naming every address and why, when none
    /// connected; an empty list succeeds (the first node of a network has nobody to ask).
    pub async fn connect(&mut self, bootstrap: &[String], timeout: Duration) -> Result<(), String> {
        let me = self.peer();
        let mut pending: HashMap<ConnectionId, String> = HashMap::new();
        let mut failures = Vec::new();
        let mut connected = 0;
        for text in bootstrap {
            let addr = parse_address(text).await?;
            let peer = addr.iter().find_map(|p| if let Protocol::P2p(peer) = p { Some(peer) } else { None });
            if peer == Some(me) {
                continue;
            }
            let opts = match peer {
                Some(peer) => DialOpts::peer_id(peer).addresses(vec![addr]).build(),
                None => DialOpts::unknown_peer_id().address(addr).build(),
            };
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => {
                    pending.insert(id, text.clone());
                }
                Err(e) => failures.push(format!("{text} ({e})")),
            }
        }
        if bootstrap.is_empty() || (pending.is_empty() && failures.is_empty()) {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while !pending.is_empty() && connected == 0 {
            let event = match tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await {
                Ok(event) => event,
                Err(_) => break,
            };
            match event {
                SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } if pending.contains_key(&connection_id) => {
                    pending.remove(&connection_id);
                    connected += 1;
                    // The peer's kad protocol is confirmed later; tell the routing table now so
                    // that a query started right away has somebody to ask.
                    let addr: Multiaddr = endpoint.get_remote_address().iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
                SwarmEvent::OutgoingConnectionError { connection_id, error, .. } if pending.contains_key(&connection_id) => {
                    let text = pending.remove(&connection_id).expect("checked");
                    failures.push(format!("{text} ({})", one_line(&error.to_string())));
                }
                other => self.handle(other),
            }
        }
        if connected == 0 {
            for text in pending.into_values() {
                failures.push(format!("{text} (no connection within {} s)", timeout.as_secs_f64()));
            }
            return Err(format!("cannot reach any bootstrap peer: {}", failures.join("; ")));
        }
        for failure in failures {
            tracing::warn!("bootstrap peer unreachable: {failure}");
        }
        Ok(())
    }

    /// What every peer does with an event that is not an answer it waits for.
    pub fn handle(&mut self, event: Event) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                // Anything libp2p on the network answers mDNS (IPFS nodes too): dial it, and
                // identify puts it in the routing table only if it serves repy's DHT.
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(DialOpts::peer_id(peer).addresses(vec![addr]).build());
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                // Only peers that serve the DHT belong in the routing table.
                if info.protocols.contains(&KAD_PROTOCOL) {
                    for addr in info.listen_addrs {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::InboundRequest { request })) => match request {
                kad::InboundRequest::PutRecord { source, record: Some(record), .. } => self.store_checked(source, record),
                kad::InboundRequest::AddProvider { record: Some(record) } => {
                    if let Err(e) = self.swarm.behaviour_mut().kad.store_mut().add_provider(record) {
                        tracing::debug!("provider record not stored: {e}");
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Stores a record another peer sent only if it is a valid node record for the peer id in
    /// its key and not older than what is stored: a forged or stale record must not displace
    /// the real one, since Kademlia keeps one value per key.
    fn store_checked(&mut self, source: PeerId, mut record: kad::Record) {
        let Some(peer) = peer_in_node_key(&record.key) else {
            tracing::debug!("record from {source} refused: not a repy node record key");
            return;
        };
        let decoded = match crate::lookup::check_node_record(&peer, &record.value, crate::now_secs()) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::debug!("record from {source} refused: {e}");
                return;
            }
        };
        let store = self.swarm.behaviour_mut().kad.store_mut();
        if let Some(existing) = store.get(&record.key) {
            if NodeRecord::decode(&existing.value).is_ok_and(|old| old.seq > decoded.seq) {
                return;
            }
        }
        // Never keep a record past the expiry its signer gave it.
        let left = Duration::from_secs(decoded.expires.saturating_sub(crate::now_secs()));
        let signed_end = std::time::Instant::now() + left;
        record.expires = Some(record.expires.map_or(signed_end, |e| e.min(signed_end)));
        if let Err(e) = store.put(record) {
            tracing::debug!("record from {source} not stored: {e}");
        }
    }
}

/// The peer id in a key `repy/node/<peer id>`.
fn peer_in_node_key(key: &kad::RecordKey) -> Option<PeerId> {
    std::str::from_utf8(key.as_ref()).ok()?.strip_prefix("repy/node/")?.parse().ok()
}

/// A multiaddr as written, or `host:port` resolved to a TCP multiaddr.
pub(crate) async fn parse_address(text: &str) -> Result<Multiaddr, String> {
    if text.starts_with('/') {
        return text.parse().map_err(|e| format!("'{text}' is not a multiaddr: {e}"));
    }
    let mut found = tokio::net::lookup_host(text).await.map_err(|e| format!("'{text}' is not a host:port or multiaddr: {e}"))?;
    let sock: SocketAddr = found.next().ok_or_else(|| format!("'{text}' resolves to no address"))?;
    Ok(Multiaddr::from(sock.ip()).with(Protocol::Tcp(sock.port())))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
