//! Failed authentications per client address, so keys cannot be guessed at
//! full speed through the WebSocket endpoint (MagGate's rule for its routes).
//!
//! Guarantees: an address with [`MAX_FAILURES`] failed authentications
//! (a bad header key or a bad `auth` message) within [`WINDOW`] is refused
//! before any key is looked up until the window has passed, with how long to
//! wait; a success does not reset the count. Memory is bounded: entries
//! whose window is over are swept once more than [`SWEEP_ABOVE`] are kept.
//! Without a known peer address (no connect info) nothing is throttled;
//! behind a proxy every client shares the proxy's address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct AuthThrottle {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthThrottle {
    /// `Err(seconds to wait)` while `peer` is over the limit.
    pub fn check(&self, peer: Option<IpAddr>) -> Result<(), u64> {
        let Some(peer) = peer else { return Ok(()) };
        let failures = self.failures.lock().expect("throttle");
        match failures.get(&peer) {
            Some((since, count)) if *count >= MAX_FAILURES && since.elapsed() < WINDOW => {
                Err((WINDOW - since.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication of `peer`.
    pub fn failed(&self, peer: Option<IpAddr>) {
        let Some(peer) = peer else { return };
        let mut failures = self.failures.lock().expect("throttle");
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, (since, _)| since.elapsed() < WINDOW);
        }
        let entry = failures.entry(peer).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_too_many_failures() {
        let throttle = AuthThrottle::default();
        let peer = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..MAX_FAILURES {
            assert!(throttle.check(peer).is_ok());
            throttle.failed(peer);
        }
        let wait = throttle.check(peer).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(throttle.check(Some(IpAddr::from([10, 0, 0, 2]))).is_ok());
        assert!(throttle.check(None).is_ok());
    }
}
