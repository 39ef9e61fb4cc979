//! Extension areas on SQLite: one database file per extension, opened on a
//! connection of its own for each operation (never the control-plane pool).
//!
//! Guarantees: a script naming `ATTACH`, `DETACH`, `load_extension`, `PRAGMA`
//! or `VACUUM` (as a word, in any case, anywhere in it) is refused before
//! anything runs; the script and its record commit in one `BEGIN IMMEDIATE`
//! transaction, and a commit hook turns any other commit (a script's own
//! `COMMIT` or `END`) into a rollback, so a script cannot commit half of itself.

use magflock_kernel::KernelError;
use magflock_kernel::lifecycle_store::AppliedMigration;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow};
use sqlx::{Connection, Executor, Row};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Failure, Migration, already_applied, checksum, revertible_down};
use crate::now_millis;

/// Words that would let SQL reach beyond the extension's file or change the
/// connection, lower-case.
const REFUSED_WORDS: [&str; 5] = ["attach", "detach", "load_extension", "pragma", "vacuum"];

pub(super) async fn applied(
    path: &Path,
    extension: &str,
) -> Result<Vec<AppliedMigration>, KernelError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let fail = Failure::area(extension);
    let mut conn = open(path, false).await.map_err(|e| fail.db(e))?;
    let result = match has_migrations_table(&mut conn).await {
        Ok(true) => recorded(&mut conn).await,
        Ok(false) => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    let _ = conn.close().await;
    result.map_err(|e| fail.db(e))
}

pub(super) async fn apply(
    files_dir: &Path,
    path: &Path,
    migration: &Migration<'_>,
) -> Result<(), KernelError> {
    let (extension, name) = (migration.extension, migration.name);
    refuse_escapes(extension, name, migration.up)?;
    if let Some(down) = migration.down {
        refuse_escapes(extension, name, down)?;
    }
    std::fs::create_dir_all(files_dir).map_err(|e| {
        KernelError::Storage(format!(
            "migration {name} of {extension} failed: cannot create the folder '{}': {e}",
            files_dir.display()
        ))
    })?;
    let mut conn = open(path, true)
        .await
        .map_err(|e| Failure::migration(extension, name).db(e))?;
    let result = apply_on(&mut conn, migration).await;
    let _ = conn.close().await;
    result
}

pub(super) async fn revert(path: &Path, extension: &str, name: &str) -> Result<(), KernelError> {
    if !path.exists() {
        return revertible_down(extension, name, &[]).map(|_| ());
    }
    let mut conn = open(path, false)
        .await
        .map_err(|e| Failure::migration(extension, name).db(e))?;
    let result = revert_on(&mut conn, extension, name).await;
    let _ = conn.close().await;
    result
}

/// Deletes the file and its companions (`-wal`, `-shm`, `-journal`) if present.
pub(super) fn drop_area(path: &Path, extension: &str) -> Result<(), KernelError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(KernelError::Storage(format!(
                    "the database area of {extension}: cannot remove '{}': {e}",
                    Path::new(&file).display()
                )));
            }
        }
    }
    Ok(())
}

/// The first refused word in `script`, compared case-insensitively as whole
/// words (quotes and comments do not hide one).
fn refused_word(script: &str) -> Option<&'static str> {
    script
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find_map(|word| {
            REFUSED_WORDS
                .into_iter()
                .find(|refused| word.eq_ignore_ascii_case(refused))
        })
}

fn refuse_escapes(extension: &str, name: &str, script: &str) -> Result<(), KernelError> {
    match refused_word(script) {
        None => Ok(()),
        Some(word) => Err(KernelError::Storage(format!(
            "migration {name} of {extension} refused: it contains {}, which extension \
             migrations may not use (they cannot reach other database files or change \
             the connection)",
            word.to_ascii_uppercase()
        ))),
    }
}

async fn open(path: &Path, create: bool) -> sqlx::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    SqliteConnection::connect_with(&options).await
}

/// Turns every commit on a connection into a rollback until [`Self::allow`]:
/// only the migration's own commit goes through.
struct CommitGuard {
    allowed: Arc<AtomicBool>,
    refused: Arc<AtomicBool>,
}

