//! The SQLite connections extension statements run on ([`crate::query`]).
//!
//! Guarantees:
//! * Every connection carries a statement deadline: a progress handler
//!   interrupts whatever runs past it. Setting the deadline for the next
//!   statement costs no call into the connection's worker thread.
//! * [`KeptConnections`] keeps up to [`KEPT`] connections to one project file
//!   between statements, so that a statement does not pay for opening the file (sqlx starts
//!   a worker thread for every connection). A kept connection is handed out
//!   only while the project file is the very file it opened (same device and
//!   inode): after a restore renamed another file over it, or a drop removed
//!   it, the kept connections are closed and the path is opened anew.
//! * Only connections whose last statement succeeded are kept; between
//!   statements they hold no transaction and no lock. The caller keeps only
//!   connections whose statements the parser let through (it refuses
//!   `PRAGMA`, `ATTACH` and transaction control).
//! * Read-only connections ([`KeptConnections::read_only`]) serve every
//!   extension's reads; read-write ones ([`KeptConnections::read_write`]) are
//!   kept per extension by the caller, so what one extension's statements
//!   leave in a connection (a `TEMP` table, say) never meets another's.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// Most connections kept per set between statements.
pub(crate) const KEPT: usize = 4;

/// A file's identity while it is open: device and inode.
type FileId = (u64, u64);

/// A SQLite connection with a statement deadline.
pub(crate) struct TimedConnection {
    conn: SqliteConnection,
    deadline: Arc<Mutex<Instant>>,
    /// The project file it opened, when known to be the file at the path.
    file: Option<FileId>,
}

impl TimedConnection {
    pub(crate) async fn open(options: &SqliteConnectOptions) -> Result<Self, sqlx::Error> {
        let before = file_id(options.get_filename());
        let mut conn = SqliteConnection::connect_with(options).await?;
        let after = file_id(options.get_filename());
        let deadline = Arc::new(Mutex::new(Instant::now()));
        let watched = deadline.clone();
        conn.lock_handle()
            .await?
            .set_progress_handler(1000, move || {
                watched.lock().map(|d| Instant::now() < *d).unwrap_or(false)
            });
        Ok(TimedConnection {
            conn,
            deadline,
            file: before.filter(|_| before == after),
        })
    }

    /// Statements from now on are interrupted at `deadline`.
    pub(crate) fn set_deadline(&self, deadline: Instant) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = deadline;
        }
    }

    pub(crate) fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub(crate) async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// Connections to one project file, kept between statements.
pub(crate) struct KeptConnections {
    options: SqliteConnectOptions,
    kept: Mutex<Vec<TimedConnection>>,
}

impl KeptConnections {
    /// `options` name the project file; connections open it read-only.
    pub(crate) fn read_only(options: &SqliteConnectOptions) -> Self {
        KeptConnections::opening(options.clone().read_only(true))
    }

    /// Read-write connections to the file, for one extension's writes.
    pub(crate) fn read_write(options: &SqliteConnectOptions) -> Self {
        KeptConnections::opening(options.clone().read_only(false))
    }

    fn opening(options: SqliteConnectOptions) -> Self {
        KeptConnections {
            options,
            kept: Mutex::new(Vec::new()),
        }
    }

    fn path(&self) -> &Path {
        self.options.get_filename()
    }

    /// A connection to the file now at the path.
    pub(crate) async fn take(&self) -> Result<TimedConnection, sqlx::Error> {
        let now = file_id(self.path());
        let (found, stale) = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            match kept.iter().rposition(|c| now.is_some() && c.file == now) {
                Some(i) => (Some(kept.swap_remove(i)), Vec::new()),
                // None of them opened this file: they are stale.
                None => (None, std::mem::take(&mut *kept)),
            }
        };
        for conn in stale {
            conn.close().await;
        }
        match found {
            Some(conn) => Ok(conn),
            None => TimedConnection::open(&self.options).await,
        }
    }

    /// Keeps `conn` for the next statement if its statement `succeeded`, there is
    /// room, and it opened the file now at the path; closes it otherwise.
    pub(crate) async fn give_back(&self, conn: TimedConnection, succeeded: bool) {
        let current = succeeded && conn.file.is_some() && conn.file == file_id(self.path());
        let refused = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if current && kept.len() < KEPT {
                kept.push(conn);
                None
            } else {
                Some(conn)
            }
        };
        if let Some(conn) = refused {
            conn.close().await;
        }
    }

    /// Closes the kept connections.
    pub(crate) async fn close(&self) {
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in kept {
            conn.close().await;
        }
    }
}

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Without device and inode numbers a file cannot be told from its
/// replacement: nothing is kept.
#[cfg(not(unix))]
fn file_id(_path: &Path) -> Option<FileId> {
    None
}
