//! Discovery beside `repy node run`: the node manager's [`Companion`], which joins the DHT when
//! `node.toml` sets `bootstrap`, `discovery_listen` or `mdns` and keeps the announcements equal to what
//! the node advertises (every key that owns or may use an advertised vessel).

use std::time::Duration;

use repy_nodemanager::keys::{self, PublicKey};
use repy_nodemanager::server::{Advertised, Companion, Context};
use repy_nodemanager::state::Layout;
use tokio::sync::watch;

use crate::{start, Config, Discovery};

/// How long to wait before trying again when the DHT side cannot start (its port is taken):
/// doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_LAST: Duration = Duration::from_secs(60);

/// The companion to pass to `server::run_with`; it does nothing unless discovery is configured,
/// so a node without those settings behaves as before.
pub fn companion() -> Companion {
    Box::new(|context| Box::pin(serve(context)))
}

/// Joins the DHT (a donor's node must not stop because the bootstrap peers are down: the
/// discovery task keeps dialling them; starting is retried only while it cannot listen) and follows the advertised keys until the node
/// manager stops.
pub async fn serve(context: Context) {
    let settings = &context.config;
    if settings.bootstrap.is_empty() && settings.discovery_listen.is_empty() && !settings.mdns {
        return;
    }
    let secret = match keys::read_secret_key(&Layout::new(&context.dir).node_key()) {
        Ok(secret) => secret,
        Err(e) => {
            tracing::error!("discovery not started: {e}");
            return;
        }
    };
    let address = if settings.advertise_address.is_empty() { context.local_addr.to_string() } else { settings.advertise_address.clone() };
    if settings.advertise_address.is_empty() && context.local_addr.ip().is_unspecified() {
        tracing::warn!("discovery: announcing {address}, which others cannot dial: set advertise_address in node.toml");
    }
    let mut config = Config::new(&address);
    if !settings.discovery_listen.is_empty() {
        config.listen = vec![settings.discovery_listen.clone()];
    }
    config.bootstrap = settings.bootstrap.clone();
    config.mdns = settings.mdns;
    config.ttl = Duration::from_secs(settings.advertise_ttl_s);
    let mut retry = RETRY_FIRST;
    let discovery = loop {
        match start(&secret, config.clone()).await {
            Ok(discovery) => break discovery,
            Err(e) => {
                tracing::warn!("discovery: {e}; trying again in {} s", retry.as_secs());
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_LAST);
            }
        }
    };
    let addresses = discovery.listen_addresses().await.unwrap_or_default();
    tracing::info!("discovery: in the DHT as {} (bootstrap from {})", discovery.peer_id(), addresses.join(" "));
    follow(&discovery, context.advertised).await;
    discovery.shutdown().await;
}

/// Announces what `advertised` holds, and on every change announces the keys whose vessels
/// changed and withdraws the keys that left; returns when the sender is gone.
pub async fn follow(discovery: &Discovery, mut advertised: watch::Receiver<Advertised>) {
    let mut announced = Advertised::new();
    loop {
        let now = advertised.borrow_and_update().clone();
        let gone: Vec<&PublicKey> = announced.keys().filter(|k| !now.contains_key(*k)).collect();
        for key in gone {
            if let Err(e) = discovery.withdraw(key).await {
                tracing::warn!("discovery: cannot withdraw key {}: {e}", key.fingerprint());
            }
        }
        for (key, vessels) in &now {
            if announced.get(key) != Some(vessels) {
                if let Err(e) = discovery.announce(key, vessels.clone()).await {
                    tracing::warn!("discovery: cannot announce key {}: {e}", key.fingerprint());
                }
            }
        }
        announced = now;
        if advertised.changed().await.is_err() {
            return;
        }
    }
}
