//! Counters for fungible resources (restrictions.md §4.5): items held at the same time.

use std::{fmt, time::Duration};

use parking_lot::{Condvar, Mutex};

use crate::{Resource, ResourceClass};

/// Acquiring at the limit. Display: `events limit reached (10 of 10 in use)` (the API
/// prefixes the function name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub resource: Resource,
    pub limit: u64,
    pub in_use: u64,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} limit reached ({} of {} in use)", self.resource, self.in_use, self.limit)
    }
}

impl std::error::Error for Exhausted {}

/// One counter: items in use, and a condvar for threads waiting for a free item.
struct Counter {
    limit: u64,
    in_use: Mutex<u64>,
    /// Most items ever held at once, for the usage report.
    peak: std::sync::atomic::AtomicU64,
    freed: Condvar,
}

/// The fungible resources `events`, `filesopened`, `insockets`, `outsockets`.
pub struct Fungibles {
    counters: [Counter; 4],
}

const FUNGIBLE: [Resource; 4] = [Resource::Events, Resource::Filesopened, Resource::Insockets, Resource::Outsockets];

impl Fungibles {
    /// `limit` gives the whole-unit limit of each fungible resource.
    pub fn new(limit: impl Fn(Resource) -> u64) -> Fungibles {
        Fungibles {
            counters: FUNGIBLE.map(|r| Counter { limit: limit(r), in_use: Mutex::new(0), peak: Default::default(), freed: Condvar::new() }),
        }
    }

    /// # Panics
    /// If `resource` is not fungible: that is a bug in the caller.
    fn counter(&self, resource: Resource) -> &Counter {
        assert_eq!(resource.class(), ResourceClass::Fungible, "'{resource}' is not a fungible resource");
        let i = FUNGIBLE.iter().position(|&r| r == resource).expect("every fungible resource has a counter");
        &self.counters[i]
    }

    /// Takes one item, or fails at the limit without waiting.
    pub fn try_acquire(&self, resource: Resource) -> Result<(), Exhausted> {
        let c = self.counter(resource);
        let mut in_use = c.in_use.lock();
        if *in_use < c.limit {
            *in_use += 1;
            c.record_peak(*in_use);
            Ok(())
        } else {
            Err(Exhausted { resource, limit: c.limit, in_use: *in_use })
        }
    }

    /// Takes one item, waiting as long as needed for one to be released (incoming callbacks
    /// wait for a free event). With a limit of 0 this never returns.
    pub fn acquire_wait(&self, resource: Resource) {
        let c = self.counter(resource);
        let mut in_use = c.in_use.lock();
        while *in_use >= c.limit {
            c.freed.wait(&mut in_use);
        }
        *in_use += 1;
        c.record_peak(*in_use);
    }

    /// As [`acquire_wait`](Self::acquire_wait) but gives up after `timeout`, so a listener
    /// thread can also notice that it should stop. True if an item was taken.
    pub fn acquire_timeout(&self, resource: Resource, timeout: Duration) -> bool {
        let c = self.counter(resource);
        let deadline = std::time::Instant::now() + timeout;
        let mut in_use = c.in_use.lock();
        while *in_use >= c.limit {
            if c.freed.wait_until(&mut in_use, deadline).timed_out() && *in_use >= c.limit {
                return false;
            }
        }
        *in_use += 1;
        c.record_peak(*in_use);
        true
    }

    /// Gives one item back. Releasing with nothing in use does nothing (the count never
    /// underflows); callers still track their own items so a double release is harmless.
    pub fn release(&self, resource: Resource) {
        let c = self.counter(resource);
        let mut in_use = c.in_use.lock();
        if *in_use > 0 {
            *in_use -= 1;
            c.freed.notify_one();
        }
    }

    pub fn in_use(&self, resource: Resource) -> u64 {
        *self.counter(resource).in_use.lock()
    }

    pub fn limit(&self, resource: Resource) -> u64 {
        self.counter(resource).limit
    }

    /// Most items held at once so far.
    pub fn peak(&self, resource: Resource) -> u64 {
        self.counter(resource).peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Counter {
    fn record_peak(&self, in_use: u64) {
        self.peak.fetch_max(in_use, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            atomic::{AtomicU64, Ordering},
            Arc,
        },
        time::Instant,
    };

    use super::*;

    fn counters(events: u64) -> Fungibles {
        Fungibles::new(|r| if r == Resource::Events { events } else { 2 })
    }

    #[test]
    fn exhaustion_and_release() {
        let f = counters(3);
        for _ in 0..3 {
            f.try_acquire(Resource::Events).unwrap();
        }
        let err = f.try_acquire(Resource::Events).unwrap_err();
        assert_eq!(err, Exhausted { resource: Resource::Events, limit: 3, in_use: 3 });
        assert_eq!(err.to_string(), "events limit reached (3 of 3 in use)");
        assert_eq!(f.in_use(Resource::Events), 3);
        f.release(Resource::Events);
        assert_eq!(f.in_use(Resource::Events), 2);
        f.try_acquire(Resource::Events).unwrap();
        // Other counters are independent.
        assert_eq!(f.in_use(Resource::Filesopened), 0);
        f.try_acquire(Resource::Outsockets).unwrap();
        f.try_acquire(Resource::Outsockets).unwrap();
        assert!(f.try_acquire(Resource::Outsockets).is_err());
        assert_eq!(f.in_use(Resource::Insockets), 0);
    }

    #[test]
    fn releasing_more_than_held_never_underflows() {
        let f = counters(1);
        f.release(Resource::Events);
        f.release(Resource::Events);
        assert_eq!(f.in_use(Resource::Events), 0);
        f.try_acquire(Resource::Events).unwrap();
        assert!(f.try_acquire(Resource::Events).is_err(), "the spurious releases gave no extra item");
    }

    #[test]
    fn zero_limit_always_exhausted() {
        let f = Fungibles::new(|_| 0);
        assert_eq!(f.try_acquire(Resource::Insockets).unwrap_err().to_string(), "insockets limit reached (0 of 0 in use)");
        assert!(!f.acquire_timeout(Resource::Insockets, Duration::from_millis(20)));
    }

    #[test]
    #[should_panic(expected = "not a fungible resource")]
    fn non_fungible_resource_is_a_bug() {
        counters(1).in_use(Resource::Cpu);
    }

    #[test]
    fn acquire_wait_blocks_until_release() {
        let f = Arc::new(counters(1));
        f.try_acquire(Resource::Events).unwrap();
        let waiter = {
            let f = f.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                f.acquire_wait(Resource::Events);
                start.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(f.in_use(Resource::Events), 1);
        f.release(Resource::Events);
        let waited = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(90), "{waited:?}");
        assert_eq!(f.in_use(Resource::Events), 1, "the waiter holds the item now");
        assert!(!f.acquire_timeout(Resource::Events, Duration::from_millis(10)));
    }

    #[test]
    fn concurrent_waiters_never_exceed_the_limit() {
        const LIMIT: u64 = 3;
        let f = Arc::new(counters(LIMIT));
        let running = Arc::new(AtomicU64::new(0));
        let peak = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let (f, running, peak) = (f.clone(), running.clone(), peak.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        f.acquire_wait(Resource::Events);
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(200));
                        running.fetch_sub(1, Ordering::SeqCst);
                        f.release(Resource::Events);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(f.in_use(Resource::Events), 0);
        assert!(peak.load(Ordering::SeqCst) <= LIMIT);
        assert!(peak.load(Ordering::SeqCst) >= 2, "threads did run concurrently");
    }
}
