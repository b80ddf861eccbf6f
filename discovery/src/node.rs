//! The node's side: a tokio task that keeps the node in the DHT and its announcements fresh,
//! driven through a [`Discovery`] handle.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::kad::{self, Quorum};
use libp2p::swarm::SwarmEvent;
use repy_nodemanager::keys::{PublicKey, SecretKey};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::engine::{BehaviourEvent, Engine, Tuning};
use crate::record::NodeRecord;

/// How a node joins the DHT.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the DHT side listens: `host:port` or multiaddrs (port 0 picks one).
    pub listen: Vec<String>,
    /// Peers to join through: `host:port` or multiaddrs, with or without `/p2p/<peer id>`.
    pub bootstrap: Vec<String>,
    /// How long an announcement lasts unless refreshed; it is refreshed every half of it.
    pub ttl: Duration,
    /// The node manager's `host:port` that lookups report.
    pub address: String,
    /// How long `start` waits for the bootstrap peers to answer.
    pub connect_timeout: Duration,
    /// Whether to find peers on the local network by mDNS as well.
    pub mdns: bool,
}

impl Config {
    pub fn new(address: &str) -> Config {
        Config {
            listen: vec!["/ip4/0.0.0.0/tcp/0".into()],
            bootstrap: Vec::new(),
            ttl: crate::DEFAULT_TTL,
            address: address.to_string(),
            connect_timeout: Duration::from_secs(10),
            mdns: false,
        }
    }
}

enum Command {
    Announce(PublicKey, BTreeSet<String>, oneshot::Sender<Result<(), String>>),
    Withdraw(PublicKey, oneshot::Sender<Result<(), String>>),
    ListenAddresses(oneshot::Sender<Vec<String>>),
    /// Publishes raw bytes as this node's record: only tests, to play a forger.
    #[cfg(test)]
    PublishRaw(Vec<u8>, oneshot::Sender<()>),
    #[cfg(test)]
    ProvideOnly(PublicKey, oneshot::Sender<()>),
}

/// A running node in the DHT. Dropping it without [`Discovery::shutdown`] also stops the task
/// (its command channel closes).
pub struct Discovery {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    peer: String,
}

/// How often a node that knows no peer dials its bootstrap peers again: from the first
/// (peers started at the same moment, as a testbed's, are up within it) doubling to the last
/// (a donor's node whose peers are down for long does not knock every second).
const REJOIN_FIRST: Duration = Duration::from_secs(1);
const REJOIN_LAST: Duration = Duration::from_secs(30);

/// A record is stored on the peers closest to its key that the node knows when it announces.
/// Peers that join later may be closer, and a lookup asks only the closest: so the node
/// announces again once new peers stop arriving for `SETTLE` (at most `SETTLE_MAX` after the
/// first of them), rather than waiting for the refresh at half the time-to-live.
const SETTLE: Duration = Duration::from_secs(2);
const SETTLE_MAX: Duration = Duration::from_secs(10);

/// Joins the DHT as the node whose key is `node_key`: listens, connects to the bootstrap
/// peers, and starts the task that answers the DHT and refreshes announcements. When no
/// bootstrap peer answers, the node runs all the same (others may join through it) and keeps
/// dialling them until its routing table holds a peer; then it announces again what it
/// announced alone. Fails only when it cannot listen.
pub async fn start(node_key: &SecretKey, config: Config) -> Result<Discovery, String> {
    if config.ttl < Duration::from_secs(2) {
        return Err("the announcement time-to-live must be at least 2 s".into());
    }
    let tuning = Tuning { ttl: config.ttl, server: true, query_timeout: Duration::from_secs(30), mdns: config.mdns };
    let mut engine = Engine::new(crate::keypair_of(node_key), tuning)?;
    engine.listen(&config.listen).await?;
    let joined = match engine.connect(&config.bootstrap, config.connect_timeout).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("discovery: {e}; running alone and dialling them again");
            false
        }
    };
    if joined && !config.bootstrap.is_empty() {
        // Joins: fills the routing table and makes this node known to its neighbours.
        let _ = engine.swarm.behaviour_mut().kad.bootstrap();
    }
    let peer = engine.peer().to_string();
    let (commands, receiver) = mpsc::channel(64);
    let node = Node {
        engine,
        secret: SecretKey::parse(&node_key.seed_text()).expect("a seed parses back"),
        address: config.address,
        ttl: config.ttl,
        keys: BTreeMap::new(),
        seq: 0,
        bootstrap: config.bootstrap,
        mdns: config.mdns,
        joined,
        reannounce: None,
        rejoin_wait: REJOIN_FIRST,
        rejoin_at: tokio::time::Instant::now() + REJOIN_FIRST,
    };
    let task = tokio::spawn(node.run(receiver));
    Ok(Discovery { commands, task, peer })
}

