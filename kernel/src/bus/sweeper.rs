//! The retention sweeper: a loop that deletes expired events at an interval.
//!
//! Guarantees: each round deletes every event older than the bus's retention at
//! that moment; a failed round (e.g. the database is down) is reported and the
//! loop carries on at the next interval. It needs no particular async runtime:
//! the caller passes its sleep function (e.g. `tokio::time::sleep`).

use super::{Bus, BusError};
use std::future::Future;
use std::time::Duration;

impl Bus {
    /// Sweeps now and then every `every`, forever; each round's result (events
    /// deleted, or the error) goes to `report`. Spawn it on the host's runtime:
    /// `tokio::spawn(async move { bus.run_sweeper(hour, tokio::time::sleep, log).await })`.
    pub async fn run_sweeper<S, F, R>(&self, every: Duration, mut sleep: S, mut report: R)
    where
        S: FnMut(Duration) -> F,
        F: Future<Output = ()>,
        R: FnMut(Result<u64, BusError>),
    {
        loop {
            report(self.sweep().await);
            sleep(every).await;
        }
    }
}
