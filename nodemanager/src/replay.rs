//! Anti-replay state (nodemanager.md §3.3 step 6): per key the highest accepted sequence
//! number, which of the 63 numbers below it were accepted, and the latest expiry seen.
//!
//! Two tables, so that keys anyone can make cost the node nothing on disk:
//!
//! * [`SeqTable`] is `seq.json`: the keys that hold a role on some vessel, and keys that lost
//!   their role until their latest expiry has passed (§7 rule 5). A request of such a key acts
//!   only once its number is on disk (§7 rule 2).
//! * [`Volatile`] holds every other key, in memory only, bounded, and is never written.
//!
//! Why a key without a role needs no durable entry: such a key can only make requests that
//! change nothing, a public call (which only reads, whoever signs it) or a User/Owner call,
//! which step 8 refuses. A replay of such a request changes nothing either, so forgetting its
//! number (in a crash, or to make room) is harmless while the key has no role. It would matter
//! only if the key were given a role (ChangeOwner, ChangeUsers) while one of its refused
//! requests is unexpired: replayed then, that request would run. [`Replay::accept`] closes
//! that gap: the first request of a key that has a role and no durable entry moves the key's
//! in-memory entry into the durable table, and if entries may have been forgotten whose
//! requests have not all expired (since start-up, or since an unexpired entry was evicted),
//! the moved entry also refuses every number up to the highest a key without a role can have
//! used: such keys may not run ahead of the node's clock, in microseconds, by more than
//! `max_expiry_s` (the tolerance of the expiry check), so that bound, taken now, lies above
//! every forgotten number. The key's client gets one `Replay` answer carrying the bound as
//! `last_seq` and retries above it (§3.3). This holds as long as the node's clock does not go
//! back across a restart, which the expiry check assumes too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// Width of the anti-replay window.
pub const WINDOW: u64 = 64;

/// Most keys without a role remembered at once (about 200 bytes each).
pub const VOLATILE_KEYS: usize = 32_768;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqEntry {
    pub last_seq: u64,
    /// Bit d−1 set: `last_seq − d` was accepted (1 ≤ d < 64).
    pub seen: u64,
    pub expires: u64,
}

impl SeqEntry {
    fn new(seq: u64, expires: u64) -> SeqEntry {
        SeqEntry { last_seq: seq, seen: 0, expires }
    }

    /// Accepts and records `seq`, or returns the highest accepted number.
    pub fn accept(&mut self, seq: u64, expires: u64) -> Result<(), u64> {
        if seq > self.last_seq {
            let d = seq - self.last_seq;
            self.seen = if d >= WINDOW { 0 } else { ((self.seen << d) | (1 << (d - 1))) & mask() };
            self.last_seq = seq;
        } else {
            let d = self.last_seq - seq;
            if d == 0 || d >= WINDOW || self.seen & (1 << (d - 1)) != 0 {
                return Err(self.last_seq);
            }
            self.seen |= 1 << (d - 1);
        }
        self.expires = self.expires.max(expires);
        Ok(())
    }

    /// From now on every number up to `floor` (and up to the current highest) is refused.
    fn raise_floor(&mut self, floor: u64) {
        self.last_seq = self.last_seq.max(floor);
        self.seen = mask();
    }
}

/// `seq.json`.
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
        match self.keys.get_mut(key) {
            Some(entry) => entry.accept(seq, expires),
            None => {
                self.keys.insert(key.to_string(), SeqEntry::new(seq, expires));
                Ok(())
            }
        }
    }

    /// Drops entries whose key has no role (not in `keep`) and whose latest expiry is past.
    pub fn prune(&mut self, keep: &HashSet<&str>, now: u64) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k, e| keep.contains(k.as_str()) || e.expires >= now);
        self.keys.len() != before
    }
}

/// The in-memory table of keys without a role: at most `capacity` entries; when full, the
/// entry that expires first makes room (an expired one first of all).
#[derive(Debug)]
pub struct Volatile {
    entries: HashMap<String, SeqEntry>,
    by_expiry: BTreeSet<(u64, String)>,
    capacity: usize,
    /// No entry whose requests are still valid after this time (Unix seconds) was forgotten.
    lost_until: u64,
}

