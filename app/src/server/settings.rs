//! Reading and changing instance settings.
//!
//! Guarantees: a change is validated as a whole, saved to the store, and only
//! then made current; the audit entry lists each changed key with its old and new
//! value.

use super::audit::record;
use super::guard::{ctx, require};
use crate::AppError;
use crate::api::settings::Settings;
use magflock_types::{Outcome, Role};

pub async fn get() -> Result<Settings, AppError> {
    require(Role::Auditor).await?;
    Ok(ctx()?.settings())
}

pub async fn update(new: Settings) -> Result<Settings, AppError> {
    let caller = require(Role::Admin).await?;
    new.validate()?;
    let ctx = ctx()?;
    let old = ctx.settings();
    let mut changes = serde_json::Map::new();
    for ((key, before), (_, after)) in old.to_pairs().into_iter().zip(new.to_pairs()) {
        if before != after {
            ctx.store
                .setting_set(key, &after, Some(&caller.user.email))
                .await?;
            changes.insert(
                key.to_string(),
                serde_json::json!({"from": before, "to": after}),
            );
        }
    }
    let saved = Settings {
        instance_name: new.instance_name.trim().to_string(),
        ..new
    };
    if let Ok(mut current) = ctx.settings.write() {
        *current = saved.clone();
    }
    if !changes.is_empty() {
        record(
            &caller.actor(),
            "settings.updated",
            None,
            Outcome::Success,
            serde_json::Value::Object(changes),
        )
        .await?;
    }
    Ok(saved)
}
