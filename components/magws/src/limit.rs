//! The per-connection message rate limit: a token bucket of `burst` tokens
//! refilled at `per_second`.
//!
//! Guarantees: over any window of `t` seconds a connection gets at most
//! `burst + per_second * t` messages through; a refused message costs
//! nothing (the bucket does not go negative), so a client that backs off is
//! served again as soon as a token is back. Only the connection's own task
//! touches its bucket (no locking).

use std::time::Instant;

#[derive(Clone, Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// `per_second` messages per second, bursts of up to `burst` (both at least 1).
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        let burst = f64::from(burst.max(1));
        RateLimit {
            per_second: f64::from(per_second.max(1)),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token at `now`; `false` when the bucket is empty.
    pub fn take_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut limit = RateLimit::new(10, 5);
        let passed = (0..20).filter(|_| limit.take_at(start)).count();
        assert_eq!(passed, 5, "the burst");
        assert!(!limit.take_at(start + Duration::from_millis(50)));
        assert!(limit.take_at(start + Duration::from_millis(160)));
        let later = start + Duration::from_secs(10);
        let passed = (0..20).filter(|_| limit.take_at(later)).count();
        assert_eq!(passed, 5, "never more than the burst");
    }
}
