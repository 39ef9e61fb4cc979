//! Project API keys in the control-plane store, on SQLite and PostgreSQL:
//! stored by hash only, unique, found by hash (revoked ones too), listed per
//! project, revoked once, touched on use.

use magflock_store::testing::TestDb;
use magflock_store::{ApiKeyRow, Store, StoreError};

use magflock_store::on_both_engines;

on_both_engines!(
    keys_are_stored_found_by_hash_and_listed_per_project,
    a_key_id_or_hash_is_stored_once,
    revoking_is_idempotent_and_keeps_the_row,
    touching_records_the_last_use,
    personal_tokens_are_listed_apart_from_project_keys,
);

fn key(id: &str, project: &str, hash: &str, at: i64) -> ApiKeyRow {
    ApiKeyRow {
        id: id.into(),
        project: project.into(),
        name: format!("key {id}"),
        prefix: "mf_abcde".into(),
        key_hash: hash.into(),
        created_by: Some("u-1".into()),
        created_at: at,
        last_used_at: None,
        revoked_at: None,
        user_id: None,
        expires_at: None,
    }
}

async fn personal_tokens_are_listed_apart_from_project_keys(db: &TestDb) {
    let project_key = key("k1", "p1", &"a".repeat(64), 1);
    let token = |id: &str, user: &str, hash: char, at: i64| ApiKeyRow {
        project: String::new(),
        user_id: Some(user.into()),
        expires_at: Some(1_000 + at),
        ..key(id, "", &hash.to_string().repeat(64), at)
    };
    let (t1, t2) = (token("t1", "u-1", 'b', 2), token("t2", "u-2", 'c', 3));
    for row in [&project_key, &t2, &t1] {
        db.store.api_key_add(row).await.unwrap();
    }
    assert_eq!(db.store.api_keys(None).await.unwrap(), vec![project_key]);
    assert_eq!(
        db.store.personal_tokens(Some("u-1")).await.unwrap(),
        vec![t1.clone()]
    );
    assert_eq!(
        db.store.personal_tokens(None).await.unwrap(),
        vec![t1.clone(), t2]
    );
    let found = db
        .store
        .api_key_by_hash(&"b".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_id.as_deref(), Some("u-1"));
    assert!(!found.is_expired(1_001) && found.is_expired(1_002));
}

async fn keys_are_stored_found_by_hash_and_listed_per_project(db: &TestDb) {
    let a = key("k1", "p1", &"a".repeat(64), 10);
    let b = key("k2", "p1", &"b".repeat(64), 20);
    let c = key("k3", "p2", &"c".repeat(64), 5);
    for k in [&b, &c, &a] {
        assert_eq!(&db.store.api_key_add(k).await.unwrap(), k);
    }
    assert_eq!(
        db.store.api_key_by_hash(&"a".repeat(64)).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        db.store.api_key_by_hash(&"d".repeat(64)).await.unwrap(),
        None
    );
    assert_eq!(
        db.store.api_keys(Some("p1")).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(db.store.api_keys(None).await.unwrap(), vec![a, b, c]);
    assert!(db.store.api_keys(Some("p9")).await.unwrap().is_empty());
}

async fn a_key_id_or_hash_is_stored_once(db: &TestDb) {
    db.store
        .api_key_add(&key("k1", "p1", &"a".repeat(64), 1))
        .await
        .unwrap();
    for twin in [
        key("k1", "p1", &"b".repeat(64), 2),
        key("k2", "p1", &"a".repeat(64), 2),
    ] {
        match db.store.api_key_add(&twin).await {
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains("mf_abcde"), "{message}")
            }
            other => panic!("a duplicate must be a conflict: {other:?}"),
        }
    }
    assert_eq!(db.store.api_keys(None).await.unwrap().len(), 1);
}

async fn revoking_is_idempotent_and_keeps_the_row(db: &TestDb) {
    let hash = "a".repeat(64);
    db.store
        .api_key_add(&key("k1", "p1", &hash, 1))
        .await
        .unwrap();
    assert!(db.store.api_key_revoke("k1", 100).await.unwrap());
    assert!(!db.store.api_key_revoke("k1", 200).await.unwrap());
    assert!(!db.store.api_key_revoke("nope", 200).await.unwrap());
    let found = db.store.api_key_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(100));
    assert!(found.is_revoked());
    assert_eq!(db.store.api_keys(Some("p1")).await.unwrap().len(), 1);
}

async fn touching_records_the_last_use(db: &TestDb) {
    let hash = "a".repeat(64);
    db.store
        .api_key_add(&key("k1", "p1", &hash, 1))
        .await
        .unwrap();
    db.store.api_key_touch("k1", 42).await.unwrap();
    db.store.api_key_touch("k1", 43).await.unwrap();
    let found = db.store.api_key_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(43));
    assert_eq!(found.revoked_at, None);
}
