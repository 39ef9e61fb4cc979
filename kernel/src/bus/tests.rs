//! The kernel's rules of the bus, over the in-memory log.

use super::*;
use crate::event::{Context, Source};
use crate::{Capability, Event, Pattern};
use serde_json::json;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

/// Runs a future that never waits (the memory log never does).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

fn event(event_type: &str, component: &str, caps: &[Capability]) -> Event {
    Event::new(
        event_type,
        Source {
            component: component.into(),
            extension: None,
        },
        json!({"n": 1}),
        Context::default(),
        caps.to_vec(),
    )
    .unwrap()
}

fn bus() -> Bus {
    Bus::with_config(
        Arc::new(MemoryLog::new()),
        BusConfig {
            max_attempts: 3,
            ..BusConfig::default()
        },
    )
}

fn types(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries
        .iter()
        .map(|d| d.event.event_type.as_str())
        .collect()
}

#[test]
fn patterns_and_capabilities_decide_who_receives_what() {
    block_on(async {
        let bus = bus();
        let reader = [Capability::DatabaseRead];
        bus.subscribe("db", &["database.*"], &reader, StartAt::Earliest)
            .await
            .unwrap();
        bus.subscribe("all-no-caps", &["*"], &[], StartAt::Earliest)
            .await
            .unwrap();
        bus.subscribe("exact", &["auth.user.login"], &[], StartAt::Earliest)
            .await
            .unwrap();
        let gated = event("database.query.executed", "magds", &reader);
        bus.publish_batch(&[
            gated.clone(),
            event("database.backup.completed", "magds", &[]),
            event("auth.user.login", "magauth", &[]),
            event("auth.user.logout", "magauth", &[]),
        ])
        .await
        .unwrap();

        let db = bus.poll("db", 10).await.unwrap();
        assert_eq!(
            types(&db),
            ["database.query.executed", "database.backup.completed"]
        );
        assert_eq!(db[0].event, gated);
        let all = bus.poll("all-no-caps", 10).await.unwrap();
        assert_eq!(
            types(&all),
            [
                "database.backup.completed",
                "auth.user.login",
                "auth.user.logout"
            ],
            "a subscriber without database.read never receives the gated event"
        );
        // The gated event was passed over, not delivered: the cursor skipped it.
        assert_eq!(bus.subscription("all-no-caps").await.unwrap().acked_seq, 1);
        assert_eq!(
            types(&bus.poll("exact", 10).await.unwrap()),
            ["auth.user.login"]
        );
    });
}

#[test]
fn events_not_for_a_subscriber_are_never_delivered_nor_failed() {
    block_on(async {
        let bus = bus();
        bus.subscribe(
            "ext",
            &["*"],
            &[Capability::SystemMetrics],
            StartAt::Earliest,
        )
        .await
        .unwrap();
        let secret: Vec<Event> = (0..600)
            .map(|_| event("auth.user.login", "magauth", &[Capability::AuthAuditAccess]))
            .collect();
        bus.publish_batch(&secret).await.unwrap();
        assert!(bus.poll("ext", 10).await.unwrap().is_empty());
        assert_eq!(bus.subscription("ext").await.unwrap().acked_seq, 600);
        bus.publish(&event("api.request.received", "maggate", &[]))
            .await
            .unwrap();
        let got = bus.poll("ext", 10).await.unwrap();
        assert_eq!(types(&got), ["api.request.received"]);
        assert_eq!((got[0].seq, got[0].attempt), (601, 1));
        assert!(bus.dead_letters(None, 10).await.unwrap().is_empty());

        // Replaying from the start still never hands out the gated events.
        bus.rewind("ext", ReplayFrom::Seq(1)).await.unwrap();
        assert_eq!(
            types(&bus.poll("ext", 1000).await.unwrap()),
            ["api.request.received"]
        );
    });
}

#[test]
fn a_poll_examines_at_most_the_scan_limit_and_the_next_continues() {
    block_on(async {
        let bus = Bus::with_config(
            Arc::new(MemoryLog::new()),
            BusConfig {
                scan_limit: 100,
                ..BusConfig::default()
            },
        );
        bus.subscribe("api", &["api.*"], &[], StartAt::Earliest)
            .await
            .unwrap();
        let mut events: Vec<Event> = (0..250)
            .map(|_| event("auth.user.login", "magauth", &[]))
            .collect();
        events.push(event("api.error.occurred", "maggate", &[]));
        bus.publish_batch(&events).await.unwrap();
        let mut polls = 0;
        let got = loop {
            polls += 1;
            let got = bus.poll("api", 5).await.unwrap();
            if !got.is_empty() || polls > 10 {
                break got;
            }
        };
        assert_eq!(types(&got), ["api.error.occurred"]);
        assert!(polls > 1, "the first poll stops at the scan limit");
    });
}

#[test]
fn invalid_or_duplicate_events_publish_nothing() {
    block_on(async {
        let bus = bus();
        let good = event("api.request.received", "maggate", &[]);
        let mut bad = event("api.request.received", "maggate", &[]);
        bad.event_type = "billing.invoice.paid".into();
        let err = bus
            .publish_batch(&[good.clone(), bad.clone()])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BusError::InvalidEvent { event_id, problem }
                if *event_id == bad.event_id && problem.contains("billing.invoice.paid")),
            "{err}"
        );
        let err = bus
            .publish_batch(&[good.clone(), good.clone()])
            .await
            .unwrap_err();
        assert_eq!(err, BusError::DuplicateEvent(good.event_id.clone()));
        assert_eq!(bus.head().await.unwrap(), 0, "nothing was published");
        bus.publish(&good).await.unwrap();
        assert_eq!(
            bus.publish(&good).await.unwrap_err(),
            BusError::DuplicateEvent(good.event_id.clone())
        );
    });
}