impl Discovery {
    /// This node's peer id.
    pub fn peer_id(&self) -> &str {
        &self.peer
    }

    /// Announces that `user_key` has the `vessels` (by name) here, replacing what was
    /// announced for it before. Returns once the announcement is stored locally and sent out.
    pub async fn announce(&self, user_key: &PublicKey, vessels: BTreeSet<String>) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Announce(user_key.clone(), vessels, tx)).await?;
        rx.await.map_err(|_| stopped())?
    }

    /// Stops announcing `user_key` and re-publishes the node record without it. Other peers
    /// may still hold the provider record until its TTL ends; lookups skip it because the
    /// node record no longer lists the key.
    pub async fn withdraw(&self, user_key: &PublicKey) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Withdraw(user_key.clone(), tx)).await?;
        rx.await.map_err(|_| stopped())?
    }

    /// The multiaddrs (with `/p2p/<peer id>`) others can bootstrap from.
    pub async fn listen_addresses(&self) -> Result<Vec<String>, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::ListenAddresses(tx)).await?;
        rx.await.map_err(|_| stopped())
    }

    /// Leaves the DHT: closes every connection and waits for the task to end. What others
    /// stored expires within one TTL.
    pub async fn shutdown(self) {
        drop(self.commands);
        let _ = self.task.await;
    }

    async fn send(&self, command: Command) -> Result<(), String> {
        self.commands.send(command).await.map_err(|_| stopped())
    }

    #[cfg(test)]
    pub(crate) async fn publish_raw(&self, bytes: Vec<u8>) {
        let (tx, rx) = oneshot::channel();
        self.send(Command::PublishRaw(bytes, tx)).await.unwrap();
        rx.await.unwrap();
    }

    #[cfg(test)]
    pub(crate) async fn provide_only(&self, user_key: &PublicKey) {
        let (tx, rx) = oneshot::channel();
        self.send(Command::ProvideOnly(user_key.clone(), tx)).await.unwrap();
        rx.await.unwrap();
    }
}

fn stopped() -> String {
    "the discovery task has stopped".into()
}

struct Node {
    engine: Engine,
    secret: SecretKey,
    address: String,
    ttl: Duration,
    keys: BTreeMap<PublicKey, BTreeSet<String>>,
    /// The sequence number of the last record published.
    seq: u64,
    bootstrap: Vec<String>,
    mdns: bool,
    /// Whether the routing table has held a peer since the last time it was empty.
    joined: bool,
    /// When new peers arrived: (first since the last announcement, latest).
    reannounce: Option<(tokio::time::Instant, tokio::time::Instant)>,
    rejoin_wait: Duration,
    rejoin_at: tokio::time::Instant,
}

