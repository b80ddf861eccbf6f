//! Who a vessel belongs to and who may use it: owner, user keys, owner information,
//! advertising.

use serde_json::json;

use super::Outcome;
use crate::{
    keys::PublicKey,
    node::Node,
    protocol::parse_key,
    request::{err, Code, NmError},
};

impl Node {
    pub(super) fn change_owner(&mut self, vessel: &str, owner_key: &str) -> Result<Outcome, NmError> {
        let key = parse_key("owner_key", owner_key)?;
        let record = self.record_mut(vessel);
        record.owner_key = key;
        record.owner_info.clear();
        record.advertise = true;
        self.commit()?;
        Ok((json!({}), None))
    }

    /// Sets the user keys; a key given twice counts once, with a warning.
    pub(super) fn change_users(&mut self, vessel: &str, user_keys: &[String]) -> Result<Outcome, NmError> {
        let mut keys: Vec<PublicKey> = Vec::new();
        for (i, text) in user_keys.iter().enumerate() {
            let key = parse_key(&format!("user_keys[{i}]"), text)?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.len() > self.config.max_user_keys {
            return err(
                Code::LimitExceeded,
                format!("{} user keys for vessel {vessel}, at most {} allowed", keys.len(), self.config.max_user_keys),
            );
        }
        let duplicates = user_keys.len() - keys.len();
        self.record_mut(vessel).user_keys = keys;
        self.commit()?;
        let warning = (duplicates > 0).then(|| format!("{duplicates} duplicate user key(s) ignored"));
        Ok((json!({}), warning))
    }

    pub(super) fn change_owner_information(&mut self, vessel: &str, info: String) -> Result<Outcome, NmError> {
        let chars = info.chars().count();
        if chars > self.config.max_owner_info {
            return err(
                Code::LimitExceeded,
                format!("owner information of {chars} characters, at most {} allowed", self.config.max_owner_info),
            );
        }
        if info.contains(['\n', '\r']) {
            return err(Code::BadArguments, "owner information may not contain a newline");
        }
        self.record_mut(vessel).owner_info = info;
        self.commit()?;
        Ok((json!({}), None))
    }

    pub(super) fn change_advertise(&mut self, vessel: &str, advertise: bool) -> Result<Outcome, NmError> {
        self.record_mut(vessel).advertise = advertise;
        self.commit()?;
        Ok((json!({}), None))
    }
}
