//! The nanny (restrictions.md §4): the part of the sandbox that meters renewable and
//! fungible resources and checks ports for one vessel. Shared by all its threads in an Arc.
//! CPU (supervisor), memory (allocator) and disk (vessel directory) are enforced elsewhere.

use std::{sync::Arc, time::Duration};

use crate::{
    fungible::{Exhausted, Fungibles},
    renewable::{Bucket, Clock, Forbidden, SystemClock},
    Resource, ResourceClass, Restrictions,
};

/// Meters one vessel's resources.
pub struct Nanny {
    restrictions: Arc<Restrictions>,
    /// One bucket per renewable resource except cpu, indexed by `Resource::index`.
    buckets: Vec<Option<Bucket>>,
    fungibles: Fungibles,
}

impl Nanny {
    pub fn new(restrictions: Arc<Restrictions>) -> Nanny {
        Nanny::with_clock(restrictions, Arc::new(SystemClock))
    }

    /// As [`new`](Self::new) with a replaceable time source (tests).
    pub fn with_clock(restrictions: Arc<Restrictions>, clock: Arc<dyn Clock>) -> Nanny {
        let buckets = Resource::ALL
            .iter()
            .map(|&r| {
                (r.class() == ResourceClass::Renewable && r != Resource::Cpu)
                    .then(|| Bucket::with_clock(r, restrictions.limit(r), clock.clone()))
            })
            .collect();
        let fungibles = Fungibles::new(|r| restrictions.value(r).whole_units());
        Nanny { restrictions, buckets, fungibles }
    }

    pub fn restrictions(&self) -> &Restrictions {
        &self.restrictions
    }

    /// # Panics
    /// If `resource` is not metered by a bucket (a bug in the caller).
    fn bucket(&self, resource: Resource) -> &Bucket {
        self.buckets[resource.index()].as_ref().unwrap_or_else(|| panic!("'{resource}' is not a renewable resource metered by the nanny"))
    }

    /// Whether a renewable resource has limit 0 and so cannot be used at all.
    pub fn is_forbidden(&self, resource: Resource) -> bool {
        self.bucket(resource).is_forbidden()
    }

    /// Whether an operation charged to `resource` could start now without waiting.
    pub fn is_within(&self, resource: Resource) -> bool {
        self.bucket(resource).is_within()
    }

    /// Before an operation: waits while `resource` is over its limit.
    pub fn charge_before(&self, resource: Resource) -> Result<(), Forbidden> {
        self.bucket(resource).before()
    }

    /// After an operation: charges the amount used and waits while over the limit.
    pub fn charge_after(&self, resource: Resource, amount: f64) -> Result<(), Forbidden> {
        self.bucket(resource).after(amount)
    }

    /// Wait before, charge `amount`, wait after. `charge(r, 0.0)` only waits.
    pub fn charge(&self, resource: Resource, amount: f64) -> Result<(), Forbidden> {
        self.bucket(resource).charge(amount)
    }

    /// Before an operation of up to `wanted` units done in pieces of at least `piece`:
    /// waits for room and takes up to `wanted` of it (see [`Bucket::take`]).
    pub fn take(&self, resource: Resource, wanted: f64, piece: f64) -> Result<f64, Forbidden> {
        self.bucket(resource).take(wanted, piece)
    }

    /// Gives back what a [`take`](Self::take) granted and the operation did not use.
    pub fn refund(&self, resource: Resource, unused: f64) {
        self.bucket(resource).refund(unused)
    }

    /// Whether `resource` has room for `units` now, without waiting or taking them.
    pub fn has_room(&self, resource: Resource, units: f64) -> bool {
        self.bucket(resource).has_room(units)
    }

    /// Takes one item of a fungible resource or reports the limit.
    pub fn try_acquire(&self, resource: Resource) -> Result<(), Exhausted> {
        self.fungibles.try_acquire(resource)
    }

    /// Takes one item, waiting for a release if none is free.
    pub fn acquire_wait(&self, resource: Resource) {
        self.fungibles.acquire_wait(resource)
    }

    /// Takes one item, waiting at most `timeout`; true if taken.
    pub fn acquire_timeout(&self, resource: Resource, timeout: Duration) -> bool {
        self.fungibles.acquire_timeout(resource, timeout)
    }

    /// Gives one item back; never underflows.
    pub fn release(&self, resource: Resource) {
        self.fungibles.release(resource)
    }

    pub fn in_use(&self, resource: Resource) -> u64 {
        self.fungibles.in_use(resource)
    }

