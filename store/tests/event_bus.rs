//! The event bus on its durable log, run once on SQLite and once on PostgreSQL
//! (a fresh database per test). Each case is an `async fn(&TestDb)`;
//! `on_both_engines!` makes the two `#[tokio::test]`s.

use magflock_kernel::bus::validate::format_millis;
use magflock_kernel::bus::{
    Bus, BusConfig, BusError, Delivery, FailOutcome, Origin, ReplayFrom, StartAt,
};
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use magflock_store::testing::TestDb;
use magflock_store::{SqlStore, now_millis};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use magflock_store::on_both_engines;

on_both_engines!(
    publish_poll_ack,
    unacknowledged_events_are_redelivered_after_a_crash,
    component_order_holds_under_concurrent_publishers,
    patterns_select_what_a_subscriber_receives,
    capabilities_gate_what_a_subscriber_receives,
    failures_dead_letter_after_the_limit_and_requeue,
    acknowledging_past_a_failed_delivery_is_refused,
    replay_from_a_sequence_number_and_from_a_time,
    sweeper_removes_only_events_older_than_retention,
    invalid_and_duplicate_events_are_refused,
);

const DAY: i64 = 24 * 3600 * 1000;

fn event_at(event_type: &str, component: &str, caps: &[Capability], millis: i64) -> Event {
    let mut event = Event::new(
        event_type,
        Source {
            component: component.into(),
            extension: None,
        },
        json!({"at": millis}),
        Context {
            project_id: Some("proj_abc123".into()),
            user_id: None,
            trace_id: Some("trace_1".into()),
        },
        caps.to_vec(),
    )
    .unwrap();
    event.timestamp = format_millis(millis).unwrap();
    event
}

fn event(event_type: &str, component: &str, caps: &[Capability]) -> Event {
    event_at(event_type, component, caps, now_millis())
}

fn bus_on(store: &SqlStore) -> Bus {
    Bus::with_config(
        Arc::new(store.event_log()),
        BusConfig {
            max_attempts: 3,
            ..BusConfig::default()
        },
    )
}

fn seqs(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.seq).collect()
}

fn types(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries
        .iter()
        .map(|d| d.event.event_type.as_str())
        .collect()
}

/// Polls and acknowledges until nothing is left; returns everything delivered.
async fn drain(bus: &Bus, id: &str) -> Vec<Delivery> {
    let mut all = Vec::new();
    loop {
        let batch = bus.poll(id, 700).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        bus.ack_batch(&batch).await.unwrap();
        all.extend(batch);
    }
}

