//! Per-extension runtime statistics, for the health monitor and dashboards.
//!
//! Guarantees: every call into an extension (successful, failed by the guest,
//! or stopped by the kernel) is counted once with its fuel (CPU), its wall
//! time and the instance's linear memory; recording is lock-free and costs a
//! few atomic adds. Counters only grow: a reader compares two snapshots to get
//! rates over an interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (microseconds) of the latency buckets; the last is open.
pub const LATENCY_BUCKETS_US: [u64; 12] = [
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    u64::MAX,
];

#[derive(Default)]
pub(crate) struct CallStats {
    calls: AtomicU64,
    errors: AtomicU64,
    stopped: AtomicU64,
    fuel: AtomicU64,
    micros: AtomicU64,
    peak_memory: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
}

/// How a call ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Ok,
    /// The guest returned its own error.
    GuestError,
    /// The kernel stopped the instance (trap, violation, budget).
    Stopped,
}

impl CallStats {
    pub fn record(&self, ending: Ending, fuel: u64, elapsed: Duration, memory_bytes: u64) {
        let micros = elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
        self.calls.fetch_add(1, Ordering::Relaxed);
        match ending {
            Ending::Ok => {}
            Ending::GuestError => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
            Ending::Stopped => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.stopped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fuel.fetch_add(fuel, Ordering::Relaxed);
        self.micros.fetch_add(micros, Ordering::Relaxed);
        self.peak_memory.fetch_max(memory_bytes, Ordering::Relaxed);
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(LATENCY_BUCKETS_US.len() - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            stopped: self.stopped.load(Ordering::Relaxed),
            fuel: self.fuel.load(Ordering::Relaxed),
            micros: self.micros.load(Ordering::Relaxed),
            peak_memory_bytes: self.peak_memory.load(Ordering::Relaxed),
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

/// Counters since the extension was loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub calls: u64,
    /// Calls that failed (guest errors and kernel stops).
    pub errors: u64,
    /// Calls the kernel stopped.
    pub stopped: u64,
    /// Fuel consumed in all.
    pub fuel: u64,
    /// Wall time in all (microseconds).
    pub micros: u64,
    /// The largest linear memory an instance had after a call (bytes).
    pub peak_memory_bytes: u64,
    /// Calls per latency bucket ([`LATENCY_BUCKETS_US`]).
    pub buckets: [u64; LATENCY_BUCKETS_US.len()],
}

impl StatsSnapshot {
    /// What happened between `earlier` and `self` (peak memory is kept).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            calls: self.calls.saturating_sub(earlier.calls),
            errors: self.errors.saturating_sub(earlier.errors),
            stopped: self.stopped.saturating_sub(earlier.stopped),
            fuel: self.fuel.saturating_sub(earlier.fuel),
            micros: self.micros.saturating_sub(earlier.micros),
            peak_memory_bytes: self.peak_memory_bytes,
            buckets: std::array::from_fn(|i| self.buckets[i].saturating_sub(earlier.buckets[i])),
        }
    }

    /// Failed calls per call (0 when there were none).
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.errors as f64 / self.calls as f64
        }
    }

    pub fn fuel_per_call(&self) -> u64 {
        self.fuel.checked_div(self.calls).unwrap_or(0)
    }

    /// The upper bound (µs) of the bucket holding the `q` quantile
    /// (0 < q ≤ 1); `None` without calls or when it is the open bucket.
    pub fn latency_quantile_us(&self, q: f64) -> Option<u64> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (count, bound) in self.buckets.iter().zip(LATENCY_BUCKETS_US) {
            seen += count;
            if seen >= rank {
                return (bound != u64::MAX).then_some(bound);
            }
        }
        None
    }

    /// Whether calls have been quick: some calls, none stopped by the kernel,
    /// and at most 1 in 100 took longer than [`QUICK_CALL_US`]. Callers may
    /// run a quick extension on an async worker thread instead of handing the
    /// call to a blocking thread; a slow or stopped call makes it not quick.
    pub fn is_quick(&self) -> bool {
        let slow: u64 = self
            .buckets
            .iter()
            .zip(LATENCY_BUCKETS_US)
            .filter(|(_, bound)| *bound > QUICK_CALL_US)
            .map(|(count, _)| count)
            .sum();
        self.calls > 0 && self.stopped == 0 && slow * 100 <= self.calls
    }
}

/// The longest call (µs) that still counts as quick (see [`StatsSnapshot::is_quick`]).
pub const QUICK_CALL_US: u64 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_means_no_stop_and_at_most_one_slow_call_in_a_hundred() {
        let stats = CallStats::default();
        assert!(!stats.snapshot().is_quick(), "no calls yet");
        stats.record(Ending::Ok, 10, Duration::from_millis(3), 1 << 20);
        assert!(!stats.snapshot().is_quick(), "the only call was slow");
        for _ in 0..99 {
            stats.record(Ending::Ok, 10, Duration::from_micros(40), 1 << 20);
        }
        assert!(stats.snapshot().is_quick(), "1 slow call in 100");
        stats.record(Ending::Stopped, 10, Duration::from_micros(40), 1 << 20);
        assert!(!stats.snapshot().is_quick(), "a stop is never quick");
    }

    #[test]
    fn quantiles_and_rates_come_from_the_interval() {
        let stats = CallStats::default();
        for _ in 0..90 {
            stats.record(Ending::Ok, 10, Duration::from_micros(40), 1 << 20);
        }
        let before = stats.snapshot();
        for _ in 0..8 {
            stats.record(Ending::Ok, 10, Duration::from_micros(400), 2 << 20);
        }
        stats.record(Ending::GuestError, 10, Duration::from_millis(20), 0);
        stats.record(Ending::Stopped, 10, Duration::from_millis(200), 0);
        let interval = stats.snapshot().since(&before);
        assert_eq!(interval.calls, 10);
        assert_eq!(interval.errors, 2);
        assert_eq!(interval.stopped, 1);
        assert!((interval.error_rate() - 0.2).abs() < 1e-9);
        assert_eq!(interval.fuel_per_call(), 10);
        assert_eq!(interval.latency_quantile_us(0.5), Some(500));
        assert_eq!(interval.latency_quantile_us(0.9), Some(25_000));
        assert_eq!(interval.latency_quantile_us(1.0), None);
        assert_eq!(interval.peak_memory_bytes, 2 << 20);
    }
}
