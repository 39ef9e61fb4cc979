//! `execute_query` for extensions: steps 2 to 7 of the specification's flow
//! (step 1, the capability check, is the kernel's).
//!
//! A [`QueryRunner`] serves ONE project database, PostgreSQL
//! (`postgres://…/<db>`) or SQLite (`sqlite://<file>`).
//!
//! # Guarantees
//!
//! * **First wall, the parser.** [`QueryRunner::run`] classifies the SQL with
//!   [`classify`](crate::classify::classify) (a real parser, exactly one
//!   statement); a refusal is returned with its message unchanged, and a
//!   statement whose class the grant does not cover is refused
//!   ([`allowed`](crate::classify::allowed)). Admin statements never run here,
//!   whatever is granted: database administration goes through MagDS's own API.
//! * **Second wall, the database.** On PostgreSQL every statement runs on a
//!   session logged in as the extension's own role (see [`role_name`]),
//!   which holds exactly the privileges its grant implies in this database
//!   ([`QueryRunner::sync_role`]; revoked privileges are taken away, objects
//!   it created are handed to the database owner when `database.schema`
//!   goes):
//!   - `database.read`: `USAGE` on schema `public`, `SELECT` on its tables
//!     (also future ones);
//!   - `database.write`: `SELECT, INSERT, UPDATE, DELETE` on its tables and
//!     `USAGE, SELECT` on its sequences (also future ones);
//!   - `database.schema`: `USAGE, CREATE` on schema `public` and `TRUNCATE,
//!     REFERENCES, TRIGGER` on its tables. It can create objects and alter the
//!     ones it owns, not tables owned by others;
//!   - `database.admin`: nothing more.
//!
//!   The role is a login role (not a superuser, `NOINHERIT`, `CONNECT` on the
//!   project database) and a member of no role (memberships found when it is
//!   synced are revoked), so `SET ROLE`/`RESET ROLE`/`SET SESSION
//!   AUTHORIZATION` inside a statement cannot reach any other role: there is
//!   no other identity in the session to switch to. Its password is random,
//!   made once per process and role, kept in memory only and set again
//!   (`ALTER ROLE … PASSWORD`) when the runner syncs the role, i.e. at its
//!   first statement after each process start.
//!
//!   Sessions are read-only (`default_transaction_read_only = on`) when the
//!   parser classified the statement as a read, or when neither
//!   `database.write` nor `database.schema` is granted; each extension has a
//!   pool of read-only sessions and one of read-write sessions (at most 2
//!   each per project database, closed after 60 s idle), used by no other
//!   extension. The statement timeout is set when a session starts. A
//!   statement runs alone in autocommit (one statement is atomic), except
//!   on a read-write session when it may return rows (per the parser: not an
//!   `INSERT`/`UPDATE`/`DELETE` without `RETURNING` nor a schema statement;
//!   always with the parser bypassed): then in a transaction, so that a
//!   limit rolls it back. When a connection goes back to its pool, whatever a
//!   statement left in the session is reset (settings such as the read-only
//!   default and the timeout, advisory locks, listeners, cursors, temporary
//!   tables). A sync that changes the grant replaces the extension's pools:
//!   the next statement runs on a new session under the new privileges. A
//!   role dropped or replaced behind the runner's back fails the statement
//!   that finds it ([`QueryError::RoleMissing`]) and is made again for the
//!   next one.
//!
//!   Setting up a PostgreSQL runner changes the project database: `CREATE`
//!   on schema `public` is revoked from `PUBLIC` (already so since PostgreSQL
//!   15). A role's password is sent in an `ALTER ROLE` statement, which a
//!   server logging DDL writes to its log.
//!
//!   On SQLite (no roles), a statement runs on a read-only connection when it
//!   was classified as a read or when neither `database.write` nor
//!   `database.schema` is granted; otherwise on a read-write connection
//!   (SQLite cannot tell a write from a schema change at this level). A
//!   statement the parser let through cannot change its connection's
//!   settings (`PRAGMA`, `ATTACH` and transaction control are refused), so
//!   connections are kept for the next statements while the project file is
//!   the same file (a restore or a drop is noticed; module
//!   `sqlite_connections`): read-only ones for every extension's reads,
//!   read-write ones per extension, so what one extension's statements leave
//!   in a connection (a `TEMP` table) never meets another extension's.
//! * **Values are bound, never spliced.** Parameters `$1…` (`?1…` on SQLite) are
//!   JSON values: `null`, booleans, integers (`int8`), other numbers
//!   (`float8`), strings (`text`; cast in SQL for other types, e.g. `$1::uuid`)
//!   and arrays/objects (`jsonb` on PostgreSQL, JSON text on SQLite). The
//!   statement is an unnamed prepared statement, never cached (so each call's
//!   parameter types are its own); on PostgreSQL the extended protocol refuses
//!   a string of several statements.
//! * **Rows as JSON.** Rows come back as objects (column name → value):
//!   integers and `oid` as numbers, `float4/8` as numbers (`NaN`/`Infinity`
//!   as strings), `numeric` as an exact decimal string, `bool`, text types
//!   (`text`, `varchar`, `char`, `name`, enums), `uuid` as a string, `json`/
//!   `jsonb` as JSON, `date` as `YYYY-MM-DD`, `time` as `HH:MM:SS[.ffffff]`,
//!   `timestamptz` as RFC 3339 in UTC (`…Z`), `timestamp` the same without an
//!   offset (it has none), `bytea` as PostgreSQL's hex text (`\x…`, SQLite
//!   blobs the same), `void` as `null`. Any other type is an error naming the
//!   column and its type (cast it in SQL, e.g. `col::text`). Writes also return
//!   the affected row count.
//! * **Limits.** At most [`Limits::max_rows`] rows (default 10 000) and
//!   [`Limits::max_bytes`] of JSON (default 8 MiB); past either the statement
//!   is rolled back (a statement in autocommit that passes them wrote
//!   nothing: it ran on a read-only session or returns no rows) and the error
//!   names the limit. Every statement has a timeout
//!   ([`Limits::statement_timeout`], default 5 s): PostgreSQL's
//!   `statement_timeout`, set when the session starts, on SQLite a progress
//!   handler that interrupts the statement.
//! * **Events.** Every successful statement yields a [`QueryEvent`] (the data
//!   of `database.query.executed`), in the [`QueryResult`] and to the
//!   [`QueryEventSink`] if one is set; publishing it is the adapter's job.
//!
//! # Limits of the walls
//!
//! * Tables an extension creates with `database.schema` are not readable by
//!   other extensions' roles until their roles are synced again (default
//!   privileges cover tables created by the runner's admin login only).
//! * Extension roles are per cluster, their privileges per database. Each
//!   process sets its own password: two processes running statements for the
//!   same extension on one cluster take the role's login from each other
//!   (open sessions stay; a failed login makes the next statement sync the
//!   role, and so set the password, again).
//! * A temporary table a statement creates (`TEMP` is `PUBLIC`'s on a
//!   database by default) lives until its session goes back to the pool.
//! * The parser bypass [`QueryRunner::run_unchecked`] exists only to prove the
//!   second wall in tests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use magflock_kernel::Capability;
use serde::Serialize;
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult, PgRow, PgTypeInfo,
    PgTypeKind, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteQueryResult, SqliteRow};