impl CommitGuard {
    async fn install(conn: &mut SqliteConnection) -> sqlx::Result<CommitGuard> {
        let allowed = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicBool::new(false));
        let (hook_allowed, hook_refused) = (allowed.clone(), refused.clone());
        conn.lock_handle().await?.set_commit_hook(move || {
            let allow = hook_allowed.load(Ordering::SeqCst);
            if !allow {
                hook_refused.store(true, Ordering::SeqCst);
            }
            allow
        });
        Ok(CommitGuard { allowed, refused })
    }

    fn allow(&self) {
        self.allowed.store(true, Ordering::SeqCst);
    }

    /// The error of a failed step, saying so when the cause is a script that
    /// tried to end the migration's transaction.
    fn explain(&self, extension: &str, name: &str, e: sqlx::Error) -> KernelError {
        if self.refused.load(Ordering::SeqCst) {
            return KernelError::Storage(format!(
                "migration {name} of {extension} failed: it tried to end its transaction \
                 (COMMIT, END or ROLLBACK), which extension migrations may not do"
            ));
        }
        Failure::migration(extension, name).db(e)
    }
}

async fn apply_on(
    conn: &mut SqliteConnection,
    migration: &Migration<'_>,
) -> Result<(), KernelError> {
    let (extension, name) = (migration.extension, migration.name);
    let fail = Failure::migration(extension, name);
    let guard = CommitGuard::install(conn).await.map_err(|e| fail.db(e))?;
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| fail.db(e))?;
    create_migrations_table(&mut tx)
        .await
        .map_err(|e| fail.db(e))?;
    let applied = recorded(&mut tx).await.map_err(|e| fail.db(e))?;
    if applied.iter().any(|m| m.name == name) {
        return Err(already_applied(extension, name));
    }
    run_script(&mut tx, migration.up)
        .await
        .map_err(|e| guard.explain(extension, name, e))?;
    record(&mut tx, migration)
        .await
        .map_err(|e| guard.explain(extension, name, e))?;
    guard.allow();
    tx.commit()
        .await
        .map_err(|e| guard.explain(extension, name, e))
}

async fn revert_on(
    conn: &mut SqliteConnection,
    extension: &str,
    name: &str,
) -> Result<(), KernelError> {
    let fail = Failure::migration(extension, name);
    let guard = CommitGuard::install(conn).await.map_err(|e| fail.db(e))?;
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| fail.db(e))?;
    let applied = if has_migrations_table(&mut tx)
        .await
        .map_err(|e| fail.db(e))?
    {
        recorded(&mut tx).await.map_err(|e| fail.db(e))?
    } else {
        Vec::new()
    };
    let down = revertible_down(extension, name, &applied)?;
    refuse_escapes(extension, name, &down)?;
    run_script(&mut tx, &down)
        .await
        .map_err(|e| guard.explain(extension, name, e))?;
    forget(&mut tx, name)
        .await
        .map_err(|e| guard.explain(extension, name, e))?;
    guard.allow();
    tx.commit()
        .await
        .map_err(|e| guard.explain(extension, name, e))
}

/// Runs `sql`: any number of statements, without parameters.
async fn run_script(conn: &mut SqliteConnection, sql: &str) -> sqlx::Result<()> {
    (&mut *conn).execute(sqlx::raw_sql(sql)).await?;
    Ok(())
}

async fn has_migrations_table(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    let row =
        sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

async fn create_migrations_table(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS _migrations (
             name       TEXT PRIMARY KEY,
             checksum   TEXT NOT NULL,
             down       TEXT,
             applied_at BIGINT NOT NULL,
             seq        BIGINT NOT NULL UNIQUE
         )",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn recorded(conn: &mut SqliteConnection) -> sqlx::Result<Vec<AppliedMigration>> {
    let rows = sqlx::query("SELECT name, checksum, down, applied_at FROM _migrations ORDER BY seq")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(applied_from).collect()
}

fn applied_from(row: &SqliteRow) -> sqlx::Result<AppliedMigration> {
    Ok(AppliedMigration {
        name: row.try_get("name")?,
        checksum: row.try_get("checksum")?,
        down: row.try_get("down")?,
        applied_at: row.try_get("applied_at")?,
    })
}

async fn record(conn: &mut SqliteConnection, migration: &Migration<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO _migrations (name, checksum, down, applied_at, seq)
         SELECT $1, $2, $3, $4, COALESCE(MAX(seq), 0) + 1 FROM _migrations",
    )
    .bind(migration.name)
    .bind(checksum(migration.up))
    .bind(migration.down)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn forget(conn: &mut SqliteConnection, name: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM _migrations WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_words_are_found_as_words_in_any_case() {
        assert_eq!(refused_word("attach 'x.db' AS x"), Some("attach"));
        assert_eq!(refused_word("SELECT 1;\n  PrAgMa foo"), Some("pragma"));
        assert_eq!(
            refused_word("select LOAD_EXTENSION('x')"),
            Some("load_extension")
        );
        assert_eq!(refused_word("-- detach\nSELECT 1"), Some("detach"));
        assert_eq!(
            refused_word("CREATE TABLE attachments (detached INT)"),
            None
        );
        assert_eq!(refused_word("SELECT * FROM pragma_table_info('t')"), None);
    }
}
