//! The connection table (nodemanager.md §3.1: at most `max_connections` connections) and who
//! gives way when it is full.
//!
//! A connection costs its opener nothing, so a table that is first come, first served can be
//! held by anyone: 32 connections that each sent one byte, reopened whenever closed, used to
//! keep every signed request out. Instead:
//!
//! * A connection **proves itself** when one of its requests is admitted (a fresh sequence
//!   number, §3.3 step 6) and is signed by a key that holds a role on some vessel. A proven
//!   connection keeps its slot until it closes or idles out, as before.
//! * An unproven connection is protected for [`GRACE`] after it was accepted, and while one of
//!   its requests is being executed. After that, when the table is full and another client
//!   connects, the oldest such connection gives way: it is sent a `Busy` frame saying why and
//!   closed. Neither partial frames nor unsigned requests keep a slot: a client that sends
//!   an unsigned request every half second is as easy to displace as one that sends nothing.
//! * When no connection can give way yet, the newcomer is not accepted: it waits in the
//!   kernel's listen queue, in arrival order, until a slot frees or a connection can give way
//!   (at most [`ADMISSION_WAIT`], then `Busy`). Only a table full of proven connections sends
//!   `Busy` at once.
//!
//! So a client with a role that completes its first signed request within [`GRACE`] of being
//! accepted is never pushed out, however fast others reconnect: a reconnection is young and
//! cannot displace another young connection, and queued newcomers are taken in order, so
//! under such an attack a newcomer waits at most about [`GRACE`]. What this gives up: when
//! the table is full, an unproven client whose first request takes longer than [`GRACE`] to
//! arrive (a large upload over a slow link) can be closed to make room.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

/// How long a new connection is protected before it must have proven itself.
pub const GRACE: Duration = Duration::from_secs(1);

/// How long a newcomer may wait for a slot before it is refused with `Busy`.
pub const ADMISSION_WAIT: Duration = Duration::from_secs(5);

/// A connection's number in the table.
pub type Id = u64;

struct Slot {
    accepted: Instant,
    executing: bool,
    proven: bool,
    /// Fired when the connection must give way.
    evict: Option<oneshot::Sender<()>>,
}

/// What to do with a newcomer.
#[derive(Debug)]
pub enum Decision {
    /// It has a slot (perhaps `displaced`'s); `evicted` fires if it must give way in turn.
    Admit { id: Id, evicted: oneshot::Receiver<()>, displaced: Option<Id> },
    /// Full, but some unproven connection can give way by `until` (`None`: once one of them
    /// finishes executing a request).
    Wait { until: Option<Instant> },
    /// Full of proven connections.
    Refuse,
}

pub struct Table {
    max: usize,
    grace: Duration,
    next_id: Id,
    slots: HashMap<Id, Slot>,
}