use sqlx::{Column, Connection, Either, Executor, Row, TypeInfo, ValueRef};
use tokio::sync::Mutex;

use crate::classify::{Class, Classified, Dialect, Refusal, allowed, classify};
use crate::sqlite_connections::{KeptConnections, TimedConnection};

/// The event type of a successful statement.
pub const QUERY_EXECUTED: &str = "database.query.executed";

/// Run on an extension's connection when it goes back to its pool. (Not
/// `DISCARD ALL`: it would also drop the statements sqlx prepares and caches
/// for its own type lookups.)
const SESSION_RESET: &str = "RESET ALL; RESET ROLE; SELECT pg_advisory_unlock_all(); \
     UNLISTEN *; CLOSE ALL; DISCARD TEMP; DISCARD SEQUENCES";

/// PostgreSQL's limit on identifier length, in bytes.
const MAX_IDENTIFIER: usize = 63;

/// What one statement may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most rows a statement may return.
    pub max_rows: usize,
    /// Most bytes of JSON the rows may take.
    pub max_bytes: usize,
    /// Longest a statement may run.
    pub statement_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rows: 10_000,
            max_bytes: 8 * 1024 * 1024,
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// The data of a `database.query.executed` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueryEvent {
    pub extension: String,
    /// As the parser named it, e.g. `SELECT`; `UNCHECKED` when it was bypassed.
    pub statement_kind: String,
    pub tables: Vec<String>,
    pub duration_ms: u64,
    /// Rows returned, or affected when the statement returned none.
    pub rows: u64,
}

impl QueryEvent {
    /// The event's `data` as JSON.
    pub fn data(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Told about every statement that ran; publishing is the adapter's job.
pub trait QueryEventSink: Send + Sync {
    fn query_executed(&self, event: &QueryEvent);
}

/// What a statement returned.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Column names, from the first row (empty when no row came back).
    pub columns: Vec<String>,
    pub rows: Vec<Map<String, Value>>,
    /// Rows inserted, updated or deleted (on PostgreSQL also rows selected).
    pub rows_affected: u64,
    pub event: QueryEvent,
}

impl QueryResult {
    /// The rows as the JSON array `database-read.query` returns.
    pub fn rows_json(&self) -> String {
        Value::Array(self.rows.iter().cloned().map(Value::Object).collect()).to_string()
    }
}

/// Why a statement did not run, or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The parser refused it (its message unchanged).
    #[error("{0}")]
    Refused(Refusal),
    /// The grant does not cover the statement's class.
    #[error("refused: {0}")]
    NotGranted(String),
    #[error(
        "refused: {0} is a database administration statement; those do not run through \
         execute_query, use MagDS's database API"
    )]
    AdminStatement(String),
    #[error("parameter ${index}: {problem}")]
    BadParameter { index: usize, problem: String },
    #[error("the result has more than {limit} rows, the limit; add a LIMIT")]
    TooManyRows { limit: usize },
    #[error(
        "the result is larger than {limit} bytes of JSON, the limit; select fewer rows or columns"
    )]
    TooLarge { limit: usize },
    #[error("the statement ran longer than {limit_ms} ms, the statement timeout")]
    Timeout { limit_ms: u128 },
    #[error(
        "column '{column}' has type {type_name}, which MagDS does not return; cast it in SQL (e.g. {column}::text)"
    )]
    UnsupportedType { column: String, type_name: String },
    #[error(
        "the extension's database role {role} does not exist any more (dropped or replaced \
         outside MagDS); the next statement makes it again"
    )]
    RoleMissing { role: String },
    /// The database refused or failed it; `code` is the SQLSTATE (or SQLite code).
    #[error("the database refused the statement: {message}")]
    Database {
        code: Option<String>,
        message: String,
    },
    #[error("'{0}' is not an extension id (publisher/name: lower-case letters, digits, '-')")]
    InvalidExtension(String),
    #[error("MagDS could not reach the project database: {0}")]
    Connection(String),
}

impl QueryError {
    /// The SQLSTATE (PostgreSQL) or result code (SQLite) of a database error.
    pub fn code(&self) -> Option<&str> {
        match self {
            QueryError::Database { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    fn from_sqlx(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Database(db) => QueryError::Database {
                code: db.code().map(|c| c.into_owned()),
                message: db.message().to_string(),
            },
            other => QueryError::Connection(other.to_string()),
        }
    }
}

/// The PostgreSQL role of an extension: `ext_<publisher>_<name>_<hash>`, where
/// `-` and `/` become `_` and the hash (16 hex digits of SHA-256 of the exact
/// id) keeps `a-b/c` and `a/b-c` apart. Only `[a-z0-9_]`, at most 63 bytes.
pub fn role_name(extension: &str) -> Result<String, QueryError> {
    if !valid_extension_id(extension) {
        return Err(QueryError::InvalidExtension(extension.to_string()));
    }
    Ok(hashed_name("ext_", extension))
}

fn hashed_name(prefix: &str, source: &str) -> String {
    let readable: String = source
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .take(30)
        .collect();
    let hash = hex::encode(&Sha256::digest(source.as_bytes())[..8]);
    let name = format!("{prefix}{readable}_{hash}");
    debug_assert!(name.len() <= MAX_IDENTIFIER);
    name
}

fn valid_extension_id(id: &str) -> bool {
    let slug = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    id.split_once('/')
        .is_some_and(|(publisher, name)| slug(publisher) && slug(name))
}

/// A role name we derived ourselves (`[a-z0-9_]` only), double-quoted.
fn quote_role(name: &str) -> String {
    debug_assert!(
        name.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    );
    format!("\"{name}\"")
}

/// Any identifier, double-quoted with inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The database capabilities of a grant, sorted and without duplicates.
fn database_grant(granted: &[Capability]) -> Vec<Capability> {
    let mut caps: Vec<Capability> = granted
        .iter()
        .copied()
        .filter(|c| c.family() == "database")
        .collect();
    caps.sort();
    caps.dedup();
    caps
}

fn may_change(granted: &[Capability]) -> bool {
    granted.contains(&Capability::DatabaseWrite) || granted.contains(&Capability::DatabaseSchema)
}

/// One statement, decided and ready to run.
struct Plan<'a> {
    extension: &'a str,
    granted: &'a [Capability],
    sql: &'a str,
    /// What the parser found; `None` only in `run_unchecked`.
    classified: Option<Classified>,
    read_only: bool,
}

impl<'a> Plan<'a> {
    /// Read-only when the parser saw a read or the grant changes nothing.
    fn new(
        extension: &'a str,
        granted: &'a [Capability],
        sql: &'a str,
        classified: Option<Classified>,
    ) -> Self {
        let read = classified.as_ref().is_some_and(|c| c.class == Class::Read);
        Plan {
            extension,
            granted,
            sql,
            read_only: read || !may_change(granted),
            classified,
        }
    }