    /// What the program used of each renewable (units charged in all) and fungible (most
    /// held at once) resource the nanny meters, in §3 order.
    pub fn usage(&self) -> Vec<(Resource, f64)> {
        Resource::ALL
            .iter()
            .filter_map(|&r| match r.class() {
                ResourceClass::Renewable if r != Resource::Cpu => Some((r, self.bucket(r).total())),
                ResourceClass::Fungible => Some((r, self.fungibles.peak(r) as f64)),
                _ => None,
            })
            .collect()
    }

    /// Whether an explicitly named local port is in the `messport`/`connport` set. Port 0
    /// (let the OS choose) needs no check and is reported as allowed.
    pub fn port_allowed(&self, resource: Resource, port: u16) -> bool {
        debug_assert!(resource.is_port(), "'{resource}' is not a port resource");
        port == 0 || self.restrictions.ports(resource).contains(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, renewable::test_clock::FakeClock};

    fn nanny(extra: &str) -> (Nanny, Arc<FakeClock>) {
        let text = format!("resource cpu 1\nresource memory 1000\nresource diskused 1000\nresource events 2\n{extra}");
        let clock = FakeClock::new();
        (Nanny::with_clock(Arc::new(parse(&text).unwrap()), clock.clone()), clock)
    }

    #[test]
    fn usage_reports_totals_and_peaks() {
        let (n, _clock) = nanny("resource lograte 100\n");
        n.charge(Resource::Lograte, 30.0).unwrap();
        n.charge(Resource::Lograte, 12.0).unwrap();
        n.try_acquire(Resource::Events).unwrap();
        n.try_acquire(Resource::Events).unwrap();
        n.release(Resource::Events);
        let usage: std::collections::HashMap<_, _> = n.usage().into_iter().collect();
        assert_eq!(usage[&Resource::Lograte], 42.0);
        assert_eq!(usage[&Resource::Events], 2.0);
        assert_eq!(usage[&Resource::Filesopened], 0.0);
        assert!(!usage.contains_key(&Resource::Cpu) && !usage.contains_key(&Resource::Messport));
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Nanny>();
    }

    #[test]
    fn renewable_charges_wait_and_unmentioned_ones_are_forbidden() {
        let (n, clock) = nanny("resource netsend 1000\nresource lograte 10.5\n");
        n.charge(Resource::Netsend, 1000.0).unwrap();
        n.charge_before(Resource::Netsend).unwrap();
        n.charge_after(Resource::Netsend, 500.0).unwrap();
        assert!((clock.elapsed() - 0.5).abs() < 1e-6, "{}", clock.elapsed());
        assert!(!n.is_forbidden(Resource::Lograte));
        assert!(n.is_forbidden(Resource::Random));
        assert_eq!(n.charge(Resource::Random, 1.0).unwrap_err().to_string(), "the random limit is 0");
        assert_eq!(n.charge_before(Resource::Looprecv).unwrap_err().resource, Resource::Looprecv);
    }

    #[test]
    #[should_panic(expected = "not a renewable resource")]
    fn cpu_is_not_metered_here() {
        let (n, _) = nanny("");
        let _ = n.charge(Resource::Cpu, 1.0);
    }

    #[test]
    fn fungible_limits_come_from_the_file() {
        let (n, _) = nanny("resource filesopened 1\n");
        n.try_acquire(Resource::Events).unwrap();
        n.try_acquire(Resource::Events).unwrap();
        let err = n.try_acquire(Resource::Events).unwrap_err();
        assert_eq!(format!("settimer: {err}"), "settimer: events limit reached (2 of 2 in use)");
        n.release(Resource::Events);
        n.acquire_wait(Resource::Events);
        assert_eq!(n.in_use(Resource::Events), 2);
        n.try_acquire(Resource::Filesopened).unwrap();
        assert!(n.try_acquire(Resource::Filesopened).is_err());
        assert!(n.try_acquire(Resource::Insockets).is_err(), "unmentioned: 0");
        assert!(!n.acquire_timeout(Resource::Outsockets, Duration::from_millis(5)));
    }

    #[test]
    fn ports() {
        let (n, _) = nanny("resource messport 12345\nresource connport 63100-63199\n");
        assert!(n.port_allowed(Resource::Messport, 12345));
        assert!(!n.port_allowed(Resource::Messport, 12346));
        assert!(!n.port_allowed(Resource::Connport, 12345));
        assert!(n.port_allowed(Resource::Connport, 63199));
        assert!(n.port_allowed(Resource::Connport, 0), "port 0 lets the OS choose");
        assert_eq!(n.restrictions().ports(Resource::Connport).len(), 100);
    }
}
