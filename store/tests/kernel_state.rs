//! The kernel's state in the control-plane store, on SQLite and PostgreSQL:
//! extension policies (status and grants) and batched, ordered audit writes
//! from the kernel's audit writer, which tells its subscribers each stored
//! entry in order (but not those recorded unobserved).

use magflock_kernel::Capability;
use magflock_kernel::audit::{Actor, AuditSink, unobserved};
use magflock_kernel::kv::KeyValueStore;
use magflock_kernel::policy::{ExtensionPolicy, Grant, Status};
use magflock_kernel::policy_store::PolicyStore;
use magflock_store::testing::TestDb;
use magflock_store::{AuditWriter, SqlStore, Store, StoreError, TrustedKeyRow};
use magflock_types::{AuditFilter, Outcome};
use serde_json::json;
use std::sync::Arc;

use magflock_store::on_both_engines;

on_both_engines!(
    policies_are_stored_whole_and_read_back,
    an_unreadable_policy_row_is_an_error_naming_the_extension,
    audit_batches_are_chained_in_order,
    the_audit_writer_keeps_order_and_flush_waits_for_durability,
    the_audit_writer_tells_subscribers_what_it_stored_but_not_unobserved_entries,
    key_values_are_scoped_per_extension_and_round_trip_bytes,
    a_reused_key_value_never_hides_a_write,
    trusted_keys_are_stored_once_and_can_be_removed,
);

async fn policies_are_stored_whole_and_read_back(db: &TestDb) {
    let enabled = ExtensionPolicy {
        extension: "acme/report".into(),
        status: Status::Enabled,
        grants: vec![
            Grant::new(Capability::DatabaseRead),
            Grant::with_hosts(Capability::NetworkOutbound, &["api.acme.test"]),
        ],
        revision: 3,
    };
    db.store.save_policy(&enabled).await.unwrap();
    let quarantined = ExtensionPolicy {
        extension: "test/hostile".into(),
        status: Status::Quarantined {
            reason: "called database.write".into(),
        },
        grants: vec![],
        revision: 1,
    };
    db.store.save_policy(&quarantined).await.unwrap();
    assert_eq!(
        db.store.load_policies().await.unwrap(),
        vec![enabled.clone(), quarantined.clone()]
    );

    // Replaced whole: revoking everything and disabling leaves exactly that.
    let disabled = ExtensionPolicy {
        status: Status::Disabled,
        grants: vec![],
        revision: 4,
        ..enabled.clone()
    };
    db.store.save_policy(&disabled).await.unwrap();
    // A late write of an older snapshot (revision 3) does not put it back.
    db.store.save_policy(&enabled).await.unwrap();
    db.store.delete_policy("test/hostile").await.unwrap();
    assert_eq!(db.store.load_policies().await.unwrap(), vec![disabled]);
}

async fn an_unreadable_policy_row_is_an_error_naming_the_extension(db: &TestDb) {
    sqlx::query("INSERT INTO extension_policies (extension_id, status, reason, grants, updated_at) VALUES ('acme/bad', 'enabled', NULL, '[{\"capability\":\"database.teleport\"}]', 0)")
        .execute(db.store.pool())
        .await
        .unwrap();
    let err = db.store.load_policies().await.unwrap_err().to_string();
    assert!(
        err.contains("acme/bad") && err.contains("database.teleport"),
        "{err}"
    );
}

async fn audit_batches_are_chained_in_order(db: &TestDb) {
    let actor = Actor::extension("acme/report");
    let batch: Vec<_> = (0..3)
        .map(|i| {
            actor.entry(
                "extension.host_call",
                Some("database.read"),
                Outcome::Success,
                json!({"n": i}),
            )
        })
        .collect();
    let first = db.store.audit_append_batch(batch).await.unwrap();
    assert_eq!(
        first.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(first[1].prev_hash, first[0].hash);
    assert!(
        db.store
            .audit_append_batch(Vec::new())
            .await
            .unwrap()
            .is_empty()
    );
    let report = db.store.audit_verify().await.unwrap();
    assert_eq!((report.entries_checked, report.first_broken), (3, None));
}

async fn the_audit_writer_keeps_order_and_flush_waits_for_durability(db: &TestDb) {
    let store = Arc::new(SqlStore::open(&db.url).await.unwrap());
    let writer = AuditWriter::spawn(store.clone() as Arc<dyn Store>);
    let actor = Actor::extension("acme/report");
    for i in 0..1500 {
        writer.record(actor.entry(
            "extension.host_call",
            None,
            Outcome::Success,
            json!({ "n": i }),
        ));
    }
    writer.flush().await.unwrap();
    let page = db
        .store
        .audit_list(&AuditFilter {
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.total_matching, 1500,
        "every recorded entry is stored after flush"
    );
    // Newest first: the last recorded is on top, in recording order below it.
    let numbers: Vec<i64> = page
        .entries
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.detail).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers[0], 1499);
    assert!(
        numbers.windows(2).all(|w| w[0] == w[1] + 1),
        "recording order kept"
    );
    assert_eq!(db.store.audit_verify().await.unwrap().first_broken, None);
    store.close().await;
}

