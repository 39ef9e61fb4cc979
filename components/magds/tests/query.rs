//! `execute_query` on real databases: PostgreSQL (`MAGFLOCK_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`, a fresh database per
//! test, roles dropped afterwards) and SQLite (a temporary file).
//!
//! Both walls: the parser refuses what the grant does not cover, and with the
//! parser bypassed the database itself refuses it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use magflock_kernel::Capability;
use magflock_magds::query::{
    Limits, QueryError, QueryEvent, QueryEventSink, QueryRunner, role_name,
};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgPool};

const READ: Capability = Capability::DatabaseRead;
const WRITE: Capability = Capability::DatabaseWrite;
const SCHEMA: Capability = Capability::DatabaseSchema;
const ADMIN: Capability = Capability::DatabaseAdmin;

/// The statements that try to write through a read grant.
const SMUGGLED: &[&str] = &[
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
    "SELECT * FROM t FOR UPDATE",
    "UPDATE t SET name = 'gone'",
    "SELECT nextval('s')",
    "CREATE TABLE x (a int)",
    "SELECT set_config('role', 'postgres', false)",
    "RESET ROLE; DELETE FROM t",
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

fn base_url() -> String {
    std::env::var("MAGFLOCK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn url_for(database: &str) -> String {
    let base = base_url();
    let (server, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{server}/{database}")
}

/// A fresh PostgreSQL database with table `t`, sequence `s`, and a runner.
struct Pg {
    server: PgPool,
    db: PgPool,
    name: String,
    token: String,
    runner: QueryRunner,
}

impl Pg {
    async fn new(limits: Limits) -> Pg {
        let token = unique();
        let name = format!("magds_query_{token}");
        let server = PgPool::connect(&base_url()).await.expect("PostgreSQL");
        server
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        let db = PgPool::connect(&url_for(&name)).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE t (id serial PRIMARY KEY, name text, n int4, big int8, small int2,
                 f4 float4, f8 float8, price numeric(10,3), ok bool, u uuid, j jsonb, js json,
                 ts timestamp, tz timestamptz, d date, b bytea, v varchar(10));
             CREATE SEQUENCE s;
             INSERT INTO t (name, n, big, small, f4, f8, price, ok, u, j, js, ts, tz, d, b, v)
             VALUES ('alice', 42, 9007199254740993, -7, 1.5, 2.25, 12345.678, true,
                 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', '[true]',
                 '2024-02-29 13:14:15.5', '2024-02-29 13:14:15+02', '2024-02-29',
                 '\\x00ff', 'short')",
        )
        .execute(&db)
        .await
        .unwrap();
        let runner = QueryRunner::connect_with(&url_for(&name), limits)
            .await
            .expect("runner");
        Pg {
            server,
            db,
            name,
            token,
            runner,
        }
    }

    /// A test-unique extension id.
    fn ext(&self, name: &str) -> String {
        format!("qt-{}/{name}", self.token.replace('_', "-"))
    }

    async fn count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Drops the database, then every role the test created.
    async fn finish(self) {
        self.runner.close().await;
        self.db.close().await;
        self.server
            .execute(format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        let pattern = format!("ext\\_qt\\_{}\\_%", self.token);
        let roles: Vec<String> =
            sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1")
                .bind(pattern)
                .fetch_all(&self.server)
                .await
                .unwrap();
        for role in &roles {
            self.server
                .execute(format!("DROP ROLE IF EXISTS \"{role}\"").as_str())
                .await
                .unwrap();
        }
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<QueryEvent>>);

impl QueryEventSink for Recorder {
    fn query_executed(&self, event: &QueryEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

fn limits(max_rows: usize, max_bytes: usize, timeout_ms: u64) -> Limits {
    Limits {
        max_rows,
        max_bytes,
        statement_timeout: Duration::from_millis(timeout_ms),
    }
}

fn database_code(error: &QueryError) -> String {
    match error {
        QueryError::Database { code, .. } => code.clone().unwrap_or_default(),
        other => panic!("expected a database refusal, got: {other}"),
    }
}

#[tokio::test]
async fn pg_reads_return_typed_json_rows_and_an_event() {
    let mut pg = Pg::new(Limits::default()).await;
    let recorder = Arc::new(Recorder::default());
    pg.runner = pg.runner.with_event_sink(recorder.clone());
    let ext = pg.ext("reader");
    let result = pg
        .runner
        .run(
            &ext,
            &[READ],
            "SELECT id, name, n, big, small, f4, f8, price, ok, u, j, js, ts, tz, d, b, v,
                    NULL::int AS nothing, 'NaN'::float8 AS nan, 1.50::numeric AS exact
             FROM t ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        Value::Object(result.rows[0].clone()),
        json!({
            "id": 1, "name": "alice", "n": 42, "big": 9007199254740993_i64, "small": -7,
            "f4": 1.5, "f8": 2.25, "price": "12345.678", "ok": true,
            "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": {"k": [1, 2]}, "js": [true],
            "ts": "2024-02-29T13:14:15.500000", "tz": "2024-02-29T11:14:15Z",
            "d": "2024-02-29", "b": "\\x00ff", "v": "short", "nothing": null,
            "nan": "NaN", "exact": "1.50"
        })
    );
    assert_eq!(result.columns[0], "id");
    assert_eq!(result.rows.len(), 1);
    assert!(result.rows_json().starts_with("[{"));
    assert_eq!(result.event.statement_kind, "SELECT");
    assert_eq!(result.event.tables, vec!["t".to_string()]);
    assert_eq!(result.event.rows, 1);
    assert_eq!(result.event.extension, ext);
    let data = result.event.data();
    assert_eq!(data["rows"], 1);
    assert!(data["duration_ms"].is_u64());
    assert_eq!(
        recorder.0.lock().unwrap().as_slice(),
        std::slice::from_ref(&result.event)
    );

    let err = pg
        .runner
        .run(&ext, &[READ], "SELECT interval '1 day' AS span", &[])
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("'span'") && message.contains("INTERVAL"),
        "{message}"
    );
    pg.finish().await;
}

#[tokio::test]
async fn pg_parameters_are_bound_never_spliced() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("binder");
    let injection = "x' OR '1'='1";
    let none = pg
        .runner
        .run(
            &ext,
            &[READ],
            "SELECT name FROM t WHERE name = $1",
            &[json!(injection)],
        )
        .await
        .unwrap();
    assert!(none.rows.is_empty());

    let evil = "Robert'); DROP TABLE t; --";
    let inserted = pg
        .runner
        .run(
            &ext,
            &[READ, WRITE],
            "INSERT INTO t (name, n, ok, f8, j, big) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                json!(evil),
                json!(7),
                json!(false),
                json!(0.5),
                json!({"a": [1, "two"]}),
                Value::Null,
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted.rows_affected, 1);
    let back = pg
        .runner
        .run(
            &ext,
            &[READ, WRITE],
            "SELECT name, n, ok, f8, j, big FROM t WHERE name = $1 AND n = $2",
            &[json!(evil), json!(7)],
        )
        .await
        .unwrap();
    assert_eq!(
        Value::Object(back.rows[0].clone()),
        json!({"name": evil, "n": 7, "ok": false, "f8": 0.5, "j": {"a": [1, "two"]}, "big": null})
    );
    assert_eq!(pg.count().await, 2, "the table is still there");

    let err = pg
        .runner
        .run(&ext, &[READ], "SELECT $1::int8 AS x", &[json!(u64::MAX)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("parameter $1"), "{err}");
    pg.finish().await;
}

#[tokio::test]
async fn pg_writes_return_affected_counts() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("writer");
    let run = |sql: &'static str| pg.runner.run(&ext, &[WRITE], sql, &[]);
    let inserted = run("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')")
        .await
        .unwrap();
    assert_eq!(inserted.rows_affected, 3);
    assert_eq!(inserted.event.rows, 3);
    assert_eq!(inserted.event.statement_kind, "INSERT");
    assert!(inserted.rows.is_empty());
    assert_eq!(
        run("UPDATE t SET n = 1 WHERE name IN ('a', 'b')")
            .await
            .unwrap()
            .rows_affected,
        2
    );
    assert_eq!(
        run("DELETE FROM t WHERE name = 'c'")
            .await
            .unwrap()
            .rows_affected,
        1
    );
    assert_eq!(pg.count().await, 3);
    pg.finish().await;
}

#[tokio::test]
async fn pg_parser_refuses_smuggled_writes_under_a_read_grant() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("smuggler");
    let expected = [
        "data-modifying WITH",
        "FOR UPDATE",
        "UPDATE needs the database.write capability",
        "nextval()",
        "CREATE TABLE needs the database.schema capability",
        "set_config()",
        "2 statements in one query",
    ];
    for (sql, needle) in SMUGGLED.iter().zip(expected) {
        let err = pg.runner.run(&ext, &[READ], sql, &[]).await.unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("refused: "), "{sql}: {message}");
        assert!(message.contains(needle), "{sql}: {message}");
    }
    let err = pg
        .runner
        .run(&ext, &[READ], "RESET ROLE; DELETE FROM t", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Refused(_)), "{err}");
    assert_eq!(pg.count().await, 1);
    pg.finish().await;
}

#[tokio::test]
async fn pg_database_refuses_smuggled_writes_with_the_parser_bypassed() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("bypass");
    // 25006 read-only transaction, 42501 insufficient privilege,
    // 42601 several commands in one prepared statement.
    let expected: [&[&str]; 7] = [
        &["25006"],
        &["25006", "42501"],
        &["25006"],
        &["25006", "42501"],
        &["25006", "42501"],
        &["42501"],
        &["42601"],
    ];
    for (sql, codes) in SMUGGLED.iter().zip(expected) {
        let err = pg
            .runner
            .run_unchecked(&ext, &[READ], sql, &[])
            .await
            .unwrap_err();
        let code = database_code(&err);
        assert!(codes.contains(&code.as_str()), "{sql}: {code} {err}");
    }
    // After the failed role switch, a write is still refused.
    let err = pg
        .runner
        .run_unchecked(&ext, &[READ], "DELETE FROM t", &[])
        .await
        .unwrap_err();
    assert_eq!(database_code(&err), "25006", "{err}");
    // The session is logged in as the extension's role: resetting the role
    // leaves it the extension's.
    let reset = pg
        .runner
        .run_unchecked(
            &ext,
            &[READ],
            "SELECT set_config('role', 'none', false), current_user::text AS me",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(reset.rows[0]["me"], json!(role_name(&ext).unwrap()));
    // Reads work, and the server's secrets are not the extension's.
    let ok = pg
        .runner
        .run_unchecked(&ext, &[READ], "SELECT current_user::text AS me FROM t", &[])
        .await
        .unwrap();
    assert_eq!(ok.rows[0]["me"], json!(role_name(&ext).unwrap()));
    for sql in [
        "SELECT rolpassword FROM pg_authid",
        "SELECT pg_read_file('/etc/passwd')",
    ] {
        let err = pg
            .runner
            .run_unchecked(&ext, &[READ], sql, &[])
            .await
            .unwrap_err();
        assert_eq!(database_code(&err), "42501", "{sql}: {err}");
    }
    // Write granted, schema not: the role itself cannot create or truncate.
    for sql in ["CREATE TABLE x (a int)", "TRUNCATE t"] {
        let err = pg
            .runner
            .run_unchecked(&ext, &[READ, WRITE], sql, &[])
            .await
            .unwrap_err();
        assert_eq!(database_code(&err), "42501", "{sql}: {err}");
    }
    assert_eq!(pg.count().await, 1);
    let last: bool = sqlx::query_scalar("SELECT is_called FROM s")
        .fetch_one(&pg.db)
        .await
        .unwrap();
    assert!(!last, "the sequence was never advanced");
    pg.finish().await;
}

#[tokio::test]
async fn pg_role_switches_cannot_leave_the_extensions_role_with_the_parser_bypassed() {
    let pg = Pg::new(Limits::default()).await;
    // database.schema: read-write sessions, but no INSERT, UPDATE or DELETE.
    let ext = pg.ext("switcher");
    let role = role_name(&ext).unwrap();
    let run = |sql: &'static str| pg.runner.run_unchecked(&ext, &[SCHEMA], sql, &[]);
    // RESET ROLE is allowed and changes nothing: the login is the role.
    run("RESET ROLE").await.unwrap();
    let err = run("DELETE FROM t").await.unwrap_err();
    assert_eq!(database_code(&err), "42501", "{err}");
    // In one session, whatever the pool hands out.
    for sql in [
        "DO $$ BEGIN RESET ROLE; DELETE FROM t; END $$",
        "DO $$ BEGIN PERFORM set_config('role', 'none', false); DELETE FROM t; END $$",
        "SET ROLE postgres",
        "SET SESSION AUTHORIZATION postgres",
        "SELECT set_config('role', 'postgres', false)",
        "DO $$ BEGIN SET ROLE postgres; DELETE FROM t; END $$",
    ] {
        let err = run(sql).await.unwrap_err();
        assert_eq!(database_code(&err), "42501", "{sql}: {err}");
    }
    // Nor to another extension's role.
    let other = pg.ext("other");
    pg.runner.sync_role(&other, &[WRITE]).await.unwrap();
    let err = pg
        .runner
        .run_unchecked(
            &ext,
            &[SCHEMA],
            &format!("SET ROLE \"{}\"", role_name(&other).unwrap()),
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(database_code(&err), "42501", "{err}");
    let me = run("SELECT current_user::text AS me, session_user::text AS login")
        .await
        .unwrap();
    assert_eq!(me.rows[0]["me"], json!(role));
    assert_eq!(me.rows[0]["login"], json!(role));
    let memberships: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
         WHERE r.rolname = $1",
    )
    .bind(&role)
    .fetch_one(&pg.db)
    .await
    .unwrap();
    assert_eq!(memberships, 0, "the role is a member of nothing");
    assert_eq!(pg.count().await, 1);
    pg.finish().await;
}

#[tokio::test]
async fn pg_session_state_does_not_outlive_the_statement() {
    let pg = Pg::new(limits(10, 1 << 20, 300)).await;
    let ext = pg.ext("stateful");
    let run = |sql: &'static str| pg.runner.run_unchecked(&ext, &[READ], sql, &[]);
    // Both sessions of the read pool turn off read-only and the timeout...
    for _ in 0..4 {
        run(
            "SELECT set_config('default_transaction_read_only', 'off', false), \
                    set_config('statement_timeout', '0', false)",
        )
        .await
        .unwrap();
    }
    // ...and the next statements have them back.
    for _ in 0..4 {
        let err = run("DELETE FROM t").await.unwrap_err();
        assert_eq!(database_code(&err), "25006", "{err}");
        let err = run("SELECT pg_sleep(2)").await.unwrap_err();
        assert!(matches!(err, QueryError::Timeout { .. }), "{err}");
    }
    pg.finish().await;
}

#[tokio::test]
async fn pg_sync_role_revokes_what_is_no_longer_granted() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("revoked");
    let role = role_name(&ext).unwrap();
    let insert = "INSERT INTO t (name) VALUES ('new')";
    pg.runner
        .run(&ext, &[READ, WRITE], insert, &[])
        .await
        .unwrap();
    pg.runner
        .run(&ext, &[READ, SCHEMA], "CREATE TABLE mine (a int)", &[])
        .await
        .unwrap();
    let owner = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'mine'",
        )
        .fetch_one(&pg.db)
        .await
        .unwrap()
    };
    assert_eq!(owner().await, role);

    pg.runner.sync_role(&ext, &[READ]).await.unwrap();
    // In a read-write transaction, as the role: refused by privilege alone.
    let mut conn = pg.db.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    tx.execute(format!("SET LOCAL ROLE \"{role}\"").as_str())
        .await
        .unwrap();
    let err = tx.execute(insert).await.unwrap_err();
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    assert_eq!(code, "42501", "{err}");
    drop(tx);
    drop(conn);
    let privileges: (bool, bool, bool) = sqlx::query_as(
        "SELECT has_table_privilege($1, 't', 'SELECT'), has_table_privilege($1, 't', 'INSERT'),
                has_schema_privilege($1, 'public', 'CREATE')",
    )
    .bind(&role)
    .fetch_one(&pg.db)
    .await
    .unwrap();
    assert_eq!(privileges, (true, false, false));
    assert_ne!(
        owner().await,
        role,
        "what it created went to the database owner"
    );

    let err = pg.runner.run(&ext, &[READ], insert, &[]).await.unwrap_err();
    assert!(err.to_string().contains("database.write"), "{err}");
    let err = pg
        .runner
        .run_unchecked(&ext, &[READ], insert, &[])
        .await
        .unwrap_err();
    assert_eq!(database_code(&err), "25006");
    assert_eq!(pg.count().await, 2);
    pg.finish().await;
}

