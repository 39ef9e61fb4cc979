//! Crash recovery: at start, before any extension is loaded, every operation
//! the journal holds unfinished is completed or undone.
//!
//! Decisions, by operation and by the last step it stored:
//! * install: rolled back (data area, files, grants, key-value data, row),
//!   unless its installation row was written (`committing` done), then
//!   finished. Either way an audit entry says what happened.
//! * enable / disable: rolled back: the stored state is the one before the
//!   operation (it is written last), and the extension starts in that state.
//! * upgrade: finished if the installation row already names the new version
//!   (the switch is that write); otherwise rolled back to the old version
//!   (the new version's migrations reverted, its file removed).
//! * rollback: nothing changed before `reverting`, so the journal is closed;
//!   from `reverting` on it is finished (the remaining newer migrations
//!   reverted, the row names the old version, the newer file removed).
//! * uninstall: finished (every step after Uninstall() can be repeated).
//! * an approved request whose plan was being carried out is marked failed
//!   (its operations were settled above) and its staged packages removed.

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::now_millis;
use magflock_types::Outcome;
use serde_json::json;

use crate::LifecycleError;
use crate::journal::{Operation, string_list};
use crate::manager::Lifecycle;
use crate::upgrade::applied_in;

/// What recovery did with one unfinished operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub extension: String,
    pub operation: String,
    pub step: String,
    /// `finished` or `rolled_back`.
    pub outcome: &'static str,
}

impl Lifecycle {
    pub(crate) async fn recover(&self) -> Result<Vec<Recovered>, LifecycleError> {
        let mut done = Vec::new();
        for entry in self.store.journal_open().await? {
            let mut op = self.journal.resume(&entry);
            let outcome = match op.name {
                "install" => self.recover_install(&op).await?,
                "upgrade" => self.recover_upgrade(&op).await?,
                "rollback" => self.recover_rollback(&op).await?,
                "uninstall" => {
                    self.finish_uninstall(&mut op).await?;
                    "finished"
                }
                _ => "rolled_back",
            };
            let recovered = Recovered {
                extension: op.extension.clone(),
                operation: entry.operation.clone(),
                step: entry.step.clone(),
                outcome,
            };
            self.journal.finish(op).await?;
            self.audit(
                &Actor::system(),
                &format!("extension.{}_recovered", entry.operation),
                &recovered.extension,
                if outcome == "finished" {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                json!({
                    "interrupted_at": recovered.step,
                    "outcome": outcome,
                    "started_at": entry.started_at,
                }),
            )
            .await?;
            tracing::warn!(
                extension = recovered.extension,
                operation = recovered.operation,
                step = recovered.step,
                outcome,
                "finished an interrupted lifecycle operation"
            );
            done.push(recovered);
        }
        self.close_interrupted_requests().await?;
        Ok(done)
    }

    /// An approved request whose plan was being carried out when the process
    /// died: its operations were finished or rolled back above; the request
    /// is marked failed and its staged packages removed.
    async fn close_interrupted_requests(&self) -> Result<(), LifecycleError> {
        use magflock_kernel::lifecycle_store::RequestStatus;
        for request in self.store.requests(Some(RequestStatus::Approved)).await? {
            self.store
                .finish_request(
                    &request.id,
                    RequestStatus::Failed,
                    Some("interrupted by a restart; each operation it started was finished or rolled back (see the audit log)"),
                )
                .await?;
            self.files
                .remove_dir(&self.files.staging_dir(&request.id))?;
            self.audit(
                &Actor::system(),
                &format!("extension.{}_interrupted", request.kind),
                &request.extension,
                Outcome::Failure,
                json!({ "request": request.id }),
            )
            .await?;
        }
        Ok(())
    }

    async fn recover_install(&self, op: &Operation) -> Result<&'static str, LifecycleError> {
        let version = op.data["version"].as_str().unwrap_or_default().to_string();
        if self.store.installation(&op.extension).await?.is_some() {
            return Ok("finished");
        }
        self.undo_install(&op.extension, &version).await;
        Ok("rolled_back")
    }

    async fn recover_upgrade(&self, op: &Operation) -> Result<&'static str, LifecycleError> {
        let from = op.data["from"].as_str().unwrap_or_default().to_string();
        let to = op.data["to"].as_str().unwrap_or_default().to_string();
        let installation = self.installation(&op.extension).await?;
        if installation.version == to {
            return Ok("finished");
        }
        let (_, old_manifest) = self.installed_package(&op.extension, &from).await?;
        self.undo_upgrade(&op.extension, &old_manifest, &from, &to, &applied_in(op))
            .await;
        Ok("rolled_back")
    }

    async fn recover_rollback(&self, op: &Operation) -> Result<&'static str, LifecycleError> {
        if op.step == "begun" || op.step == "health_check" {
            return Ok("rolled_back");
        }
        let from = op.data["from"].as_str().unwrap_or_default().to_string();
        let to = op.data["to"].as_str().unwrap_or_default().to_string();
        let newer = string_list(&op.data["revert"]);
        for migration in self.areas.applied(&op.extension).await?.iter().rev() {
            if newer.contains(&migration.name) {
                self.areas.revert(&op.extension, &migration.name).await?;
            }
        }
        let mut record = self.installation(&op.extension).await?;
        record.version = to;
        record.updated_at = now_millis();
        record.previous_version = None;
        record.previous_until = None;
        self.store.save_installation(&record).await?;
        self.files
            .remove_file(&self.files.installed(&op.extension, &from))?;
        Ok("finished")
    }
}
