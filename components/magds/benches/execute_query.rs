//! What MagDS's `execute_query` path adds over a direct sqlx query of the same
//! statement on the same database.
//!
//! The `execute_query` path is [`QueryRunner::run`], exactly what an
//! extension's query goes through: sqlparser classification, the grant check,
//! on PostgreSQL the statement alone (autocommit) on a session logged in as
//! the extension's own role (read-only sessions for reads, the statement
//! timeout set when the session starts), on
//! SQLite a read-only connection kept between reads (a fresh read-write one
//! for writes), and the rows turned into JSON. The direct path is plain sqlx
//! on a pool of the same database, as the platform's own code would query
//! it: `query_as` with the statement prepared once and cached, rows decoded
//! into a tuple. Both are called with `block_on` from outside the runtime's
//! workers, as the MagDS adapter serves extensions' host calls.
//!
//! Engines: PostgreSQL (a fresh database `mf_bench_*` on `MAGFLOCK_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the end
//! with the roles the runner made) and SQLite (a file in a temporary folder).
//! Table `items` holds 1 000 rows; the statements are a single-row SELECT by
//! primary key and a one-row INSERT.
//!
//! * criterion: the median per call of each path;
//! * printed figures: p50/p99 of `MAGFLOCK_BENCH_CALLS` (default 5 000) timed
//!   calls of each path, direct and `execute_query` calls interleaved, and the
//!   difference (INSERT: a fifth as many calls).
//!
//! `RUST_BACKTRACE=0 CARGO_INCREMENTAL=0 cargo bench -p magflock-magds --bench execute_query`
//! `MAGFLOCK_BENCH_ENGINES=sqlite` (or `postgres`) for one engine.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use magflock_kernel::Capability;
use magflock_magds::query::{QueryRunner, role_name};
use magflock_magds::{Dialect, classify};
use serde_json::json;
use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

const ROWS: i64 = 1000;

/// Ids for inserted rows, above the 1 000 rows of the fill.
static NEXT_ID: AtomicI64 = AtomicI64::new(1_000_000);

fn next_id() -> i64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The primary key of the `i`-th lookup: spread over the table.
fn key(i: u64) -> i64 {
    (i.wrapping_mul(7919) % ROWS as u64) as i64 + 1
}

#[derive(Clone, Copy, Debug)]
enum Statement {
    Select,
    Insert,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    Sqlite,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Sqlite => "sqlite",
        }
    }

    fn select(self) -> &'static str {
        match self {
            Kind::Postgres => "SELECT id, name, amount FROM items WHERE id = $1",
            Kind::Sqlite => "SELECT id, name, amount FROM items WHERE id = ?1",
        }
    }

    fn insert(self) -> &'static str {
        match self {
            Kind::Postgres => "INSERT INTO items (id, name, amount) VALUES ($1, $2, $3)",
            Kind::Sqlite => "INSERT INTO items (id, name, amount) VALUES (?1, ?2, ?3)",
        }
    }
}

fn engines() -> Vec<Kind> {
    match std::env::var("MAGFLOCK_BENCH_ENGINES").as_deref() {
        Ok("sqlite") => vec![Kind::Sqlite],
        Ok("postgres") => vec![Kind::Postgres],
        _ => vec![Kind::Postgres, Kind::Sqlite],
    }
}

