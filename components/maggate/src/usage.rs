//! Usage analytics: per-route request counts, statuses and a latency histogram,
//! kept in memory, and offered to extensions through `usage_analytics_emitter`.
//!
//! Guarantees: every response the gateway sends is counted once, under its
//! route template (`/ext/<extension>/<endpoint>` for extension endpoints,
//! `unmatched` for paths no route serves, so arbitrary paths cannot grow the
//! table). Counters are cumulative since the gateway started, so an extension
//! that receives the same report twice (or misses one) still computes right
//! deltas. Reports go out every [`crate::GateConfig::usage_interval`] (the task
//! of [`crate::Gateway::spawn_usage_emitter`]) and on demand
//! ([`crate::Gateway::emit_usage`]): one `usage_analytics_emitter` dispatch per
//! route, with the hook's fields (`route`; `status`: the most frequent status;
//! `duration_ms`: the mean; `client_id`: null, as the report is over all
//! clients) plus `count`, `errors`, `statuses`, `latency_buckets_ms`,
//! `histogram` (one count per bucket and one above the last), `max_ms` and
//! `since_ms`.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in milliseconds.
pub const LATENCY_BUCKETS_MS: [u64; 12] =
    [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// What one route has seen since the gateway started.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RouteUsage {
    pub route: String,
    pub count: u64,
    /// Responses with a 5xx status.
    pub errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub total_ms: f64,
    pub max_ms: f64,
    /// One count per [`LATENCY_BUCKETS_MS`] bound, and one above the last.
    pub histogram: Vec<u64>,
}

impl RouteUsage {
    fn record(&mut self, status: u16, ms: f64) {
        self.count += 1;
        if status >= 500 {
            self.errors += 1;
        }
        *self.statuses.entry(status).or_default() += 1;
        self.total_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        if self.histogram.is_empty() {
            self.histogram = vec![0; LATENCY_BUCKETS_MS.len() + 1];
        }
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|bound| ms <= *bound as f64)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.histogram[bucket] += 1;
    }

    /// The most frequent status (the lowest on a tie).
    pub fn usual_status(&self) -> u16 {
        self.statuses
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(status, _)| *status)
            .unwrap_or(0)
    }

    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ms / self.count as f64
        }
    }

    /// The `usage_analytics_emitter` payload for this route.
    pub fn payload(&self, since_ms: i64) -> Value {
        json!({
            "route": self.route,
            "status": self.usual_status(),
            "duration_ms": self.mean_ms(),
            "client_id": null,
            "count": self.count,
            "errors": self.errors,
            "statuses": self.statuses,
            "latency_buckets_ms": LATENCY_BUCKETS_MS,
            "histogram": self.histogram,
            "max_ms": self.max_ms,
            "since_ms": since_ms,
        })
    }
}

/// Every route's usage.
pub struct Usage {
    since_ms: i64,
    routes: Mutex<BTreeMap<String, RouteUsage>>,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            since_ms: magflock_store::now_millis(),
            routes: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Usage {
    pub fn record(&self, route: &str, status: u16, ms: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes
            .entry(route.to_string())
            .or_insert_with(|| RouteUsage {
                route: route.to_string(),
                ..RouteUsage::default()
            })
            .record(status, ms);
    }

    /// Every route, in route order.
    pub fn snapshot(&self) -> Vec<RouteUsage> {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.values().cloned().collect()
    }

    /// When counting started (milliseconds since the Unix epoch).
    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_statuses_and_latency_buckets() {
        let usage = Usage::default();
        usage.record("/a", 200, 0.5);
        usage.record("/a", 200, 30.0);
        usage.record("/a", 503, 20_000.0);
        usage.record("/b", 404, 2.0);
        let snapshot = usage.snapshot();
        let a = &snapshot[0];
        assert_eq!((a.route.as_str(), a.count, a.errors), ("/a", 3, 1));
        assert_eq!(a.usual_status(), 200);
        assert_eq!(a.histogram[0], 1);
        assert_eq!(a.histogram[4], 1);
        assert_eq!(a.histogram[LATENCY_BUCKETS_MS.len()], 1);
        let payload = a.payload(usage.since_ms());
        for field in ["route", "status", "duration_ms", "client_id"] {
            assert!(payload.get(field).is_some(), "{field}");
        }
        assert_eq!(snapshot[1].usual_status(), 404);
    }
}
