//! [`SqlEventLog`]: the event bus's durable log in the control-plane database,
//! the [`EventLog`] of `magflock-kernel` for SQLite and PostgreSQL.
//!
//! Guarantees (beyond the [`EventLog`] contract, which this implements in full):
//! * An append is one transaction that first updates the single `bus_sequence`
//!   row. That row lock (PostgreSQL) or the database write lock (SQLite) holds
//!   every other append until commit, so global and per-component numbers are
//!   gap-free under concurrent publishers, in any number of processes, and
//!   batches commit in sequence order: a reader never sees a number before a
//!   lower one is visible, so a cursor never passes an event still being written.
//! * Events are inserted with multi-row INSERTs of [`INSERT_CHUNK`] rows; on
//!   SQLite a page of the log is read as one JSON array (one row per page),
//!   which keeps replay well above 100 000 events a second.
//! * Every transaction starts with a write, so SQLite takes its write lock (and
//!   waits for it) at once instead of failing to upgrade a read.
//! * The sweeper deletes in chunks of [`SWEEP_CHUNK`] events, each its own
//!   transaction, so it never holds the write lock for long; dead letters keep
//!   their own copy of the event and are not swept.

use crate::{Engine, SqlStore, StoreError};
use async_trait::async_trait;
use magflock_kernel::bus::{
    Appended, BusError, DeadLetter, EventLog, FailOutcome, LoggedEvent, Origin, PollState, StartAt,
    Subscription,
};
use magflock_kernel::{Capability, Event, Pattern};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

mod rows;
pub use rows::INSERT_CHUNK;
use rows::{
    DEAD_COLUMNS, EVENT_COLUMNS, Encoded, SQLITE_READ_PAGE, bind_event, dead_from_row, encode,
    full_chunk_sql, insert_sql, logged_from_page, logged_from_row, subscription_from_row,
};

/// Events deleted per sweep transaction.
pub const SWEEP_CHUNK: i64 = 10_000;

/// The event bus's log in the store's database (shares the store's pool).
#[derive(Clone)]
pub struct SqlEventLog {
    pool: AnyPool,
    engine: Engine,
}

impl SqlStore {
    /// The event log on this store's database.
    pub fn event_log(&self) -> SqlEventLog {
        SqlEventLog {
            pool: self.pool.clone(),
            engine: self.engine,
        }
    }
}

impl SqlEventLog {
    pub fn engine(&self) -> Engine {
        self.engine
    }
}