#[tokio::test]
async fn pg_a_role_dropped_behind_the_runners_back_is_made_again() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("dropped");
    let role = role_name(&ext).unwrap();
    let whoami = "SELECT current_user::text AS me FROM t";
    pg.runner.run(&ext, &[READ], whoami, &[]).await.unwrap();
    sqlx::raw_sql(&format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""))
        .execute(&pg.db)
        .await
        .unwrap();
    // The statement that finds the role gone fails...
    let err = pg.runner.run(&ext, &[READ], whoami, &[]).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // ...the next ones make it again, and no pooled connection was left
    // inside the failed transaction.
    for _ in 0..12 {
        let rows = pg.runner.run(&ext, &[READ], whoami, &[]).await.unwrap();
        assert_eq!(rows.rows[0]["me"], json!(role));
    }
    pg.finish().await;
}

#[tokio::test]
async fn pg_admin_statements_never_run_through_execute_query() {
    let pg = Pg::new(Limits::default()).await;
    let ext = pg.ext("admin");
    for sql in ["VACUUM t", "CREATE ROLE sneaky"] {
        let err = pg
            .runner
            .run(&ext, &[READ, WRITE, SCHEMA, ADMIN], sql, &[])
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("refused: ") && message.contains("MagDS"),
            "{sql}: {message}"
        );
    }
    pg.finish().await;
}