    /// A read the parser let through, which leaves nothing in a connection.
    fn parsed_read_only(&self) -> bool {
        self.read_only && self.classified.is_some()
    }

    /// A write the parser let through (no `PRAGMA`, `ATTACH` or transaction
    /// control): its connection may be kept for the same extension.
    fn parsed_write(&self) -> bool {
        !self.read_only && self.classified.is_some()
    }
}

/// Runs extensions' statements in one project database.
pub struct QueryRunner {
    backend: Backend,
    limits: Limits,
    sink: Option<Arc<dyn QueryEventSink>>,
}

enum Backend {
    /// Boxed, both: their connect options are large.
    Postgres(Box<PgBackend>),
    Sqlite(Box<SqliteBackend>),
}

impl QueryRunner {
    /// Connects to the project database with the default [`Limits`]. On
    /// PostgreSQL the URL's login must be able to create roles and grant on
    /// the database's objects (a superuser or the owner with `CREATEROLE`);
    /// extension statements never run as it.
    pub async fn connect(url: &str) -> Result<Self, QueryError> {
        Self::connect_with(url, Limits::default()).await
    }

    pub async fn connect_with(url: &str, limits: Limits) -> Result<Self, QueryError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(Box::new(PgBackend::connect(url, &limits).await?))
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite(Box::new(SqliteBackend::new(url)?))
        } else {
            return Err(QueryError::Connection(
                "the URL must start with postgres:// or sqlite://".to_string(),
            ));
        };
        Ok(QueryRunner {
            backend,
            limits,
            sink: None,
        })
    }

    /// Tells `sink` about every statement that ran.
    pub fn with_event_sink(mut self, sink: Arc<dyn QueryEventSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Postgres(_) => Dialect::Postgres,
            Backend::Sqlite(_) => Dialect::Sqlite,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Steps 2 to 7: classify, check the grant, run as the extension's role
    /// with bound parameters, limits and a timeout, and report.
    pub async fn run(
        &self,
        extension: &str,
        granted: &[Capability],
        sql: &str,
        params: &[Value],
    ) -> Result<QueryResult, QueryError> {
        self.run_within(extension, granted, granted, sql, params)
            .await
    }

    /// [`QueryRunner::run`] where the statement must fit `allowed` (e.g. only
    /// `database.read` for the read interface) while the extension's role
    /// keeps the privileges of its whole database grant `granted`, so calls
    /// through different interfaces never change the role under each other.
    pub async fn run_within(
        &self,
        extension: &str,
        granted: &[Capability],
        allowed: &[Capability],
        sql: &str,
        params: &[Value],
    ) -> Result<QueryResult, QueryError> {
        let started = Instant::now();
        let classified = classify(sql, self.dialect()).map_err(QueryError::Refused)?;
        check_grant(&classified, allowed)?;
        let plan = Plan::new(extension, granted, sql, Some(classified));
        self.execute(plan, params, started).await
    }

    /// TESTS ONLY: [`QueryRunner::run`] without the parser (no classification,
    /// no grant check), to prove that the database alone refuses what the
    /// grant does not cover. Never call it with an extension's SQL.
    #[doc(hidden)]
    pub async fn run_unchecked(
        &self,
        extension: &str,
        granted: &[Capability],
        sql: &str,
        params: &[Value],
    ) -> Result<QueryResult, QueryError> {
        let plan = Plan::new(extension, granted, sql, None);
        self.execute(plan, params, Instant::now()).await
    }

    /// Makes the extension's role hold exactly the privileges `granted`
    /// implies in this database, revoking the rest, and replaces its pooled
    /// sessions (the next statement logs in anew). [`QueryRunner::run`] calls
    /// it when the grant differs from the last one synced. No-op on SQLite.
    pub async fn sync_role(
        &self,
        extension: &str,
        granted: &[Capability],
    ) -> Result<(), QueryError> {
        match &self.backend {
            Backend::Postgres(pg) => pg
                .sync(extension, database_grant(granted))
                .await
                .map(|_| ()),
            Backend::Sqlite(_) => role_name(extension).map(|_| ()),
        }
    }

    /// Closes the runner's connections.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Postgres(pg) => pg.close().await,
            Backend::Sqlite(lite) => lite.close().await,
        }
    }

    async fn execute(
        &self,
        plan: Plan<'_>,
        params: &[Value],
        started: Instant,
    ) -> Result<QueryResult, QueryError> {
        let params = params
            .iter()
            .enumerate()
            .map(|(i, v)| Param::from_json(i + 1, v))
            .collect::<Result<Vec<_>, _>>()?;
        let output = match &self.backend {
            Backend::Postgres(pg) => pg.execute(&plan, params, &self.limits).await?,
            Backend::Sqlite(lite) => lite.execute(&plan, params, &self.limits).await?,
        };
        let rows = if output.columns.is_empty() {
            output.rows_affected
        } else {
            output.rows.len() as u64
        };
        let (statement_kind, tables) = match plan.classified {
            Some(classified) => (classified.statement_kind, classified.tables),
            None => ("UNCHECKED".to_string(), Vec::new()),
        };
        let event = QueryEvent {
            extension: plan.extension.to_string(),
            statement_kind,
            tables,
            duration_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
            rows,
        };
        if let Some(sink) = &self.sink {
            sink.query_executed(&event);
        }
        Ok(QueryResult {
            columns: output.columns,
            rows: output.rows,
            rows_affected: output.rows_affected,
            event,
        })
    }
}

