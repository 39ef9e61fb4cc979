//! Bus events reach the extensions that subscribe to them, gated by their
//! grants: no `realtime.subscribe_events`, no delivery; an event requiring a
//! capability the extension lacks never reaches it.

mod support;

use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event, Grant};
use magflock_sandbox::EventDelivery;
use serde_json::json;
use support::*;

fn event(event_type: &str, required: Vec<Capability>) -> Event {
    let source = Source {
        component: "magds".into(),
        extension: None,
    };
    Event::new(
        event_type,
        source,
        json!({"n": 1}),
        Context::default(),
        required,
    )
    .unwrap()
}

async fn seen(kernel: &Kernel) -> String {
    let loaded = kernel.sandbox.get(STEADY).unwrap();
    tokio::task::spawn_blocking(move || loaded.render_widget("pings", "{}"))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_events_are_delivered_only_within_the_grant() {
    let kernel = Kernel::new().await;
    kernel
        .install_enabled(parse(&manifest_text("steady")), "magflock-ext-steady")
        .await;
    let delivery = EventDelivery::new(kernel.bus.clone(), kernel.sandbox.clone());

    kernel
        .bus
        .publish(&event("extension.test.early", vec![]))
        .await
        .unwrap();
    assert_eq!(
        delivery.run_once().await.unwrap().delivered,
        0,
        "no grant, no delivery"
    );

    kernel
        .policy
        .grant(
            STEADY,
            Grant::new(Capability::RealtimeSubscribeEvents),
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(
        delivery.run_once().await.unwrap().delivered,
        0,
        "subscribes from now on"
    );
    kernel
        .bus
        .publish(&event("extension.test.ping", vec![]))
        .await
        .unwrap();
    kernel
        .bus
        .publish(&event(
            "extension.test.secret",
            vec![Capability::DatabaseRead],
        ))
        .await
        .unwrap();
    kernel
        .bus
        .publish(&event("database.query.executed", vec![]))
        .await
        .unwrap();
    let round = delivery.run_once().await.unwrap();
    assert_eq!(
        round.delivered, 1,
        "only the visible, matching event: {round:?}"
    );
    assert!(
        seen(&kernel).await.contains("\"value\":\"1\""),
        "{}",
        seen(&kernel).await
    );

    // Delivered and acknowledged: nothing is delivered twice.
    assert_eq!(delivery.run_once().await.unwrap().delivered, 0);
    kernel.db.cleanup().await;
}