async fn publish_poll_ack(db: &TestDb) {
    let bus = bus_on(&db.store);
    bus.subscribe("acme/stats", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    assert!(bus.poll("acme/stats", 10).await.unwrap().is_empty());

    // More than one INSERT chunk, and a remainder.
    let events: Vec<Event> = (0..1234)
        .map(|i| event("api.request.received", ["maggate", "magds"][i % 2], &[]))
        .collect();
    let appended = bus.publish_batch(&events).await.unwrap();
    assert_eq!(
        appended.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (1..=1234).collect::<Vec<_>>()
    );
    assert_eq!(appended[0].component_seq, 1);
    assert_eq!(appended[1].component_seq, 1);
    assert_eq!(appended[1233].component_seq, 617);
    assert_eq!(bus.head().await.unwrap(), 1234);

    let first = bus.poll("acme/stats", 10).await.unwrap();
    assert_eq!(seqs(&first), (1..=10).collect::<Vec<_>>());
    assert_eq!(first[0].event, events[0], "the event comes back exactly");
    assert_eq!(
        (first[1].component_seq, first[1].attempt, first[1].origin),
        (1, 1, Origin::Log)
    );
    // Not acknowledged: the same events again.
    assert_eq!(
        seqs(&bus.poll("acme/stats", 10).await.unwrap()),
        seqs(&first)
    );
    bus.ack(&first[4]).await.unwrap();
    assert_eq!(bus.subscription("acme/stats").await.unwrap().acked_seq, 5);
    // An older acknowledgement never moves the cursor back.
    bus.ack(&first[1]).await.unwrap();
    assert_eq!(bus.poll("acme/stats", 1).await.unwrap()[0].seq, 6);

    let rest = drain(&bus, "acme/stats").await;
    assert_eq!(seqs(&rest), (6..=1234).collect::<Vec<_>>());
    assert_eq!(
        rest.iter().map(|d| &d.event).collect::<Vec<_>>(),
        events[5..].iter().collect::<Vec<_>>()
    );
    assert!(bus.poll("acme/stats", 10).await.unwrap().is_empty());

    // A subscriber starting at the latest sees only what comes after.
    bus.subscribe("late", &["*"], &[], StartAt::Latest)
        .await
        .unwrap();
    let next = bus
        .publish(&event("api.response.sent", "maggate", &[]))
        .await
        .unwrap();
    assert_eq!(seqs(&drain(&bus, "late").await), [next.seq]);
}

async fn unacknowledged_events_are_redelivered_after_a_crash(db: &TestDb) {
    let store = SqlStore::open(&db.url).await.unwrap();
    let bus = bus_on(&store);
    bus.subscribe("ext", &["database.*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    let events: Vec<Event> = (0..6)
        .map(|_| event("database.query.executed", "magds", &[]))
        .collect();
    bus.publish_batch(&events).await.unwrap();
    let handled = bus.poll("ext", 2).await.unwrap();
    bus.ack_batch(&handled).await.unwrap();
    let in_flight = bus.poll("ext", 10).await.unwrap();
    assert_eq!(seqs(&in_flight), [3, 4, 5, 6]);
    // The process dies while handling them: nothing acknowledged.
    drop(bus);
    store.close().await;
    drop(store);

    let store = SqlStore::open(&db.url).await.unwrap();
    let bus = bus_on(&store);
    let again = bus.poll("ext", 10).await.unwrap();
    assert_eq!(seqs(&again), seqs(&in_flight));
    assert_eq!(
        again
            .iter()
            .map(|d| d.event.event_id.as_str())
            .collect::<Vec<_>>(),
        in_flight
            .iter()
            .map(|d| d.event.event_id.as_str())
            .collect::<Vec<_>>(),
        "same events, same ids: consumers dedupe on event_id"
    );
    assert_eq!(again[0].event, events[2]);
    // The subscription itself (patterns, grants) survived too.
    let sub = bus.subscription("ext").await.unwrap();
    assert_eq!(sub.acked_seq, 2);
    assert_eq!(sub.patterns[0].to_string(), "database.*");
    bus.ack_batch(&again).await.unwrap();
    assert!(bus.poll("ext", 10).await.unwrap().is_empty());
    store.close().await;
}

async fn component_order_holds_under_concurrent_publishers(db: &TestDb) {
    let bus = bus_on(&db.store);
    bus.subscribe("all", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    const TASKS: usize = 4;
    const BATCHES: usize = 25;
    const BATCH: usize = 20;
    let components = ["magds", "magauth", "maggate"];
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let bus = bus.clone();
        handles.push(tokio::spawn(async move {
            let mut counters = [0u64; 3];
            let mut appended = Vec::new();
            for batch in 0..BATCHES {
                let events: Vec<Event> = (0..BATCH)
                    .map(|i| {
                        let c = (task + batch + i) % 3;
                        counters[c] += 1;
                        let mut e = event("database.query.executed", components[c], &[]);
                        e.data = json!({"task": task, "n": counters[c]});
                        e
                    })
                    .collect();
                let numbers = bus.publish_batch(&events).await.unwrap();
                appended.extend(numbers.into_iter().zip(events));
            }
            appended
        }));
    }
    let mut published = BTreeMap::new();
    for handle in handles {
        for (numbers, event) in handle.await.unwrap() {
            published.insert(numbers.seq, (numbers.component_seq, event));
        }
    }
    let total = TASKS * BATCHES * BATCH;
    assert_eq!(
        published.keys().copied().collect::<Vec<_>>(),
        (1..=total as u64).collect::<Vec<_>>(),
        "global sequence numbers are gap-free"
    );

    let delivered = drain(&bus, "all").await;
    assert_eq!(delivered.len(), total);
    let mut next_component_seq: BTreeMap<&str, u64> = BTreeMap::new();
    let mut last_n: BTreeMap<(u64, String), u64> = BTreeMap::new();
    for (i, d) in delivered.iter().enumerate() {
        assert_eq!(d.seq, i as u64 + 1, "delivered in global order");
        let component = d.event.source.component.as_str();
        let expected = next_component_seq.entry(component).or_insert(1);
        assert_eq!(
            d.component_seq, *expected,
            "{component}: component sequence is gap-free and increasing in delivery order"
        );
        *expected += 1;
        assert_eq!(published[&d.seq], (d.component_seq, d.event.clone()));
        // Each publisher's events of one component arrive in the order it published them.
        let task = d.event.data["task"].as_u64().unwrap();
        let n = d.event.data["n"].as_u64().unwrap();
        let last = last_n.entry((task, component.to_string())).or_insert(0);
        assert_eq!(n, *last + 1, "task {task}, {component}");
        *last = n;
    }
    assert_eq!(
        next_component_seq.values().map(|n| n - 1).sum::<u64>(),
        total as u64
    );
}

async fn patterns_select_what_a_subscriber_receives(db: &TestDb) {
    let bus = bus_on(&db.store);
    for (id, pattern) in [
        ("everything", "*"),
        ("database", "database.*"),
        ("logins", "auth.user.login"),
    ] {
        bus.subscribe(id, &[pattern], &[], StartAt::Earliest)
            .await
            .unwrap();
    }
    bus.subscribe(
        "two",
        &["api.*", "auth.user.logout"],
        &[],
        StartAt::Earliest,
    )
    .await
    .unwrap();
    bus.publish_batch(&[
        event("database.query.executed", "magds", &[]),
        event("auth.user.login", "magauth", &[]),
        event("api.error.occurred", "maggate", &[]),
        event("database.backup.completed", "magds", &[]),
        event("auth.user.logout", "magauth", &[]),
    ])
    .await
    .unwrap();
    assert_eq!(drain(&bus, "everything").await.len(), 5);
    assert_eq!(
        types(&drain(&bus, "database").await),
        ["database.query.executed", "database.backup.completed"]
    );
    assert_eq!(types(&drain(&bus, "logins").await), ["auth.user.login"]);
    assert_eq!(
        types(&drain(&bus, "two").await),
        ["api.error.occurred", "auth.user.logout"]
    );
    let subs = bus.subscriptions().await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["database", "everything", "logins", "two"]
    );
    assert!(
        subs.iter().all(|s| s.acked_seq == 5),
        "passed-over events are behind every cursor: {subs:?}"
    );
}

async fn capabilities_gate_what_a_subscriber_receives(db: &TestDb) {
    let bus = bus_on(&db.store);
    let read = [Capability::DatabaseRead];
    bus.subscribe("holder", &["database.*"], &read, StartAt::Earliest)
        .await
        .unwrap();
    bus.subscribe(
        "lacking",
        &["database.*"],
        &[Capability::SystemMetrics],
        StartAt::Earliest,
    )
    .await
    .unwrap();
    let gated = event("database.query.executed", "magds", &read);
    let open = event("database.backup.completed", "magds", &[]);
    let admin_only = event(
        "database.migration.applied",
        "magds",
        &[Capability::DatabaseRead, Capability::DatabaseAdmin],
    );
    bus.publish_batch(&[gated.clone(), open.clone(), admin_only])
        .await
        .unwrap();

    let holder = drain(&bus, "holder").await;
    assert_eq!(
        holder.iter().map(|d| &d.event).collect::<Vec<_>>(),
        [&gated, &open],
        "needs every required capability: database.admin is missing for the third"
    );
    let lacking = drain(&bus, "lacking").await;
    assert_eq!(
        lacking.iter().map(|d| &d.event).collect::<Vec<_>>(),
        [&open]
    );

    // Not even after a replay, and it was never counted as delivered to them.
    bus.rewind("lacking", ReplayFrom::Seq(1)).await.unwrap();
    let again = drain(&bus, "lacking").await;
    assert_eq!(again.iter().map(|d| &d.event).collect::<Vec<_>>(), [&open]);
    assert!(
        bus.dead_letters(Some("lacking"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Once granted (the policy gate re-subscribes with the new grants), a replay delivers it.
    bus.subscribe("lacking", &["database.*"], &read, StartAt::Earliest)
        .await
        .unwrap();
    bus.rewind("lacking", ReplayFrom::Seq(1)).await.unwrap();
    assert_eq!(
        drain(&bus, "lacking")
            .await
            .iter()
            .map(|d| &d.event)
            .collect::<Vec<_>>(),
        [&gated, &open]
    );
}

async fn failures_dead_letter_after_the_limit_and_requeue(db: &TestDb) {
    let bus = bus_on(&db.store); // max_attempts: 3
    bus.subscribe("flaky", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    let poison = event("extension.error", "kernel", &[]);
    let fine = event("extension.enabled", "kernel", &[]);
    bus.publish_batch(&[poison.clone(), fine.clone()])
        .await
        .unwrap();

    for attempt in 1..=3 {
        let batch = bus.poll("flaky", 10).await.unwrap();
        assert_eq!(
            (batch[0].seq, batch[0].attempt),
            (1, attempt),
            "the failed event comes first again, its attempt counted"
        );
        let outcome = bus
            .fail(&batch[0], &format!("handler trapped #{attempt}"))
            .await
            .unwrap();
        let expected = if attempt < 3 {
            FailOutcome::Retry { failures: attempt }
        } else {
            FailOutcome::DeadLettered { attempts: 3 }
        };
        assert_eq!(outcome, expected);
    }
    let next = bus.poll("flaky", 10).await.unwrap();
    assert_eq!(
        next.iter().map(|d| (d.seq, d.attempt)).collect::<Vec<_>>(),
        [(2, 1)],
        "delivery moved on past the dead letter"
    );
    bus.ack(&next[0]).await.unwrap();

    let dead = bus.dead_letters(None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].subscriber.as_str(),
            dead[0].seq,
            dead[0].attempts,
            dead[0].last_error.as_str(),
            dead[0].requeued
        ),
        ("flaky", 1, 3, "handler trapped #3", false)
    );
    assert_eq!(dead[0].event, poison);

    // Requeued: delivered again, first, with a fresh count; failing again dead-letters it again.
    assert_eq!(bus.requeue("flaky", Some(1)).await.unwrap(), 1);
    assert!(
        bus.dead_letters(Some("flaky"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    bus.publish(&event("extension.disabled", "kernel", &[]))
        .await
        .unwrap();
    for attempt in 1..=3 {
        let batch = bus.poll("flaky", 10).await.unwrap();
        assert_eq!(
            batch
                .iter()
                .map(|d| (d.seq, d.attempt, d.origin))
                .collect::<Vec<_>>(),
            [(1, attempt, Origin::Requeued), (3, 1, Origin::Log)]
        );
        assert_eq!(batch[0].event, poison);
        let outcome = bus.fail(&batch[0], "still broken").await.unwrap();
        assert_eq!(
            outcome,
            if attempt < 3 {
                FailOutcome::Retry { failures: attempt }
            } else {
                FailOutcome::DeadLettered { attempts: 3 }
            }
        );
    }
    let dead = bus.dead_letters(Some("flaky"), 10).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].last_error.as_str()),
        (1, "still broken")
    );

    // Requeued and handled this time: gone for good.
    bus.requeue("flaky", None).await.unwrap();
    let batch = bus.poll("flaky", 10).await.unwrap();
    assert_eq!(seqs(&batch), [1, 3]);
    bus.ack_batch(&batch).await.unwrap();
    assert!(bus.poll("flaky", 10).await.unwrap().is_empty());
    assert!(bus.dead_letters(None, 10).await.unwrap().is_empty());

    // Purging removes dead letters without delivering them.
    bus.publish(&event("extension.error", "kernel", &[]))
        .await
        .unwrap();
    for _ in 0..3 {
        let batch = bus.poll("flaky", 1).await.unwrap();
        bus.fail(&batch[0], "x").await.unwrap();
    }
    assert_eq!(bus.dead_letters(None, 10).await.unwrap().len(), 1);
    assert_eq!(bus.purge_dead_letters(Some("flaky")).await.unwrap(), 1);
    assert!(bus.dead_letters(None, 10).await.unwrap().is_empty());
    assert!(bus.poll("flaky", 10).await.unwrap().is_empty());

    // Unsubscribing removes what belongs to the subscriber.
    assert!(bus.unsubscribe("flaky").await.unwrap());
    assert_eq!(
        bus.poll("flaky", 1).await.unwrap_err(),
        BusError::UnknownSubscriber("flaky".into())
    );
}

async fn acknowledging_past_a_failed_delivery_is_refused(db: &TestDb) {
    let bus = bus_on(&db.store);
    bus.subscribe("ext", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    bus.publish_batch(&[
        event("api.error.occurred", "maggate", &[]),
        event("api.response.sent", "maggate", &[]),
    ])
    .await
    .unwrap();
    let batch = bus.poll("ext", 10).await.unwrap();
    assert_eq!(
        bus.fail(&batch[0], "boom").await.unwrap(),
        FailOutcome::Retry { failures: 1 }
    );
    let err = bus.ack(&batch[1]).await.unwrap_err();
    assert_eq!(
        err,
        BusError::OutOfOrderAck {
            subscriber: "ext".into(),
            seq: 2,
            pending: 1
        }
    );
    assert!(err.to_string().contains("event 1 failed earlier"), "{err}");
    // Retried and handled in order, both are acknowledged.
    let retry = bus.poll("ext", 10).await.unwrap();
    assert_eq!((retry[0].seq, retry[0].attempt), (1, 2));
    bus.ack(&retry[0]).await.unwrap();
    bus.ack(&retry[1]).await.unwrap();
    assert!(bus.poll("ext", 10).await.unwrap().is_empty());
    assert_eq!(
        bus.ack(&retry[1]).await,
        Ok(()),
        "acknowledging twice is harmless"
    );
}

async fn replay_from_a_sequence_number_and_from_a_time(db: &TestDb) {
    let bus = bus_on(&db.store);
    bus.subscribe("ext", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    let t0 = now_millis() - DAY;
    let events: Vec<Event> = (0..10)
        .map(|i| event_at("realtime.message.sent", "magws", &[], t0 + i * 60_000))
        .collect();
    bus.publish_batch(&events).await.unwrap();
    assert_eq!(drain(&bus, "ext").await.len(), 10);

    assert_eq!(bus.rewind("ext", ReplayFrom::Seq(7)).await.unwrap(), 6);
    assert_eq!(seqs(&drain(&bus, "ext").await), [7, 8, 9, 10]);

    // From a time: the first event at or after it, and everything after.
    let from = t0 + 4 * 60_000 - 1;
    assert_eq!(
        bus.rewind("ext", ReplayFrom::Millis(from)).await.unwrap(),
        4
    );
    let replayed = drain(&bus, "ext").await;
    assert_eq!(seqs(&replayed), [5, 6, 7, 8, 9, 10]);
    assert_eq!(replayed[0].event, events[4]);
    // A time after every event: nothing to replay.
    bus.rewind("ext", ReplayFrom::Millis(t0 + DAY))
        .await
        .unwrap();
    assert!(bus.poll("ext", 10).await.unwrap().is_empty());

    // Reading a range without touching any subscriber.
    let range = bus.replay(ReplayFrom::Seq(3), 4).await.unwrap();
    assert_eq!(
        range.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    assert_eq!(range[0].event, events[2]);
    let by_time = bus
        .replay(ReplayFrom::Millis(t0 + 8 * 60_000), 100)
        .await
        .unwrap();
    assert_eq!(by_time.iter().map(|e| e.seq).collect::<Vec<_>>(), [9, 10]);
    assert_eq!(bus.subscription("ext").await.unwrap().acked_seq, 10);
    assert_eq!(
        bus.rewind("nobody", ReplayFrom::Seq(1)).await.unwrap_err(),
        BusError::UnknownSubscriber("nobody".into())
    );
}

async fn sweeper_removes_only_events_older_than_retention(db: &TestDb) {
    let bus = bus_on(&db.store); // default retention: seven days
    assert_eq!(bus.config().retention.as_secs(), 7 * 24 * 3600);
    bus.subscribe("slow", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    let now = 1_900_000_000_000; // an injected "now"
    let events = [
        event_at("api.request.received", "maggate", &[], now - 8 * DAY),
        event_at("api.request.received", "maggate", &[], now - 7 * DAY - 1),
        event_at("api.request.received", "maggate", &[], now - 7 * DAY),
        event_at("api.request.received", "maggate", &[], now - 6 * DAY),
        event_at("api.request.received", "maggate", &[], now),
    ];
    bus.publish_batch(&events).await.unwrap();
    // A failure pending on an event that will be swept must not block later acks.
    let first = bus.poll("slow", 1).await.unwrap();
    bus.fail(&first[0], "later").await.unwrap();

    assert_eq!(bus.sweep_at(now).await.unwrap(), 2);
    let left = bus.replay(ReplayFrom::Seq(1), 100).await.unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(bus.sweep_at(now).await.unwrap(), 0, "nothing more to sweep");

    // A subscriber behind the swept events resumes at the oldest retained one.
    let delivered = drain(&bus, "slow").await;
    assert_eq!(seqs(&delivered), [3, 4, 5]);
    assert_eq!(delivered[0].event, events[2]);

    // Sequence numbers are never reused after a sweep.
    let next = bus
        .publish(&event_at("api.request.received", "maggate", &[], now))
        .await
        .unwrap();
    assert_eq!((next.seq, next.component_seq), (6, 6));

    // A shorter retention (configurable) sweeps more.
    let short = Bus::with_config(
        bus.log().clone(),
        BusConfig {
            retention: std::time::Duration::from_secs(24 * 3600),
            ..BusConfig::default()
        },
    );
    assert_eq!(short.sweep_at(now).await.unwrap(), 2);
    let left = bus.replay(ReplayFrom::Seq(1), 100).await.unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6]);
}

async fn invalid_and_duplicate_events_are_refused(db: &TestDb) {
    let bus = bus_on(&db.store);
    bus.subscribe("ext", &["*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    let good = event("auth.user.login", "magauth", &[]);
    let mut bad = event("auth.user.login", "magauth", &[]);
    bad.timestamp = "2025-10-05 10:23".into();
    let err = bus
        .publish_batch(&[good.clone(), bad.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BusError::InvalidEvent { event_id, .. } if *event_id == bad.event_id),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&bad.event_id) && err.to_string().contains("timestamp"),
        "{err}"
    );
    let mut bad_type = good.clone();
    bad_type.event_type = "database".into();
    bad_type.event_id = uuid::Uuid::now_v7().to_string();
    assert!(
        bus.publish(&bad_type)
            .await
            .unwrap_err()
            .to_string()
            .contains("event type 'database' must be")
    );
    assert_eq!(
        bus.head().await.unwrap(),
        0,
        "nothing of the batch was stored"
    );

    bus.publish(&good).await.unwrap();
    // The log itself refuses an id it holds, and the whole batch with it.
    let fresh = event("auth.user.logout", "magauth", &[]);
    let err = bus
        .publish_batch(&[fresh.clone(), good.clone()])
        .await
        .unwrap_err();
    assert_eq!(err, BusError::DuplicateEvent(good.event_id.clone()));
    let delivered = drain(&bus, "ext").await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].event, good);
    let ids: HashSet<&str> = delivered
        .iter()
        .map(|d| d.event.event_id.as_str())
        .collect();
    assert!(!ids.contains(fresh.event_id.as_str()));
    // The refused batch left no gap in the numbers.
    assert_eq!(bus.publish(&fresh).await.unwrap().seq, 2);
}