#[tokio::test]
async fn pg_row_and_size_limits_name_the_limit() {
    let pg = Pg::new(limits(5, 1000, 5000)).await;
    let ext = pg.ext("greedy");
    let five = pg
        .runner
        .run(
            &ext,
            &[READ],
            "SELECT g FROM generate_series(1, 5) AS g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(five.rows.len(), 5);
    let err = pg
        .runner
        .run(
            &ext,
            &[READ],
            "SELECT g FROM generate_series(1, 10) AS g",
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManyRows { limit: 5 }), "{err}");
    assert!(err.to_string().contains("5 rows"), "{err}");
    let err = pg
        .runner
        .run(&ext, &[READ], "SELECT repeat('x', 2000) AS big", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1000 bytes"), "{err}");
    // A write that returns too many rows is rolled back.
    let err = pg
        .runner
        .run(
            &ext,
            &[WRITE],
            "INSERT INTO t (name) SELECT 'many' FROM generate_series(1, 10) RETURNING id",
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManyRows { limit: 5 }), "{err}");
    let err = pg
        .runner
        .run_unchecked(
            &ext,
            &[WRITE],
            "WITH d AS (DELETE FROM t RETURNING *) SELECT repeat('x', 2000) FROM d",
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::TooLarge { .. }), "{err}");
    assert_eq!(pg.count().await, 1);
    pg.finish().await;
}

