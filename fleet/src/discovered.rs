//! The nodes of `repy fleet --bootstrap`: every node the DHT says announces the key, each
//! answer checked against the node itself before any request acts on it.
//!
//! The DHT holds claims. A record is signed by the node key it names (the discovery crate
//! checks that), but anyone with a key can sign a record naming any address, and a node may
//! announce a key it does not serve. So a node is kept only if, asked directly, it shows the
//! node key of its record and lists a vessel the key owns or may use. What fails is reported
//! as ignored, not as a failed node: an answer planted by somebody else must not fail the
//! user's deployment.

use std::time::Duration;

use repy_discovery::Found;
use repy_nodemanager::{client::Client, keys::PublicKey, protocol::GetVessels};
use serde_json::Value;

use crate::exec::Executor;

/// The nodes to act on, and the DHT answers left out with the reason.
#[derive(Debug, Default)]
pub struct Discovered {
    pub nodes: Vec<String>,
    pub ignored: Vec<(String, String)>,
}

/// Looks `key` up through `bootstrap` (waiting at most `lookup_timeout`) and checks every
/// answer ([`confirm`]) in parallel. Fails when no bootstrap peer answers, naming each.
pub fn find(
    bootstrap: &[String],
    key: &PublicKey,
    lookup_timeout: Duration,
    node_timeout: Duration,
    exec: &Executor,
) -> Result<Discovered, String> {
    let found = exec.block_on(repy_discovery::lookup(bootstrap, key, lookup_timeout))?;
    let key = key.clone();
    let checks = exec.map(found.clone(), "confirm", move |f: Found| confirm(&f, &key, node_timeout));
    let mut discovered = Discovered::default();
    for (f, check) in found.into_iter().zip(checks) {
        match check.and_then(|c| c) {
            Ok(()) if discovered.nodes.contains(&f.address) => {
                discovered.ignored.push((f.address, "a second record names this address".into()))
            }
            Ok(()) => discovered.nodes.push(f.address),
            Err(why) => discovered.ignored.push((f.address, why)),
        }
    }
    Ok(discovered)
}

/// Whether the node at `found.address` is the node of the record and lets `key` use one of its
/// vessels, asked with an unsigned GetVessels.
pub fn confirm(found: &Found, key: &PublicKey, timeout: Duration) -> Result<(), String> {
    let mut client = Client::connect_timeout(&found.address, timeout).map_err(|e| format!("unreachable: {e}"))?;
    client.set_timeout(timeout);
    let answer = client.send_unsigned(&GetVessels {}.into()).map_err(|e| format!("no GetVessels answer: {e}"))?;
    check_answer(&answer, found, key)
}

/// The checks of [`confirm`] on a GetVessels answer.
pub fn check_answer(answer: &Value, found: &Found, key: &PublicKey) -> Result<(), String> {
    let node_key = answer["node"]["key"].as_str().unwrap_or("");
    if node_key != found.node_key.as_str() {
        return Err(format!(
            "the node there has key {}, not the key {} that signed the record",
            PublicKey::parse(node_key).map(|k| k.fingerprint().to_string()).unwrap_or_else(|_| "(none)".into()),
            found.node_key.fingerprint()
        ));
    }
    let serves =
        |v: &Value| v["owner_key"] == key.as_str() || v["user_keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k == key.as_str()));
    let vessels = answer["vessels"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !vessels.iter().any(serves) {
        return Err(format!("the node lets key {} use none of its {} vessels", key.fingerprint(), vessels.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use repy_nodemanager::keys::SecretKey;
    use serde_json::json;

    #[test]
    fn answers_must_name_the_record_key_and_serve_the_user() {
        let (node, other, user) = (SecretKey::generate().public(), SecretKey::generate().public(), SecretKey::generate().public());
        let found = Found {
            peer: repy_discovery::peer_id_of(&node),
            address: "127.0.0.1:1".into(),
            node_key: node.clone(),
            vessels: vec!["v1".into()],
            seconds_left: 10,
        };
        let answer = |key: &PublicKey, owner: &PublicKey, users: Vec<&str>| json!({"node": {"key": key.as_str()}, "vessels": [{"name": "v1", "owner_key": owner.as_str(), "user_keys": users}]});
        assert_eq!(check_answer(&answer(&node, &user, vec![]), &found, &user), Ok(()));
        assert_eq!(check_answer(&answer(&node, &other, vec![user.as_str()]), &found, &user), Ok(()));
        let e = check_answer(&answer(&other, &user, vec![]), &found, &user).unwrap_err();
        assert!(e.contains(&other.fingerprint()) && e.contains("not the key"), "{e}");
        let e = check_answer(&answer(&node, &other, vec![]), &found, &user).unwrap_err();
        assert!(e.contains("use none of its 1 vessels"), "{e}");
        assert!(check_answer(&json!({"vessels": []}), &found, &user).is_err());
    }
}