fn db(err: sqlx::Error) -> BusError {
    match StoreError::from(err) {
        StoreError::Unavailable(m) => BusError::Unavailable(m),
        other => BusError::Backend(other.to_string()),
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn unknown(id: &str) -> BusError {
    BusError::UnknownSubscriber(id.to_string())
}

impl SqlEventLog {
    /// Numbers, in input order, and the inserts, in one transaction.
    async fn try_append(&self, rows: &[Encoded<'_>]) -> Result<Vec<Appended>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let last: i64 = sqlx::query(
            "UPDATE bus_sequence SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq",
        )
        .bind(rows.len() as i64)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let first = uint(last) - rows.len() as u64 + 1;

        // Per component, in order of first appearance: (component, count, next number).
        let mut components: Vec<(&str, u64, u64)> = Vec::new();
        for row in rows {
            let name = row.event.source.component.as_str();
            match components.iter_mut().find(|c| c.0 == name) {
                Some(c) => c.1 += 1,
                None => components.push((name, 1, 0)),
            }
        }
        for (name, count, next) in &mut components {
            let last: i64 = sqlx::query(
                "INSERT INTO bus_component_seq (component, last_seq) VALUES ($1, $2) \
                 ON CONFLICT (component) DO UPDATE SET last_seq = bus_component_seq.last_seq + excluded.last_seq \
                 RETURNING last_seq",
            )
            .bind(*name)
            .bind(int(*count))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            *next = uint(last) - *count + 1;
        }
        let mut appended = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let c = components
                .iter_mut()
                .find(|c| c.0 == row.event.source.component)
                .expect("every component was counted");
            appended.push(Appended {
                seq: first + i as u64,
                component_seq: c.2,
            });
            c.2 += 1;
        }

        for (chunk, numbers) in rows.chunks(INSERT_CHUNK).zip(appended.chunks(INSERT_CHUNK)) {
            let sql;
            let mut query = if chunk.len() == INSERT_CHUNK {
                sqlx::query(full_chunk_sql(self.engine))
            } else {
                sql = insert_sql(self.engine, chunk.len());
                sqlx::query(&sql)
            };
            for (row, n) in chunk.iter().zip(numbers) {
                query = bind_event(query, row, n.seq, n.component_seq);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(appended)
    }

    /// The first of `events` already in the log.
    async fn find_duplicate(&self, events: &[Event]) -> Result<Option<String>, BusError> {
        for chunk in events.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT event_id FROM bus_events WHERE event_id IN ({})",
                marks.join(",")
            );
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query.bind(e.event_id.as_str());
            }
            let found: Vec<String> = query
                .fetch_all(&self.pool)
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()
                .map_err(db)?;
            if let Some(dup) = chunk.iter().find(|e| found.contains(&e.event_id)) {
                return Ok(Some(dup.event_id.clone()));
            }
        }
        Ok(None)
    }

    async fn subscriber_exists(&self, id: &str) -> Result<bool, BusError> {
        Ok(
            sqlx::query("SELECT acked_seq FROM bus_subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .is_some(),
        )
    }

    /// Moves the cursor forward (only) to `seq`; `guarded`: not past a failed
    /// delivery awaiting its retry.
    async fn advance(&self, id: &str, seq: u64, guarded: bool) -> Result<(), BusError> {
        let guard = if guarded {
            " AND NOT EXISTS (SELECT 1 FROM bus_attempts a WHERE a.subscriber = $1 \
               AND a.seq > bus_subscribers.acked_seq AND a.seq < $2)"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE bus_subscribers SET acked_seq = $2, updated_at = $3 \
             WHERE id = $1 AND acked_seq < $2{guard}"
        );
        // A second round only if a pending failure vanished between the two reads.
        for _ in 0..2 {
            let moved = sqlx::query(&sql)
                .bind(id)
                .bind(int(seq))
                .bind(crate::now_millis())
                .execute(&self.pool)
                .await
                .map_err(db)?
                .rows_affected();
            if moved == 1 {
                return Ok(());
            }
            // Why not: unknown, already there, or an earlier failure pending.
            let acked: i64 = sqlx::query("SELECT acked_seq FROM bus_subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .ok_or_else(|| unknown(id))?
                .try_get(0)
                .map_err(db)?;
            if uint(acked) >= seq || !guarded {
                return Ok(());
            }
            let pending: Option<i64> = sqlx::query(
                "SELECT MIN(seq) AS pending FROM bus_attempts \
                 WHERE subscriber = $1 AND seq > $2 AND seq < $3",
            )
            .bind(id)
            .bind(acked)
            .bind(int(seq))
            .fetch_one(&self.pool)
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
            if let Some(pending) = pending {
                return Err(BusError::OutOfOrderAck {
                    subscriber: id.to_string(),
                    seq,
                    pending: uint(pending),
                });
            }
        }
        Err(BusError::Backend(format!(
            "the cursor of subscriber '{id}' could not be moved to {seq}"
        )))
    }

    async fn fail_from_log(
        &self,
        id: &str,
        logged: &LoggedEvent,
        error: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<FailOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let failures: i64 = sqlx::query(
            "INSERT INTO bus_attempts (subscriber, seq, attempts, last_error, last_at) \
             VALUES ($1, $2, 1, $3, $4) \
             ON CONFLICT (subscriber, seq) DO UPDATE SET attempts = bus_attempts.attempts + 1, \
             last_error = excluded.last_error, last_at = excluded.last_at \
             RETURNING attempts",
        )
        .bind(id)
        .bind(int(logged.seq))
        .bind(error)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if failures < max_attempts {
            tx.commit().await?;
            return Ok(FailOutcome::Retry { failures });
        }
        sqlx::query("DELETE FROM bus_attempts WHERE subscriber = $1 AND seq = $2")
            .bind(id)
            .bind(int(logged.seq))
            .execute(&mut *tx)
            .await?;
        let encoded = encode(&logged.event).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let sql = format!(
            "INSERT INTO bus_dead_letters ({DEAD_COLUMNS}) \
             VALUES ($11, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $13, $14, 0) \
             ON CONFLICT (subscriber, seq) DO UPDATE SET attempts = excluded.attempts, \
             last_error = excluded.last_error, dead_at = excluded.dead_at, requeued = 0"
        );
        let query = sqlx::query(&sql);
        bind_event(query, &encoded, logged.seq, logged.component_seq)
            .bind(id)
            .bind(i64::from(failures))
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE bus_subscribers SET acked_seq = $2, updated_at = $3 WHERE id = $1 AND acked_seq < $2",
        )
        .bind(id)
        .bind(int(logged.seq))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(FailOutcome::DeadLettered { attempts: failures })
    }
}

#[async_trait]
impl EventLog for SqlEventLog {
    async fn append(&self, events: &[Event]) -> Result<Vec<Appended>, BusError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows = events.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        match self.try_append(&rows).await {
            Ok(appended) => Ok(appended),
            Err(err) if is_unique_violation(&err) => match self.find_duplicate(events).await? {
                Some(id) => Err(BusError::DuplicateEvent(id)),
                None => Err(db(err)),
            },
            Err(err) => Err(db(err)),
        }
    }

    async fn head(&self) -> Result<u64, BusError> {
        let last: i64 = sqlx::query("SELECT last_seq FROM bus_sequence WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        Ok(uint(last))
    }

    async fn read(&self, after: u64, limit: usize) -> Result<Vec<LoggedEvent>, BusError> {
        match self.engine {
            Engine::Sqlite => {
                let page: String = sqlx::query(SQLITE_READ_PAGE)
                    .bind(int(after))
                    .bind(limit as i64)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?
                    .try_get(0)
                    .map_err(db)?;
                logged_from_page(&page, after)
            }
            Engine::Postgres => sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM bus_events WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(int(after))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|row| logged_from_row(row, 0))
            .collect(),
        }
    }

    async fn first_seq_since(&self, millis: i64) -> Result<Option<u64>, BusError> {
        let first: Option<i64> =
            sqlx::query("SELECT MIN(seq) AS first FROM bus_events WHERE ts >= $1")
                .bind(millis)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?
                .try_get(0)
                .map_err(db)?;
        Ok(first.map(uint))
    }

    async fn put_subscription(
        &self,
        id: &str,
        patterns: &[Pattern],
        capabilities: &[Capability],
        start: StartAt,
        now: i64,
    ) -> Result<Subscription, BusError> {
        let patterns_json =
            serde_json::to_string(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>())
                .map_err(|e| BusError::Backend(e.to_string()))?;
        let capabilities_json =
            serde_json::to_string(capabilities).map_err(|e| BusError::Backend(e.to_string()))?;
        let start_value = match start {
            StartAt::Latest => "(SELECT last_seq FROM bus_sequence WHERE id = 1)".to_string(),
            StartAt::Earliest => "0".to_string(),
            StartAt::After(seq) => int(seq).to_string(),
        };
        let acked: i64 = sqlx::query(&format!(
            "INSERT INTO bus_subscribers (id, patterns, capabilities, acked_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, {start_value}, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET patterns = excluded.patterns, \
             capabilities = excluded.capabilities, updated_at = excluded.updated_at \
             RETURNING acked_seq"
        ))
        .bind(id)
        .bind(&patterns_json)
        .bind(&capabilities_json)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        Ok(Subscription {
            id: id.to_string(),
            patterns: patterns.to_vec(),
            capabilities: capabilities.to_vec(),
            acked_seq: uint(acked),
        })
    }

    async fn subscriptions(&self) -> Result<Vec<Subscription>, BusError> {
        sqlx::query("SELECT id, patterns, capabilities, acked_seq FROM bus_subscribers ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(subscription_from_row)
            .collect()
    }

    async fn remove_subscription(&self, id: &str) -> Result<bool, BusError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for table in ["bus_attempts", "bus_dead_letters"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE subscriber = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let removed = sqlx::query("DELETE FROM bus_subscribers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(removed > 0)
    }

    async fn poll_state(&self, id: &str, requeued_limit: usize) -> Result<PollState, BusError> {
        let subscription = sqlx::query(
            "SELECT id, patterns, capabilities, acked_seq FROM bus_subscribers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .ok_or_else(|| unknown(id))
        .and_then(|row| subscription_from_row(&row))?;
        let failures = sqlx::query(
            "SELECT seq, attempts FROM bus_attempts WHERE subscriber = $1 AND seq > $2",
        )
        .bind(id)
        .bind(int(subscription.acked_seq))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            let seq: i64 = row.try_get(0)?;
            let attempts: i64 = row.try_get(1)?;
            Ok((uint(seq), u32::try_from(attempts).unwrap_or(u32::MAX)))
        })
        .collect::<Result<BTreeMap<_, _>, sqlx::Error>>()
        .map_err(db)?;
        let requeued = if requeued_limit == 0 {
            Vec::new()
        } else {
            sqlx::query(&format!(
                "SELECT {DEAD_COLUMNS} FROM bus_dead_letters \
                 WHERE subscriber = $1 AND requeued = 1 ORDER BY seq LIMIT $2"
            ))
            .bind(id)
            .bind(requeued_limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(dead_from_row)
            .collect::<Result<_, _>>()?
        };
        Ok(PollState {
            subscription,
            failures,
            requeued,
        })
    }

    async fn ack(&self, id: &str, seq: u64, origin: Origin) -> Result<(), BusError> {
        match origin {
            Origin::Log => self.advance(id, seq, true).await,
            Origin::Requeued => {
                let removed = sqlx::query(
                    "DELETE FROM bus_dead_letters WHERE subscriber = $1 AND seq = $2 AND requeued = 1",
                )
                .bind(id)
                .bind(int(seq))
                .execute(&self.pool)
                .await
                .map_err(db)?
                .rows_affected();
                if removed == 0 && !self.subscriber_exists(id).await? {
                    return Err(unknown(id));
                }
                Ok(())
            }
        }
    }

    async fn skip(&self, id: &str, seq: u64) -> Result<(), BusError> {
        self.advance(id, seq, false).await
    }

    async fn set_cursor(&self, id: &str, acked_seq: u64) -> Result<(), BusError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let moved =
            sqlx::query("UPDATE bus_subscribers SET acked_seq = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(int(acked_seq))
                .bind(crate::now_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        if moved == 0 {
            return Err(unknown(id));
        }
        sqlx::query("DELETE FROM bus_attempts WHERE subscriber = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn record_failure(
        &self,
        id: &str,
        event: &LoggedEvent,
        origin: Origin,
        error: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<FailOutcome, BusError> {
        match origin {
            Origin::Log => match self
                .fail_from_log(id, event, error, max_attempts, now)
                .await
            {
                Ok(outcome) => Ok(outcome),
                Err(err) if is_foreign_key_violation(&err) => Err(unknown(id)),
                Err(err) => Err(db(err)),
            },
            Origin::Requeued => {
                let row = sqlx::query(
                    "UPDATE bus_dead_letters SET attempts = attempts + 1, last_error = $3, \
                     requeued = CASE WHEN attempts + 1 >= $4 THEN 0 ELSE 1 END, \
                     dead_at = CASE WHEN attempts + 1 >= $4 THEN $5 ELSE dead_at END \
                     WHERE subscriber = $1 AND seq = $2 AND requeued = 1 \
                     RETURNING attempts, requeued",
                )
                .bind(id)
                .bind(int(event.seq))
                .bind(error)
                .bind(i64::from(max_attempts))
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                let Some(row) = row else {
                    if !self.subscriber_exists(id).await? {
                        return Err(unknown(id));
                    }
                    // Purged or acknowledged meanwhile: nothing left to retry.
                    return Ok(FailOutcome::DeadLettered { attempts: 0 });
                };
                let attempts = u32::try_from(row.try_get::<i64, _>(0).map_err(db)?).unwrap_or(0);
                Ok(if row.try_get::<i64, _>(1).map_err(db)? == 0 {
                    FailOutcome::DeadLettered { attempts }
                } else {
                    FailOutcome::Retry { failures: attempts }
                })
            }
        }
    }

    async fn dead_letters(
        &self,
        id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        let filter = if id.is_some() {
            "AND subscriber = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {DEAD_COLUMNS} FROM bus_dead_letters WHERE requeued = 0 {filter} \
             ORDER BY seq, subscriber LIMIT $1"
        );
        let mut query = sqlx::query(&sql).bind(limit as i64);
        if let Some(id) = id {
            query = query.bind(id);
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(dead_from_row)
            .collect()
    }

    async fn requeue_dead_letters(&self, id: &str, seq: Option<u64>) -> Result<u64, BusError> {
        let filter = if seq.is_some() { "AND seq = $2" } else { "" };
        let sql = format!(
            "UPDATE bus_dead_letters SET requeued = 1, attempts = 0 \
             WHERE subscriber = $1 AND requeued = 0 {filter}"
        );
        let mut query = sqlx::query(&sql).bind(id);
        if let Some(seq) = seq {
            query = query.bind(int(seq));
        }
        Ok(query.execute(&self.pool).await.map_err(db)?.rows_affected())
    }

    async fn purge_dead_letters(&self, id: Option<&str>) -> Result<u64, BusError> {
        let filter = if id.is_some() {
            "AND subscriber = $1"
        } else {
            ""
        };
        let sql = format!("DELETE FROM bus_dead_letters WHERE requeued = 0 {filter}");
        let mut query = sqlx::query(&sql);
        if let Some(id) = id {
            query = query.bind(id);
        }
        Ok(query.execute(&self.pool).await.map_err(db)?.rows_affected())
    }

    async fn sweep(&self, cutoff: i64) -> Result<u64, BusError> {
        let mut total = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM bus_events WHERE seq IN \
                 (SELECT seq FROM bus_events WHERE ts < $1 ORDER BY seq LIMIT $2)",
            )
            .bind(cutoff)
            .bind(SWEEP_CHUNK)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected();
            total += deleted;
            if deleted < SWEEP_CHUNK as u64 {
                break;
            }
        }
        // Failure counts of events that are gone, or at or below a cursor, are stale.
        sqlx::query(
            "DELETE FROM bus_attempts WHERE NOT EXISTS (SELECT 1 FROM bus_events e WHERE e.seq = bus_attempts.seq) \
             OR seq <= (SELECT s.acked_seq FROM bus_subscribers s WHERE s.id = bus_attempts.subscriber)",
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(total)
    }
}