impl Node {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut refresh = tokio::time::interval(self.ttl / 2);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        refresh.tick().await;
        let mut check = tokio::time::interval(Duration::from_secs(1));
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                event = self.engine.swarm.select_next_some() => self.event(event),
                _ = refresh.tick() => {
                    if !self.keys.is_empty() {
                        if let Err(e) = self.publish() {
                            tracing::warn!("cannot refresh the node record: {e}");
                        }
                    }
                }
                _ = check.tick() => {
                    if !self.bootstrap.is_empty() || self.mdns {
                        self.rejoin().await;
                    }
                    self.reannounce_if_settled();
                }
            }
        }
    }

    /// Keeps a node that knows no peer (all bootstrap peers were down, or all its peers left)
    /// dialling its bootstrap peers; once one is in the routing table (from them or from mDNS),
    /// joins and announces again everything it announced meanwhile, which reached nobody.
    async fn rejoin(&mut self) {
        let kad = &mut self.engine.swarm.behaviour_mut().kad;
        let known = kad.kbuckets().map(|bucket| bucket.num_entries()).sum::<usize>();
        if known > 0 {
            if !self.joined {
                self.joined = true;
                self.rejoin_wait = REJOIN_FIRST;
                let _ = kad.bootstrap();
                tracing::info!("discovery: joined the DHT through a bootstrap peer");
                self.announce_all();
            }
            return;
        }
        self.joined = false;
        let now = tokio::time::Instant::now();
        if now < self.rejoin_at {
            return;
        }
        for text in self.bootstrap.clone() {
            match crate::engine::parse_address(&text).await {
                Ok(addr) => {
                    if let Err(e) = self.engine.swarm.dial(addr) {
                        tracing::debug!("cannot dial bootstrap peer {text}: {e}");
                    }
                }
                Err(e) => tracing::warn!("bootstrap peer {e}"),
            }
        }
        self.rejoin_at = now + self.rejoin_wait;
        self.rejoin_wait = (self.rejoin_wait * 2).min(REJOIN_LAST);
    }

    /// The DHT key this node provides `user_key` under (its shard of the key).
    fn provider_key(&self, user_key: &PublicKey) -> kad::RecordKey {
        kad::RecordKey::new(&crate::user_key_dht_key(user_key, crate::shard_of(&self.engine.peer())))
    }

    /// Publishes the node record and provides every announced key again.
    fn announce_all(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        if let Err(e) = self.publish() {
            tracing::warn!("cannot publish the node record: {e}");
        }
        for key in self.keys.keys() {
            let dht_key = self.provider_key(key);
            if let Err(e) = self.engine.swarm.behaviour_mut().kad.start_providing(dht_key) {
                tracing::warn!("cannot provide key {}: {e}", key.fingerprint());
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Announce(key, vessels, reply) => {
                let dht_key = self.provider_key(&key);
                self.keys.insert(key, vessels);
                let result = self
                    .publish()
                    .and_then(|()| self.engine.swarm.behaviour_mut().kad.start_providing(dht_key).map(|_| ()).map_err(|e| e.to_string()));
                let _ = reply.send(result);
            }
            Command::Withdraw(key, reply) => {
                let dht_key = self.provider_key(&key);
                self.engine.swarm.behaviour_mut().kad.stop_providing(&dht_key);
                self.keys.remove(&key);
                let _ = reply.send(self.publish());
            }
            Command::ListenAddresses(reply) => {
                let _ = reply.send(self.engine.listen_addresses());
            }
            #[cfg(test)]
            Command::PublishRaw(bytes, reply) => {
                self.put(bytes).unwrap();
                let _ = reply.send(());
            }
            #[cfg(test)]
            Command::ProvideOnly(key, reply) => {
                let dht_key = self.provider_key(&key);
                self.engine.swarm.behaviour_mut().kad.start_providing(dht_key).unwrap();
                let _ = reply.send(());
            }
        }
    }

    /// Announces again once the routing table has stopped growing (see [`SETTLE`]).
    fn reannounce_if_settled(&mut self) {
        let Some((first, latest)) = self.reannounce else { return };
        let now = tokio::time::Instant::now();
        if now >= latest + SETTLE || now >= first + SETTLE_MAX {
            self.reannounce = None;
            self.announce_all();
        }
    }

    fn event(&mut self, event: crate::engine::Event) {
        if let SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated { is_new_peer: true, .. })) = &event {
            let now = tokio::time::Instant::now();
            self.reannounce = Some((self.reannounce.map_or(now, |(first, _)| first), now));
        }
        if let SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed { result, .. })) = &event {
            match result {
                kad::QueryResult::PutRecord(Err(e)) => tracing::debug!("node record not stored everywhere: {e}"),
                kad::QueryResult::StartProviding(Err(e)) | kad::QueryResult::RepublishProvider(Err(e)) => {
                    tracing::debug!("provider record not stored everywhere: {e}")
                }
                _ => {}
            }
        }
        self.engine.handle(event);
    }

    /// Signs a fresh node record (new expiry) and stores it in the DHT.
    fn publish(&mut self) -> Result<(), String> {
        let record = NodeRecord {
            address: self.address.clone(),
            node_key: self.secret.public(),
            expires: crate::now_secs() + self.ttl.as_secs(),
            seq: self.next_seq(),
            keys: self.keys.clone(),
        };
        let bytes = record.encode(&self.secret)?;
        self.put(bytes)
    }

    /// Milliseconds since the Unix epoch, so that a restarted node's records still supersede
    /// the ones it published before; strictly increasing within one run.
    fn next_seq(&mut self) -> u64 {
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        self.seq = millis.max(self.seq + 1);
        self.seq
    }

    fn put(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        let peer = self.engine.peer();
        let mut record = kad::Record::new(crate::node_record_key(&peer), bytes);
        record.expires = Some(std::time::Instant::now() + self.ttl);
        self.engine
            .swarm
            .behaviour_mut()
            .kad
            .put_record(record, Quorum::One)
            .map(|_| ())
            .map_err(|e| format!("cannot store the node record: {e}"))
    }
}
