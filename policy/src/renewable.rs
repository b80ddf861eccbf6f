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

    /// `u := max(0, u − L·(now − t)); t := now`.
    fn drain(&self, usage: &mut Usage) {
        let now = self.clock.now();
        let elapsed = now.saturating_duration_since(usage.at).as_secs_f64();
        usage.used = (usage.used - self.limit * elapsed).max(0.0);
        usage.at = now;
    }

    /// Drains, then adds `add`; returns the new usage.
    fn update(&self, add: f64) -> f64 {
        let mut usage = self.usage.lock();
        self.drain(&mut usage);
        usage.used += add;
        usage.total += add;
        usage.used
    }

    /// Sleeps as long as the bucket takes to drain `units`.
    fn sleep_for(&self, units: f64) {
        let secs = units / self.limit;
        // Round up to whole nanoseconds so a tiny excess still makes progress.
        let nanos = (secs * 1e9).ceil().clamp(1.0, u64::MAX as f64) as u64;
        self.clock.sleep(Duration::from_nanos(nanos));
    }

    /// Sleeps while `u > L`, `(u − L)/L` seconds at a time, with the lock released.
    fn wait_within(&self) {
        loop {
            let used = self.update(0.0);
            if used <= self.limit {
                return;
            }
            self.sleep_for(used - self.limit);
        }
    }

    /// Whether an operation could start now without waiting (false at limit 0).
    pub fn is_within(&self) -> bool {
        !self.is_forbidden() && self.update(0.0) <= self.limit
    }

    /// Whether `units` fit in the bucket now (false at limit 0); neither waits nor takes.
    pub fn has_room(&self, units: f64) -> bool {
        !self.is_forbidden() && self.update(0.0) + units <= self.limit
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

    /// Before an operation of up to `wanted` units that may be done in pieces of at least
    /// `piece` units (`piece == wanted` when it cannot be split): waits until the bucket
    /// has room for a piece, takes up to `wanted` of the room and returns how much it took.
    /// The caller does that much of the operation and [`refund`](Self::refund)s what it did
    /// not use.
    ///
    /// Taking before the operation is what holds the rate over any window, whatever the
    /// size of one call: at most the burst `L` plus `L` per second goes out, where charging
    /// afterwards let one 5 MB call out at once and only then waited. A piece larger than
    /// `L` waits for an empty bucket. Pieces are at least `L/8` (so a long transfer flows
    /// in steady pieces rather than in bursts of one byte).
    pub fn take(&self, wanted: f64, piece: f64) -> Result<f64, Forbidden> {
        self.check()?;
        let wanted = if wanted.is_finite() && wanted > 0.0 { wanted } else { 0.0 };
        let piece = if piece.is_finite() && piece > 0.0 { piece.min(wanted) } else { 0.0 };
        let need = wanted.min(piece.max(self.limit / 8.0));
        loop {
            let mut usage = self.usage.lock();
            self.drain(&mut usage);
            let room = self.limit - usage.used;
            let (granted, missing) = if need <= self.limit { (wanted.min(room.max(0.0)), need - room) } else { (need, usage.used) };
            if missing <= 0.0 {
                usage.used += granted;
                usage.total += granted;
                return Ok(granted);
            }
            drop(usage);
            self.sleep_for(missing);
        }
    }

    /// Gives back units a [`take`](Self::take) granted and the operation did not use.
    pub fn refund(&self, unused: f64) {
        if unused.is_finite() && unused > 0.0 {
            let mut usage = self.usage.lock();
            self.drain(&mut usage);
            usage.used = (usage.used - unused).max(0.0);
            usage.total = (usage.total - unused).max(0.0);
        }
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

    /// Units taken by `take` calls, pieces `piece`, in time order (fake clock): the most
    /// that any window of `window` seconds saw.
    fn busiest_window(bucket: &Bucket, clock: &FakeClock, calls: &[(f64, f64)], window: f64) -> f64 {
        let mut taken = Vec::new();
        for &(wanted, piece) in calls {
            let mut left = wanted;
            while left > 0.0 {
                let got = bucket.take(left, piece).unwrap();
                taken.push((clock.elapsed(), got));
                left -= got;
            }
        }
        // Sliding window over the pieces, which are in time order.
        let (mut most, mut sum, mut first) = (0.0f64, 0.0, 0);
        for &(at, got) in &taken {
            sum += got;
            while taken[first].0 <= at - window {
                sum -= taken[first].1;
                first += 1;
            }
            most = most.max(sum);
        }
        most
    }

    #[test]
    fn one_large_call_is_held_to_the_rate_over_any_window() {
        // lograte 1000: one 5 MB print. Charged afterwards it went out at once.
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Lograte, 1000.0, clock.clone());
        let most = busiest_window(&bucket, &clock, &[(5_000_000.0, 1.0)], 3.0);
        assert!(most <= 1000.0 + 3.0 * 1000.0 + 1e-6, "{most} units in 3 s");
        assert!(close(clock.elapsed(), 4999.0), "the whole call took {} s", clock.elapsed());
        assert!(close(bucket.total(), 5_000_000.0));
    }

    #[test]
    fn an_indivisible_piece_beyond_the_burst_waits_for_an_empty_bucket() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Loopsend, 1000.0, clock.clone());
        assert_eq!(bucket.take(300.0, 300.0).unwrap(), 300.0);
        // 4,000 units at once: only once the 300 have drained (0.3 s), then all of it.
        assert_eq!(bucket.take(4000.0, 4000.0).unwrap(), 4000.0);
        assert!(close(clock.elapsed(), 0.3), "{}", clock.elapsed());
        // A small piece waits until it fits under the limit again: 3,010 units drained, 3.01 s.
        assert_eq!(bucket.take(10.0, 10.0).unwrap(), 10.0);
        assert!(close(clock.elapsed(), 3.31), "{}", clock.elapsed());
    }

    #[test]
    fn take_grants_the_room_and_refund_gives_back_the_unused() {
        let clock = FakeClock::new();
        let bucket = Bucket::with_clock(Resource::Netsend, 1000.0, clock.clone());
        bucket.after(900.0).unwrap();
        // Room 100 ≥ a piece of max(1, 1000/8 = 125)? No: waits 25 ms for 125, then takes all the room.
        assert!(close(bucket.take(10_000.0, 1.0).unwrap(), 125.0));
        assert!(close(clock.elapsed(), 0.025), "{}", clock.elapsed());
        assert!(close(bucket.usage(), 1000.0));
        bucket.refund(25.0);
        assert!(close(bucket.usage(), 975.0));
        assert!(close(bucket.total(), 1000.0));
        // A small call takes only what it wants.
        clock.advance(Duration::from_secs(1));
        assert_eq!(bucket.take(7.0, 1.0).unwrap(), 7.0);
        assert_eq!(Bucket::new(Resource::Random, 0.0).take(1.0, 1.0), Err(Forbidden { resource: Resource::Random }));
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