/// Step 3: admin statements never run here; others need their capability.
fn check_grant(classified: &Classified, granted: &[Capability]) -> Result<(), QueryError> {
    if classified.class == Class::Admin {
        return Err(QueryError::AdminStatement(
            classified.statement_kind.clone(),
        ));
    }
    allowed(classified, granted).map_err(|reason| {
        QueryError::NotGranted(
            if classified.class == Class::Write && classified.statement_kind == "SELECT" {
                // The parser found a write inside a query; say where writes hide.
                format!(
                    "{reason} (this SELECT writes or locks rows: a data-modifying WITH \
                     or a row-locking clause such as FOR UPDATE / FOR SHARE)"
                )
            } else {
                reason
            },
        )
    })
}

// ---------------------------------------------------------------------------
// Parameters

/// A bound value, from JSON.
#[derive(Clone, Debug, PartialEq)]
enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Json(String),
}

impl Param {
    fn from_json(index: usize, value: &Value) -> Result<Self, QueryError> {
        let bad = |problem: &str| QueryError::BadParameter {
            index,
            problem: problem.to_string(),
        };
        Ok(match value {
            Value::Null => Param::Null,
            Value::Bool(b) => Param::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Param::Int(i),
                (None, _) if n.is_u64() => return Err(bad("integer larger than 2^63-1")),
                (None, Some(f)) if f.is_finite() => Param::Float(f),
                _ => return Err(bad("not a finite number")),
            },
            Value::String(s) => Param::Text(s.clone()),
            Value::Array(_) | Value::Object(_) => Param::Json(value.to_string()),
        })
    }

    /// PostgreSQL type OID; 0 (unspecified) lets the server infer a NULL's type.
    fn pg_oid(&self) -> u32 {
        match self {
            Param::Null => 0,
            Param::Bool(_) => 16,
            Param::Int(_) => 20,
            Param::Float(_) => 701,
            Param::Text(_) => 25,
            Param::Json(_) => 3802,
        }
    }
}

impl sqlx::Type<Postgres> for Param {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for Param {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            Param::Null => return Ok(IsNull::Yes),
            Param::Bool(b) => buf.push(u8::from(*b)),
            Param::Int(i) => buf.extend_from_slice(&i.to_be_bytes()),
            Param::Float(f) => buf.extend_from_slice(&f.to_be_bytes()),
            Param::Text(s) => buf.extend_from_slice(s.as_bytes()),
            Param::Json(s) => {
                buf.push(1); // jsonb binary format version
                buf.extend_from_slice(s.as_bytes());
            }
        }
        Ok(IsNull::No)
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(sqlx::postgres::types::Oid(
            self.pg_oid(),
        )))
    }
}

// ---------------------------------------------------------------------------
// Collecting rows

struct Output {
    columns: Vec<String>,
    rows: Vec<Map<String, Value>>,
    rows_affected: u64,
}

/// Drains a result stream into JSON rows within the limits.
async fn collect<R, Q, S>(
    stream: S,
    limits: &Limits,
    decode: fn(&R) -> Result<Map<String, Value>, QueryError>,
    affected: fn(&Q) -> u64,
) -> Result<Output, QueryError>
where
    R: Row,
    S: Stream<Item = Result<Either<Q, R>, sqlx::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut output = Output {
        columns: Vec::new(),
        rows: Vec::new(),
        rows_affected: 0,
    };
    let mut bytes = 0usize;
    while let Some(item) = stream.next().await {
        match item.map_err(QueryError::from_sqlx)? {
            Either::Left(done) => output.rows_affected += affected(&done),
            Either::Right(row) => {
                if output.rows.len() == limits.max_rows {
                    return Err(QueryError::TooManyRows {
                        limit: limits.max_rows,
                    });
                }
                if output.rows.is_empty() {
                    output.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                let object = decode(&row)?;
                bytes += serde_json::to_string(&object).map_or(0, |j| j.len()) + 1;
                if bytes > limits.max_bytes {
                    return Err(QueryError::TooLarge {
                        limit: limits.max_bytes,
                    });
                }
                output.rows.push(object);
            }
        }
    }
    Ok(output)
}

// ---------------------------------------------------------------------------
// PostgreSQL

struct PgBackend {
    /// The URL's login: creates and syncs roles, never runs extension SQL.
    admin: PgPool,
    /// The project database as the URL names it, without the admin login;
    /// each extension's pools log in as the extension's role.
    options: PgConnectOptions,
    database: String,
    statement_timeout: Duration,
    /// By extension: the grant last synced and the role's connections.
    roles: std::sync::Mutex<HashMap<String, Arc<RoleConnections>>>,
    /// One sync at a time.
    syncing: Mutex<()>,
}

/// An extension's role as last synced, and its two pools (each at most
/// [`ROLE_POOL_SIZE`] connections, opened when first needed).
struct RoleConnections {
    grant: Vec<Capability>,
    role: String,
    /// The role's OID: a role dropped (and perhaps made again by someone
    /// else) behind the runner's back is noticed.
    oid: i64,
    /// Sessions with `default_transaction_read_only = on`.
    read: PgPool,
    /// Sessions that may write, as far as the role's privileges allow.
    write: PgPool,
}