#[tokio::test]
async fn pg_statement_timeout_stops_long_statements() {
    let pg = Pg::new(limits(10, 1 << 20, 300)).await;
    let ext = pg.ext("slow");
    let started = Instant::now();
    let err = pg
        .runner
        .run(
            &ext,
            &[READ],
            "SELECT count(*) FROM generate_series(1, 1000000000)",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueryError::Timeout { limit_ms: 300 }),
        "{err}"
    );
    assert!(err.to_string().contains("300 ms"), "{err}");
    let err = pg
        .runner
        .run(&ext, &[READ], "SELECT pg_sleep(2)", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Refused(_)), "{err}");
    let err = pg
        .runner
        .run_unchecked(&ext, &[READ], "SELECT pg_sleep(2)", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection is fine afterwards.
    let ok = pg
        .runner
        .run(&ext, &[READ], "SELECT 1 AS one", &[])
        .await
        .unwrap();
    assert_eq!(ok.rows[0]["one"], 1);
    pg.finish().await;
}

// ---------------------------------------------------------------------------
// SQLite

async fn sqlite(limits: Limits) -> (tempfile::TempDir, QueryRunner, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("project.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, f REAL, b BLOB, j TEXT);
         INSERT INTO t (name, n, f, b, j) VALUES ('alice', 42, 2.5, x'00ff', '{\"k\":1}');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let runner = QueryRunner::connect_with(&url, limits).await.unwrap();
    (dir, runner, url)
}

async fn sqlite_count(url: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn sqlite_reads_writes_and_bound_parameters() {
    let (_dir, runner, url) = sqlite(Limits::default()).await;
    let ext = "qt-sqlite/reader";
    let rows = runner
        .run(
            ext,
            &[READ],
            "SELECT id, name, n, f, b, j, NULL AS missing FROM t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        Value::Object(rows.rows[0].clone()),
        json!({"id": 1, "name": "alice", "n": 42, "f": 2.5, "b": "\\x00ff", "j": "{\"k\":1}", "missing": null})
    );
    let evil = "x'); DROP TABLE t; --";
    let inserted = runner
        .run(
            ext,
            &[READ, WRITE],
            "INSERT INTO t (name, n, f, j) VALUES (?1, ?2, ?3, ?4)",
            &[json!(evil), json!(7), json!(0.5), json!({"a": [1]})],
        )
        .await
        .unwrap();
    assert_eq!(inserted.rows_affected, 1);
    let none = runner
        .run(
            ext,
            &[READ],
            "SELECT name FROM t WHERE name = ?1",
            &[json!("x' OR '1'='1")],
        )
        .await
        .unwrap();
    assert!(none.rows.is_empty());
    let back = runner
        .run(
            ext,
            &[READ],
            "SELECT name, j FROM t WHERE n = ?1",
            &[json!(7)],
        )
        .await
        .unwrap();
    assert_eq!(back.rows[0]["name"], json!(evil));
    assert_eq!(back.rows[0]["j"], json!("{\"a\":[1]}"));
    let updated = runner
        .run(ext, &[WRITE], "UPDATE t SET n = n + 1", &[])
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 2);
    assert_eq!(sqlite_count(&url).await, 2);
}

#[tokio::test]
async fn sqlite_reads_follow_the_project_file_when_it_is_replaced_or_removed() {
    let (dir, runner, _url) = sqlite(Limits::default()).await;
    let ext = "qt-sqlite/follower";
    let first_name = || async {
        runner
            .run(ext, &[READ], "SELECT name FROM t ORDER BY id", &[])
            .await
            .map(|r| r.rows[0]["name"].clone())
    };
    assert_eq!(first_name().await.unwrap(), json!("alice"));
    // A restore renames another file over the project file.
    let other = dir.path().join("restored.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", other.display()))
            .await
            .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO t (name) VALUES ('restored');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let project = dir.path().join("project.db");
    std::fs::rename(&other, &project).unwrap();
    assert_eq!(first_name().await.unwrap(), json!("restored"));
    // A drop removes it.
    std::fs::remove_file(&project).unwrap();
    assert!(first_name().await.is_err());
    runner.close().await;
}

