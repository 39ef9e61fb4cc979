//! `MagDs::describe` against real engines: PostgreSQL (`MAGFLOCK_TEST_PG_URL`,
//! default postgres://postgres@127.0.0.1:5432/postgres, a fresh admin
//! database and unique project names per test) and SQLite in a temporary
//! folder. A migration creates a table with a primary key, a nullable column
//! with a default, an index and (PostgreSQL) a row-level-security policy;
//! the description shows each, and never MagDS's own ledger.

use std::sync::Arc;

use magflock_magds::{
    DatabaseSchema, EngineKind, MagDs, MagDsConfig, NoEvents, NoHooks, RelationKind, TableInfo,
};
use sqlx::{Connection, Executor};
use tempfile::TempDir;

const SCHEMA: &str = "CREATE TABLE orders (\
       id INTEGER PRIMARY KEY, \
       customer TEXT NOT NULL, \
       note TEXT DEFAULT 'none'); \
     CREATE UNIQUE INDEX orders_customer ON orders (customer); \
     CREATE VIEW big_orders AS SELECT id FROM orders WHERE id > 100;";

fn pg_url() -> String {
    std::env::var("MAGFLOCK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn unique(tag: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{tag}_{}", &id[..12])
}

fn table<'a>(schema: &'a DatabaseSchema, name: &str) -> &'a TableInfo {
    schema
        .tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name} in {schema:?}"))
}

/// What both engines must show for [`SCHEMA`].
fn check_common(described: &DatabaseSchema) {
    assert!(
        described
            .tables
            .iter()
            .all(|t| t.name != "_magds_migrations"),
        "the ledger is MagDS's own: {described:?}"
    );
    let orders = table(described, "orders");
    assert_eq!(orders.kind, RelationKind::Table);
    let names: Vec<&str> = orders.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "customer", "note"]);
    let id = &orders.columns[0];
    assert!(id.primary_key && !id.nullable, "{id:?}");
    let customer = &orders.columns[1];
    assert!(!customer.nullable && !customer.primary_key, "{customer:?}");
    assert!(
        customer.data_type.eq_ignore_ascii_case("text"),
        "{customer:?}"
    );
    let note = &orders.columns[2];
    assert!(note.nullable, "{note:?}");
    assert!(
        note.default.as_deref().is_some_and(|d| d.contains("none")),
        "{note:?}"
    );
    let index = orders
        .indexes
        .iter()
        .find(|i| i.name == "orders_customer")
        .unwrap_or_else(|| panic!("no index orders_customer: {:?}", orders.indexes));
    assert!(index.unique && !index.primary);
    assert_eq!(index.columns, ["customer"]);
    assert!(
        index
            .definition
            .as_deref()
            .is_some_and(|d| d.contains("orders_customer"))
    );
    assert_eq!(table(described, "big_orders").kind, RelationKind::View);
}

#[tokio::test]
async fn sqlite_tables_columns_and_indexes_are_described() {
    let dir = TempDir::new().unwrap();
    let ds = MagDs::open(
        MagDsConfig::sqlite(dir.path()),
        Arc::new(NoHooks),
        Arc::new(NoEvents),
    )
    .await
    .unwrap();
    ds.create_project("shop", "u-1", Vec::new()).await.unwrap();
    let empty = ds.describe("shop").await.unwrap();
    assert_eq!(empty.engine, EngineKind::Sqlite);
    assert_eq!(empty.schemas, ["main"]);
    assert!(empty.tables.is_empty(), "{empty:?}");

    ds.apply_migration("shop", "001_orders", SCHEMA)
        .await
        .unwrap();
    let described = ds.describe("shop").await.unwrap();
    check_common(&described);
    assert!(
        described.tables.iter().all(|t| t.row_security.is_none()),
        "SQLite has no row-level security"
    );
    assert!(matches!(
        ds.describe("nope").await,
        Err(magflock_magds::MagDsError::UnknownProject(_))
    ));
}

#[tokio::test]
async fn postgres_schemas_and_row_level_security_policies_are_described() {
    let admin = unique("admin");
    let mut conn = sqlx::PgConnection::connect(&pg_url())
        .await
        .expect("PostgreSQL at MAGFLOCK_TEST_PG_URL must be reachable");
    conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE \"{admin}\"")))
        .await
        .unwrap();
    let mut admin_url = url::Url::parse(&pg_url()).unwrap();
    admin_url.set_path(&format!("/{admin}"));
    let backups = TempDir::new().unwrap();
    let ds = MagDs::open(
        MagDsConfig::postgres(admin_url.as_str(), backups.path()),
        Arc::new(NoHooks),
        Arc::new(NoEvents),
    )
    .await
    .unwrap();
    let project = unique("shop");
    ds.create_project(&project, "u-1", Vec::new())
        .await
        .unwrap();
    ds.apply_migration(
        &project,
        "001_orders",
        &format!(
            "{SCHEMA} CREATE SCHEMA billing; CREATE TABLE billing.invoices (n bigint GENERATED ALWAYS AS IDENTITY);"
        ),
    )
    .await
    .unwrap();
    ds.create_rls_policy(
        &project,
        &magflock_magds::RlsPolicy {
            table: "orders".into(),
            name: "own_orders".into(),
            command: magflock_magds::PolicyCommand::Select,
            role: "public".into(),
            using: Some("customer = current_user".into()),
            check: None,
        },
    )
    .await
    .unwrap();

    let described = ds.describe(&project).await;
    // Clean up before asserting, so a failure leaves nothing behind.
    ds.drop_project(&project).await.unwrap();
    ds.close().await;
    conn.execute(sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS \"{admin}\" WITH (FORCE)"
    )))
    .await
    .unwrap();
    conn.close().await.unwrap();

    let described = described.unwrap();
    assert_eq!(described.engine, EngineKind::Postgres);
    assert_eq!(described.schemas, ["billing", "public"]);
    check_common(&described);
    let orders = table(&described, "orders");
    assert_eq!(orders.schema, "public");
    assert!(
        orders
            .indexes
            .iter()
            .any(|i| i.primary && i.columns == ["id"])
    );
    let security = orders.row_security.as_ref().expect("PostgreSQL has RLS");
    assert!(security.enabled && !security.forced);
    assert_eq!(security.policies.len(), 1, "{security:?}");
    let policy = &security.policies[0];
    assert_eq!(policy.name, "own_orders");
    assert_eq!(policy.command, "SELECT");
    assert!(policy.permissive);
    assert_eq!(policy.roles, ["public"]);
    assert!(
        policy
            .using
            .as_deref()
            .is_some_and(|u| u.contains("CURRENT_USER")),
        "{policy:?}"
    );
    let invoices = table(&described, "invoices");
    assert_eq!(invoices.schema, "billing");
    assert_eq!(
        invoices.columns[0].default.as_deref(),
        Some("generated always as identity")
    );
    assert!(
        !table(&described, "big_orders")
            .row_security
            .as_ref()
            .unwrap()
            .enabled
    );
}