async fn the_audit_writer_tells_subscribers_what_it_stored_but_not_unobserved_entries(db: &TestDb) {
    let store = Arc::new(SqlStore::open(&db.url).await.unwrap());
    let writer = AuditWriter::spawn(store.clone() as Arc<dyn Store>);
    let mut stored = writer.subscribe();
    let actor = Actor::extension("acme/report");
    let entry = |n: i64| {
        actor.entry(
            "extension.host_call",
            None,
            Outcome::Success,
            json!({"n": n}),
        )
    };
    writer.record(entry(1));
    unobserved(|| {
        writer.record(entry(2));
        // Nested marks stay marked, and the mark ends with the outermost.
        unobserved(|| writer.record(entry(3)));
        writer.record(entry(4));
    });
    writer.record(entry(5));
    writer.flush().await.unwrap();

    let mut told = Vec::new();
    while let Ok(e) = stored.try_recv() {
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        told.push((e.seq, detail["n"].as_i64().unwrap()));
    }
    // Told once stored (with the sequence number the log gave them), in order.
    assert_eq!(told, [(1, 1), (5, 5)]);
    let all = db
        .store
        .audit_list(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.total_matching, 5,
        "unobserved entries are stored all the same"
    );
    store.close().await;
}

async fn key_values_are_scoped_per_extension_and_round_trip_bytes(db: &TestDb) {
    let bytes: Vec<u8> = (0..=255).collect();
    db.store.kv_set("a/one", "seen/1", &bytes).await.unwrap();
    db.store.kv_set("a/one", "seen/2", b"x").await.unwrap();
    db.store
        .kv_set("a/one", "seen_", b"literal underscore")
        .await
        .unwrap();
    db.store
        .kv_set("a/two", "seen/1", b"other extension")
        .await
        .unwrap();
    assert_eq!(
        db.store.kv_get("a/one", "seen/1").await.unwrap(),
        Some(bytes)
    );
    assert_eq!(
        db.store.kv_get("a/two", "seen/1").await.unwrap(),
        Some(b"other extension".to_vec())
    );
    assert_eq!(
        db.store.kv_keys("a/one", "seen/").await.unwrap(),
        vec!["seen/1", "seen/2"]
    );
    assert_eq!(
        db.store.kv_keys("a/one", "seen_").await.unwrap(),
        vec!["seen_"],
        "'_' is literal"
    );
    db.store.kv_set("a/one", "seen/2", b"y").await.unwrap();
    assert_eq!(
        db.store.kv_get("a/one", "seen/2").await.unwrap(),
        Some(b"y".to_vec())
    );
    db.store.kv_delete("a/one", "seen/2").await.unwrap();
    assert_eq!(db.store.kv_get("a/one", "seen/2").await.unwrap(), None);
    assert_eq!(db.store.kv_clear("a/one").await.unwrap(), 2);
    assert!(db.store.kv_keys("a/one", "").await.unwrap().is_empty());
    assert_eq!(db.store.kv_keys("a/two", "").await.unwrap(), vec!["seen/1"]);
}

async fn trusted_keys_are_stored_once_and_can_be_removed(db: &TestDb) {
    let key = |id: &str, publisher: &str, public: &str, level: &str| TrustedKeyRow {
        key_id: id.into(),
        publisher: publisher.into(),
        public_key: public.into(),
        level: level.into(),
        added_by: Some("owner@example.test".into()),
        added_at: 0,
    };
    let first = db
        .store
        .trusted_key_add(&key("aa11", "magflock", "0a0b", "first_party"))
        .await
        .unwrap();
    assert!(first.added_at > 0);
    db.store
        .trusted_key_add(&key("bb22", "acme", "0c0d", "verified_publisher"))
        .await
        .unwrap();
    let err = db
        .store
        .trusted_key_add(&key("aa11", "magflock", "0e0f", "first_party"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("aa11")),
        "{err}"
    );
    assert!(
        db.store
            .trusted_key_add(&key("cc33", "other", "0c0d", "verified_publisher"))
            .await
            .is_err(),
        "a public key is trusted once"
    );
    assert!(
        db.store
            .trusted_key_add(&key("dd44", "x", "1111", "root"))
            .await
            .is_err(),
        "unknown level"
    );
    let listed: Vec<String> = db
        .store
        .trusted_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.publisher)
        .collect();
    assert_eq!(listed, vec!["acme", "magflock"]);
    assert!(db.store.trusted_key_remove("bb22").await.unwrap());
    assert!(!db.store.trusted_key_remove("bb22").await.unwrap());
    assert_eq!(db.store.trusted_keys().await.unwrap(), vec![first]);
}

/// Reads are reused for a moment (`extension_kv`), but every write, delete
/// and clear made in the process shows at once, and one extension's writes
/// never disturb another's reused values.
async fn a_reused_key_value_never_hides_a_write(db: &TestDb) {
    let store = &db.store;
    assert_eq!(store.kv_get("a/one", "config").await.unwrap(), None);
    store.kv_set("a/one", "config", b"v1").await.unwrap();
    assert_eq!(
        store.kv_get("a/one", "config").await.unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    store.kv_set("a/one", "config", b"v2").await.unwrap();
    assert_eq!(
        store.kv_get("a/one", "config").await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );
    store.kv_set("a/two", "config", b"other").await.unwrap();
    assert_eq!(
        store.kv_get("a/one", "config").await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );
    store.kv_delete("a/one", "config").await.unwrap();
    assert_eq!(store.kv_get("a/one", "config").await.unwrap(), None);
    store.kv_set("a/one", "config", b"v3").await.unwrap();
    store.kv_get("a/one", "config").await.unwrap();
    assert_eq!(store.kv_clear("a/one").await.unwrap(), 1);
    assert_eq!(store.kv_get("a/one", "config").await.unwrap(), None);
    assert_eq!(
        store.kv_get("a/two", "config").await.unwrap().as_deref(),
        Some(&b"other"[..])
    );
}
