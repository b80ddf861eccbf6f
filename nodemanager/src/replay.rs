//! Anti-replay table (nodemanager.md §3.3 step 6): per key the highest accepted sequence
//! number, which of the 63 numbers below it were accepted, and the latest expiry seen.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// Width of the anti-replay window.
pub const WINDOW: u64 = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqEntry {
    pub last_seq: u64,
    /// Bit d−1 set: `last_seq − d` was accepted (1 ≤ d < 64).
    pub seen: u64,
    pub expires: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqTable {
    pub format: u32,
    pub keys: BTreeMap<String, SeqEntry>,
}

impl SeqTable {
    pub fn new() -> SeqTable {
        SeqTable { format: 1, keys: BTreeMap::new() }
    }

    /// Accepts and records `seq` for `key`, or returns the highest accepted number.
    pub fn accept(&mut self, key: &str, seq: u64, expires: u64) -> Result<(), u64> {
        let Some(entry) = self.keys.get_mut(key) else {
            self.keys.insert(key.to_string(), SeqEntry { last_seq: seq, seen: 0, expires });
            return Ok(());
        };
        if seq > entry.last_seq {
            let d = seq - entry.last_seq;
            entry.seen = if d >= WINDOW { 0 } else { ((entry.seen << d) | (1 << (d - 1))) & mask() };
            entry.last_seq = seq;
        } else {
            let d = entry.last_seq - seq;
            if d == 0 || d >= WINDOW || entry.seen & (1 << (d - 1)) != 0 {
                return Err(entry.last_seq);
            }
            entry.seen |= 1 << (d - 1);
        }
        entry.expires = entry.expires.max(expires);
        Ok(())
    }

    /// Drops entries whose key has no role (not in `keep`) and whose latest expiry is past.
    pub fn prune(&mut self, keep: &HashSet<&str>, now: u64) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k, e| keep.contains(k.as_str()) || e.expires >= now);
        self.keys.len() != before
    }
}

fn mask() -> u64 {
    (1 << (WINDOW - 1)) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_each_number_once() {
        let mut t = SeqTable::new();
        assert_eq!(t.accept("k", 1000, 10), Ok(()));
        assert_eq!(t.accept("k", 1000, 10), Err(1000));
        // Out of order inside the window: fine once.
        assert_eq!(t.accept("k", 990, 10), Ok(()));
        assert_eq!(t.accept("k", 990, 10), Err(1000));
        assert_eq!(t.accept("k", 937, 10), Ok(()), "1000 - 63 is inside the window");
        assert_eq!(t.accept("k", 936, 10), Err(1000), "1000 - 64 is outside");
        // Moving up keeps what was seen.
        assert_eq!(t.accept("k", 1005, 20), Ok(()));
        assert_eq!(t.accept("k", 1000, 10), Err(1005));
        assert_eq!(t.accept("k", 990, 10), Err(1005));
        assert_eq!(t.accept("k", 1001, 10), Ok(()));
        assert_eq!(t.accept("k", 942, 10), Ok(()), "1005 - 63");
        assert_eq!(t.accept("k", 941, 10), Err(1005));
        // A big jump forgets the window.
        assert_eq!(t.accept("k", 5000, 5), Ok(()));
        assert_eq!(t.accept("k", 4999, 5), Ok(()));
        assert_eq!(t.accept("k", 1005, 5), Err(5000));
        assert_eq!(t.keys["k"].expires, 20, "the later expiry is kept");
        // Keys are independent.
        assert_eq!(t.accept("other", 1, 5), Ok(()));
    }

    #[test]
    fn every_number_of_a_shuffled_burst_is_accepted_once() {
        let mut t = SeqTable::new();
        let base = 1_000_000u64;
        let order: Vec<u64> = (0..64).map(|i| (i * 37) % 64).collect();
        for &i in &order {
            assert_eq!(t.accept("k", base + i, 1), Ok(()), "{i}");
        }
        for &i in &order {
            assert!(t.accept("k", base + i, 1).is_err(), "{i} accepted twice");
        }
    }

    #[test]
    fn prune_keeps_keys_with_roles_or_future_expiry() {
        let mut t = SeqTable::new();
        t.accept("owner", 1, 10).unwrap();
        t.accept("gone", 1, 10).unwrap();
        t.accept("recent", 1, 100).unwrap();
        let keep: HashSet<&str> = ["owner"].into_iter().collect();
        assert!(t.prune(&keep, 50));
        assert_eq!(t.keys.keys().collect::<Vec<_>>(), ["owner", "recent"]);
    }
}
