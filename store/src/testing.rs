//! Test support: a fresh, empty, migrated store per test on either engine.
//!
//! PostgreSQL tests create a database named `mf_test_<unix seconds>_<random>` on
//! the server at `MAGFLOCK_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and drop it in [`TestDb::cleanup`];
//! databases left behind by a crashed run more than an hour ago are dropped when
//! the next one is made.

use crate::{Engine, SqlStore};
use sqlx::{Connection, Row};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL of the PostgreSQL server tests use.
pub fn pg_admin_url() -> String {
    std::env::var("MAGFLOCK_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// A store on a database that exists only for one test.
pub struct TestDb {
    pub store: SqlStore,
    pub url: String,
    engine: Engine,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => Self::sqlite().await,
            Engine::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/magflock.db", dir.path().display());
        let store = SqlStore::open(&url).await.expect("open sqlite test store");
        TestDb {
            store,
            url,
            engine: Engine::Sqlite,
            name: String::new(),
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let name = fresh_pg_database().await;
        let url = pg_url_for(&name);
        let store = SqlStore::open(&url)
            .await
            .expect("open postgres test store");
        TestDb {
            store,
            url,
            engine: Engine::Postgres,
            name,
            _dir: None,
        }
    }

    /// Closes the store and drops the test's PostgreSQL database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if self.engine == Engine::Postgres {
            drop_pg_database(&self.name).await;
        }
    }
}

/// The URL of database `name` on the test server.
pub fn pg_url_for(name: &str) -> String {
    let mut url = url::Url::parse(&pg_admin_url()).expect("MAGFLOCK_TEST_PG_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Creates an empty database and returns its name.
pub async fn fresh_pg_database() -> String {
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed for this test: {e}",
                pg_admin_url()
            )
        });
    let now = crate::now_millis() / 1000;
    let stale: Vec<String> =
        sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'mf_test_%'")
            .fetch_all(&mut admin)
            .await
            .expect("list databases")
            .iter()
            .map(|r| r.get::<String, _>(0))
            .filter(|n| {
                n.split('_')
                    .nth(2)
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_some_and(|t| now - t > 3600)
            })
            .collect();
    for name in stale {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
    let name = format!("mf_test_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create test database");
    name
}

pub async fn drop_pg_database(name: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}

/// Makes two `#[tokio::test]`s of each `async fn case(&TestDb)`: one on a
/// fresh SQLite database (module `sqlite`), one on a fresh PostgreSQL
/// database (module `postgres`). Use at the root of a test file.
#[macro_export]
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let db = $crate::testing::TestDb::new($crate::Engine::Sqlite).await;
                super::$case(&db).await;
                db.cleanup().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let db = $crate::testing::TestDb::new($crate::Engine::Postgres).await;
                super::$case(&db).await;
                db.cleanup().await;
            })*
        }
    };
}
