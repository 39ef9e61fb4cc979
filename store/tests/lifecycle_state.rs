//! The lifecycle manager's state on SQLite and PostgreSQL: installations, the
//! operation journal, the approvals queue, alerts and catalog sources; and
//! each extension's own database area (schema and role, or file), where its
//! migrations run atomically and cannot reach the control plane.

use magflock_kernel::KernelError;
use magflock_kernel::lifecycle_store::{
    CapabilityRequest, ExtensionSchemas, Installation, JournalEntry, LifecycleStore, RequestStatus,
};
use magflock_store::testing::TestDb;
use magflock_store::{Engine, ExtensionAreas, SqlStore, Store};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};

use magflock_store::on_both_engines;

on_both_engines!(
    installations_are_saved_replaced_and_deleted,
    the_journal_lists_open_operations_oldest_first_and_keeps_steps_across_a_restart,
    requests_are_listed_by_status_and_decided_once,
    alerts_are_raised_listed_and_acknowledged_once,
    catalog_sources_are_added_once_and_removed,
    migrations_are_applied_in_order_and_recorded_with_checksums,
    a_failing_migration_changes_nothing,
    revert_runs_the_down_script_of_the_last_migration_only,
    extension_areas_are_isolated,
    drop_area_removes_everything,
    a_migration_cannot_reach_the_control_plane,
    a_migration_cannot_end_its_own_transaction,
);

// ---------------------------------------------------------------- control-plane state

fn installation(extension: &str, version: &str) -> Installation {
    Installation {
        extension: extension.into(),
        version: version.into(),
        digest: "ab".repeat(32),
        signature_level: "verified_publisher".into(),
        key_id: Some("aa11".into()),
        config: r#"{"greeting":"hi"}"#.into(),
        installed_by: Some("owner@example.test".into()),
        installed_at: 1_000,
        updated_at: 1_000,
        previous_version: None,
        previous_until: None,
    }
}

async fn installations_are_saved_replaced_and_deleted(db: &TestDb) {
    let store = &db.store;
    let report = installation("acme/report", "1.0.0");
    let notes = Installation {
        signature_level: "unsigned".into(),
        key_id: None,
        installed_by: None,
        ..installation("acme/notes", "0.3.0")
    };
    store.save_installation(&report).await.unwrap();
    store.save_installation(&notes).await.unwrap();
    assert_eq!(
        store.installations().await.unwrap(),
        vec![notes.clone(), report.clone()]
    );

    let upgraded = Installation {
        version: "1.1.0".into(),
        updated_at: 2_000,
        previous_version: Some("1.0.0".into()),
        previous_until: Some(9_000),
        ..report.clone()
    };
    store.save_installation(&upgraded).await.unwrap();
    assert_eq!(
        store.installation("acme/report").await.unwrap(),
        Some(upgraded)
    );
    assert_eq!(store.installation("acme/none").await.unwrap(), None);

    store.delete_installation("acme/report").await.unwrap();
    store.delete_installation("acme/report").await.unwrap();
    assert_eq!(store.installations().await.unwrap(), vec![notes]);
    assert!(
        store
            .save_installation(&Installation {
                signature_level: "self_signed".into(),
                ..installation("acme/x", "1.0.0")
            })
            .await
            .is_err(),
        "unknown signature level"
    );
}

fn journal_entry(id: &str, operation: &str, started_at: i64) -> JournalEntry {
    JournalEntry {
        id: id.into(),
        extension: "acme/report".into(),
        operation: operation.into(),
        step: "begin".into(),
        data: "{}".into(),
        started_at,
        updated_at: started_at,
    }
}

async fn the_journal_lists_open_operations_oldest_first_and_keeps_steps_across_a_restart(
    db: &TestDb,
) {
    let store = &db.store;
    let upgrade = journal_entry("op-2", "upgrade", 2_000);
    let install = journal_entry("op-1", "install", 1_000);
    store.journal_begin(&upgrade).await.unwrap();
    store.journal_begin(&install).await.unwrap();
    assert_eq!(
        store.journal_open().await.unwrap(),
        vec![install.clone(), upgrade.clone()]
    );

    store
        .journal_step("op-2", "migrate", r#"{"from":"1.0.0"}"#)
        .await
        .unwrap();
    assert!(
        store.journal_step("op-9", "migrate", "{}").await.is_err(),
        "a step of an unknown operation is not lost silently"
    );

    // A new process (a second store on the same database) finds the step.
    let restarted = SqlStore::open(&db.url).await.unwrap();
    let open = restarted.journal_open().await.unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[1].id, "op-2");
    assert_eq!(
        (open[1].step.as_str(), open[1].data.as_str()),
        ("migrate", r#"{"from":"1.0.0"}"#)
    );
    assert!(open[1].updated_at > upgrade.updated_at);
    assert_eq!(open[1].started_at, 2_000);
    restarted.close().await;

    store.journal_finish("op-1").await.unwrap();
    store.journal_finish("op-1").await.unwrap();
    let ids: Vec<String> = store
        .journal_open()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, vec!["op-2"]);
}

