//! Opening the store: which engine a URL names, the pool settings, and the
//! migrations for that engine.
//!
//! Guarantees: a URL that names neither engine, or that is malformed, is refused
//! with the setting's name and the problem (never with the password); a SQLite
//! file and its folder are created when missing; migrations are applied before
//! the store is handed out.

use crate::{Result, StoreError};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

/// The setting a database URL comes from, named in every error about it.
pub const URL_SETTING: &str = "DATABASE_URL";

/// The two engines the control plane runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }

    /// Which engine `url` names.
    pub fn of_url(url: &str) -> Result<Engine> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => Err(StoreError::Config {
                setting: URL_SETTING,
                problem: format!(
                    "expected a URL starting with sqlite:// or postgres://, got '{}'",
                    redact_url(url)
                ),
            }),
        }
    }
}

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => raw.to_string(),
        Err(_) => raw
            .chars()
            .take(40)
            .collect::<String>()
            .replace(|c: char| c.is_control(), "?"),
    }
}

/// Opens a pool on `url` and applies the engine's migrations.
pub(crate) async fn open(url: &str, max_connections: u32) -> Result<(AnyPool, Engine)> {
    install_default_drivers();
    let engine = Engine::of_url(url)?;
    let url = match engine {
        Engine::Sqlite => prepare_sqlite_url(url)?,
        Engine::Postgres => {
            url::Url::parse(url).map_err(|e| StoreError::Config {
                setting: URL_SETTING,
                problem: format!("not a valid URL ({e}): '{}'", redact_url(url)),
            })?;
            url.to_string()
        }
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if engine == Engine::Sqlite {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Database(m) => StoreError::Config { setting: URL_SETTING, problem: m },
            other => other,
        })?;
    let migrator = match engine {
        Engine::Sqlite => sqlx::migrate!("../migrations/sqlite"),
        Engine::Postgres => sqlx::migrate!("../migrations/postgres"),
    };
    migrator.run(&pool).await?;
    Ok((pool, engine))
}

/// Makes sure the SQLite file's folder exists and the file is created if missing.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(StoreError::Config {
            setting: URL_SETTING,
            problem: "a sqlite URL needs a file path, e.g. sqlite://data/magflock.db".into(),
        });
    }
    let folder = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = folder.filter(|_| path != ":memory:") {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Config {
            setting: URL_SETTING,
            problem: format!(
                "cannot create the folder '{}' for the SQLite file: {e}",
                dir.display()
            ),
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_of_url() {
        assert_eq!(
            Engine::of_url("sqlite://data/x.db").unwrap(),
            Engine::Sqlite
        );
        assert_eq!(
            Engine::of_url("postgres://u@h/db").unwrap(),
            Engine::Postgres
        );
        let err = Engine::of_url("mysql://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("DATABASE_URL: expected a URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn sqlite_url_gets_create_mode() {
        let dir = std::env::temp_dir().join(format!("mf-url-{}", std::process::id()));
        let url = format!("sqlite://{}/a.db", dir.display());
        assert!(
            prepare_sqlite_url(&url)
                .unwrap()
                .ends_with("/a.db?mode=rwc")
        );
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }
}
