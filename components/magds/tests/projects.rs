//! MagDS against real engines: PostgreSQL (`MAGFLOCK_TEST_PG_URL`, default
//! postgres://postgres@127.0.0.1:5432/postgres, trust auth) and SQLite in a
//! temporary folder.
//!
//! Each PostgreSQL test gets its own fresh admin database (so its own
//! `magds_projects` registry) and unique project names, and drops both at the
//! end, so tests run concurrently without colliding.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use magflock_kernel::Event;
use magflock_magds::engine::postgres::find_tool;
use magflock_magds::{
    Denied, EngineKind, EventSink, HookSink, MagDs, MagDsConfig, MagDsError, NoEvents, NoHooks,
    PolicyCommand, RlsPolicy,
};
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Executor};
use tempfile::TempDir;

// ----- fixtures -----

fn pg_url() -> String {
    std::env::var("MAGFLOCK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).expect("test URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

fn unique(tag: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{tag}_{}", &id[..12])
}

/// A fresh admin database on the test server, dropped by [`PgAdmin::drop`].
struct PgAdmin {
    name: String,
    url: String,
    backups: TempDir,
}

impl PgAdmin {
    async fn new() -> PgAdmin {
        let name = unique("admin");
        let mut conn = sqlx::PgConnection::connect(&pg_url())
            .await
            .expect("PostgreSQL at MAGFLOCK_TEST_PG_URL must be reachable");
        conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap();
        conn.close().await.unwrap();
        PgAdmin {
            url: with_database(&pg_url(), &name),
            name,
            backups: TempDir::new().unwrap(),
        }
    }

    fn config(&self) -> MagDsConfig {
        MagDsConfig::postgres(&self.url, self.backups.path())
    }

    async fn open(&self, hooks: Arc<dyn HookSink>, events: Arc<dyn EventSink>) -> MagDs {
        MagDs::open(self.config(), hooks, events).await.unwrap()
    }

    async fn database_exists(&self, database: &str) -> bool {
        let mut conn = sqlx::PgConnection::connect(&pg_url()).await.unwrap();
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(database)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        found.is_some()
    }

    /// Drops the admin database and any project database left behind.
    async fn drop(self, ds: MagDs) {
        for project in ds.list_projects().await.unwrap_or_default() {
            let _ = ds.drop_project(&project.name).await;
        }
        ds.close().await;
        let mut conn = sqlx::PgConnection::connect(&pg_url()).await.unwrap();
        conn.execute(sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
}

async fn sqlite(hooks: Arc<dyn HookSink>, events: Arc<dyn EventSink>) -> (TempDir, MagDs) {
    let dir = TempDir::new().unwrap();
    let ds = MagDs::open(MagDsConfig::sqlite(dir.path()), hooks, events)
        .await
        .unwrap();
    (dir, ds)
}

fn no_hooks() -> Arc<dyn HookSink> {
    Arc::new(NoHooks)
}

fn no_events() -> Arc<dyn EventSink> {
    Arc::new(NoEvents)
}

/// A direct connection to a project database (either engine).
async fn connect(ds: &MagDs, project: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    let url = ds.database_url(project).await.unwrap();
    AnyConnection::connect(&url).await.unwrap()
}

async fn count(ds: &MagDs, project: &str, sql: &str) -> i64 {
    let mut conn = connect(ds, project).await;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

async fn exec(ds: &MagDs, project: &str, sql: &str) {
    let mut conn = connect(ds, project).await;
    conn.execute(sqlx::raw_sql(sql)).await.unwrap();
    conn.close().await.unwrap();
}

/// Records every hook fired (name and payload); may deny one hook and add
/// profiles in `on_extension_profile_select`.
#[derive(Default)]
struct Recorder {
    fired: Mutex<Vec<(String, Value)>>,
    deny: Option<&'static str>,
    add_profile: Option<&'static str>,
}

impl Recorder {
    fn names(&self) -> Vec<String> {
        self.fired
            .lock()
            .unwrap()
            .iter()
            .map(|(h, _)| h.clone())
            .collect()
    }

    fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.fired.lock().unwrap())
    }
}

#[async_trait]
impl HookSink for Recorder {
    async fn filter(&self, hook: &'static str, mut payload: Value) -> Result<Value, Denied> {
        self.fired
            .lock()
            .unwrap()
            .push((hook.to_string(), payload.clone()));
        if self.deny == Some(hook) {
            return Err(Denied {
                extension: "test/naysayer".into(),
                reason: "projects are frozen today".into(),
            });
        }
        if let (Some(add), "on_extension_profile_select") = (self.add_profile, hook) {
            payload["profiles"].as_array_mut().unwrap().push(add.into());
        }
        Ok(payload)
    }

    async fn action(&self, hook: &'static str, payload: Value) {
        self.fired.lock().unwrap().push((hook.to_string(), payload));
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl Events {
    fn types(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event_type.clone())
            .collect()
    }
}

#[async_trait]
impl EventSink for Events {
    async fn publish(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

/// Every hook fired carries the fields the kernel's hook map lists for it.
fn assert_payloads_complete(fired: &[(String, Value)]) {
    for (hook, payload) in fired {
        let spec = magflock_kernel::hooks::find(hook).expect("a hook of the map");
        assert_eq!(spec.component, magflock_kernel::Component::MagDs);
        for field in spec.payload {
            assert!(
                payload.get(*field).is_some(),
                "{hook} lacks '{field}': {payload}"
            );
        }
    }
}

// ----- create, list, drop -----

async fn create_list_drop(ds: &MagDs, profiles: Vec<String>) {
    let name = unique("cld");
    let project = ds.create_project(&name, "alice", profiles).await.unwrap();
    assert_eq!(project.name, name);
    assert_eq!(project.database, name);
    assert_eq!(project.owner, "alice");
    let listed = ds.list_projects().await.unwrap();
    assert_eq!(listed.iter().map(|p| &p.name).collect::<Vec<_>>(), [&name]);
    assert_eq!(listed[0], project);
    assert!(matches!(
        ds.create_project(&name, "bob", vec![]).await,
        Err(MagDsError::ProjectExists(n)) if n == name
    ));
    ds.drop_project(&name).await.unwrap();
    assert!(ds.list_projects().await.unwrap().is_empty());
    assert!(matches!(
        ds.drop_project(&name).await,
        Err(MagDsError::UnknownProject(_))
    ));
}

#[tokio::test]
async fn sqlite_create_list_drop() {
    let (dir, ds) = sqlite(no_hooks(), no_events()).await;
    create_list_drop(&ds, vec![]).await;
    let files: Vec<_> = std::fs::read_dir(dir.path().join("projects"))
        .unwrap()
        .collect();
    assert!(files.is_empty(), "the project file is gone: {files:?}");
    assert!(dir.path().join("projects.sqlite").exists());
}

#[tokio::test]
async fn postgres_create_list_drop_with_extensions() {
    let admin = PgAdmin::new().await;
    let ds = admin.open(no_hooks(), no_events()).await;
    assert_eq!(ds.engine(), EngineKind::Postgres);
    let name = unique("ext");
    let project = ds
        .create_project(&name, "alice", vec!["pgcrypto".into(), "uuid-ossp".into()])
        .await
        .unwrap();
    assert_eq!(project.extensions, ["pgcrypto", "uuid-ossp"]);
    assert!(admin.database_exists(&name).await);
    let n = count(
        &ds,
        &name,
        "SELECT count(*) FROM pg_extension WHERE extname IN ('pgcrypto', 'uuid-ossp')",
    )
    .await;
    assert_eq!(n, 2);
    ds.drop_project(&name).await.unwrap();
    assert!(!admin.database_exists(&name).await);
    create_list_drop(&ds, vec!["citext".into()]).await;
    admin.drop(ds).await;
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let recorder = Arc::new(Recorder::default());
    let (_dir, ds) = sqlite(recorder.clone(), no_events()).await;
    let long = format!("a{}", "b".repeat(63));
    for bad in [
        "",
        "Shop",
        "1shop",
        "_shop",
        "shop-1",
        "shop;drop",
        "sh\"op",
        "shöp",
        &long,
        "postgres",
        "template1",
    ] {
        let error = ds.create_project(bad, "alice", vec![]).await.unwrap_err();
        assert!(
            matches!(&error, MagDsError::InvalidName { name, .. } if name == bad),
            "{bad:?}: {error}"
        );
        assert!(error.to_string().contains("is not allowed"), "{error}");
    }
    assert!(
        ds.create_project(&"a".repeat(63), "alice", vec![])
            .await
            .is_ok()
    );
    assert!(
        ds.create_project("shop", "  ", vec![]).await.is_err(),
        "an empty owner is refused"
    );
    assert_eq!(ds.list_projects().await.unwrap().len(), 1);
    assert_eq!(
        recorder
            .names()
            .iter()
            .filter(|h| *h == "before_db_create")
            .count(),
        1,
        "refused names fire no hook"
    );
}

#[tokio::test]
async fn unknown_extension_profiles_are_refused() {
    let (_dir, ds) = sqlite(no_hooks(), no_events()).await;
    let error = ds
        .create_project("shop", "alice", vec!["plpython3u".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MagDsError::UnknownExtension { project, profile, .. } if project == "shop" && profile == "plpython3u"),
        "{error}"
    );
    assert!(
        error.to_string().contains("pgcrypto"),
        "lists the allowed: {error}"
    );
    let error = ds
        .create_project("shop", "alice", vec!["pgcrypto".into()])
        .await
        .unwrap_err();
    assert!(matches!(error, MagDsError::NotOnThisEngine(_)), "{error}");
    assert!(ds.list_projects().await.unwrap().is_empty());

    let admin = PgAdmin::new().await;
    let pg = admin.open(no_hooks(), no_events()).await;
    let name = unique("badext");
    let error = pg
        .create_project(&name, "alice", vec!["pgcrypto".into(), "adminpack".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(error, MagDsError::UnknownExtension { .. }),
        "{error}"
    );
    assert!(!admin.database_exists(&name).await);
    assert!(pg.list_projects().await.unwrap().is_empty());
    admin.drop(pg).await;
}

// ----- migrations -----

async fn migrations_apply_once(ds: &MagDs, events: &Events) {
    let name = unique("mig");
    ds.create_project(&name, "alice", vec![]).await.unwrap();
    // No ledger yet: nothing applied.
    assert!(ds.migrations(&name).await.unwrap().is_empty());
    let sql = "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL);\n\
               INSERT INTO items (id, label) VALUES (1, 'a; not a statement -- nor a comment');";
    let applied = ds.apply_migration(&name, "0001_items", sql).await.unwrap();
    assert_eq!(applied.name, "0001_items");
    assert_eq!(count(ds, &name, "SELECT count(*) FROM items").await, 1);
    let again = ds
        .apply_migration(&name, "0001_items", sql)
        .await
        .unwrap_err();
    assert!(
        matches!(&again, MagDsError::MigrationApplied { project, migration } if *project == name && migration == "0001_items"),
        "{again}"
    );
    assert_eq!(count(ds, &name, "SELECT count(*) FROM items").await, 1);

    // A failing migration leaves nothing: not its first statement, not a ledger row.
    let failing = "CREATE TABLE half (id INTEGER);\nINSERT INTO missing_table VALUES (1);";
    let error = ds
        .apply_migration(&name, "0002_half", failing)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MagDsError::Database { database, message, .. } if *database == name && message.contains("missing_table")),
        "{error}"
    );
    let halves = count(
        ds,
        &name,
        match ds.engine() {
            EngineKind::Postgres => "SELECT count(*) FROM pg_tables WHERE tablename = 'half'",
            EngineKind::Sqlite => "SELECT count(*) FROM sqlite_master WHERE name = 'half'",
        },
    )
    .await;
    assert_eq!(halves, 0);
    let recorded: Vec<_> = ds
        .migrations(&name)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(recorded, ["0001_items"]);
    assert_eq!(
        count(ds, &name, "SELECT count(*) FROM _magds_migrations").await,
        1
    );

    // Transaction control would break the one-transaction guarantee.
    let error = ds
        .apply_migration(&name, "0003_commit", "CREATE TABLE t (id INT); COMMIT;")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("COMMIT"), "{error}");
    // ... but the word inside a string or comment is fine.
    ds.apply_migration(
        &name,
        "0003_words",
        "-- COMMIT;\nINSERT INTO items (id, label) VALUES (2, 'COMMIT; BEGIN');",
    )
    .await
    .unwrap();
    assert_eq!(events.types(), ["database.migration.applied"; 2]);
    let event = events.0.lock().unwrap()[0].clone();
    assert_eq!(event.source.component, "magds");
    assert_eq!(event.data["migration"], "0001_items");
    ds.drop_project(&name).await.unwrap();
}

#[tokio::test]
async fn sqlite_migrations_apply_once() {
    let events = Arc::new(Events::default());
    let (_dir, ds) = sqlite(no_hooks(), events.clone()).await;
    migrations_apply_once(&ds, &events).await;
}

#[tokio::test]
async fn postgres_migrations_apply_once() {
    let events = Arc::new(Events::default());
    let admin = PgAdmin::new().await;
    let ds = admin.open(no_hooks(), events.clone()).await;
    migrations_apply_once(&ds, &events).await;
    admin.drop(ds).await;
}

// ----- row-level security -----

fn owner_policy(using: &str) -> RlsPolicy {
    RlsPolicy {
        table: "notes".into(),
        name: "own_notes".into(),
        command: PolicyCommand::All,
        role: "public".into(),
        using: Some(using.into()),
        check: Some("owner = current_user".into()),
    }
}

#[tokio::test]
async fn postgres_rls_policy() {
    let admin = PgAdmin::new().await;
    let ds = admin.open(no_hooks(), no_events()).await;
    let name = unique("rls");
    ds.create_project(&name, "alice", vec![]).await.unwrap();
    ds.apply_migration(
        &name,
        "0001_notes",
        "CREATE TABLE notes (id INT PRIMARY KEY, owner TEXT NOT NULL, x INT);",
    )
    .await
    .unwrap();

    let injected = ds
        .create_rls_policy(&name, &owner_policy("true); DROP TABLE notes; --"))
        .await
        .unwrap_err();
    assert!(
        matches!(&injected, MagDsError::Invalid { problem, .. } if problem.contains("single SQL expression")),
        "{injected}"
    );
    let mut bad_table = owner_policy("true");
    bad_table.table = "notes\"; DROP TABLE notes; --".into();
    assert!(matches!(
        ds.create_rls_policy(&name, &bad_table).await,
        Err(MagDsError::Invalid { .. })
    ));
    let mut insert_using = owner_policy("true");
    insert_using.command = PolicyCommand::Insert;
    assert!(ds.create_rls_policy(&name, &insert_using).await.is_err());

    let sql = ds
        .create_rls_policy(&name, &owner_policy("owner = current_user OR x > 3"))
        .await
        .unwrap();
    assert!(
        sql.starts_with("CREATE POLICY \"own_notes\" ON \"notes\""),
        "{sql}"
    );
    let policies = count(
        &ds,
        &name,
        "SELECT count(*) FROM pg_policies WHERE tablename = 'notes' AND policyname = 'own_notes' AND cmd = 'ALL'",
    )
    .await;
    assert_eq!(policies, 1);
    let enabled = count(
        &ds,
        &name,
        "SELECT count(*) FROM pg_class WHERE relname = 'notes' AND relrowsecurity",
    )
    .await;
    assert_eq!(enabled, 1);
    assert_eq!(
        count(&ds, &name, "SELECT count(*) FROM notes").await,
        0,
        "the table survived"
    );
    admin.drop(ds).await;
}

#[tokio::test]
async fn sqlite_has_no_rls_or_pitr() {
    let (_dir, ds) = sqlite(no_hooks(), no_events()).await;
    ds.create_project("shop", "alice", vec![]).await.unwrap();
    let error = ds
        .create_rls_policy("shop", &owner_policy("true"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, MagDsError::NotOnThisEngine("row level security")),
        "{error}"
    );
    assert!(error.to_string().contains("not available on this engine"));
    let error = ds.checkpoint("shop", "before-upgrade").await.unwrap_err();
    assert!(
        matches!(error, MagDsError::NotOnThisEngine("point-in-time recovery")),
        "{error}"
    );
}

// ----- backup and restore -----

async fn backup_restore(ds: &MagDs, events: &Events) {
    let name = unique("bak");
    ds.create_project(&name, "alice", vec![]).await.unwrap();
    ds.apply_migration(
        &name,
        "0001",
        "CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items VALUES (1), (2), (3);",
    )
    .await
    .unwrap();
    let backup = ds.backup(&name).await.unwrap();
    assert!(backup.path.is_file(), "{backup:?}");
    assert!(backup.bytes > 0);
    assert_eq!(backup.project, name);
    exec(ds, &name, "DELETE FROM items WHERE id > 1").await;
    assert_eq!(count(ds, &name, "SELECT count(*) FROM items").await, 1);

    ds.restore(&name, &backup.id).await.unwrap();
    assert_eq!(count(ds, &name, "SELECT count(*) FROM items").await, 3);
    assert!(matches!(
        ds.restore(&name, "../../etc/passwd").await,
        Err(MagDsError::UnknownBackup { .. })
    ));
    assert!(matches!(
        ds.restore(&name, &uuid::Uuid::now_v7().to_string()).await,
        Err(MagDsError::UnknownBackup { .. })
    ));
    assert!(
        events
            .types()
            .contains(&"database.backup.completed".to_string())
    );
    ds.drop_project(&name).await.unwrap();
    assert!(backup.path.is_file(), "backups outlive their project");
}

#[tokio::test]
async fn sqlite_backup_then_restore() {
    let events = Arc::new(Events::default());
    let (_dir, ds) = sqlite(no_hooks(), events.clone()).await;
    backup_restore(&ds, &events).await;
}

#[tokio::test]
async fn postgres_backup_then_restore() {
    if find_tool("pg_dump").is_none() || find_tool("pg_restore").is_none() {
        eprintln!("SKIPPED: pg_dump/pg_restore not found at /usr/bin or on PATH");
        return;
    }
    let events = Arc::new(Events::default());
    let admin = PgAdmin::new().await;
    let ds = admin.open(no_hooks(), events.clone()).await;
    backup_restore(&ds, &events).await;
    admin.drop(ds).await;
}

// ----- checkpoint and health -----

#[tokio::test]
async fn postgres_checkpoint_and_health() {
    let admin = PgAdmin::new().await;
    let ds = admin.open(no_hooks(), no_events()).await;
    let name = unique("pitr");
    ds.create_project(&name, "alice", vec![]).await.unwrap();
    match ds.checkpoint(&name, "before-upgrade").await {
        Ok(lsn) => {
            let (hi, lo) = lsn.split_once('/').expect("an LSN like 0/1A2B3C");
            assert!(
                [hi, lo]
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit())),
                "{lsn}"
            );
        }
        Err(MagDsError::Database { message, .. }) => {
            eprintln!("the server refused the restore point, clearly: {message}");
            assert!(!message.is_empty());
        }
        Err(other) => panic!("unexpected: {other}"),
    }
    assert!(ds.checkpoint(&name, &"x".repeat(64)).await.is_err());
    let health = ds.health(&name).await.unwrap();
    assert!(health.size_bytes > 0);
    assert!(health.connections.is_some());
    admin.drop(ds).await;
}

#[tokio::test]
async fn sqlite_health_reports_size() {
    let (_dir, ds) = sqlite(no_hooks(), no_events()).await;
    ds.create_project("shop", "alice", vec![]).await.unwrap();
    ds.apply_migration("shop", "0001", "CREATE TABLE t (id INT)")
        .await
        .unwrap();
    let health = ds.health("shop").await.unwrap();
    assert!(health.size_bytes > 0);
    assert_eq!(health.connections, None);
    assert_eq!(health.replication_lag_bytes, None);
}

// ----- hooks and events -----

#[tokio::test]
async fn a_denied_before_db_create_creates_nothing() {
    let deny = || {
        Arc::new(Recorder {
            deny: Some("before_db_create"),
            ..Recorder::default()
        })
    };
    let recorder = deny();
    let (dir, ds) = sqlite(recorder.clone(), no_events()).await;
    let error = ds
        .create_project("shop", "alice", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MagDsError::Denied { hook, extension, reason }
            if hook == "before_db_create" && extension == "test/naysayer" && reason == "projects are frozen today"),
        "{error}"
    );
    assert!(ds.list_projects().await.unwrap().is_empty());
    assert!(!dir.path().join("projects/shop.sqlite").exists());
    assert_eq!(recorder.names(), ["before_db_create"]);

    let admin = PgAdmin::new().await;
    let pg = admin.open(deny(), no_events()).await;
    let name = unique("denied");
    assert!(matches!(
        pg.create_project(&name, "alice", vec![]).await,
        Err(MagDsError::Denied { .. })
    ));
    assert!(!admin.database_exists(&name).await);
    assert!(pg.list_projects().await.unwrap().is_empty());
    admin.drop(pg).await;
}

#[tokio::test]
async fn hooks_fire_in_order_with_their_fields() {
    let recorder = Arc::new(Recorder {
        add_profile: Some("citext"),
        ..Recorder::default()
    });
    let admin = PgAdmin::new().await;
    let ds = admin.open(recorder.clone(), no_events()).await;
    let name = unique("order");

    let project = ds.create_project(&name, "alice", vec![]).await.unwrap();
    assert_eq!(
        project.extensions,
        ["citext"],
        "the filter's profile is used"
    );
    let fired = recorder.take();
    assert_payloads_complete(&fired);
    let names: Vec<_> = fired.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        names,
        [
            "before_db_create",
            "on_extension_profile_select",
            "after_db_create"
        ]
    );
    assert!(fired.iter().all(|(_, p)| p["project_id"] == project.id));

    ds.apply_migration(&name, "0001", "CREATE TABLE t (id INT, owner TEXT)")
        .await
        .unwrap();
    let fired = recorder.take();
    assert_payloads_complete(&fired);
    assert_eq!(fired[0].0, "before_migration");
    assert_eq!(fired[0].1["sql"], "CREATE TABLE t (id INT, owner TEXT)");
    assert_eq!(fired[1].0, "after_migration");
    assert_eq!(fired.len(), 2);

    let mut policy = owner_policy("owner = current_user");
    policy.table = "t".into();
    ds.create_rls_policy(&name, &policy).await.unwrap();
    let fired = recorder.take();
    assert_payloads_complete(&fired);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].0, "on_rls_policy_create");
    assert!(
        fired[0].1["sql"]
            .as_str()
            .unwrap()
            .contains("CREATE POLICY")
    );

    if find_tool("pg_dump").is_some() {
        let backup = ds.backup(&name).await.unwrap();
        ds.restore(&name, &backup.id).await.unwrap();
        let fired = recorder.take();
        assert_payloads_complete(&fired);
        let names: Vec<_> = fired.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(names, ["before_backup", "after_restore"]);
        assert_eq!(fired[1].1["backup_id"], backup.id);
    }

    if ds.checkpoint(&name, "order-test").await.is_ok() {
        let fired = recorder.take();
        assert_payloads_complete(&fired);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].0, "on_pitr_checkpoint");
    }
    recorder.take();

    ds.health(&name).await.unwrap();
    let fired = recorder.take();
    assert_payloads_complete(&fired);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].0, "health_check_report");
    assert_eq!(fired[0].1["component"], "magds");
    assert_eq!(fired[0].1["healthy"], true);

    // A denied migration runs nothing.
    drop(ds);
    let denier = Arc::new(Recorder {
        deny: Some("before_migration"),
        ..Recorder::default()
    });
    let ds = admin.open(denier.clone(), no_events()).await;
    assert!(matches!(
        ds.apply_migration(&name, "0002", "CREATE TABLE u (id INT)")
            .await,
        Err(MagDsError::Denied { .. })
    ));
    assert_eq!(ds.migrations(&name).await.unwrap().len(), 1);
    assert_eq!(denier.names(), ["before_migration"]);
    admin.drop(ds).await;
}

