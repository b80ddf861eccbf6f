//! Token buckets for renewable resources (restrictions.md §4.1): a program may burst one
//! second's worth and its long-run rate stays at most the limit.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use crate::Resource;

/// Time source of the buckets; replaceable so tests are exact and fast.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    /// Blocks the calling thread for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock: `Instant::now` and `thread::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration)
    }
}

/// A renewable resource whose limit is 0 cannot be used at all.
/// Display: `the random limit is 0` (the API prefixes the function name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forbidden {
    pub resource: Resource,
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} limit is 0", self.resource)
    }
}

impl std::error::Error for Forbidden {}

struct Usage {
    /// Units charged and not yet drained.
    used: f64,
    /// Every unit ever charged, for the usage report.
    total: f64,
    /// Time of the last update.
    at: Instant,
}

/// One renewable resource: usage `u`, last update `t`, limit `L` units per second.
pub struct Bucket {
    resource: Resource,
    limit: f64,
    /// Serialises updates; never held while sleeping, so other threads keep updating.
    usage: Mutex<Usage>,
    clock: Arc<dyn Clock>,
}

impl Bucket {
    pub fn new(resource: Resource, limit: f64) -> Bucket {
        Bucket::with_clock(resource, limit, Arc::new(SystemClock))
    }

    pub fn with_clock(resource: Resource, limit: f64, clock: Arc<dyn Clock>) -> Bucket {
        let limit = if limit.is_finite() && limit > 0.0 { limit } else { 0.0 };
        let usage = Mutex::new(Usage { used: 0.0, total: 0.0, at: clock.now() });
        Bucket { resource, limit, usage, clock }
    }

    pub fn resource(&self) -> Resource {
        self.resource
    }

    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// Limit 0: every charge is refused.
    pub fn is_forbidden(&self) -> bool {
        self.limit == 0.0
    }

    fn check(&self) -> Result<(), Forbidden> {
        if self.is_forbidden() {
            Err(Forbidden { resource: self.resource })
        } else {
            Ok(())
        }
    }

    /// `u := max(0, u − L·(now − t)); t := now`, then `q` added.
    fn update(&self, add: f64) -> f64 {
        let mut usage = self.usage.lock();
        let now = self.clock.now();
        let elapsed = now.saturating_duration_since(usage.at).as_secs_f64();
        usage.used = (usage.used - self.limit * elapsed).max(0.0) + add;
        usage.total += add;
        usage.at = now;
        usage.used
    }

    /// Sleeps while `u > L`, `(u − L)/L` seconds at a time, with the lock released.
    fn wait_within(&self) {
        loop {
            let used = self.update(0.0);
            if used <= self.limit {
                return;
            }
            let secs = (used - self.limit) / self.limit;
            // Round up to whole nanoseconds so a tiny excess still makes progress.
            let nanos = (secs * 1e9).ceil().clamp(1.0, u64::MAX as f64) as u64;
            self.clock.sleep(Duration::from_nanos(nanos));
        }
    }

    /// Whether an operation could start now without waiting (false at limit 0).
    pub fn is_within(&self) -> bool {
        !self.is_forbidden() && self.update(0.0) <= self.limit
    }

    /// Before an operation: waits until the usage is within the limit.
    pub fn before(&self) -> Result<(), Forbidden> {
        self.check()?;
        self.wait_within();
        Ok(())
    }

    /// After an operation: adds the amount actually used and waits the same way. Negative or
    /// non-finite amounts count as 0.
    pub fn after(&self, amount: f64) -> Result<(), Forbidden> {
        self.check()?;
        let amount = if amount.is_finite() && amount > 0.0 { amount } else { 0.0 };
        self.update(amount);
        self.wait_within();
        Ok(())
    }

    /// `before`, then `after(amount)`: for operations whose amount is known up front.
    pub fn charge(&self, amount: f64) -> Result<(), Forbidden> {
        self.before()?;
        self.after(amount)
    }

    /// Every unit charged so far.
    pub fn total(&self) -> f64 {
        self.usage.lock().total
    }

    /// The current (decayed) usage, for diagnostics and tests.
    pub fn usage(&self) -> f64 {
        self.update(0.0)
    }
}

/// A clock for tests: time only moves when a thread sleeps (or `advance` is called).
#[cfg(test)]
pub(crate) mod test_clock {
    use super::*;

    pub struct FakeClock {
        start: Instant,
        offset: Mutex<Duration>,
        pub slept: Mutex<Vec<Duration>>,
    }

    impl FakeClock {
        pub fn new() -> Arc<FakeClock> {
            Arc::new(FakeClock { start: Instant::now(), offset: Mutex::new(Duration::ZERO), slept: Mutex::new(Vec::new()) })
        }