impl RoleConnections {
    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Most connections in each of an extension's two pools, per project database.
const ROLE_POOL_SIZE: u32 = 2;
/// An idle connection is closed after this long.
const ROLE_POOL_IDLE: Duration = Duration::from_secs(60);
/// An idle connection is pinged before use only after this long.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

impl PgBackend {
    async fn connect(url: &str, limits: &Limits) -> Result<Self, QueryError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| QueryError::Connection(format!("bad URL: {e}")))?;
        let database = options
            .get_database()
            .ok_or_else(|| QueryError::Connection("the URL names no database".to_string()))?
            .to_string();
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await
            .map_err(QueryError::from_sqlx)?;
        // Before PostgreSQL 15 everyone could create in `public`.
        sqlx::raw_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            .execute(&admin)
            .await
            .map_err(QueryError::from_sqlx)?;
        Ok(PgBackend {
            admin,
            options,
            database,
            statement_timeout: limits.statement_timeout,
            roles: std::sync::Mutex::new(HashMap::new()),
            syncing: Mutex::new(()),
        })
    }

    async fn execute(
        &self,
        plan: &Plan<'_>,
        params: Vec<Param>,
        limits: &Limits,
    ) -> Result<Output, QueryError> {
        let role = self.ensure_role(plan.extension, plan.granted).await?;
        match self.run_as(&role, plan, params, limits).await {
            Err(error) if error.code().is_some_and(role_may_be_gone) => {
                Err(self.check_role(plan.extension, &role, error).await)
            }
            other => other,
        }
    }

    /// The statement alone on a session logged in as the extension's role:
    /// in autocommit (a single statement is atomic), or in a transaction when
    /// it may change data and return rows, so that a limit rolls it back.
    async fn run_as(
        &self,
        role: &RoleConnections,
        plan: &Plan<'_>,
        params: Vec<Param>,
        limits: &Limits,
    ) -> Result<Output, QueryError> {
        let pool = if plan.read_only {
            &role.read
        } else {
            &role.write
        };
        let mut conn = pool.acquire().await.map_err(QueryError::from_sqlx)?;
        let mut query = sqlx::query::<Postgres>(plan.sql).persistent(false);
        for param in params {
            query = query.bind(param);
        }
        let affected = |r: &PgQueryResult| r.rows_affected();
        let in_transaction = !plan.read_only
            && plan
                .classified
                .as_ref()
                .is_none_or(|classified| classified.returns_rows);
        if !in_transaction {
            return collect(conn.fetch_many(query), limits, pg_row, affected)
                .await
                .map_err(|e| timeout_error(e, limits));
        }
        let mut tx = conn.begin().await.map_err(QueryError::from_sqlx)?;
        let output = collect(tx.fetch_many(query), limits, pg_row, affected)
            .await
            .map_err(|e| timeout_error(e, limits))?;
        tx.commit().await.map_err(QueryError::from_sqlx)?;
        Ok(output)
    }

    /// After a failure that a missing role also causes: if the role is gone
    /// or is no longer the one synced, forget it (the next statement makes it
    /// again) and say so; after a failed login (e.g. the password was changed
    /// elsewhere) forget it too; otherwise the failure as it was.
    async fn check_role(
        &self,
        extension: &str,
        role: &RoleConnections,
        error: QueryError,
    ) -> QueryError {
        let oid: Result<Option<i64>, _> =
            sqlx::query_scalar("SELECT oid::int8 FROM pg_roles WHERE rolname = $1")
                .bind(&role.role)
                .fetch_optional(&self.admin)
                .await;
        let login_failed = matches!(error.code(), Some("28000" | "28P01"));
        match oid {
            Ok(Some(oid)) if oid == role.oid => {
                if login_failed {
                    self.forget(extension, role);
                }
                error
            }
            Ok(_) => {
                self.forget(extension, role);
                QueryError::RoleMissing {
                    role: role.role.clone(),
                }
            }
            Err(_) => error,
        }
    }

    /// Drops `role` from the synced roles (if still there) and closes its pools.
    fn forget(&self, extension: &str, role: &RoleConnections) {
        let mut roles = self.roles.lock().expect("roles");
        if roles
            .get(extension)
            .is_some_and(|current| std::ptr::eq(current.as_ref(), role))
            && let Some(gone) = roles.remove(extension)
        {
            tokio::spawn(async move { gone.close().await });
        }
    }

    /// The role's connections, synced first unless this grant was the last
    /// one synced.
    async fn ensure_role(
        &self,
        extension: &str,
        granted: &[Capability],
    ) -> Result<Arc<RoleConnections>, QueryError> {
        let grant = database_grant(granted);
        if let Some(role) = self.synced(extension, &grant) {
            return Ok(role);
        }
        let _syncing = self.syncing.lock().await;
        // Another call may have synced the same grant meanwhile.
        if let Some(role) = self.synced(extension, &grant) {
            return Ok(role);
        }
        self.sync_locked(extension, grant).await
    }

    fn synced(&self, extension: &str, grant: &[Capability]) -> Option<Arc<RoleConnections>> {
        self.roles
            .lock()
            .expect("roles")
            .get(extension)
            .filter(|role| role.grant == grant)
            .cloned()
    }

    /// Gives the extension's role exactly the privileges `grant` implies, and
    /// replaces its pools: no session opened under the previous grant is used
    /// again.
    async fn sync(
        &self,
        extension: &str,
        grant: Vec<Capability>,
    ) -> Result<Arc<RoleConnections>, QueryError> {
        let _syncing = self.syncing.lock().await;
        self.sync_locked(extension, grant).await
    }

    /// [`PgBackend::sync`], the caller holding `syncing`.
    async fn sync_locked(
        &self,
        extension: &str,
        grant: Vec<Capability>,
    ) -> Result<Arc<RoleConnections>, QueryError> {
        let role = role_name(extension)?;
        let result = self.sync_privileges(&role, &grant).await;
        let previous = self.roles.lock().expect("roles").remove(extension);
        if let Some(previous) = previous {
            tokio::spawn(async move { previous.close().await });
        }
        let (oid, password) = result?;
        let connections = Arc::new(RoleConnections {
            read: self.role_pool(&role, &password, true),
            write: self.role_pool(&role, &password, false),
            grant,
            role,
            oid,
        });
        self.roles
            .lock()
            .expect("roles")
            .insert(extension.to_string(), connections.clone());
        Ok(connections)
    }

    /// Makes the login role, sets its password and privileges; its OID and
    /// password.
    async fn sync_privileges(
        &self,
        role: &str,
        grant: &[Capability],
    ) -> Result<(i64, String), QueryError> {
        let password = role_password(role);
        create_role(&self.admin, role, &self.database, &password).await?;
        let mut tx = self.admin.begin().await.map_err(QueryError::from_sqlx)?;
        let (owner, oid): (String, i64) = sqlx::query_as(
            "SELECT (SELECT pg_get_userbyid(datdba)::text FROM pg_database \
                     WHERE datname = current_database()), \
                    (SELECT oid::int8 FROM pg_roles WHERE rolname = $1)",
        )
        .bind(role)
        .fetch_one(&mut *tx)
        .await
        .map_err(QueryError::from_sqlx)?;
        let statements = privilege_statements(role, &owner, grant).join(";\n");
        sqlx::raw_sql(&statements)
            .execute(&mut *tx)
            .await
            .map_err(QueryError::from_sqlx)?;
        tx.commit().await.map_err(QueryError::from_sqlx)?;
        Ok((oid, password))
    }

    /// A pool of sessions logged in as `role`, with the statement timeout
    /// (and, for `read_only`, read-only transactions) set at connection start.
    fn role_pool(&self, role: &str, password: &str, read_only: bool) -> PgPool {
        let timeout = self.statement_timeout.as_millis().max(1).to_string();
        let mut settings = vec![("statement_timeout", timeout)];
        if read_only {
            settings.push(("default_transaction_read_only", "on".to_string()));
        }
        let options = self
            .options
            .clone()
            .username(role)
            .password(password)
            .options(settings);
        PgPoolOptions::new()
            .max_connections(ROLE_POOL_SIZE)
            .min_connections(0)
            .idle_timeout(ROLE_POOL_IDLE)
            // A ping per call would be a round trip per call: only
            // connections idle for a while are checked.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_AFTER_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            // Off the caller's path: nothing a statement left in the session
            // reaches the next statement.
            .after_release(|conn, _| {
                Box::pin(async move { conn.execute(SESSION_RESET).await.map(|_| true) })
            })
            .connect_lazy_with(options)
    }

    async fn close(&self) {
        let roles: Vec<Arc<RoleConnections>> = self
            .roles
            .lock()
            .expect("roles")
            .drain()
            .map(|(_, role)| role)
            .collect();
        for role in roles {
            role.close().await;
        }
        self.admin.close().await;
    }
}