#[tokio::test]
async fn an_unreachable_engine_publishes_connection_failed() {
    let events = Arc::new(Events::default());
    let backups = TempDir::new().unwrap();
    let config = MagDsConfig::postgres("postgres://postgres@127.0.0.1:1/postgres", backups.path());
    let error = match MagDs::open(config, no_hooks(), events.clone()).await {
        Ok(_) => panic!("nothing listens on port 1"),
        Err(error) => error,
    };
    assert!(error.is_unavailable(), "{error}");
    assert!(
        error
            .to_string()
            .contains("cannot reach the postgres engine")
    );
    assert_eq!(events.types(), ["database.connection.failed"]);
    let event = &events.0.lock().unwrap()[0];
    assert_eq!(event.source.component, "magds");
}

// ----- the kernel's dispatcher -----

struct NoRunner;

impl magflock_kernel::dispatch::HookRunner for NoRunner {
    fn run_hook(
        &self,
        extension: &str,
        _hook: &str,
        _payload: &str,
    ) -> Result<magflock_kernel::dispatch::HookOutcome, String> {
        Err(format!("no extension should run here, but {extension} did"))
    }
}

struct NoAudit;

#[async_trait]
impl magflock_kernel::audit::AuditSink for NoAudit {
    fn record(&self, _entry: magflock_types::NewAuditEntry) {}
    async fn flush(&self) -> Result<(), magflock_kernel::KernelError> {
        Ok(())
    }
}

/// Through the real dispatcher (which refuses a payload missing a field of
/// the hook map, failing the operation closed), every operation goes ahead.
#[tokio::test]
async fn kernel_hooks_accept_every_payload() {
    use magflock_kernel::dispatch::Dispatcher;
    use magflock_kernel::{PolicyGate, Registry};
    let dispatcher = Dispatcher::new(
        Arc::new(std::sync::RwLock::new(Registry::new())),
        Arc::new(PolicyGate::new()),
        Arc::new(NoRunner),
        Arc::new(NoAudit),
    );
    let hooks = Arc::new(magflock_magds::KernelHooks::new(Arc::new(dispatcher)));
    let (_dir, ds) = sqlite(hooks, no_events()).await;
    ds.create_project("shop", "alice", vec![]).await.unwrap();
    ds.apply_migration("shop", "0001", "CREATE TABLE t (id INT)")
        .await
        .unwrap();
    let backup = ds.backup("shop").await.unwrap();
    ds.restore("shop", &backup.id).await.unwrap();
    ds.health("shop").await.unwrap();
}
