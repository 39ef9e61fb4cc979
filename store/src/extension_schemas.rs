//! [`ExtensionAreas`]: each extension's own database area (the kernel's
//! [`ExtensionSchemas`]), where its migrations run: a schema and a role of its
//! own on PostgreSQL, a database file of its own on SQLite.
//!
//! Guarantees:
//! * A migration and the record that it was applied (`_migrations`, in the
//!   area itself) commit in one transaction: a failing script leaves neither.
//! * A migration never touches the control plane. On PostgreSQL its script runs
//!   as the extension's role (no login, no attributes, no memberships), whose
//!   only privileges are on its own schema, inside a `SECURITY DEFINER` runner,
//!   where the database refuses `SET ROLE`, `RESET ROLE` and
//!   `SET SESSION AUTHORIZATION`; it runs on a connection of its own that is
//!   closed afterwards, so nothing it sets (settings, temporary tables, session
//!   locks) reaches the pool. The schema and `_migrations` belong to the
//!   control plane's user, so an extension can neither drop nor forge its record.
//!   On SQLite it runs on its own file, opened on a connection of its own, and a
//!   script that could reach another file or change the connection (`ATTACH`,
//!   `DETACH`, `load_extension`, `PRAGMA`, `VACUUM`) is refused before it runs;
//!   any commit but the migration's own is turned into a rollback.
//! * Two extensions never share an area: ids are validated, PostgreSQL areas are
//!   labelled with the id they belong to (two ids that map to one name are told
//!   apart and the second is refused), and SQLite file names are unambiguous.
//! * Every error names the extension, and the migration when there is one, with
//!   the database's own message; an unreachable database is
//!   [`KernelError::Unavailable`].

mod postgres;
mod sqlite;

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::lifecycle_store::{AppliedMigration, ExtensionSchemas};
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use std::path::PathBuf;

use crate::policies::db;
use crate::{Engine, SqlStore};

/// The extensions' own database areas on the store's engine.
pub struct ExtensionAreas {
    pool: AnyPool,
    engine: Engine,
    files_dir: PathBuf,
}

impl SqlStore {
    /// The extensions' database areas next to this store: schemas in the same
    /// PostgreSQL database, or one SQLite file per extension in `files_dir`
    /// (created when needed; never the control-plane file).
    pub fn extension_areas(&self, files_dir: PathBuf) -> ExtensionAreas {
        ExtensionAreas {
            pool: self.pool.clone(),
            engine: self.engine,
            files_dir,
        }
    }
}

#[async_trait]
impl ExtensionSchemas for ExtensionAreas {
    fn location(&self, extension: &str) -> String {
        match self.engine {
            Engine::Postgres => format!("schema \"{}\"", postgres::area_name(extension)),
            Engine::Sqlite => format!("file \"{}\"", self.sqlite_file(extension).display()),
        }
    }

    async fn applied(&self, extension: &str) -> Result<Vec<AppliedMigration>, KernelError> {
        validate_id(extension)?;
        match self.engine {
            Engine::Postgres => postgres::applied(&self.pool, extension).await,
            Engine::Sqlite => sqlite::applied(&self.sqlite_file(extension), extension).await,
        }
    }

    async fn apply(
        &self,
        extension: &str,
        name: &str,
        up: &str,
        down: Option<&str>,
    ) -> Result<(), KernelError> {
        validate_id(extension)?;
        let migration = Migration {
            extension,
            name,
            up,
            down,
        };
        match self.engine {
            Engine::Postgres => postgres::apply(&self.pool, &migration).await,
            Engine::Sqlite => {
                sqlite::apply(&self.files_dir, &self.sqlite_file(extension), &migration).await
            }
        }
    }

    async fn revert(&self, extension: &str, name: &str) -> Result<(), KernelError> {
        validate_id(extension)?;
        match self.engine {
            Engine::Postgres => postgres::revert(&self.pool, extension, name).await,
            Engine::Sqlite => sqlite::revert(&self.sqlite_file(extension), extension, name).await,
        }
    }

    async fn drop_area(&self, extension: &str) -> Result<(), KernelError> {
        validate_id(extension)?;
        match self.engine {
            Engine::Postgres => postgres::drop_area(&self.pool, extension).await,
            Engine::Sqlite => sqlite::drop_area(&self.sqlite_file(extension), extension),
        }
    }
}

impl ExtensionAreas {
    /// `<files_dir>/<publisher>__<name>.sqlite` (ids hold no '_', so this is unambiguous).
    fn sqlite_file(&self, extension: &str) -> PathBuf {
        self.files_dir
            .join(format!("{}.sqlite", extension.replacen('/', "__", 1)))
    }
}

