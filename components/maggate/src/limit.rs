//! Rate limits: GCRA buckets (the `governor` crate) per client, where a client
//! is an API key (`key:<id>`) or, without one, the peer address (`ip:<addr>`).
//!
//! Guarantees: every request is counted against the platform quota of its
//! client; an extension's `rate_limit_strategy` filter can only add a
//! stricter quota ([`Quota::no_looser_than`]: fewer requests and a window at
//! least as long), checked in a second bucket, so the platform's limit always
//! holds. A refusal says how long to wait (whole seconds, at least 1). A bucket
//! is forgotten only after it has been idle for its whole window (by then it
//! is full again, so forgetting it loosens nothing); that bounds the memory.

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many buckets, idle ones are swept before adding another.
const SWEEP_ABOVE: usize = 50_000;

/// `limit` requests per `window_s` seconds (a burst of up to `limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    pub limit: u32,
    pub window_s: u64,
}

impl Quota {
    /// At least 1 request per at least 1 second.
    pub fn new(limit: u32, window_s: u64) -> Quota {
        Quota {
            limit: limit.max(1),
            window_s: window_s.max(1),
        }
    }

    /// The quota, made no looser than `platform`: the smaller limit over the
    /// longer window.
    pub fn no_looser_than(self, platform: Quota) -> Quota {
        Quota::new(
            self.limit.min(platform.limit),
            self.window_s.max(platform.window_s),
        )
    }

    fn window(self) -> Duration {
        Duration::from_secs(self.window_s)
    }

    fn governor(self) -> governor::Quota {
        let burst = NonZeroU32::new(self.limit).unwrap_or(NonZeroU32::MIN);
        let period = (self.window() / self.limit).max(Duration::from_nanos(1));
        governor::Quota::with_period(period)
            .unwrap_or_else(|| governor::Quota::per_second(burst))
            .allow_burst(burst)
    }
}

struct Bucket {
    quota: Quota,
    limiter: DefaultDirectRateLimiter,
    seen: Instant,
}

impl Bucket {
    fn new(quota: Quota) -> Bucket {
        Bucket {
            quota,
            limiter: RateLimiter::direct(quota.governor()),
            seen: Instant::now(),
        }
    }

    fn idle(&self) -> bool {
        self.seen.elapsed() >= self.quota.window()
    }

    /// Takes one cell, or says how long until one is free.
    fn take(&mut self) -> Result<(), Duration> {
        self.seen = Instant::now();
        let limiter = &self.limiter;
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// Whole seconds to wait, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// Every client's buckets, under one platform quota.
pub struct RateLimits {
    platform: Quota,
    buckets: Mutex<HashMap<(String, Quota), Bucket>>,
}

impl RateLimits {
    pub fn new(platform: Quota) -> RateLimits {
        RateLimits {
            platform,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn platform(&self) -> Quota {
        self.platform
    }

    /// Counts one request of `client` against the platform quota and, when an
    /// extension chose one, the stricter `extra` quota. `Err` is the wait.
    pub fn check(&self, client: &str, extra: Option<Quota>) -> Result<(), Duration> {
        self.take(client, self.platform)?;
        match extra.map(|q| q.no_looser_than(self.platform)) {
            Some(quota) if quota != self.platform => self.take(client, quota),
            _ => Ok(()),
        }
    }

    fn take(&self, client: &str, quota: Quota) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_ABOVE {
            buckets.retain(|_, bucket| !bucket.idle());
        }
        buckets
            .entry((client.to_string(), quota))
            .or_insert_with(|| Bucket::new(quota))
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits() {
        let limits = RateLimits::new(Quota::new(3, 60));
        for _ in 0..3 {
            limits.check("key:a", None).unwrap();
        }
        let wait = limits.check("key:a", None).unwrap_err();
        assert!((1..=20).contains(&retry_after_secs(wait)), "{wait:?}");
        limits.check("key:b", None).unwrap();
    }

    #[test]
    fn an_extension_can_only_tighten() {
        let platform = Quota::new(10, 60);
        assert_eq!(Quota::new(100, 1).no_looser_than(platform), platform);
        assert_eq!(
            Quota::new(2, 120).no_looser_than(platform),
            Quota::new(2, 120)
        );
        let limits = RateLimits::new(platform);
        limits.check("c", Some(Quota::new(1, 60))).unwrap();
        assert!(limits.check("c", Some(Quota::new(1, 60))).is_err());
        // A looser wish is the platform quota.
        for _ in 0..9 {
            limits.check("d", Some(Quota::new(1000, 1))).unwrap();
        }
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