        pub fn advance(&self, d: Duration) {
            *self.offset.lock() += d;
        }

        pub fn elapsed(&self) -> f64 {
            self.offset.lock().as_secs_f64()
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock()
        }

        fn sleep(&self, d: Duration) {
            self.slept.lock().push(d);
            self.advance(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{test_clock::FakeClock, *};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn burst_of_one_second_then_waits_at_the_limit_rate() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Filewrite, 100.0, clock.clone());
        // One second's worth passes without waiting.
        bucket.charge(100.0).unwrap();
        assert_eq!(clock.elapsed(), 0.0);
        // 50 more: u = 150 > 100, so the thread sleeps (150 − 100)/100 = 0.5 s.
        bucket.charge(50.0).unwrap();
        assert!(close(clock.elapsed(), 0.5), "{}", clock.elapsed());
        assert!(close(bucket.usage(), 100.0));
        // Long run: 1000 more units take about 10 s.
        for _ in 0..100 {
            bucket.charge(10.0).unwrap();
        }
        assert!(close(clock.elapsed(), 10.5), "{}", clock.elapsed());
    }

    #[test]
    fn before_waits_only_when_already_over() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Random, 10.0, clock.clone());
        bucket.after(30.0).unwrap();
        // after() waited (30 − 10)/10 = 2 s, leaving exactly the limit.
        assert!(close(clock.elapsed(), 2.0));
        bucket.before().unwrap();
        assert!(close(clock.elapsed(), 2.0), "at the limit is not over it");
        bucket.after(5.0).unwrap();
        assert!(close(clock.elapsed(), 2.5));
    }

    #[test]
    fn is_within_tells_without_waiting() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Looprecv, 10.0, clock.clone());
        assert!(bucket.is_within());
        bucket.update(25.0);
        assert!(!bucket.is_within(), "25 used of 10/s");
        assert_eq!(clock.elapsed(), 0.0, "asking never waits");
        clock.advance(Duration::from_millis(1500));
        assert!(bucket.is_within(), "15 units drained: back at the limit");
        assert!(!Bucket::with_clock(Resource::Netrecv, 0.0, clock).is_within(), "limit 0 is never within");
    }

    #[test]
    fn usage_decays_over_idle_time_but_not_below_zero() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Lograte, 10.0, clock.clone());
        bucket.after(8.0).unwrap();
        clock.advance(Duration::from_millis(500));
        assert!(close(bucket.usage(), 3.0));
        clock.advance(Duration::from_secs(100));
        assert_eq!(bucket.usage(), 0.0);
        // Idle time does not bank credit beyond one second's burst.
        bucket.charge(15.0).unwrap();
        assert!(close(clock.elapsed(), 100.5 + 0.5));
    }

    #[test]
    fn zero_limit_is_forbidden() {
        let bucket = Bucket::new(Resource::Random, 0.0);
        assert!(bucket.is_forbidden());
        let err = bucket.charge(1.0).unwrap_err();
        assert_eq!(err.to_string(), "the random limit is 0");
        assert_eq!(bucket.before(), Err(Forbidden { resource: Resource::Random }));
        assert!(!Bucket::new(Resource::Random, 0.001).is_forbidden());
    }

    #[test]
    fn bad_amounts_are_ignored() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Netsend, 10.0, clock.clone());
        bucket.after(-5.0).unwrap();
        bucket.after(f64::NAN).unwrap();
        assert_eq!(bucket.usage(), 0.0);
    }

    #[test]
    fn real_clock_rate_within_bounds() {
        // 1000 units/s, 1000 burst + 200 more ⇒ about 0.2 s.
        let bucket = Bucket::new(Resource::Fileread, 1000.0);
        let start = Instant::now();
        bucket.charge(1000.0).unwrap();
        assert!(start.elapsed() < Duration::from_millis(50));
        for _ in 0..20 {
            bucket.charge(10.0).unwrap();
        }
        let took = start.elapsed().as_secs_f64();
        assert!((0.19..0.6).contains(&took), "{took}");
    }

    #[test]
    fn sleeping_threads_do_not_block_other_updates() {
        // One thread sleeps ~0.3 s; meanwhile another thread's update must not wait for it.
        let bucket = Arc::new(Bucket::new(Resource::Netsend, 100.0));
        bucket.after(100.0).unwrap();
        let sleeper = {
            let bucket = bucket.clone();
            std::thread::spawn(move || bucket.after(30.0).unwrap())
        };
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        let usage = bucket.usage();
        assert!(start.elapsed() < Duration::from_millis(100), "usage() waited for the sleeper");
        assert!(usage > 100.0, "{usage}");
        sleeper.join().unwrap();
    }
}