/// SQLSTATEs a statement gets when its session's role was dropped:
/// insufficient privilege, undefined object (`invalid role OID`), and the
/// login failures of a new connection.
fn role_may_be_gone(code: &str) -> bool {
    matches!(code, "42501" | "42704" | "28000" | "28P01")
}

/// The password of an extension's login role in this process: random, made
/// once per process and role, kept in memory only, shared by the process's
/// runners (roles are per cluster).
fn role_password(role: &str) -> String {
    static PASSWORDS: std::sync::LazyLock<std::sync::Mutex<HashMap<String, String>>> =
        std::sync::LazyLock::new(Default::default);
    PASSWORDS
        .lock()
        .expect("passwords")
        .entry(role.to_string())
        .or_insert_with(random_password)
        .clone()
}

/// Creates (or updates) the extension's login role: no superuser, no
/// inheritance, member of no role, `CONNECT` on the project database.
async fn create_role(
    admin: &PgPool,
    role: &str,
    database: &str,
    password: &str,
) -> Result<(), QueryError> {
    let quoted = quote_role(role);
    let attributes =
        "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
    // A password cannot be bound in a utility statement; it is hex only.
    debug_assert!(password.chars().all(|c| c.is_ascii_hexdigit()));
    create_role_if_missing(admin, role, &format!("CREATE ROLE {quoted} {attributes}")).await?;
    let memberships: Vec<String> = sqlx::query_scalar(
        "SELECT m.roleid::regrole::text FROM pg_auth_members m \
         JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1",
    )
    .bind(role)
    .fetch_all(admin)
    .await
    .map_err(QueryError::from_sqlx)?;
    let mut statements = vec![
        format!("ALTER ROLE {quoted} WITH {attributes} PASSWORD '{password}'"),
        format!(
            "GRANT CONNECT ON DATABASE {} TO {quoted}",
            quote_ident(database)
        ),
    ];
    // `regrole::text` is already quoted where needed.
    statements.extend(
        memberships
            .iter()
            .map(|granted| format!("REVOKE {granted} FROM {quoted}")),
    );
    sqlx::raw_sql(&statements.join(";\n"))
        .execute(admin)
        .await
        .map_err(QueryError::from_sqlx)?;
    Ok(())
}

async fn create_role_if_missing(
    admin: &PgPool,
    role: &str,
    create: &str,
) -> Result<(), QueryError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(admin)
            .await
            .map_err(QueryError::from_sqlx)?;
    if exists {
        return Ok(());
    }
    match sqlx::raw_sql(create).execute(admin).await {
        Ok(_) => Ok(()),
        // Created concurrently by someone else: fine.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42710") => Ok(()),
        Err(e) => Err(QueryError::from_sqlx(e)),
    }
}

/// Revoke everything in schema `public`, then grant what `grant` implies.
fn privilege_statements(role: &str, owner: &str, grant: &[Capability]) -> Vec<String> {
    let r = quote_role(role);
    let mut s = vec![
        format!("REVOKE ALL ON SCHEMA public FROM {r}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {r}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {r}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {r}"),
    ];
    let has = |c: Capability| grant.contains(&c);
    if !has(Capability::DatabaseSchema) {
        // What it created while it had database.schema is no longer its own.
        s.push(format!("REASSIGN OWNED BY {r} TO {}", quote_ident(owner)));
    }
    let mut schema = Vec::new();
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    if has(Capability::DatabaseRead) {
        schema.push("USAGE");
        tables.push("SELECT");
    }
    if has(Capability::DatabaseWrite) {
        schema.push("USAGE");
        tables.extend(["SELECT", "INSERT", "UPDATE", "DELETE"]);
        sequences.extend(["USAGE", "SELECT"]);
    }
    if has(Capability::DatabaseSchema) {
        schema.extend(["USAGE", "CREATE"]);
        tables.extend(["TRUNCATE", "REFERENCES", "TRIGGER"]);
    }
    for list in [&mut schema, &mut tables, &mut sequences] {
        list.sort();
        list.dedup();
    }
    if !schema.is_empty() {
        s.push(format!(
            "GRANT {} ON SCHEMA public TO {r}",
            schema.join(", ")
        ));
    }
    if !tables.is_empty() {
        let t = tables.join(", ");
        s.push(format!("GRANT {t} ON ALL TABLES IN SCHEMA public TO {r}"));
        s.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {t} ON TABLES TO {r}"
        ));
    }
    if !sequences.is_empty() {
        let q = sequences.join(", ");
        s.push(format!(
            "GRANT {q} ON ALL SEQUENCES IN SCHEMA public TO {r}"
        ));
        s.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {q} ON SEQUENCES TO {r}"
        ));
    }
    s
}

fn timeout_error(error: QueryError, limits: &Limits) -> QueryError {
    match error.code() {
        Some("57014") => QueryError::Timeout {
            limit_ms: limits.statement_timeout.as_millis(),
        },
        _ => error,
    }
}

