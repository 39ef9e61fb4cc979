//! Sign-in throttling.
//!
//! Guarantees: after `per_account` failures for one email, or `per_address`
//! failures from one address, within `window`, further attempts for that key are
//! refused (before any password check) until the oldest failure leaves the window;
//! the refusal says how many seconds to wait. A success clears the account's
//! count. Memory stays bounded: old failures are pruned on every call and the
//! number of tracked keys is capped.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_KEYS: usize = 100_000;

pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    per_account: usize,
    per_address: usize,
    window: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new(5, 20, Duration::from_secs(15 * 60))
    }
}

/// The keys one attempt counts against.
pub fn keys(email: &str, ip: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("account:{email}")];
    if let Some(ip) = ip {
        keys.push(format!("address:{ip}"));
    }
    keys
}

impl LoginThrottle {
    pub fn new(per_account: usize, per_address: usize, window: Duration) -> Self {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
            per_account,
            per_address,
            window,
        }
    }

    fn limit_for(&self, key: &str) -> usize {
        if key.starts_with("account:") {
            self.per_account
        } else {
            self.per_address
        }
    }

    /// `Err(seconds to wait)` if any key is over its limit.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None::<Duration>;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    times.pop_front();
                }
                if times.len() >= self.limit_for(key) {
                    let oldest = times[times.len() - self.limit_for(key)];
                    let left = self.window.saturating_sub(now.duration_since(oldest));
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        match wait {
            Some(w) => Err(w.as_secs().max(1)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, keys: &[String], now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in keys {
            if map.len() < MAX_KEYS || map.contains_key(key) {
                map.entry(key.clone()).or_default().push_back(now);
            }
        }
    }

    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_limit_then_window_expiry() {
        let t = LoginThrottle::new(3, 100, Duration::from_secs(60));
        let k = keys("a@x.io", Some("10.0.0.1"));
        let start = Instant::now();
        for i in 0..3 {
            assert!(t.check(&k, start).is_ok(), "attempt {i}");
            t.record_failure(&k, start);
        }
        let wait = t.check(&k, start + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, 50);
        assert!(t.check(&k, start + Duration::from_secs(61)).is_ok());
        // A different account from the same address is not affected.
        assert!(t.check(&keys("b@x.io", Some("10.0.0.1")), start).is_ok());
    }

    #[test]
    fn address_limit_spans_accounts_and_success_clears_account() {
        let t = LoginThrottle::new(100, 4, Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..4 {
            t.record_failure(&keys(&format!("u{i}@x.io"), Some("10.0.0.9")), now);
        }
        assert!(t.check(&keys("new@x.io", Some("10.0.0.9")), now).is_err());
        assert!(t.check(&keys("new@x.io", Some("10.0.0.8")), now).is_ok());

        let t = LoginThrottle::new(2, 100, Duration::from_secs(60));
        let k = keys("c@x.io", None);
        t.record_failure(&k, now);
        t.record_failure(&k, now);
        assert!(t.check(&k, now).is_err());
        t.clear(&k[0]);
        assert!(t.check(&k, now).is_ok());
    }
}