/// A migration to apply.
pub(crate) struct Migration<'a> {
    pub extension: &'a str,
    pub name: &'a str,
    pub up: &'a str,
    pub down: Option<&'a str>,
}

/// Accepts `publisher/name`, each part lower-case letters, digits and '-', not
/// starting with '-' (the manifest's rule); anything else could not name an area safely.
fn validate_id(extension: &str) -> Result<(), KernelError> {
    let is_slug = |part: &str| {
        !part.is_empty()
            && !part.starts_with('-')
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    match extension.split_once('/') {
        Some((publisher, name)) if is_slug(publisher) && is_slug(name) => Ok(()),
        _ => Err(KernelError::Storage(format!(
            "'{extension}' is not an extension id (publisher/name: lower-case letters, digits, '-')"
        ))),
    }
}

/// Hex SHA-256 of a script.
fn checksum(script: &str) -> String {
    hex::encode(Sha256::digest(script.as_bytes()))
}

/// The database's own message (without the driver's prefix) when there is one.
fn database_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

/// Maps a database error to the kernel's: unreachable stays
/// [`KernelError::Unavailable`], anything else is described by `describe`.
fn described(e: sqlx::Error, describe: impl FnOnce(String) -> String) -> KernelError {
    let message = database_message(&e);
    match db(e) {
        KernelError::Unavailable(m) => KernelError::Unavailable(m),
        _ => KernelError::Storage(describe(message)),
    }
}

/// What failed, for error messages: a migration of an extension, or its area.
#[derive(Clone, Copy)]
struct Failure<'a> {
    extension: &'a str,
    migration: Option<&'a str>,
}

impl<'a> Failure<'a> {
    fn migration(extension: &'a str, name: &'a str) -> Failure<'a> {
        Failure {
            extension,
            migration: Some(name),
        }
    }

    fn area(extension: &'a str) -> Failure<'a> {
        Failure {
            extension,
            migration: None,
        }
    }

    /// `e` as the kernel's error, naming the extension and the migration.
    fn db(self, e: sqlx::Error) -> KernelError {
        described(e, |m| self.say(&m))
    }

    /// `problem`, prefixed with what failed.
    fn say(self, problem: &str) -> String {
        let extension = self.extension;
        match self.migration {
            Some(name) => format!("migration {name} of {extension} failed: {problem}"),
            None => format!("the database area of {extension}: {problem}"),
        }
    }
}

fn already_applied(extension: &str, name: &str) -> KernelError {
    KernelError::Storage(format!(
        "migration {name} of {extension} is already applied"
    ))
}

/// The down script of `name` if it is the last of `applied` and has one.
fn revertible_down(
    extension: &str,
    name: &str,
    applied: &[AppliedMigration],
) -> Result<String, KernelError> {
    let refused = |why: String| {
        KernelError::Storage(format!(
            "cannot revert migration {name} of {extension}: {why}"
        ))
    };
    match applied.last() {
        None => Err(refused("it is not applied".into())),
        Some(_) if !applied.iter().any(|m| m.name == name) => {
            Err(refused("it is not applied".into()))
        }
        Some(last) if last.name != name => Err(refused(format!(
            "it is not the last applied ({} is)",
            last.name
        ))),
        Some(last) => last
            .down
            .clone()
            .ok_or_else(|| refused("it has no down script".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(name: &str, down: Option<&str>) -> AppliedMigration {
        AppliedMigration {
            name: name.into(),
            checksum: checksum(name),
            down: down.map(str::to_string),
            applied_at: 0,
        }
    }

    #[test]
    fn ids_are_validated() {
        assert!(validate_id("acme/x-1").is_ok());
        for bad in [
            "acme", "acme/", "/x", "Acme/x", "acme/-x", "a/b/c", "a/../b", "a_b/c",
        ] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_last_migration_with_a_down_script_reverts() {
        let list = [applied("0001", Some("DROP TABLE a")), applied("0002", None)];
        let err = |name: &str, list: &[AppliedMigration]| {
            revertible_down("acme/x", name, list)
                .unwrap_err()
                .to_string()
        };
        assert!(err("0001", &list).contains("not the last applied (0002 is)"));
        assert!(err("0002", &list).contains("has no down script"));
        assert!(err("0003", &list).contains("not applied"));
        assert!(err("0001", &[]).contains("not applied"));
        assert_eq!(
            revertible_down("acme/x", "0001", &list[..1]).unwrap(),
            "DROP TABLE a"
        );
    }
}