#[tokio::test]
async fn sqlite_read_only_connection_refuses_smuggled_writes() {
    let (_dir, runner, url) = sqlite(Limits::default()).await;
    let ext = "qt-sqlite/smuggler";
    let smuggled = [
        "DELETE FROM t",
        "UPDATE t SET name = 'gone'",
        "INSERT INTO t (name) VALUES ('x')",
        "CREATE TABLE x (a int)",
        "DROP TABLE t",
        "SELECT 1; DELETE FROM t",
    ];
    for sql in smuggled {
        let refused = runner.run(ext, &[READ], sql, &[]).await.unwrap_err();
        assert!(
            refused.to_string().starts_with("refused: "),
            "{sql}: {refused}"
        );
        let err = runner
            .run_unchecked(ext, &[READ], sql, &[])
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("readonly"), "{sql}: {message}");
    }
    assert_eq!(sqlite_count(&url).await, 1);
}

#[tokio::test]
async fn sqlite_limits_and_timeout() {
    let (_dir, runner, _url) = sqlite(limits(5, 1 << 20, 300)).await;
    let ext = "qt-sqlite/greedy";
    let err = runner
        .run(
            ext,
            &[READ],
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) SELECT x FROM c",
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManyRows { limit: 5 }), "{err}");
    let started = Instant::now();
    let err = runner
        .run(
            ext,
            &[READ],
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) AS n FROM c",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueryError::Timeout { limit_ms: 300 }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn sqlite_one_extensions_temporary_tables_never_meet_anothers_statements() {
    let (_dir, runner, _url) = sqlite(Limits::default()).await;
    let (a, b) = ("qt-sqlite/a", "qt-sqlite/b");
    for _ in 0..3 {
        // Several rounds, so that kept read-write connections are reused.
        runner
            .run(
                a,
                &[WRITE, SCHEMA],
                "CREATE TEMP TABLE IF NOT EXISTS scratch (v INTEGER)",
                &[],
            )
            .await
            .unwrap();
        let refused = runner
            .run(
                b,
                &[WRITE, SCHEMA],
                "INSERT INTO scratch (v) VALUES (1)",
                &[],
            )
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("no such table"), "{refused}");
        runner
            .run(b, &[WRITE], "UPDATE t SET n = n + 1", &[])
            .await
            .unwrap();
    }
}