fn random_password() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn pg_row(row: &PgRow) -> Result<Map<String, Value>, QueryError> {
    let mut object = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(QueryError::from_sqlx)?;
        object.insert(column.name().to_string(), pg_value(column.name(), raw)?);
    }
    Ok(object)
}

fn pg_value(column: &str, raw: PgValueRef<'_>) -> Result<Value, QueryError> {
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_info = raw.type_info().into_owned();
    let unsupported = || QueryError::UnsupportedType {
        column: column.to_string(),
        type_name: type_info.name().to_string(),
    };
    let bytes = raw.as_bytes().map_err(|_| unsupported())?;
    if raw.format() == PgValueFormat::Text {
        return Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()));
    }
    if matches!(type_info.kind(), PgTypeKind::Enum(_)) {
        return text(bytes).ok_or_else(unsupported);
    }
    let oid = type_info.oid().map(|o| o.0).unwrap_or(u32::MAX);
    decode_binary(oid, bytes).ok_or_else(unsupported)
}

/// Decodes PostgreSQL's binary format of the supported types; `None` for any
/// other type or malformed bytes.
fn decode_binary(oid: u32, b: &[u8]) -> Option<Value> {
    Some(match oid {
        16 => Value::Bool(*b.first()? != 0),
        17 => Value::String(format!("\\x{}", hex::encode(b))),
        18 | 19 | 25 | 705 | 1042 | 1043 => return text(b),
        20 => Value::from(i64::from_be_bytes(b.try_into().ok()?)),
        21 => Value::from(i16::from_be_bytes(b.try_into().ok()?)),
        23 => Value::from(i32::from_be_bytes(b.try_into().ok()?)),
        26 => Value::from(u32::from_be_bytes(b.try_into().ok()?)),
        114 => serde_json::from_slice(b).ok()?,
        3802 => serde_json::from_slice(b.strip_prefix(&[1])?).ok()?,
        700 => float(f32::from_be_bytes(b.try_into().ok()?).into()),
        701 => float(f64::from_be_bytes(b.try_into().ok()?)),
        1700 => Value::String(numeric(b)?),
        2950 => Value::String(uuid(b)?),
        1082 => Value::String(date(i32::from_be_bytes(b.try_into().ok()?))),
        1083 => Value::String(time_of_day(i64::from_be_bytes(b.try_into().ok()?))),
        1114 => Value::String(timestamp(i64::from_be_bytes(b.try_into().ok()?), "")),
        1184 => Value::String(timestamp(i64::from_be_bytes(b.try_into().ok()?), "Z")),
        2278 => Value::Null,
        _ => return None,
    })
}

fn text(b: &[u8]) -> Option<Value> {
    std::str::from_utf8(b)
        .ok()
        .map(|s| Value::String(s.to_string()))
}

/// A float as a JSON number; `NaN` and the infinities as strings.
fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".to_string()),
        None if f > 0.0 => Value::String("Infinity".to_string()),
        None => Value::String("-Infinity".to_string()),
    }
}

/// `numeric`'s binary format (base-10000 digits) as an exact decimal string.
fn numeric(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    let digits = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<Vec<u16>>>()?;
    match sign {
        0xC000 => return Some("NaN".to_string()),
        0xD000 => return Some("Infinity".to_string()),
        0xF000 => return Some("-Infinity".to_string()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let digit = |i: i64| -> u16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    }
    for i in 0..=weight {
        if i == 0 {
            write!(s, "{}", digit(i)).ok()?;
        } else {
            write!(s, "{:04}", digit(i)).ok()?;
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut i = weight + 1;
        while fraction.len() < dscale {
            write!(fraction, "{:04}", digit(i)).ok()?;
            i += 1;
        }
        fraction.truncate(dscale);
        s.push('.');
        s.push_str(&fraction);
    }
    Some(s)
}

fn uuid(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    let h = hex::encode(b);
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// PostgreSQL counts days and microseconds from 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".to_string(),
        i32::MIN => "-infinity".to_string(),
        _ => civil_date(i64::from(days) + PG_EPOCH_DAYS),
    }
}

fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".to_string(),
        i64::MIN => "-infinity".to_string(),
        _ => format!(
            "{}T{}{zone}",
            civil_date(micros.div_euclid(MICROS_PER_DAY) + PG_EPOCH_DAYS),
            time_of_day(micros.rem_euclid(MICROS_PER_DAY))
        ),
    }
}

fn time_of_day(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let hms = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction == 0 {
        hms
    } else {
        format!("{hms}.{fraction:06}")
    }
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (proleptic Gregorian).
fn civil_date(unix_days: i64) -> String {
    let (year, month, day) = magflock_types::time::civil_from_days(unix_days);
    if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:+05}-{month:02}-{day:02}")
    }
}

// ---------------------------------------------------------------------------
// SQLite

struct SqliteBackend {
    options: SqliteConnectOptions,
    readers: KeptConnections,
    /// Read-write connections kept per extension.
    writers: std::sync::Mutex<HashMap<String, Arc<KeptConnections>>>,
}

impl SqliteBackend {
    fn new(url: &str) -> Result<Self, QueryError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| QueryError::Connection(format!("bad URL: {e}")))?
            .create_if_missing(false);
        let readers = KeptConnections::read_only(&options);
        Ok(SqliteBackend {
            options,
            readers,
            writers: Default::default(),
        })
    }

    /// The kept read-write connections of `extension`.
    fn writers_of(&self, extension: &str) -> Arc<KeptConnections> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        writers
            .entry(extension.to_string())
            .or_insert_with(|| Arc::new(KeptConnections::read_write(&self.options)))
            .clone()
    }

    /// Closes every kept connection.
    async fn close(&self) {
        self.readers.close().await;
        let writers: Vec<Arc<KeptConnections>> = {
            let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
            writers.drain().map(|(_, w)| w).collect()
        };
        for kept in writers {
            kept.close().await;
        }
    }

    async fn execute(
        &self,
        plan: &Plan<'_>,
        params: Vec<Param>,
        limits: &Limits,
    ) -> Result<Output, QueryError> {
        role_name(plan.extension)?;
        let kept: Option<Arc<KeptConnections>> = if plan.parsed_write() {
            Some(self.writers_of(plan.extension))
        } else {
            None
        };
        let pool = match &kept {
            Some(writers) => Some(writers.as_ref()),
            None if plan.parsed_read_only() => Some(&self.readers),
            None => None,
        };
        let mut conn = match pool {
            Some(pool) => pool.take().await,
            None => TimedConnection::open(&self.options.clone().read_only(plan.read_only)).await,
        }
        .map_err(QueryError::from_sqlx)?;
        let deadline = Instant::now() + limits.statement_timeout;
        conn.set_deadline(deadline);
        let result = sqlite_statement(conn.connection(), plan, params, limits).await;
        match pool {
            Some(pool) => pool.give_back(conn, result.is_ok()).await,
            None => conn.close().await,
        }
        result.map_err(|e| match e {
            QueryError::Database { .. } if Instant::now() >= deadline => QueryError::Timeout {
                limit_ms: limits.statement_timeout.as_millis(),
            },
            other => other,
        })
    }
}