fn calls() -> usize {
    std::env::var("MAGFLOCK_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000)
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!("{}_{}", std::process::id(), nanos % 1_000_000)
}

/// Plain sqlx on a pool of the project database.
struct DirectPool<DB: Database>(Pool<DB>);

impl<DB> DirectPool<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    (i64, String, i64): for<'r> FromRow<'r, DB::Row>,
{
    async fn select(&self, sql: &'static str, id: i64) {
        let row: (i64, String, i64) = sqlx::query_as(sql)
            .bind(id)
            .fetch_one(&self.0)
            .await
            .expect("direct select");
        assert_eq!(row.0, id);
    }

    async fn insert(&self, sql: &'static str, id: i64) {
        sqlx::query(sql)
            .bind(id)
            .bind("inserted".to_string())
            .bind(id)
            .execute(&self.0)
            .await
            .expect("direct insert");
    }
}

enum Direct {
    Postgres(DirectPool<Postgres>),
    Sqlite(DirectPool<Sqlite>),
}

/// One project database, reachable both ways.
struct Target {
    kind: Kind,
    direct: Direct,
    runner: QueryRunner,
    reader: String,
    writer: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The server pool, the database to drop.
    Postgres { server: PgPool, database: String },
    /// The folder of the file, removed when dropped.
    Sqlite { _dir: tempfile::TempDir },
}

impl Target {
    async fn open(kind: Kind) -> Target {
        match kind {
            Kind::Postgres => Target::postgres().await,
            Kind::Sqlite => Target::sqlite().await,
        }
    }

    async fn postgres() -> Target {
        let base = std::env::var("MAGFLOCK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let token = unique();
        let database = format!("mf_bench_{token}");
        let server = PgPool::connect(&base)
            .await
            .expect("PostgreSQL at MAGFLOCK_TEST_PG_URL");
        server
            .execute(format!("CREATE DATABASE \"{database}\"").as_str())
            .await
            .expect("create the bench database");
        let (host, _) = base.rsplit_once('/').expect("a URL ending in /<database>");
        let url = format!("{host}/{database}");
        let direct = PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .expect("connect to the bench database");
        sqlx::raw_sql(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, amount bigint NOT NULL);
             INSERT INTO items SELECT g, 'item ' || g, g * 100 FROM generate_series(1, 1000) g;
             ANALYZE items",
        )
        .execute(&direct)
        .await
        .expect("fill the bench table");
        let runner = QueryRunner::connect(&url).await.expect("runner");
        let ext = |role: &str| format!("bench-{}/{role}", token.replace('_', "-"));
        Target {
            kind: Kind::Postgres,
            direct: Direct::Postgres(DirectPool(direct)),
            runner,
            reader: ext("reader"),
            writer: ext("writer"),
            cleanup: Cleanup::Postgres { server, database },
        }
    }

    async fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("temporary folder");
        let file = dir.path().join("project.sqlite");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("create the bench file");
        sqlx::raw_sql(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount INTEGER NOT NULL);
             WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000)
             INSERT INTO items SELECT n, 'item ' || n, n * 100 FROM g;",
        )
        .execute(&mut conn)
        .await
        .expect("fill the bench table");
        conn.close().await.expect("close");
        let direct = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.create_if_missing(false))
            .await
            .expect("open the bench file");
        let url = format!("sqlite://{}", file.display());
        let runner = QueryRunner::connect(&url).await.expect("runner");
        Target {
            kind: Kind::Sqlite,
            direct: Direct::Sqlite(DirectPool(direct)),
            runner,
            reader: "bench-sqlite/reader".to_string(),
            writer: "bench-sqlite/writer".to_string(),
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    async fn direct_select(&self, id: i64) {
        match &self.direct {
            Direct::Postgres(pool) => pool.select(self.kind.select(), id).await,
            Direct::Sqlite(pool) => pool.select(self.kind.select(), id).await,
        }
    }

    async fn runner_select(&self, id: i64) {
        let result = self
            .runner
            .run(
                &self.reader,
                &[Capability::DatabaseRead],
                self.kind.select(),
                &[json!(id)],
            )
            .await
            .expect("execute_query select");
        assert_eq!(result.rows[0]["id"], json!(id));
    }

    async fn direct_insert(&self, id: i64) {
        match &self.direct {
            Direct::Postgres(pool) => pool.insert(self.kind.insert(), id).await,
            Direct::Sqlite(pool) => pool.insert(self.kind.insert(), id).await,
        }
    }

    async fn runner_insert(&self, id: i64) {
        let result = self
            .runner
            .run(
                &self.writer,
                &[Capability::DatabaseWrite],
                self.kind.insert(),
                &[json!(id), json!("inserted"), json!(id)],
            )
            .await
            .expect("execute_query insert");
        assert_eq!(result.rows_affected, 1);
    }

    /// Closes the pools; on PostgreSQL drops the database, then the roles.
    async fn finish(self) {
        self.runner.close().await;
        match self.direct {
            Direct::Postgres(pool) => pool.0.close().await,
            Direct::Sqlite(pool) => pool.0.close().await,
        }
        if let Cleanup::Postgres { server, database } = self.cleanup {
            server
                .execute(format!("DROP DATABASE \"{database}\" WITH (FORCE)").as_str())
                .await
                .expect("drop the bench database");
            let extension_roles = [&self.reader, &self.writer].map(|e| role_name(e).ok());
            for role in extension_roles.into_iter().flatten() {
                server
                    .execute(format!("DROP ROLE IF EXISTS \"{role}\"").as_str())
                    .await
                    .expect("drop a bench role");
            }
            server.close().await;
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn criterion_medians(c: &mut Criterion, rt: &tokio::runtime::Runtime, target: &Target) {
    let mut group = c.benchmark_group(format!("execute_query/{}", target.kind.name()));
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    let dialect = match target.kind {
        Kind::Postgres => Dialect::Postgres,
        Kind::Sqlite => Dialect::Sqlite,
    };
    group.bench_function("select/classify_only", |b| {
        b.iter(|| classify(target.kind.select(), dialect).expect("a read"))
    });
    group.bench_function("select/direct_sqlx", |b| {
        let mut i = 0;
        b.to_async(rt).iter(|| {
            i += 1;
            target.direct_select(key(i))
        })
    });
    group.bench_function("select/execute_query", |b| {
        let mut i = 0;
        b.to_async(rt).iter(|| {
            i += 1;
            target.runner_select(key(i))
        })
    });
    group.bench_function("insert/direct_sqlx", |b| {
        b.to_async(rt).iter(|| target.direct_insert(next_id()))
    });
    group.bench_function("insert/execute_query", |b| {
        b.to_async(rt).iter(|| target.runner_insert(next_id()))
    });
    group.finish();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Signed difference in µs.
fn added(runner: Duration, direct: Duration) -> f64 {
    micros(runner) - micros(direct)
}

/// `calls` timed calls of each path, interleaved, then p50/p99 of each and
/// their difference.
async fn percentiles(target: &Target, statement: Statement, calls: usize) {
    let mut direct = Vec::with_capacity(calls);
    let mut runner = Vec::with_capacity(calls);
    for i in 0..calls as u64 {
        let started = Instant::now();
        match statement {
            Statement::Select => target.direct_select(key(i)).await,
            Statement::Insert => target.direct_insert(next_id()).await,
        }
        direct.push(started.elapsed());
        let started = Instant::now();
        match statement {
            Statement::Select => target.runner_select(key(i)).await,
            Statement::Insert => target.runner_insert(next_id()).await,
        }
        runner.push(started.elapsed());
    }
    direct.sort();
    runner.sort();
    let (d50, d99) = (percentile(&direct, 0.50), percentile(&direct, 0.99));
    let (r50, r99) = (percentile(&runner, 0.50), percentile(&runner, 0.99));
    println!(
        "execute_query_latency/{}/{statement:?}: {calls} calls each; direct sqlx p50 {:.1} µs, \
         p99 {:.1} µs; execute_query p50 {:.1} µs, p99 {:.1} µs; added p50 {:+.1} µs, p99 {:+.1} µs",
        target.kind.name(),
        micros(d50),
        micros(d99),
        micros(r50),
        micros(r99),
        added(r50, d50),
        added(r99, d99),
    );
}

fn main() {
    let rt = runtime();
    let mut criterion = Criterion::default().configure_from_args();
    let calls = calls();
    let mut targets = Vec::new();
    for kind in engines() {
        let target = rt.block_on(Target::open(kind));
        // The first call syncs the extension's role; keep it out of the figures.
        rt.block_on(async {
            target.runner_select(1).await;
            target.runner_insert(next_id()).await;
        });
        criterion_medians(&mut criterion, &rt, &target);
        targets.push(target);
    }
    criterion.final_summary();
    for target in &targets {
        rt.block_on(percentiles(target, Statement::Select, calls));
        rt.block_on(percentiles(target, Statement::Insert, calls / 5));
    }
    for target in targets {
        rt.block_on(target.finish());
    }
}
