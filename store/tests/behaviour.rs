//! Store behaviour, run once on SQLite and once on PostgreSQL (a fresh database
//! per test). Each case is an `async fn(&TestDb)`; `on_both_engines!` makes the
//! two `#[tokio::test]`s.

use magflock_store::testing::TestDb;
use magflock_store::{Engine, GENESIS_HASH, SessionRow, Store, StoreError, now_millis};
use magflock_types::{ActorKind, AuditFilter, NewAuditEntry, NewUser, Outcome, Role};
use sqlx::Executor;

use magflock_store::on_both_engines;

on_both_engines!(
    first_owner_is_created_once,
    first_owner_race_has_one_winner,
    duplicate_email_is_a_conflict_naming_it,
    an_active_owner_always_remains,
    disabling_or_resetting_a_password_ends_sessions,
    sessions_expire_and_are_swept,
    audit_chain_links_and_verifies,
    audit_log_refuses_update_and_delete,
    audit_tampering_is_found_at_the_changed_entry,
    audit_deletion_is_found,
    audit_filters_and_pages,
    concurrent_audit_appends_keep_one_chain,
    settings_are_upserted,
    preferences_are_per_user,
    audit_filters_by_extension_capability_outcome_and_text,
);

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        display_name: email.split('@').next().unwrap().into(),
        role,
        password_hash: "$argon2id$fake".into(),
    }
}

fn entry(actor: &str, action: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor_kind: ActorKind::User,
        actor_id: Some(format!("id-{actor}")),
        actor_label: actor.into(),
        action: action.into(),
        target: None,
        outcome: Outcome::Success,
        detail: r#"{"k":"v"}"#.into(),
        ip: Some("127.0.0.1".into()),
    }
}

async fn first_owner_is_created_once(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.user_count().await.unwrap(), 0);
    let owner = s
        .create_first_owner(new_user("ana@example.com", Role::Auditor))
        .await
        .unwrap();
    assert_eq!(
        owner.role,
        Role::Owner,
        "the first account is always an owner"
    );
    assert!(owner.is_active());
    let again = s
        .create_first_owner(new_user("bob@example.com", Role::Owner))
        .await;
    assert!(matches!(again, Err(StoreError::AlreadySetUp)), "{again:?}");
    assert_eq!(s.user_count().await.unwrap(), 1);
}

async fn first_owner_race_has_one_winner(db: &TestDb) {
    let s = &db.store;
    let results = tokio::join!(
        s.create_first_owner(new_user("a@example.com", Role::Owner)),
        s.create_first_owner(new_user("b@example.com", Role::Owner)),
    );
    let wins = [&results.0, &results.1]
        .iter()
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(wins, 1, "{results:?}");
    assert_eq!(s.user_count().await.unwrap(), 1);
}

