//! The MagDS adapter as the sandbox calls it (on a blocking thread, after the
//! kernel's capability check): SQL reaches only the extension's bound
//! project, through the parser and the live grant, and every statement is
//! announced as `database.query.executed`.

use async_trait::async_trait;
use magflock_kernel::adapter::{Adapter, AdapterCall};
use magflock_kernel::{Capability, Event};
use magflock_magds::{EventSink, MagDs, MagDsAdapter, MagDsConfig, NoEvents, NoHooks};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorded(Mutex<Vec<Event>>);

#[async_trait]
impl EventSink for Recorded {
    async fn publish(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

fn call(
    extension: &str,
    capability: Capability,
    operation: &str,
    args: serde_json::Value,
) -> AdapterCall {
    AdapterCall {
        extension: extension.into(),
        capability,
        operation: operation.into(),
        args: args.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_reaches_the_bound_project_within_the_live_grant() {
    let dir = tempfile::tempdir().unwrap();
    let magds = Arc::new(
        MagDs::open(
            MagDsConfig::sqlite(dir.path()),
            Arc::new(NoHooks),
            Arc::new(NoEvents),
        )
        .await
        .unwrap(),
    );
    magds
        .create_project("shop", "owner", Vec::new())
        .await
        .unwrap();
    magds
        .apply_migration(
            "shop",
            "0001_items",
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items (name) VALUES ('lamp');",
        )
        .await
        .unwrap();
    let grants: Arc<Mutex<Vec<Capability>>> = Arc::new(Mutex::new(vec![Capability::DatabaseRead]));
    let live = grants.clone();
    let recorded = Arc::new(Recorded::default());
    let adapter = Arc::new(MagDsAdapter::new(
        magds.clone(),
        Arc::new(|extension: &str| (extension == "acme/shopkeeper").then(|| "shop".to_string())),
        Arc::new(move |_: &str| live.lock().unwrap().clone()),
        recorded.clone(),
    ));

    let run = |call: AdapterCall| {
        let adapter = adapter.clone();
        tokio::task::spawn_blocking(move || adapter.execute(&call))
    };
    let rows = run(call(
        "acme/shopkeeper",
        Capability::DatabaseRead,
        "query",
        serde_json::json!({ "sql": "SELECT name FROM items WHERE id = ?", "params": ["1"] }),
    ))
    .await
    .unwrap()
    .unwrap();
    assert_eq!(rows, r#"[{"name":"lamp"}]"#);

    // A write through the read grant is refused; granting write makes it work.
    let write = || {
        call(
            "acme/shopkeeper",
            Capability::DatabaseWrite,
            "execute",
            serde_json::json!({ "sql": "INSERT INTO items (name) VALUES (?)", "params": ["desk"] }),
        )
    };
    let refused = run(write()).await.unwrap().unwrap_err();
    assert!(refused.contains("database.write"), "{refused}");
    grants.lock().unwrap().push(Capability::DatabaseWrite);
    assert_eq!(run(write()).await.unwrap().unwrap(), "1");

    // Smuggling stays refused by the parser.
    let smuggled = run(call(
        "acme/shopkeeper",
        Capability::DatabaseRead,
        "query",
        serde_json::json!({ "sql": "SELECT 1; DELETE FROM items", "params": [] }),
    ))
    .await
    .unwrap()
    .unwrap_err();
    assert!(smuggled.contains("statement"), "{smuggled}");

    // An extension bound to no project reaches nothing.
    let unbound = run(call(
        "acme/stranger",
        Capability::DatabaseRead,
        "query",
        serde_json::json!({ "sql": "SELECT 1", "params": [] }),
    ))
    .await
    .unwrap()
    .unwrap_err();
    assert!(unbound.contains("not bound to a project"), "{unbound}");

    // Every statement that ran was announced, with its project.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let events = recorded.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.event_type == "database.query.executed")
    );
    assert_eq!(events[0].context.project_id.as_deref(), Some("shop"));
    assert_eq!(events[0].data["statement_kind"], "SELECT");
    assert_eq!(events[1].data["statement_kind"], "INSERT");
    assert_eq!(
        events[0].capabilities_required,
        vec![Capability::DatabaseRead]
    );
}