impl Volatile {
    /// An empty table; entries forgotten before it existed expire by `lost_until`.
    pub fn new(capacity: usize, lost_until: u64) -> Volatile {
        Volatile { entries: HashMap::new(), by_expiry: BTreeSet::new(), capacity: capacity.max(1), lost_until }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lost_until(&self) -> u64 {
        self.lost_until
    }

    /// Accepts and records `seq` for `key`, or returns the highest accepted number.
    pub fn accept(&mut self, key: &str, seq: u64, expires: u64, now: u64) -> Result<(), u64> {
        if let Some(entry) = self.entries.get_mut(key) {
            let before = entry.expires;
            entry.accept(seq, expires)?;
            if entry.expires != before {
                self.by_expiry.remove(&(before, key.to_string()));
                self.by_expiry.insert((entry.expires, key.to_string()));
            }
            return Ok(());
        }
        self.make_room(now);
        self.entries.insert(key.to_string(), SeqEntry::new(seq, expires));
        self.by_expiry.insert((expires, key.to_string()));
        Ok(())
    }

    /// Removes and returns the entry of `key`.
    pub fn take(&mut self, key: &str) -> Option<SeqEntry> {
        let entry = self.entries.remove(key)?;
        self.by_expiry.remove(&(entry.expires, key.to_string()));
        Some(entry)
    }

    /// Forgets expired entries, then, while the table is full, the entry that expires first.
    fn make_room(&mut self, now: u64) {
        while let Some((expires, _)) = self.by_expiry.first() {
            let expired = *expires < now;
            if !expired && self.entries.len() < self.capacity {
                break;
            }
            let (expires, key) = self.by_expiry.pop_first().expect("just seen");
            self.entries.remove(&key);
            if !expired {
                self.lost_until = self.lost_until.max(expires);
            }
        }
    }
}

/// Whether an accepted number must be made durable before its request acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admitted {
    Durable,
    Volatile,
}

/// Why a sequence number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Used before or too old: the highest accepted number.
    Replay(u64),
    /// A key without a role ran further ahead of the node's clock than `limit`.
    TooFarAhead { limit: u64 },
}

/// Both tables and the rule that moves a key from one to the other (see the module's doc).
#[derive(Debug)]
pub struct Replay {
    pub durable: SeqTable,
    volatile: Volatile,
    max_expiry_s: u64,
}

impl Replay {
    /// The tables at start-up at time `now`: whatever was in memory before is gone, and its
    /// requests expire by `now + max_expiry_s`.
    pub fn new(durable: SeqTable, now: u64, max_expiry_s: u64) -> Replay {
        Replay::with_capacity(durable, now, max_expiry_s, VOLATILE_KEYS)
    }

    pub fn with_capacity(durable: SeqTable, now: u64, max_expiry_s: u64, capacity: usize) -> Replay {
        Replay { durable, volatile: Volatile::new(capacity, now.saturating_add(max_expiry_s)), max_expiry_s }
    }

    pub fn volatile(&self) -> &Volatile {
        &self.volatile
    }

    /// The highest number a key without a role may use at `now`: `max_expiry_s` ahead of the
    /// clock in microseconds, the unit clients take their numbers in.
    pub fn roleless_limit(&self, now: u64) -> u64 {
        now.saturating_add(self.max_expiry_s).saturating_mul(1_000_000)
    }