async fn duplicate_email_is_a_conflict_naming_it(db: &TestDb) {
    let s = &db.store;
    s.create_user(new_user("dup@example.com", Role::Admin))
        .await
        .unwrap();
    match s
        .create_user(new_user("dup@example.com", Role::Auditor))
        .await
    {
        Err(StoreError::Conflict(msg)) => assert!(msg.contains("dup@example.com"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn an_active_owner_always_remains(db: &TestDb) {
    let s = &db.store;
    let owner = s
        .create_first_owner(new_user("owner@example.com", Role::Owner))
        .await
        .unwrap();
    assert!(matches!(
        s.set_user_role(&owner.id, Role::Admin).await,
        Err(StoreError::LastOwner)
    ));
    assert!(matches!(
        s.set_user_disabled(&owner.id, Some(now_millis())).await,
        Err(StoreError::LastOwner)
    ));
    assert_eq!(
        s.user_by_id(&owner.id).await.unwrap().unwrap().role,
        Role::Owner,
        "rolled back"
    );

    let second = s
        .create_user(new_user("second@example.com", Role::Owner))
        .await
        .unwrap();
    let demoted = s.set_user_role(&owner.id, Role::Admin).await.unwrap();
    assert_eq!(demoted.role, Role::Admin);
    assert!(matches!(
        s.set_user_disabled(&second.id, Some(1)).await,
        Err(StoreError::LastOwner)
    ));
    assert!(matches!(
        s.set_user_role("no-such-id", Role::Admin).await,
        Err(StoreError::NotFound(_))
    ));
}

fn session(id: &str, user: Option<&str>, expires_at: i64) -> SessionRow {
    SessionRow {
        id: id.into(),
        data: "{}".into(),
        expires_at,
        user_id: user.map(String::from),
    }
}

async fn disabling_or_resetting_a_password_ends_sessions(db: &TestDb) {
    let s = &db.store;
    s.create_first_owner(new_user("owner@example.com", Role::Owner))
        .await
        .unwrap();
    let admin = s
        .create_user(new_user("admin@example.com", Role::Admin))
        .await
        .unwrap();
    let later = now_millis() + 60_000;
    s.session_save(session("s1", Some(&admin.id), later))
        .await
        .unwrap();
    s.set_user_disabled(&admin.id, Some(now_millis()))
        .await
        .unwrap();
    assert!(s.session_load("s1", now_millis()).await.unwrap().is_none());

    s.set_user_disabled(&admin.id, None).await.unwrap();
    s.session_save(session("s2", Some(&admin.id), later))
        .await
        .unwrap();
    s.set_password_hash(&admin.id, "$argon2id$new")
        .await
        .unwrap();
    assert!(s.session_load("s2", now_millis()).await.unwrap().is_none());
    let (_, hash) = s
        .user_with_hash_by_email("admin@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "$argon2id$new");
}

async fn sessions_expire_and_are_swept(db: &TestDb) {
    let s = &db.store;
    let now = now_millis();
    s.session_create(session("live", None, now + 60_000))
        .await
        .unwrap();
    s.session_create(session("dead", None, now - 1))
        .await
        .unwrap();
    assert!(matches!(
        s.session_create(session("live", None, now)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.session_load("live", now).await.unwrap().is_some());
    assert!(
        s.session_load("dead", now).await.unwrap().is_none(),
        "expired sessions are never returned"
    );
    let mut updated = session("live", None, now + 120_000);
    updated.data = r#"{"x":1}"#.into();
    s.session_save(updated.clone()).await.unwrap();
    assert_eq!(s.session_load("live", now).await.unwrap(), Some(updated));
    assert_eq!(s.session_delete_expired(now).await.unwrap(), 1);
    s.session_delete("live").await.unwrap();
    assert!(s.session_load("live", now).await.unwrap().is_none());
}

async fn audit_chain_links_and_verifies(db: &TestDb) {
    let s = &db.store;
    let empty = s.audit_verify().await.unwrap();
    assert!(empty.is_intact());
    assert_eq!(empty.entries_checked, 0);
    let first = s.audit_append(entry("ana", "auth.login")).await.unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    let second = s.audit_append(entry("bob", "user.created")).await.unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_ne!(first.hash, second.hash);
    let report = s.audit_verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries_checked, 2);
}

async fn audit_log_refuses_update_and_delete(db: &TestDb) {
    let s = &db.store;
    s.audit_append(entry("ana", "auth.login")).await.unwrap();
    let update = s
        .pool()
        .execute("UPDATE audit_log SET actor_label = 'mallory'")
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = s.pool().execute("DELETE FROM audit_log").await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert!(s.audit_verify().await.unwrap().is_intact());
}

/// Removes the append-only guard, as someone with raw database access could.
async fn disable_guard(db: &TestDb) {
    let sql = match db.store.engine() {
        Engine::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        Engine::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER USER",
    };
    db.store.pool().execute(sql).await.unwrap();
}

async fn audit_tampering_is_found_at_the_changed_entry(db: &TestDb) {
    let s = &db.store;
    for i in 0..5 {
        s.audit_append(entry(&format!("user{i}"), "auth.login"))
            .await
            .unwrap();
    }
    disable_guard(db).await;
    s.pool()
        .execute("UPDATE audit_log SET outcome = 'failure' WHERE seq = 3")
        .await
        .unwrap();
    let report = s.audit_verify().await.unwrap();
    let broken = report.first_broken.expect("tampering must be detected");
    assert_eq!(broken.seq, 3);
    assert!(broken.reason.contains("changed"), "{}", broken.reason);

    // Recomputing the changed entry's hash does not help: the next link breaks.
    s.pool()
        .execute(
            format!(
                "UPDATE audit_log SET hash = '{}' WHERE seq = 3",
                "ab".repeat(32)
            )
            .as_str(),
        )
        .await
        .unwrap();
    let report = s.audit_verify().await.unwrap();
    let broken = report.first_broken.expect("still detected");
    assert!(broken.seq == 3 || broken.seq == 4, "{broken:?}");
}

async fn audit_deletion_is_found(db: &TestDb) {
    let s = &db.store;
    for i in 0..4 {
        s.audit_append(entry(&format!("user{i}"), "auth.login"))
            .await
            .unwrap();
    }
    disable_guard(db).await;
    s.pool()
        .execute("DELETE FROM audit_log WHERE seq = 2")
        .await
        .unwrap();
    let broken = s
        .audit_verify()
        .await
        .unwrap()
        .first_broken
        .expect("deletion detected");
    assert_eq!(broken.seq, 3);
    assert!(
        broken.reason.contains("entry 2 is missing"),
        "{}",
        broken.reason
    );
}

async fn audit_filters_and_pages(db: &TestDb) {
    let s = &db.store;
    for i in 0..7 {
        s.audit_append(entry(
            "Ana@Example.com",
            if i % 2 == 0 {
                "auth.login"
            } else {
                "user.created"
            },
        ))
        .await
        .unwrap();
    }
    s.audit_append(entry("bob@example.com", "auth.logout"))
        .await
        .unwrap();
    s.audit_append(entry("100%_real", "settings.updated"))
        .await
        .unwrap();

    let by_actor = s
        .audit_list(&AuditFilter {
            actor: Some("ana@".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_actor.total_matching, 7,
        "actor match is case-insensitive"
    );
    let by_action = s
        .audit_list(&AuditFilter {
            action: Some("auth.".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_action.total_matching, 5, "action is a prefix match");
    let literal = s
        .audit_list(&AuditFilter {
            actor: Some("0%_".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(literal.total_matching, 1, "% and _ are searched literally");

    let page1 = s
        .audit_list(&AuditFilter {
            limit: 4,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.total_matching, 9);
    assert_eq!(
        page1.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![9, 8, 7, 6],
        "newest first"
    );
    let page2 = s
        .audit_list(&AuditFilter {
            limit: 4,
            before_seq: page1.next_before_seq,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page2.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 4, 3, 2]
    );
    let page3 = s
        .audit_list(&AuditFilter {
            limit: 4,
            before_seq: page2.next_before_seq,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page3.entries.len(), 1);
    assert_eq!(page3.next_before_seq, None, "last page");

    let all = s
        .audit_list(&AuditFilter {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let t = all.entries[0].at;
    let none_after = s
        .audit_list(&AuditFilter {
            since: Some(t + 1),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(none_after.total_matching, 0);
    let until = s
        .audit_list(&AuditFilter {
            until: Some(t),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(until.total_matching, 9);
}

async fn concurrent_audit_appends_keep_one_chain(db: &TestDb) {
    let s = &db.store;
    let appends = (0..20).map(|i| s.audit_append(entry(&format!("u{i}"), "auth.login")));
    let results = futures::future::join_all(appends).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let report = s.audit_verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries_checked, 20);
}

async fn settings_are_upserted(db: &TestDb) {
    let s = &db.store;
    s.setting_set("instance_name", "Acme", Some("ana"))
        .await
        .unwrap();
    s.setting_set("instance_name", "Acme Prod", Some("bob"))
        .await
        .unwrap();
    s.setting_set("session_idle_minutes", "30", None)
        .await
        .unwrap();
    assert_eq!(
        s.settings_all().await.unwrap(),
        vec![
            ("instance_name".into(), "Acme Prod".into()),
            ("session_idle_minutes".into(), "30".into())
        ]
    );
}

async fn preferences_are_per_user(db: &TestDb) {
    let s = &db.store;
    let ana = s
        .create_user(new_user("ana@example.com", Role::Owner))
        .await
        .unwrap();
    let bob = s
        .create_user(new_user("bob@example.com", Role::Admin))
        .await
        .unwrap();
    assert_eq!(s.preference(&ana.id, "dashboard").await.unwrap(), None);
    s.preference_set(&ana.id, "dashboard", r#"{"order":["a"]}"#)
        .await
        .unwrap();
    s.preference_set(&ana.id, "dashboard", r#"{"order":["b"]}"#)
        .await
        .unwrap();
    s.preference_set(&bob.id, "dashboard", r#"{"order":[]}"#)
        .await
        .unwrap();
    assert_eq!(
        s.preference(&ana.id, "dashboard").await.unwrap().as_deref(),
        Some(r#"{"order":["b"]}"#)
    );
    assert_eq!(
        s.preference(&bob.id, "dashboard").await.unwrap().as_deref(),
        Some(r#"{"order":[]}"#)
    );
    // A preference for a user who does not exist is refused by the database.
    assert!(
        s.preference_set("no-such-user", "dashboard", "{}")
            .await
            .is_err()
    );
}

async fn audit_filters_by_extension_capability_outcome_and_text(db: &TestDb) {
    let s = &db.store;
    let ext = |action: &str, target: &str, outcome: Outcome| NewAuditEntry {
        actor_kind: ActorKind::Extension,
        actor_id: Some("acme/relay".into()),
        actor_label: "acme/relay".into(),
        action: action.into(),
        target: Some(target.into()),
        outcome,
        detail: r#"{"call":"send"}"#.into(),
        ip: None,
    };
    s.audit_append(ext(
        "extension.host_call",
        "network.outbound",
        Outcome::Success,
    ))
    .await
    .unwrap();
    s.audit_append(ext(
        "extension.host_call",
        "database.write",
        Outcome::Denied,
    ))
    .await
    .unwrap();
    // A user's action about the extension, naming a capability in its detail.
    s.audit_append(NewAuditEntry {
        target: Some("acme/relay".into()),
        detail: r#"{"capability":"database.write"}"#.into(),
        ..entry("ana@example.com", "extension.capability_revoked")
    })
    .await
    .unwrap();
    s.audit_append(entry("bob@example.com", "auth.login"))
        .await
        .unwrap();

    let count = |filter: AuditFilter| async move {
        s.audit_list(&AuditFilter {
            limit: 50,
            ..filter
        })
        .await
        .unwrap()
        .total_matching
    };
    let by_extension = count(AuditFilter {
        extension: Some("acme/relay".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_extension, 3, "by the extension, or about it");
    let by_capability = count(AuditFilter {
        capability: Some("database.write".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_capability, 2, "as the target, or named in the detail");
    let denied = count(AuditFilter {
        outcome: Some(Outcome::Denied),
        ..Default::default()
    })
    .await;
    assert_eq!(denied, 1);
    let text = count(AuditFilter {
        search: Some("REVOKED".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(text, 1, "free text is case-insensitive");
    let text_in_detail = count(AuditFilter {
        search: Some("\"call\":\"send".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(text_in_detail, 2, "free text reaches the detail");
    let combined = count(AuditFilter {
        extension: Some("acme/relay".into()),
        outcome: Some(Outcome::Success),
        search: Some("host_call".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(combined, 1, "filters combine");
}