impl Table {
    pub fn new(max: usize, grace: Duration) -> Table {
        Table { max: max.max(1), grace, next_id: 1, slots: HashMap::new() }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Finds a slot for a connection accepted at `now`, displacing an unproven one if needed.
    pub fn admit(&mut self, now: Instant) -> Decision {
        let mut displaced = None;
        if self.slots.len() >= self.max {
            let candidates = || self.slots.iter().filter(|(_, s)| !s.proven && !s.executing);
            let oldest = candidates().min_by_key(|(id, s)| (s.accepted, **id)).map(|(id, s)| (*id, s.accepted));
            match oldest {
                Some((id, accepted)) if now.saturating_duration_since(accepted) >= self.grace => {
                    let mut slot = self.slots.remove(&id).expect("just found");
                    if let Some(evict) = slot.evict.take() {
                        let _ = evict.send(());
                    }
                    displaced = Some(id);
                }
                Some((_, accepted)) => return Decision::Wait { until: Some(accepted + self.grace) },
                None if self.slots.values().any(|s| !s.proven) => return Decision::Wait { until: None },
                None => return Decision::Refuse,
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let (evict, evicted) = oneshot::channel();
        self.slots.insert(id, Slot { accepted: now, executing: false, proven: false, evict: Some(evict) });
        Decision::Admit { id, evicted, displaced }
    }

    /// A complete request arrived on `id`: it is not displaced while it executes. False if
    /// the connection has already given way.
    pub fn begin(&mut self, id: Id) -> bool {
        match self.slots.get_mut(&id) {
            Some(slot) => {
                slot.executing = true;
                true
            }
            None => false,
        }
    }

    /// The request on `id` was executed; `proven`: admitted and signed by a key with a role.
    pub fn executed(&mut self, id: Id, proven: bool) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.executing = false;
            slot.proven |= proven;
        }
    }

    /// The connection closed (or gave way).
    pub fn remove(&mut self, id: Id) {
        self.slots.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(d: Decision) -> (Id, oneshot::Receiver<()>, Option<Id>) {
        match d {
            Decision::Admit { id, evicted, displaced } => (id, evicted, displaced),
            other => panic!("expected a slot, got {other:?}"),
        }
    }

    #[test]
    fn a_full_table_displaces_the_oldest_unproven_connection_after_the_grace() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(1);
        let mut table = Table::new(3, grace);
        let (a, mut a_evicted, _) = admitted(table.admit(t0));
        let (b, _b_evicted, _) = admitted(table.admit(t0 + Duration::from_millis(10)));
        let (c, _c_evicted, _) = admitted(table.admit(t0 + Duration::from_millis(20)));
        assert_eq!(table.len(), 3);
        // Everyone is young: the newcomer waits until the oldest is past its grace.
        match table.admit(t0 + Duration::from_millis(500)) {
            Decision::Wait { until } => assert_eq!(until, Some(t0 + grace)),
            other => panic!("{other:?}"),
        }
        assert!(a_evicted.try_recv().is_err());
        // Past it: a gives way and is told so.
        let (d, _d_evicted, displaced) = admitted(table.admit(t0 + grace));
        assert_eq!(displaced, Some(a));
        assert_eq!(a_evicted.try_recv(), Ok(()));
        assert!(!table.begin(a), "a has no slot any more");
        // A connection executing a request, or proven, is not displaced.
        assert!(table.begin(b));
        assert!(table.begin(c));
        table.executed(c, true);
        let ms = Duration::from_millis;
        match table.admit(t0 + grace + ms(500)) {
            Decision::Wait { until } => assert_eq!(until, Some(t0 + grace + grace), "when d is old enough"),
            other => panic!("{other:?}"),
        }
        let (e, _e_evicted, displaced) = admitted(table.admit(t0 + grace + grace));
        assert_eq!(displaced, Some(d), "d was the only one that could give way");
        // b (executing), c (proven) and the young e remain; then b finishes, unproven.
        match table.admit(t0 + grace + grace + ms(100)) {
            Decision::Wait { until } => assert_eq!(until, Some(t0 + 3 * grace), "when e is old enough"),
            other => panic!("{other:?}"),
        }
        table.executed(b, false);
        let (_, _, displaced) = admitted(table.admit(t0 + grace + grace + ms(100)));
        assert_eq!(displaced, Some(b), "the oldest unproven one, never the proven c");
        assert!(table.begin(c) && table.begin(e));
    }

    #[test]
    fn a_table_of_proven_connections_refuses_and_an_executing_one_makes_the_newcomer_wait() {
        let t0 = Instant::now();
        let mut table = Table::new(2, Duration::from_secs(1));
        let (a, _ae, _) = admitted(table.admit(t0));
        let (b, _be, _) = admitted(table.admit(t0));
        for id in [a, b] {
            assert!(table.begin(id));
            table.executed(id, true);
        }
        assert!(matches!(table.admit(t0 + Duration::from_secs(60)), Decision::Refuse));
        table.remove(a);
        let (c, _ce, displaced) = admitted(table.admit(t0 + Duration::from_secs(60)));
        assert_eq!(displaced, None);
        assert!(table.begin(c));
        assert!(matches!(table.admit(t0 + Duration::from_secs(70)), Decision::Wait { until: None }));
        table.executed(c, false);
        let (_, _, displaced) = admitted(table.admit(t0 + Duration::from_secs(70)));
        assert_eq!(displaced, Some(c));
        assert_eq!(table.len(), 2);
    }
}