fn request(id: &str, requested_at: i64) -> CapabilityRequest {
    CapabilityRequest {
        id: id.into(),
        kind: "install".into(),
        extension: "acme/report".into(),
        plan: r#"[{"extension":"acme/report"}]"#.into(),
        requested_by: Some("admin@example.test".into()),
        requested_at,
        status: RequestStatus::Pending,
        decided_by: None,
        decided_at: None,
        comment: None,
        decision: None,
    }
}

fn ids(requests: Vec<CapabilityRequest>) -> Vec<String> {
    requests.into_iter().map(|r| r.id).collect()
}

async fn requests_are_listed_by_status_and_decided_once(db: &TestDb) {
    let store = &db.store;
    for (id, at) in [("r1", 1_000), ("r2", 2_000), ("r3", 3_000)] {
        store.request_add(&request(id, at)).await.unwrap();
    }
    assert_eq!(ids(store.requests(None).await.unwrap()), ["r3", "r2", "r1"]);

    // Two admins decide at once: exactly one wins.
    let (a, b) = tokio::join!(
        store.decide_request(
            "r1",
            RequestStatus::Approved,
            Some("alice"),
            Some("ok"),
            Some(r#"{"granted":["database.read"]}"#)
        ),
        store.decide_request("r1", RequestStatus::Denied, Some("bob"), None, None),
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one decision wins");
    let r1 = store.request("r1").await.unwrap().unwrap();
    assert_ne!(r1.status, RequestStatus::Pending);
    assert!(r1.decided_at.is_some() && r1.decided_by.is_some());
    assert!(
        !store
            .decide_request("r1", RequestStatus::Approved, Some("carol"), None, None)
            .await
            .unwrap(),
        "a decided request is not decided again"
    );
    assert_eq!(store.request("r1").await.unwrap().unwrap(), r1);

    assert!(
        store
            .decide_request(
                "r2",
                RequestStatus::Approved,
                Some("alice"),
                None,
                Some("{}")
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .decide_request("r2", RequestStatus::Pending, None, None, None)
            .await
            .is_err()
    );
    assert_eq!(
        ids(store.requests(Some(RequestStatus::Pending)).await.unwrap()),
        ["r3"]
    );
    assert!(
        ids(store.requests(Some(RequestStatus::Approved)).await.unwrap())
            .contains(&"r2".to_string())
    );

    store
        .finish_request("r2", RequestStatus::Failed, Some("download failed"))
        .await
        .unwrap();
    let r2 = store.request("r2").await.unwrap().unwrap();
    assert_eq!(
        (r2.status, r2.comment.as_deref(), r2.decision.as_deref()),
        (RequestStatus::Failed, Some("download failed"), Some("{}"))
    );
    assert!(
        store
            .finish_request("r2", RequestStatus::Completed, None)
            .await
            .is_err(),
        "only an approved request finishes"
    );
    assert!(
        store
            .finish_request("r3", RequestStatus::Completed, None)
            .await
            .is_err()
    );
    assert_eq!(store.request("missing").await.unwrap(), None);
}

async fn alerts_are_raised_listed_and_acknowledged_once(db: &TestDb) {
    let store = &db.store;
    let first = store
        .alert_raise("acme/report", "health_check_failed", "no answer in 5 s")
        .await
        .unwrap();
    let second = store
        .alert_raise("acme/report", "auto_disabled", "disabled after 3 failures")
        .await
        .unwrap();
    assert!(second > first);
    let open = store.alerts(false).await.unwrap();
    assert_eq!(
        open.iter().map(|a| a.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(open[1].kind, "health_check_failed");
    assert_eq!(open[1].message, "no answer in 5 s");
    assert!(open[1].raised_at > 0 && open[1].acknowledged_by.is_none());

    assert!(store.alert_acknowledge(first, "alice").await.unwrap());
    assert!(!store.alert_acknowledge(first, "bob").await.unwrap());
    assert!(!store.alert_acknowledge(first + 100, "bob").await.unwrap());
    let open = store.alerts(false).await.unwrap();
    assert_eq!(open.iter().map(|a| a.id).collect::<Vec<_>>(), [second]);
    let all = store.alerts(true).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].acknowledged_by.as_deref(), Some("alice"));
}

async fn catalog_sources_are_added_once_and_removed(db: &TestDb) {
    let store = &db.store;
    let (a, b) = ("https://a.catalog.test/", "https://b.catalog.test/");
    assert!(store.catalog_source_add(a, Some("alice")).await.unwrap());
    assert!(!store.catalog_source_add(a, Some("bob")).await.unwrap());
    assert!(store.catalog_source_add(b, None).await.unwrap());
    let sources = store.catalog_sources().await.unwrap();
    assert_eq!(
        sources.iter().map(|s| s.url.as_str()).collect::<Vec<_>>(),
        [a, b]
    );
    assert_eq!(sources[0].added_by.as_deref(), Some("alice"));
    assert!(sources[0].added_at > 0);
    assert!(store.catalog_source_remove(a).await.unwrap());
    assert!(!store.catalog_source_remove(a).await.unwrap());
    assert_eq!(store.catalog_sources().await.unwrap().len(), 1);
}

// ---------------------------------------------------------------- extension areas

/// The areas of a test: schemas in the test database, or files in a temp dir.
struct Areas {
    areas: ExtensionAreas,
    dir: tempfile::TempDir,
    engine: Engine,
}

impl Areas {
    fn new(db: &TestDb) -> Areas {
        let dir = tempfile::tempdir().unwrap();
        Areas {
            areas: db.store.extension_areas(dir.path().join("extensions")),
            dir,
            engine: db.store.engine(),
        }
    }

    fn file(&self, extension: &str) -> PathBuf {
        self.dir
            .path()
            .join("extensions")
            .join(format!("{}.sqlite", extension.replace('/', "__")))
    }

    /// The extension's tables (its own, not `_migrations`), sorted.
    async fn tables(&self, db: &TestDb, extension: &str) -> Vec<String> {
        let names = match self.engine {
            Engine::Postgres => sqlx::query(
                "SELECT tablename::text AS name FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY 1",
            )
            .bind(schema_of(extension))
            .fetch_all(db.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .collect(),
            Engine::Sqlite => sqlite_tables(&self.file(extension)).await,
        };
        names.into_iter().filter(|n| n != "_migrations").collect()
    }

    /// Whether the area exists at all: the schema or the role, or the file.
    async fn exists(&self, db: &TestDb, extension: &str) -> bool {
        match self.engine {
            Engine::Postgres => sqlx::query(
                "SELECT (EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)
                         OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)) AS present",
            )
            .bind(schema_of(extension))
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get("present"),
            Engine::Sqlite => self.file(extension).exists(),
        }
    }
}

impl std::ops::Deref for Areas {
    type Target = ExtensionAreas;
    fn deref(&self) -> &ExtensionAreas {
        &self.areas
    }
}

fn schema_of(extension: &str) -> String {
    format!("ext_{}", extension.replace(['/', '-'], "_"))
}

async fn sqlite_tables(file: &Path) -> Vec<String> {
    if !file.exists() {
        return Vec::new();
    }
    let url = format!("sqlite://{}", file.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let names = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>("name"))
    .collect();
    conn.close().await.unwrap();
    names
}

/// An extension id no other test (or concurrent run on the same cluster) uses:
/// PostgreSQL roles are shared by all databases of a cluster.
fn unique(name: &str) -> String {
    format!(
        "acme/{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn message(err: KernelError) -> String {
    err.to_string()
}

const NOTES_UP: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);";
const NOTES_DOWN: &str = "DROP TABLE notes;";

async fn migrations_are_applied_in_order_and_recorded_with_checksums(db: &TestDb) {
    let areas = Areas::new(db);
    let ext = unique("notes");
    assert!(areas.applied(&ext).await.unwrap().is_empty());
    assert!(
        !areas.exists(db, &ext).await,
        "reading does not create the area"
    );

    let tags_up = "CREATE TABLE tags (name TEXT NOT NULL);\nCREATE INDEX tags_name ON tags (name);\nINSERT INTO tags (name) VALUES ('first');";
    areas
        .apply(&ext, "0001_notes", NOTES_UP, Some(NOTES_DOWN))
        .await
        .unwrap();
    areas.apply(&ext, "0002_tags", tags_up, None).await.unwrap();

    let applied = areas.applied(&ext).await.unwrap();
    let summary: Vec<(&str, String, Option<&str>)> = applied
        .iter()
        .map(|m| (m.name.as_str(), m.checksum.clone(), m.down.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("0001_notes", sha256(NOTES_UP), Some(NOTES_DOWN)),
            ("0002_tags", sha256(tags_up), None),
        ]
    );
    assert!(applied.iter().all(|m| m.applied_at > 0));
    assert_eq!(areas.tables(db, &ext).await, ["notes", "tags"]);

    let err = message(
        areas
            .apply(&ext, "0001_notes", NOTES_UP, None)
            .await
            .unwrap_err(),
    );
    assert!(
        err.contains("0001_notes") && err.contains("already applied"),
        "{err}"
    );
    // Two processes applying the same migration at once: it is applied once.
    let labels = "CREATE TABLE labels (name TEXT);";
    let (first, second) = tokio::join!(
        areas.apply(&ext, "0003_labels", labels, None),
        areas.apply(&ext, "0003_labels", labels, None),
    );
    assert!(first.is_ok() ^ second.is_ok(), "{first:?} {second:?}");
    assert_eq!(areas.applied(&ext).await.unwrap().len(), 3);

    let location = areas.location(&ext);
    match areas.engine {
        Engine::Postgres => assert_eq!(location, format!("schema \"{}\"", schema_of(&ext))),
        Engine::Sqlite => assert!(location.contains(&areas.file(&ext).display().to_string())),
    }
    areas.drop_area(&ext).await.unwrap();
}

async fn a_failing_migration_changes_nothing(db: &TestDb) {
    let areas = Areas::new(db);
    let ext = unique("failing");
    let err = message(
        areas
            .apply(
                &ext,
                "0001_broken",
                "CREATE TABLE a (x INT); CREAT TABLE b (y INT);",
                None,
            )
            .await
            .unwrap_err(),
    );
    assert!(
        err.contains(&format!("migration 0001_broken of {ext} failed")),
        "{err}"
    );
    assert!(areas.applied(&ext).await.unwrap().is_empty());
    assert!(areas.tables(db, &ext).await.is_empty());

    areas
        .apply(&ext, "0001_notes", NOTES_UP, Some(NOTES_DOWN))
        .await
        .unwrap();
    let err = message(
        areas
            .apply(
                &ext,
                "0002_add_index",
                "CREATE TABLE tags (name TEXT);\nCREAT INDEX tags_name ON tags (name);",
                Some("DROP TABLE tags;"),
            )
            .await
            .unwrap_err(),
    );
    assert!(
        err.contains(&format!("migration 0002_add_index of {ext} failed")) && err.contains("CREAT"),
        "names the extension, the migration and the database's message: {err}"
    );
    // A runtime failure (not a syntax error) in the second statement, too.
    let err = message(
        areas
            .apply(
                &ext,
                "0002_add_rows",
                "CREATE TABLE tags (name TEXT NOT NULL);\nINSERT INTO tags (name) VALUES (NULL);",
                None,
            )
            .await
            .unwrap_err(),
    );
    assert!(err.contains("0002_add_rows"), "{err}");
    assert_eq!(areas.tables(db, &ext).await, ["notes"]);
    assert_eq!(
        areas
            .applied(&ext)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect::<Vec<_>>(),
        ["0001_notes"]
    );
    areas.drop_area(&ext).await.unwrap();
}

async fn revert_runs_the_down_script_of_the_last_migration_only(db: &TestDb) {
    let areas = Areas::new(db);
    let ext = unique("revert");
    let err = message(areas.revert(&ext, "0001_notes").await.unwrap_err());
    assert!(
        err.contains("0001_notes") && err.contains("not applied"),
        "{err}"
    );

    areas
        .apply(&ext, "0001_notes", NOTES_UP, Some(NOTES_DOWN))
        .await
        .unwrap();
    areas
        .apply(&ext, "0002_tags", "CREATE TABLE tags (name TEXT);", None)
        .await
        .unwrap();
    let err = message(areas.revert(&ext, "0001_notes").await.unwrap_err());
    assert!(
        err.contains(&format!("cannot revert migration 0001_notes of {ext}"))
            && err.contains("not the last applied (0002_tags is)"),
        "{err}"
    );
    let err = message(areas.revert(&ext, "0002_tags").await.unwrap_err());
    assert!(
        err.contains("0002_tags") && err.contains("no down script"),
        "{err}"
    );
    assert_eq!(areas.tables(db, &ext).await, ["notes", "tags"]);

    areas
        .apply(
            &ext,
            "0003_labels",
            "CREATE TABLE labels (name TEXT); CREATE TABLE colours (name TEXT);",
            Some("DROP TABLE colours; DROP TABLE labels;"),
        )
        .await
        .unwrap();
    areas.revert(&ext, "0003_labels").await.unwrap();
    assert_eq!(areas.tables(db, &ext).await, ["notes", "tags"]);
    let names: Vec<String> = areas
        .applied(&ext)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["0001_notes", "0002_tags"]);
    let err = message(areas.revert(&ext, "0003_labels").await.unwrap_err());
    assert!(err.contains("not applied"), "{err}");
    areas.drop_area(&ext).await.unwrap();
}

async fn extension_areas_are_isolated(db: &TestDb) {
    let areas = Areas::new(db);
    let (a, b) = (unique("first"), unique("second"));
    for ext in [&a, &b] {
        let up = format!("{NOTES_UP} INSERT INTO notes (id, body) VALUES (1, 'from {ext}');");
        areas.apply(ext, "0001_notes", &up, None).await.unwrap();
    }
    assert_eq!(areas.tables(db, &a).await, ["notes"]);
    assert_eq!(areas.tables(db, &b).await, ["notes"]);
    assert_eq!(areas.applied(&b).await.unwrap().len(), 1);
    if areas.engine == Engine::Postgres {
        let peek = format!("SELECT body FROM {}.notes", schema_of(&a));
        let err = message(areas.apply(&b, "0002_peek", &peek, None).await.unwrap_err());
        assert!(err.contains("permission denied"), "{err}");
        let body: String = sqlx::query(&format!("SELECT body FROM {}.notes", schema_of(&a)))
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get("body");
        assert_eq!(body, format!("from {a}"));

        // acme/<x>-y and acme-<x>/y map to one schema name: the second is refused.
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let (first, twin) = (format!("acme/{tag}-y"), format!("acme-{tag}/y"));
        assert_eq!(schema_of(&first), schema_of(&twin));
        areas
            .apply(&first, "0001_notes", NOTES_UP, None)
            .await
            .unwrap();
        for err in [
            areas
                .apply(&twin, "0001_notes", NOTES_UP, None)
                .await
                .unwrap_err(),
            areas.applied(&twin).await.unwrap_err(),
            areas.drop_area(&twin).await.unwrap_err(),
        ] {
            let err = message(err);
            assert!(
                err.contains(&format!("is not the database area of {twin}")),
                "{err}"
            );
        }
        areas.drop_area(&first).await.unwrap();
    }
    areas.drop_area(&a).await.unwrap();
    assert_eq!(
        areas.tables(db, &b).await,
        ["notes"],
        "dropping one keeps the other"
    );
    areas.drop_area(&b).await.unwrap();
    assert!(
        areas
            .apply("Acme/../x", "0001", NOTES_UP, None)
            .await
            .is_err(),
        "ids are validated"
    );
}

async fn drop_area_removes_everything(db: &TestDb) {
    let areas = Areas::new(db);
    let ext = unique("dropped");
    areas
        .apply(&ext, "0001_notes", NOTES_UP, Some(NOTES_DOWN))
        .await
        .unwrap();
    assert!(areas.exists(db, &ext).await);
    areas.drop_area(&ext).await.unwrap();
    assert!(
        !areas.exists(db, &ext).await,
        "schema and role, or file, are gone"
    );
    assert!(areas.applied(&ext).await.unwrap().is_empty());
    assert!(areas.tables(db, &ext).await.is_empty());
    if areas.engine == Engine::Sqlite {
        for suffix in ["-wal", "-shm"] {
            let mut companion = areas.file(&ext).into_os_string();
            companion.push(suffix);
            assert!(!Path::new(&companion).exists());
        }
    }
    areas.drop_area(&ext).await.unwrap();

    // A new start after a drop.
    areas
        .apply(&ext, "0001_notes", NOTES_UP, Some(NOTES_DOWN))
        .await
        .unwrap();
    assert_eq!(areas.applied(&ext).await.unwrap().len(), 1);
    areas.drop_area(&ext).await.unwrap();
}

async fn a_migration_cannot_reach_the_control_plane(db: &TestDb) {
    let areas = Areas::new(db);
    let ext = unique("hostile");
    let refused = |name: &'static str, up: &'static str| {
        let (areas, ext) = (&areas, &ext);
        async move { message(areas.apply(ext, name, up, None).await.unwrap_err()) }
    };
    match areas.engine {
        Engine::Postgres => {
            let err = refused(
                "0001_drop",
                "CREATE TABLE notes (x INT); DROP TABLE public.users;",
            )
            .await;
            assert!(
                err.contains("0001_drop") && err.contains("must be owner of table users"),
                "{err}"
            );
            let err = refused(
                "0001_read",
                "CREATE TABLE stolen AS SELECT * FROM public.audit_log;",
            )
            .await;
            assert!(
                err.contains("permission denied for table audit_log"),
                "{err}"
            );
            let err = refused("0001_escape", "RESET ROLE; DROP TABLE public.users;").await;
            assert!(err.contains("cannot set parameter \"role\""), "{err}");
            let err = refused(
                "0001_escape_late",
                "DO $$ BEGIN EXECUTE 'SET ROLE ' || 'NONE'; END $$; DROP TABLE public.users;",
            )
            .await;
            assert!(err.contains("cannot set parameter \"role\""), "{err}");
            let err = refused(
                "0001_session",
                "SET SESSION AUTHORIZATION DEFAULT; DROP TABLE public.users;",
            )
            .await;
            assert!(err.contains("cannot set parameter"), "{err}");
            let err = refused("0001_public", "CREATE TABLE public.sneaky (x INT);").await;
            assert!(err.contains("permission denied for schema public"), "{err}");
        }
        Engine::Sqlite => {
            let err = refused(
                "0001_attach",
                "CREATE TABLE notes (x INT);\nattach database '../magflock.db' AS cp;",
            )
            .await;
            assert!(
                err.contains("0001_attach") && err.contains("ATTACH"),
                "{err}"
            );
            let err = refused("0001_pragma", "PRAGMA writable_schema = ON;").await;
            assert!(err.contains("PRAGMA"), "{err}");
            let err = refused("0001_load", "SELECT load_extension('/tmp/evil.so');").await;
            assert!(err.contains("LOAD_EXTENSION"), "{err}");
            let err = message(
                areas
                    .apply(&ext, "0001_notes", NOTES_UP, Some("Detach cp;"))
                    .await
                    .unwrap_err(),
            );
            assert!(
                err.contains("DETACH"),
                "the down script is checked too: {err}"
            );
            assert!(!areas.file(&ext).exists(), "refused before anything ran");
        }
    }
    // The control plane is untouched and the area holds nothing.
    let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(users, 0);
    assert_eq!(db.store.audit_verify().await.unwrap().first_broken, None);
    assert!(areas.tables(db, &ext).await.is_empty());
    assert!(areas.applied(&ext).await.unwrap().is_empty());
    areas.drop_area(&ext).await.unwrap();
}

async fn a_migration_cannot_end_its_own_transaction(db: &TestDb) {
    let areas = Areas::new(db);
    let ext = unique("committer");
    for (name, up) in [
        (
            "0001_commit",
            "CREATE TABLE early (x INT); COMMIT; CREATE TABLE late (x INT);",
        ),
        (
            "0001_end",
            "CREATE TABLE early (x INT); END; CREATE TABLE late (x INT);",
        ),
        ("0001_rollback", "ROLLBACK; CREATE TABLE late (x INT);"),
    ] {
        let err = message(areas.apply(&ext, name, up, None).await.unwrap_err());
        let why = match areas.engine {
            Engine::Postgres => "transaction commands",
            Engine::Sqlite => "tried to end its transaction",
        };
        assert!(err.contains(name) && err.contains(why), "{err}");
        assert!(
            areas.tables(db, &ext).await.is_empty(),
            "{name} left tables"
        );
        assert!(
            areas.applied(&ext).await.unwrap().is_empty(),
            "{name} left a record"
        );
    }
    areas.drop_area(&ext).await.unwrap();
}