#[test]
fn bad_subscriptions_are_refused_by_name() {
    block_on(async {
        let bus = bus();
        let err = bus
            .subscribe("x", &["billing.*"], &[], StartAt::Latest)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("billing.*"), "{err}");
        let none: [&str; 0] = [];
        assert!(matches!(
            bus.subscribe("x", &none, &[], StartAt::Latest).await,
            Err(BusError::InvalidSubscription { .. })
        ));
        assert!(matches!(
            bus.subscribe("has space", &["*"], &[], StartAt::Latest)
                .await,
            Err(BusError::InvalidSubscription { .. })
        ));
        assert_eq!(
            bus.poll("nobody", 1).await.unwrap_err(),
            BusError::UnknownSubscriber("nobody".into())
        );
    });
}

#[test]
fn failures_count_attempts_then_dead_letter_and_requeue() {
    block_on(async {
        let bus = bus();
        bus.subscribe("ext", &["*"], &[], StartAt::Earliest)
            .await
            .unwrap();
        bus.publish_batch(&[
            event("api.error.occurred", "maggate", &[]),
            event("api.response.sent", "maggate", &[]),
        ])
        .await
        .unwrap();
        for attempt in 1..=3 {
            let got = bus.poll("ext", 10).await.unwrap();
            assert_eq!((got[0].seq, got[0].attempt), (1, attempt));
            let outcome = bus.fail(&got[0], "boom").await.unwrap();
            if attempt < 3 {
                assert_eq!(outcome, FailOutcome::Retry { failures: attempt });
                // Acknowledging past a failed event would lose it.
                assert_eq!(
                    bus.ack(&got[1]).await.unwrap_err(),
                    BusError::OutOfOrderAck {
                        subscriber: "ext".into(),
                        seq: 2,
                        pending: 1
                    }
                );
            } else {
                assert_eq!(outcome, FailOutcome::DeadLettered { attempts: 3 });
            }
        }
        let next = bus.poll("ext", 10).await.unwrap();
        assert_eq!(
            next.iter().map(|d| (d.seq, d.attempt)).collect::<Vec<_>>(),
            [(2, 1)]
        );
        bus.ack(&next[0]).await.unwrap();
        let dead = bus.dead_letters(Some("ext"), 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].seq, dead[0].attempts), (1, 3));
        assert_eq!(dead[0].last_error, "boom");

        assert_eq!(bus.requeue("ext", Some(1)).await.unwrap(), 1);
        assert!(bus.dead_letters(None, 10).await.unwrap().is_empty());
        let again = bus.poll("ext", 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].seq, again[0].attempt, again[0].origin),
            (1, 1, Origin::Requeued)
        );
        bus.ack(&again[0]).await.unwrap();
        assert!(bus.poll("ext", 10).await.unwrap().is_empty());
    });
}

#[test]
fn a_requeued_event_no_longer_visible_is_dropped() {
    block_on(async {
        let bus = Bus::with_config(
            Arc::new(MemoryLog::new()),
            BusConfig {
                max_attempts: 1,
                ..BusConfig::default()
            },
        );
        let caps = [Capability::DatabaseRead];
        bus.subscribe("ext", &["*"], &caps, StartAt::Earliest)
            .await
            .unwrap();
        bus.publish(&event("database.query.executed", "magds", &caps))
            .await
            .unwrap();
        let got = bus.poll("ext", 1).await.unwrap();
        assert_eq!(
            bus.fail(&got[0], "x").await.unwrap(),
            FailOutcome::DeadLettered { attempts: 1 }
        );
        bus.requeue("ext", None).await.unwrap();
        // The grant is revoked before the requeued event is delivered.
        bus.subscribe("ext", &["*"], &[], StartAt::Earliest)
            .await
            .unwrap();
        assert!(bus.poll("ext", 10).await.unwrap().is_empty());
        assert_eq!(bus.purge_dead_letters(None).await.unwrap(), 0);
    });
}

#[test]
fn resubscribing_keeps_the_cursor_and_start_positions_apply_to_new_ones() {
    block_on(async {
        let bus = bus();
        bus.publish(&event("api.error.occurred", "maggate", &[]))
            .await
            .unwrap();
        assert_eq!(
            bus.subscribe("late", &["*"], &[], StartAt::Latest)
                .await
                .unwrap()
                .acked_seq,
            1
        );
        assert_eq!(
            bus.subscribe("early", &["*"], &[], StartAt::Earliest)
                .await
                .unwrap()
                .acked_seq,
            0
        );
        let sub = bus
            .subscribe("early", &["api.*"], &[], StartAt::Latest)
            .await
            .unwrap();
        assert_eq!(sub.acked_seq, 0);
        assert_eq!(sub.patterns, [Pattern::Category("api".into())]);
        assert!(bus.unsubscribe("early").await.unwrap());
        assert!(!bus.unsubscribe("early").await.unwrap());
    });
}

#[test]
fn patterns_print_as_written() {
    for text in ["*", "database.*", "auth.user.login"] {
        assert_eq!(Pattern::parse(text).unwrap().to_string(), text);
    }
}