async fn sqlite_statement(
    conn: &mut SqliteConnection,
    plan: &Plan<'_>,
    params: Vec<Param>,
    limits: &Limits,
) -> Result<Output, QueryError> {
    let mut query = sqlx::query::<sqlx::Sqlite>(plan.sql).persistent(false);
    for param in params {
        query = match param {
            Param::Null => query.bind(None::<String>),
            Param::Bool(b) => query.bind(b),
            Param::Int(i) => query.bind(i),
            Param::Float(f) => query.bind(f),
            Param::Text(s) | Param::Json(s) => query.bind(s),
        };
    }
    let affected = |r: &SqliteQueryResult| r.rows_affected();
    if plan.read_only {
        // A read-only connection has nothing to roll back, and SQLite reads
        // one snapshot for the statement: no transaction needed around it.
        return collect(conn.fetch_many(query), limits, sqlite_row, affected).await;
    }
    let mut tx = conn.begin().await.map_err(QueryError::from_sqlx)?;
    let output = collect(tx.fetch_many(query), limits, sqlite_row, affected).await?;
    tx.commit().await.map_err(QueryError::from_sqlx)?;
    Ok(output)
}

fn sqlite_row(row: &SqliteRow) -> Result<Map<String, Value>, QueryError> {
    let mut object = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(QueryError::from_sqlx)?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            let type_name = raw.type_info().name().to_string();
            sqlite_value(row, i, &type_name).ok_or_else(|| QueryError::UnsupportedType {
                column: column.name().to_string(),
                type_name,
            })?
        };
        object.insert(column.name().to_string(), value);
    }
    Ok(object)
}

/// By the value's storage class.
fn sqlite_value(row: &SqliteRow, i: usize, type_name: &str) -> Option<Value> {
    Some(match type_name {
        "INTEGER" | "BOOLEAN" => Value::from(row.try_get_unchecked::<i64, _>(i).ok()?),
        "REAL" => float(row.try_get_unchecked::<f64, _>(i).ok()?),
        "BLOB" => Value::String(format!(
            "\\x{}",
            hex::encode(row.try_get_unchecked::<Vec<u8>, _>(i).ok()?)
        )),
        _ => Value::String(row.try_get_unchecked::<String, _>(i).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_safe_distinct_and_short() {
        let a = role_name("a-b/c").unwrap();
        let b = role_name("a/b-c").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("ext_a_b_c_"), "{a}");
        let long = format!("{}/{}", "p".repeat(60), "n".repeat(60));
        for name in [a, b, role_name(&long).unwrap()] {
            assert!(name.len() <= MAX_IDENTIFIER, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
        }
        for bad in [
            "",
            "acme",
            "Acme/x",
            "acme/x\"; DROP ROLE postgres; --",
            "-a/b",
            "a/ b",
        ] {
            assert!(role_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_runner_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync>() {}
        shared::<QueryRunner>();
    }

    #[test]
    fn numeric_binary_format_becomes_exact_decimal_text() {
        let enc = |weight: i16, sign: u16, dscale: u16, digits: &[u16]| {
            let mut b = Vec::new();
            for w in [digits.len() as u16, weight as u16, sign, dscale] {
                b.extend_from_slice(&w.to_be_bytes());
            }
            for d in digits {
                b.extend_from_slice(&d.to_be_bytes());
            }
            numeric(&b).unwrap()
        };
        assert_eq!(enc(1, 0, 3, &[1, 2345, 6780]), "12345.678");
        assert_eq!(enc(-1, 0, 3, &[10]), "0.001");
        assert_eq!(enc(0, 0x4000, 0, &[5]), "-5");
        assert_eq!(enc(5, 0, 0, &[1]), "100000000000000000000");
        assert_eq!(enc(0, 0, 2, &[]), "0.00");
        assert_eq!(enc(0, 0xC000, 0, &[]), "NaN");
    }

    #[test]
    fn dates_and_times_follow_the_calendar() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(59), "2000-02-29");
        assert_eq!(timestamp(0, "Z"), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp(-1, ""), "1999-12-31T23:59:59.999999");
        assert_eq!(timestamp(i64::MAX, "Z"), "infinity");
        assert_eq!(time_of_day(3_723_000_001), "01:02:03.000001");
        assert_eq!(civil_date(-719_529), "-0001-12-31");
    }

    #[test]
    fn parameters_map_json_to_sql_types() {
        let p = |v: Value| Param::from_json(1, &v);
        assert_eq!(p(Value::Null).unwrap(), Param::Null);
        assert_eq!(p(serde_json::json!(7)).unwrap(), Param::Int(7));
        assert_eq!(p(serde_json::json!(1.5)).unwrap(), Param::Float(1.5));
        assert_eq!(
            p(serde_json::json!({"a": [1]})).unwrap(),
            Param::Json(r#"{"a":[1]}"#.to_string())
        );
        assert!(
            p(serde_json::json!(u64::MAX))
                .unwrap_err()
                .to_string()
                .contains("$1")
        );
    }

    #[test]
    fn privileges_follow_the_grant_exactly() {
        let read = privilege_statements("ext_r", "owner", &[Capability::DatabaseRead]).join("\n");
        assert!(read.contains("GRANT USAGE ON SCHEMA public"));
        assert!(read.contains("GRANT SELECT ON ALL TABLES"));
        assert!(!read.contains("INSERT") && !read.contains("CREATE"));
        assert!(read.contains("REASSIGN OWNED"));
        let schema =
            privilege_statements("ext_r", "owner", &[Capability::DatabaseSchema]).join("\n");
        assert!(schema.contains("GRANT CREATE, USAGE ON SCHEMA public"));
        assert!(!schema.contains("REASSIGN"));
        let none = privilege_statements("ext_r", "owner", &[]).join("\n");
        assert!(!none.contains("GRANT"));
    }
}