    /// Accepts `seq` of `key` at `now`; `has_role` tells whether the key holds a role on some
    /// vessel. Says whether the number must be made durable before the request acts.
    pub fn accept(&mut self, key: &str, seq: u64, expires: u64, has_role: bool, now: u64) -> Result<Admitted, Refused> {
        if let Some(entry) = self.durable.keys.get_mut(key) {
            entry.accept(seq, expires).map_err(Refused::Replay)?;
            return Ok(Admitted::Durable);
        }
        let limit = self.roleless_limit(now);
        if has_role {
            let moved = self.volatile.take(key);
            let mut entry = if now <= self.volatile.lost_until {
                let mut entry = moved.unwrap_or_default();
                entry.raise_floor(limit);
                entry
            } else {
                match moved {
                    Some(entry) => entry,
                    None => {
                        self.durable.keys.insert(key.to_string(), SeqEntry::new(seq, expires));
                        return Ok(Admitted::Durable);
                    }
                }
            };
            // The entry stays durable (with its floor) even if this number is refused.
            let accepted = entry.accept(seq, expires);
            self.durable.keys.insert(key.to_string(), entry);
            accepted.map_err(Refused::Replay)?;
            return Ok(Admitted::Durable);
        }
        if seq > limit {
            return Err(Refused::TooFarAhead { limit });
        }
        self.volatile.accept(key, seq, expires, now).map_err(Refused::Replay)?;
        Ok(Admitted::Volatile)
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

    const NOW: u64 = 1_800_000_000;

    /// Tables long after start-up: nothing forgotten is still valid.
    fn settled(capacity: usize) -> Replay {
        Replay::with_capacity(SeqTable::new(), NOW - 10_000, 3600, capacity)
    }

    #[test]
    fn keys_without_a_role_stay_in_memory_and_are_still_refused_a_replay() {
        let mut r = settled(100);
        for i in 0..50 {
            assert_eq!(r.accept(&format!("k{i}"), 7, NOW + 60, false, NOW), Ok(Admitted::Volatile));
        }
        assert!(r.durable.keys.is_empty());
        assert_eq!(r.volatile().len(), 50);
        assert_eq!(r.accept("k3", 7, NOW + 60, false, NOW), Err(Refused::Replay(7)));
        assert_eq!(r.accept("k3", 8, NOW + 60, false, NOW), Ok(Admitted::Volatile));
        // A key with a role goes to the durable table.
        assert_eq!(r.accept("owner", 7, NOW + 60, true, NOW), Ok(Admitted::Durable));
        assert_eq!(r.durable.keys.keys().collect::<Vec<_>>(), ["owner"]);
        assert_eq!(r.accept("owner", 7, NOW + 60, true, NOW), Err(Refused::Replay(7)));
        // A key that lost its role keeps its durable entry (prune decides when it goes).
        assert_eq!(r.accept("owner", 6, NOW + 60, false, NOW), Ok(Admitted::Durable));
    }

    #[test]
    fn a_full_table_forgets_the_earliest_expiry_and_remembers_until_when() {
        let mut r = settled(3);
        r.accept("a", 1, NOW + 30, false, NOW).unwrap();
        r.accept("b", 1, NOW + 10, false, NOW).unwrap();
        r.accept("c", 1, NOW + 20, false, NOW).unwrap();
        r.accept("d", 1, NOW + 40, false, NOW).unwrap();
        assert_eq!(r.volatile().len(), 3);
        assert_eq!(r.volatile().lost_until(), NOW + 10, "b went, valid until NOW + 10");
        // b's number is forgotten: harmless, b has no role.
        assert_eq!(r.accept("b", 1, NOW + 10, false, NOW), Ok(Admitted::Volatile));
        assert_eq!(r.volatile().lost_until(), NOW + 20, "then c went");
        // Expired entries go first and are not counted as lost.
        r.accept("e", 1, NOW + 50, false, NOW + 35).unwrap();
        assert_eq!(r.volatile().lost_until(), NOW + 20);
        assert_eq!(r.volatile().len(), 2, "a and b had expired; d and e remain");
    }

    #[test]
    fn a_key_given_a_role_keeps_its_numbers() {
        let mut r = settled(100);
        r.accept("k", 500, NOW + 60, false, NOW).unwrap();
        // Given a role: the entry moves, with what it had seen.
        assert_eq!(r.accept("k", 500, NOW + 60, true, NOW), Err(Refused::Replay(500)));
        assert!(r.durable.keys.contains_key("k") && r.volatile().is_empty());
        assert_eq!(r.accept("k", 501, NOW + 60, true, NOW), Ok(Admitted::Durable));
        // Never seen, nothing forgotten: its first number is simply accepted.
        assert_eq!(r.accept("fresh", 3, NOW + 60, true, NOW), Ok(Admitted::Durable));
    }

    #[test]
    fn after_a_loss_a_key_given_a_role_refuses_every_number_it_could_have_used() {
        // Just after start-up: whatever a key without a role did before is forgotten.
        let mut r = Replay::with_capacity(SeqTable::new(), NOW, 3600, 100);
        let limit = r.roleless_limit(NOW);
        assert_eq!(limit, (NOW + 3600) * 1_000_000);
        // Before the restart a key without a role had used some number <= the limit then,
        // which is <= the limit now. Given a role, none of those numbers is accepted.
        for old in [1, NOW * 1_000_000, limit] {
            let mut r = Replay::with_capacity(SeqTable::new(), NOW, 3600, 100);
            assert_eq!(r.accept("k", old, NOW + 60, true, NOW + 5), Err(Refused::Replay(r.roleless_limit(NOW + 5))), "{old}");
            assert_eq!(r.accept("k", r.roleless_limit(NOW + 5) + 1, NOW + 60, true, NOW + 5), Ok(Admitted::Durable));
        }
        // Without a role a key may not run ahead of that limit at all.
        assert_eq!(r.accept("x", limit + 1, NOW + 60, false, NOW), Err(Refused::TooFarAhead { limit }));
        assert_eq!(r.accept("x", limit, NOW + 60, false, NOW), Ok(Admitted::Volatile));
        // Once every forgotten request has expired, a key given a role starts plainly.
        let later = NOW + 3601;
        assert_eq!(r.accept("y", 10, later + 60, true, later), Ok(Admitted::Durable));
        // An eviction of an unexpired entry opens the window again.
        let mut r = settled(1);
        r.accept("a", 1, NOW + 60, false, NOW).unwrap();
        r.accept("b", 1, NOW + 60, false, NOW).unwrap();
        assert_eq!(r.accept("a", 2, NOW + 60, true, NOW), Err(Refused::Replay(r.roleless_limit(NOW))));
    }
}
